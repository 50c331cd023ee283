//! The simulated machine: the coordinator, the writer and provider processes, the volumes, the
//! workloads and the requesters, and the loop that owns time.
//!
//! The loop pops the earliest event, advances the clock to it, dispatches it, executes the
//! effects the coordinator emitted, and checks the invariants those effects touch. Nothing else
//! advances time, delivers a message or fires a timer (ARCHITECTURE.md, invariant 2).

use model::api::{ApiCall, Input, Output, ShadowStatus};
use model::coordinator::Coordinator;
use model::graph::WriterStateGraph;
use model::ids::{Guid, ProviderId, RequesterId, SnapshotId, VolumeId, WriterId};
use model::machine::{ComponentInfo, Machine, ProviderInfo, VolumeInfo, WriterInfo};
use model::profile::Profile;
use model::provider::{ProviderLogic, ProviderResponse};
use model::requester::{Action, Feedback, RequesterLogic, ScriptedRequester, StandardRequester};
use model::time::{Duration, Instant};
use model::volume::{BlockMap, Protection, ShadowKey, Volume, WriteOutcome};
use model::vss::{Hresult, ProtectionLevel, ProviderCall, ProviderType, WriterEvent, WriterState};
use model::writer::{ScriptedWriter, WriterFault, WriterLogic, WriterResponse};

use crate::queue::EventQueue;
use crate::rng::SimRng;
use crate::scenario::{Pattern, Scenario};
use crate::trace::{Record, Trace};

/// Payloads below this are workload indices (the hot path); above, slab slots.
const SLAB_BASE: u64 = 1 << 32;

/// Blocks per `ReadShadow` range: 64 MiB of 4 KiB blocks.
const READ_RANGE_BYTES: u64 = 64 << 20;

/// Events other than workload writes.
#[derive(Clone, Debug)]
enum Payload {
    /// An input for the coordinator (answers, timers, flush done).
    Coord(Input),
    /// A reply reaches a requester, which then acts.
    Feed(RequesterId, Feedback),
    /// A requester acts (its start).
    Step(RequesterId),
    /// A requester finished reading one range of a shadow.
    ReadRange(RequesterId),
    /// A requester process goes away (decisions rule 27).
    GoAway(RequesterId),
}

/// One write queued by flush-and-hold.
#[derive(Clone, Copy, Debug)]
struct HeldWrite {
    issued: Instant,
    block: u64,
    latency: Duration,
}

struct VolState {
    name: String,
    vol: Volume,
    held: bool,
    hold_started: Instant,
    /// Global write sequence at the hold request: the snapshot instant (decisions rule 13).
    hold_seq: u64,
    held_writes: Vec<HeldWrite>,
    /// When the last accepted write completes (flush waits for it).
    last_complete: Instant,
    /// Largest sequence applied on this volume.
    max_seq: u64,
    next_key: u32,
    /// Order-independent digest of the live image: the sum of `mix(block, seq)`.
    live_digest: u64,
    /// Marked `VSS_PROTECTION_FAULT_DIFF_AREA_FULL` (protection level SNAPSHOT, rule 17).
    faulted: bool,
    /// A hardware provider's plex, synced at EndPrepareSnapshots and following every accepted
    /// write until the split at CommitSnapshots (vss-spec.md §9.5).
    plex: Option<BlockMap>,
}

/// A plex synced with the volume's current content.
fn plex_of(vol: &Volume) -> BlockMap {
    let image = vol.snapshot_image();
    let mut plex = BlockMap::with_capacity(image.len());
    for (b, s) in image {
        plex.insert(b, s);
    }
    plex
}

struct Workload {
    volumes: Vec<usize>,
    pattern: Pattern,
    interval_us: u64,
    write_latency: Duration,
    burst: Option<(u64, u64)>,
    region: Vec<u64>,
    rng: SimRng,
    cursor: u64,
}

struct ReadJob {
    volume: usize,
    snapshot: SnapshotId,
    blocks: Vec<u64>,
    pos: usize,
    digest: u64,
    ok: bool,
}

struct Req {
    logic: RequesterLogic,
    bandwidth: u64,
    outstanding: Option<usize>,
    read: Option<ReadJob>,
    /// The process went away (decisions rule 27): nothing more reaches it.
    gone: bool,
    /// The `calls` entry of the asynchronous operation in flight.
    async_call: Option<usize>,
}

/// A shadow image as the world tracks it.
struct ShadowImage {
    id: SnapshotId,
    set_id: model::ids::SnapshotSetId,
    volume: usize,
    key: ShadowKey,
    digest: u64,
    live: bool,
    device: u32,
    /// How the provider keeps the image (vss-spec.md §9.5).
    method: CopyMethod,
}

/// The three copy methods, by provider kind.
enum CopyMethod {
    /// System provider: a copy-on-write chain on the volume, with a diff area.
    CopyOnWrite,
    /// Software provider: the blocks stay in place, later writes are redirected.
    RedirectOnWrite,
    /// Hardware provider: the plex, a full copy that followed every write until the split.
    SplitMirror(BlockMap),
}

impl CopyMethod {
    fn name(&self) -> &'static str {
        match self {
            CopyMethod::CopyOnWrite => "copy-on-write",
            CopyMethod::RedirectOnWrite => "redirect-on-write",
            CopyMethod::SplitMirror(_) => "split mirror",
        }
    }
}

/// Reads `blocks` of a shadow image, whatever its copy method.
fn read_image(
    vol: &Volume,
    img: &ShadowImage,
    blocks: &[u64],
    mut f: impl FnMut(u64, Option<u64>),
) {
    match &img.method {
        CopyMethod::CopyOnWrite => vol.read_shadow_blocks(img.key, blocks, f),
        CopyMethod::RedirectOnWrite => vol.read_redirect_blocks(img.key, blocks, f),
        CopyMethod::SplitMirror(plex) => {
            for &b in blocks {
                f(b, plex.get(b));
            }
        }
    }
}

/// What an administrator sees of one shadow copy (`vssadmin list shadows`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShadowView {
    /// Shadow id.
    pub id: SnapshotId,
    /// Volume index.
    pub volume: usize,
    /// `N` of `\\?\GLOBALROOT\Device\HarddiskVolumeShadowCopyN`, counting up from 1 per run.
    pub device: u32,
}

/// What an administrator sees of one volume's shadow storage (`vssadmin list shadowstorage`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageView {
    /// Volume index.
    pub volume: usize,
    /// Volume name, e.g. `C:\`.
    pub name: String,
    /// The volume's GUID, drawn from the seed (`\\?\Volume{GUID}\`).
    pub guid: Guid,
    /// Volume size in bytes.
    pub volume_bytes: u64,
    /// Diff-area bytes in use.
    pub used_bytes: u64,
    /// Maximum diff-area bytes; `None` is UNBOUNDED.
    pub max_bytes: Option<u64>,
    /// Live shadows on the volume.
    pub n_shadows: usize,
}

/// One entry of the run's `calls` list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRecord {
    /// Requester index.
    pub requester: usize,
    /// Call name as Microsoft spells it (or `ReadShadow`).
    pub call: &'static str,
    /// The call's own return.
    pub result: Option<Hresult>,
    /// What `QueryStatus` gave, for asynchronous calls.
    pub async_result: Option<Hresult>,
    /// Virtual time of the call.
    pub at: Instant,
    /// For `ReadShadow`: volume, first block, last block, blocks read.
    pub read: Option<(String, u64, u64, u64)>,
    /// For `SetBackupSucceeded`: the value passed.
    pub succeeded: Option<bool>,
}

/// An invariant that did not hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Invariant name (see `scenario::VIOLATION_NAMES`).
    pub name: &'static str,
    /// What was seen.
    pub detail: String,
    /// When.
    pub at: Instant,
}

/// Figures about flush-and-hold, for the summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HoldStats {
    /// Holds started.
    pub holds: u64,
    /// Longest hold.
    pub longest: Duration,
    /// Writes queued by holds.
    pub writes_delayed: u64,
    /// Largest latency a held write gained.
    pub max_added_latency: Duration,
}

/// Freeze window use of one writer, for the summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FreezeUse {
    /// Longest time from Freeze to Thaw (or to the end of the window).
    pub longest: Duration,
}

/// Why the run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// Every requester released and the service is idle.
    Finished,
    /// `[run] max_virtual_time` reached.
    TimeLimit,
    /// The step budget ran out.
    StepLimit,
    /// Nothing left to do but requesters did not finish.
    QueueEmpty,
}

/// The simulated machine and its loop.
pub struct World {
    profile: Profile,
    coord: Coordinator,
    writers: Vec<WriterLogic>,
    providers: Vec<ProviderLogic>,
    volumes: Vec<VolState>,
    workloads: Vec<Workload>,
    reqs: Vec<Req>,
    queue: EventQueue,
    slab: Vec<Option<Payload>>,
    free: Vec<u32>,
    guids: SimRng,
    next_seq: u64,
    now: Instant,
    steps: u64,
    max_steps: u64,
    max_time: Instant,
    running: bool,
    outbox: Vec<Output>,
    /// The trace.
    pub trace: Trace,
    calls: Vec<CallRecord>,
    images: Vec<ShadowImage>,
    violations: Vec<Violation>,
    graph: &'static WriterStateGraph,
    freeze_at: Vec<Option<Instant>>,
    freeze_use: Vec<FreezeUse>,
    timeout_failure_seen: bool,
    hold: HoldStats,
    writes_issued: u64,
    writes_accepted: u64,
    writes_failed: u64,
    held_now: u64,
    end: Option<EndReason>,
    requester_names: Vec<String>,
    volume_guids: Vec<Guid>,
    next_device: u32,
    /// Sets whose creation failed or was aborted: none of their shadows may survive.
    failed_sets: Vec<model::ids::SnapshotSetId>,
}

/// The term of one (block, sequence) pair in an image digest; the digest is the wrapping sum
/// over the image, so it is order-independent and updatable write by write. For a fixed block
/// the map from sequence to term is a bijection (xor, odd multiply, xorshift), so a block read
/// back with another sequence always changes its term.
#[inline]
fn mix(block: u64, seq: u64) -> u64 {
    let z = (block.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ seq.rotate_left(29))
        .wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z ^ (z >> 31)
}

/// A uniform integer in `0..n` split off the random word `x` (Lemire's multiply-shift); the
/// low half of the product becomes the next word to draw from.
#[inline]
fn split(x: &mut u64, n: u64) -> u64 {
    let m = *x as u128 * n as u128;
    *x = m as u64;
    (m >> 64) as u64
}

impl World {
    /// Builds the machine of `scenario` for `seed`, with `trace` as the trace sink.
    pub fn new(scenario: &Scenario, seed: u64, trace: Trace) -> World {
        let profile = scenario.profile.clone();
        let mut ids = SimRng::fork(seed, "writer-instance-ids");
        let mut classes = SimRng::fork(seed, "writer-class-ids");
        let writers_info: Vec<WriterInfo> = scenario
            .writers
            .iter()
            .map(|w| WriterInfo {
                name: w.name.clone(),
                class_id: w
                    .class_id
                    .unwrap_or_else(|| Guid::from_random_bytes(classes.guid_bytes())),
                instance_id: Guid::from_random_bytes(ids.guid_bytes()),
                usage: w.usage,
                level: w.level,
                freeze_timeout: w.freeze_timeout.unwrap_or(profile.freeze_timeout_default),
                components: w
                    .components
                    .iter()
                    .map(|c| ComponentInfo {
                        name: c.name.clone(),
                        logical_path: c.logical_path.clone(),
                        volumes: c.volumes.iter().map(|v| VolumeId(*v as u16)).collect(),
                    })
                    .collect(),
            })
            .collect();
        let writers = scenario
            .writers
            .iter()
            .map(|w| {
                let mut s =
                    ScriptedWriter::new(w.checks_volume_set.unwrap_or(profile.checks_volume_set));
                for (e, d) in &w.latency {
                    s.set_latency(*e, *d);
                }
                s.faults = w
                    .faults
                    .iter()
                    .map(|f| WriterFault {
                        event: f.event,
                        action: f.action,
                        sessions: f.sessions,
                    })
                    .collect();
                WriterLogic::Scripted(s)
            })
            .collect();
        let mut pids = SimRng::fork(seed, "provider-ids");
        let mut system_info = ProviderInfo::system();
        if scenario.volumes.iter().any(|v| v.removable) {
            // The system provider supports every non-removable local volume (vss-spec.md §9.1).
            system_info.supports = Some(
                (0..scenario.volumes.len())
                    .filter(|i| !scenario.volumes[*i].removable)
                    .map(|i| VolumeId(i as u16))
                    .collect(),
            );
        }
        let mut providers_info = vec![system_info];
        let mut system = ProviderLogic::default();
        for (c, d) in &scenario.system_provider_latency {
            system.set_latency(*c, *d);
        }
        system.faults = scenario.system_provider_faults.clone();
        let mut providers = vec![system];
        for p in &scenario.providers {
            providers_info.push(ProviderInfo {
                name: p.name.clone(),
                id: p
                    .id
                    .unwrap_or_else(|| Guid::from_random_bytes(pids.guid_bytes())),
                kind: p.kind,
                version: p.version.clone(),
                supports: p
                    .volumes
                    .as_ref()
                    .map(|v| v.iter().map(|i| VolumeId(*i as u16)).collect()),
            });
            let mut logic = ProviderLogic::default();
            for (c, d) in &p.latency {
                logic.set_latency(*c, *d);
            }
            logic.faults = p.faults.clone();
            providers.push(logic);
        }
        let protection = match profile.protection_level {
            ProtectionLevel::Snapshot => Protection::Snapshot,
            _ => Protection::OriginalVolume,
        };
        let volumes: Vec<VolState> = scenario
            .volumes
            .iter()
            .map(|v| VolState {
                name: v.name.clone(),
                vol: Volume::new(
                    v.bytes / v.block_size as u64,
                    v.block_size,
                    v.diff_area,
                    protection,
                ),
                held: false,
                hold_started: Instant::ZERO,
                hold_seq: 0,
                held_writes: Vec::new(),
                last_complete: Instant::ZERO,
                max_seq: 0,
                next_key: 0,
                live_digest: 0,
                faulted: false,
                plex: None,
            })
            .collect();
        let machine = Machine {
            writers: writers_info,
            providers: providers_info,
            volumes: scenario
                .volumes
                .iter()
                .map(|v| VolumeInfo {
                    name: v.name.clone(),
                    bytes: v.bytes,
                })
                .collect(),
        };
        // Size each volume's block map for the regions its workloads write (capped), so a run
        // does not pay for growing it write by write.
        let mut volumes = volumes;
        for (v, vs) in volumes.iter_mut().enumerate() {
            let region: u64 = scenario
                .workloads
                .iter()
                .filter(|w| w.volumes.contains(&v))
                .map(|w| w.blocks.unwrap_or(u64::MAX).min(vs.vol.n_blocks()))
                .fold(0u64, |a, b| a.saturating_add(b));
            vs.vol.reserve_live(region.min(1 << 14) as usize);
        }
        let workloads = scenario
            .workloads
            .iter()
            .map(|w| {
                let region = w
                    .volumes
                    .iter()
                    .map(|&v| {
                        let n = volumes[v].vol.n_blocks();
                        w.blocks.map(|b| b.min(n)).unwrap_or(n)
                    })
                    .collect();
                Workload {
                    volumes: w.volumes.clone(),
                    pattern: w.pattern,
                    interval_us: (1_000_000 / w.rate).max(1),
                    write_latency: w.write_latency,
                    burst: w.burst.map(|(on, off)| (on.as_us(), off.as_us())),
                    region,
                    rng: SimRng::fork(seed, &format!("workload:{}", w.name)),
                    cursor: 0,
                }
            })
            .collect();
        let reqs = scenario
            .requesters
            .iter()
            .map(|r| Req {
                logic: match &r.script {
                    None => RequesterLogic::Standard(StandardRequester::new(
                        &machine,
                        r.context,
                        r.volumes.iter().map(|v| VolumeId(*v as u16)).collect(),
                        r.policy.clone(),
                        r.repeat,
                    )),
                    Some(steps) => RequesterLogic::Scripted(ScriptedRequester::new(steps.clone())),
                },
                bandwidth: r.read_bandwidth,
                outstanding: None,
                read: None,
                gone: false,
                async_call: None,
            })
            .collect();
        let n_writers = scenario.writers.len();
        let coord = Coordinator::new(profile.clone(), machine, scenario.requesters.len());
        let mut world = World {
            profile,
            coord,
            writers,
            providers,
            volumes,
            workloads,
            reqs,
            queue: EventQueue::new(),
            slab: Vec::new(),
            free: Vec::new(),
            guids: SimRng::fork(seed, "guids"),
            next_seq: 1,
            now: Instant::ZERO,
            steps: 0,
            max_steps: scenario.max_steps,
            max_time: Instant::ZERO + scenario.max_virtual_time,
            running: true,
            outbox: Vec::with_capacity(32),
            trace,
            calls: Vec::new(),
            images: Vec::new(),
            violations: Vec::new(),
            graph: WriterStateGraph::shared(),
            freeze_at: vec![None; n_writers],
            freeze_use: vec![FreezeUse::default(); n_writers],
            timeout_failure_seen: false,
            hold: HoldStats::default(),
            writes_issued: 0,
            writes_accepted: 0,
            writes_failed: 0,
            held_now: 0,
            end: None,
            requester_names: scenario.requesters.iter().map(|r| r.name.clone()).collect(),
            volume_guids: {
                let mut g = SimRng::fork(seed, "volume-guids");
                scenario
                    .volumes
                    .iter()
                    .map(|_| Guid::from_random_bytes(g.guid_bytes()))
                    .collect()
            },
            next_device: 1,
            failed_sets: Vec::new(),
        };
        for (i, r) in scenario.requesters.iter().enumerate() {
            let id = RequesterId(i as u16);
            world.schedule(Instant::ZERO + r.start, Payload::Step(id));
            if let Some(at) = r.go_away_at {
                world.schedule(Instant::ZERO + at, Payload::GoAway(id));
            }
            if let Some(d) = r.policy.deadline {
                world.schedule(
                    Instant::ZERO + r.start + d,
                    Payload::Feed(id, Feedback::Deadline),
                );
            }
        }
        for w in 0..world.workloads.len() {
            let first = world.next_write_time(w, Instant::ZERO);
            world.queue.push(first, w as u64);
        }
        world
    }

    // ---------------------------------------------------------------------------------------
    // Accessors for the report
    // ---------------------------------------------------------------------------------------

    /// The coordinator (writer status, shadows, machine).
    pub fn coordinator(&self) -> &Coordinator {
        &self.coord
    }
    /// Every API call in order.
    pub fn calls(&self) -> &[CallRecord] {
        &self.calls
    }
    /// Invariants that did not hold.
    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }
    /// Flush-and-hold figures.
    pub fn hold_stats(&self) -> &HoldStats {
        &self.hold
    }
    /// Freeze window use per writer.
    pub fn freeze_use(&self) -> &[FreezeUse] {
        &self.freeze_use
    }
    /// Current virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }
    /// Events dispatched.
    pub fn steps(&self) -> u64 {
        self.steps
    }
    /// Why the run ended, once it has.
    pub fn end_reason(&self) -> Option<EndReason> {
        self.end
    }
    /// Whether requester `r` ran its backup to the end.
    pub fn requester_completed(&self, r: usize) -> bool {
        self.reqs[r].logic.completed()
    }
    /// Whether requester `r` released its object.
    pub fn requester_done(&self, r: usize) -> bool {
        self.reqs[r].gone || self.reqs[r].logic.is_done()
    }

    /// Whether requester `r` is a script that ran to its last step.
    pub fn script_finished(&self, r: usize) -> bool {
        matches!(self.reqs[r].logic, RequesterLogic::Scripted(_)) && self.reqs[r].logic.is_done()
    }

    /// The standard requester's own verdict (see `RequesterLogic::verdict`); `None` for a script
    /// or a requester that went away before deciding.
    pub fn requester_verdict(&self, r: usize) -> Option<Hresult> {
        self.reqs[r].logic.verdict()
    }
    /// Writes the workloads issued, accepted, failed (diff area full, protection SNAPSHOT).
    pub fn write_counts(&self) -> (u64, u64, u64) {
        (self.writes_issued, self.writes_accepted, self.writes_failed)
    }
    /// Volumes marked `VSS_PROTECTION_FAULT_DIFF_AREA_FULL`, in declaration order.
    pub fn protection_faults(&self) -> Vec<String> {
        self.volumes
            .iter()
            .filter(|v| v.faulted)
            .map(|v| v.name.clone())
            .collect()
    }

    /// Average live entries in the event queue.
    pub fn average_queue_len(&self) -> f64 {
        self.queue.average_len()
    }
    /// The profile in force.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    // ---------------------------------------------------------------------------------------
    // The loop
    // ---------------------------------------------------------------------------------------

    fn schedule(&mut self, at: Instant, p: Payload) {
        let slot = match self.free.pop() {
            Some(i) => {
                self.slab[i as usize] = Some(p);
                i
            }
            None => {
                self.slab.push(Some(p));
                (self.slab.len() - 1) as u32
            }
        };
        self.queue.push(at, SLAB_BASE + slot as u64);
    }

    /// Dispatches every event due at or before `t` (or until the run ends), then sets the clock
    /// to `t`: the state an observer sees at virtual time `t`. Returns the end reason if the run
    /// ended first.
    pub fn run_until(&mut self, t: Instant) -> Option<EndReason> {
        loop {
            if let Some(e) = self.end {
                return Some(e);
            }
            match self.queue.peek_at() {
                Some(at) if at <= t && at <= self.max_time => {
                    if let Some(e) = self.step() {
                        return Some(e);
                    }
                }
                _ => {
                    self.now = self.now.max(t.min(self.max_time));
                    return None;
                }
            }
        }
    }

    /// Live shadow copies, in creation order, as an administrator lists them.
    pub fn shadow_views(&self) -> Vec<ShadowView> {
        self.images
            .iter()
            .filter(|i| i.live)
            .map(|i| ShadowView {
                id: i.id,
                volume: i.volume,
                device: i.device,
            })
            .collect()
    }

    /// Every volume's shadow storage, in declaration order.
    pub fn storage_views(&self) -> Vec<StorageView> {
        self.volumes
            .iter()
            .enumerate()
            .map(|(i, v)| StorageView {
                volume: i,
                name: v.name.clone(),
                guid: self.volume_guids[i],
                volume_bytes: v.vol.n_blocks() * v.vol.block_size() as u64,
                used_bytes: v.vol.diff_area_used_bytes(),
                max_bytes: v.vol.diff_area_capacity_bytes(),
                n_shadows: v.vol.n_shadows(),
            })
            .collect()
    }

    /// Runs until the end condition or a limit; returns why it stopped.
    pub fn run(&mut self) -> EndReason {
        loop {
            if let Some(r) = self.step() {
                return r;
            }
        }
    }

    /// Dispatches one event; `Some` when the run has ended.
    pub fn step(&mut self) -> Option<EndReason> {
        if let Some(e) = self.end {
            return Some(e);
        }
        if self.steps >= self.max_steps {
            return Some(self.finish(EndReason::StepLimit));
        }
        let Some((at, payload)) = self.queue.pop() else {
            return Some(self.finish(EndReason::QueueEmpty));
        };
        if at > self.max_time {
            // The run ends before this event: it is never dispatched.
            self.now = self.max_time;
            return Some(self.finish(EndReason::TimeLimit));
        }
        self.now = at;
        self.steps += 1;
        if payload < SLAB_BASE {
            // A workload write changes no requester's or the service's state: the end
            // condition cannot have changed.
            self.on_write(payload as usize);
            return None;
        }
        let slot = (payload - SLAB_BASE) as u32;
        let p = self.slab[slot as usize].take().expect("live slab slot");
        self.free.push(slot);
        self.dispatch(p);
        if self.running && self.all_done() {
            return Some(self.finish(EndReason::Finished));
        }
        None
    }

    fn all_done(&self) -> bool {
        self.reqs
            .iter()
            .all(|r| r.gone || (r.logic.is_done() && r.read.is_none()))
            && self.coord.is_idle()
    }

    fn finish(&mut self, reason: EndReason) -> EndReason {
        self.running = false;
        self.end = Some(reason);
        self.check_surviving_shadows();
        if reason != EndReason::Finished {
            let detail = match reason {
                EndReason::TimeLimit => format!(
                    "the run reached max_virtual_time {} before every requester finished",
                    self.max_time
                ),
                EndReason::StepLimit => {
                    format!("the run used its step budget of {} events", self.max_steps)
                }
                _ => "no event left while requesters were still waiting".to_string(),
            };
            self.violation("stalled", detail);
        }
        // A writer still frozen past its window with no timeout is a freeze-window violation.
        for w in 0..self.freeze_at.len() {
            if let Some(at) = self.freeze_at[w] {
                let limit = self.coord.machine().writers[w].freeze_timeout;
                if self.now > at.deadline_after(limit) {
                    let name = self.coord.machine().writers[w].name.clone();
                    self.violation(
                        "freeze_window",
                        format!("{name} stayed frozen past its {limit} window with no timeout"),
                    );
                }
            }
        }
        if self.trace.enabled() {
            let detail = format!("{:?}", reason);
            self.trace.push(Record {
                t_us: self.now.as_us(),
                kind: "end",
                role: "sim".into(),
                detail: Some(detail),
                ..Default::default()
            });
        }
        reason
    }

    /// At the end of a run: no shadow of a failed set is left (rules 14, 16), and every shadow
    /// still standing reads back the image of its hold instant, block by block.
    fn check_surviving_shadows(&mut self) {
        let mut found = Vec::new();
        // The written blocks of each volume, computed once.
        let mut written: Vec<Option<Vec<u64>>> = vec![None; self.volumes.len()];
        for img in self.images.iter().filter(|i| i.live) {
            let vol = &self.volumes[img.volume];
            if self.failed_sets.contains(&img.set_id) {
                found.push((
                    "failed_set_shadow_left",
                    format!(
                        "shadow {} of failed set {} still exists",
                        img.id, img.set_id
                    ),
                ));
            }
            let blocks = written[img.volume].get_or_insert_with(|| vol.vol.written_blocks_sorted());
            let mut digest = 0u64;
            read_image(&vol.vol, img, blocks, |b, seq| {
                if let Some(s) = seq {
                    digest = digest.wrapping_add(mix(b, s));
                }
            });
            if digest != img.digest {
                found.push((
                    "shadow_point_in_time",
                    format!(
                        "shadow {} of {} no longer holds the image of its hold instant",
                        img.id, vol.name
                    ),
                ));
            }
        }
        for (name, detail) in found {
            self.violation(name, detail);
        }
    }

    fn violation(&mut self, name: &'static str, detail: String) {
        if self.trace.enabled() {
            self.trace.push(Record {
                t_us: self.now.as_us(),
                kind: "violation",
                role: "sim".into(),
                name: Some(name),
                detail: Some(detail.clone()),
                ..Default::default()
            });
        }
        self.violations.push(Violation {
            name,
            detail,
            at: self.now,
        });
    }

    // ---------------------------------------------------------------------------------------
    // Workloads and volumes
    // ---------------------------------------------------------------------------------------

    fn next_write_time(&mut self, w: usize, from: Instant) -> Instant {
        let mut x = self.workloads[w].rng.next_u64();
        self.next_write_time_from(w, from, &mut x)
    }

    /// The next write of workload `w` after `from`: the interval with a uniform jitter of
    /// ±50 %, skipping a burst's off period. `x` is the random word to draw from.
    #[inline]
    fn next_write_time_from(&mut self, w: usize, from: Instant, x: &mut u64) -> Instant {
        let wl = &self.workloads[w];
        let jitter = wl.interval_us / 2 + split(x, wl.interval_us + 1);
        let mut t = from.as_us() + jitter.max(1);
        if let Some((on, off)) = wl.burst {
            let period = on + off;
            let phase = t % period;
            if phase >= on {
                t += period - phase;
            }
        }
        Instant::from_us(t)
    }

    #[inline]
    fn on_write(&mut self, w: usize) {
        if !self.running {
            return;
        }
        let now = self.now;
        let wl = &mut self.workloads[w];
        // One 64-bit draw per write: the volume, the block and the next interval are split off
        // it by successive multiply-shifts.
        let mut x = wl.rng.next_u64();
        let pick = if wl.volumes.len() == 1 {
            0
        } else {
            split(&mut x, wl.volumes.len() as u64) as usize
        };
        let v = wl.volumes[pick];
        let region = wl.region[pick];
        let block = match wl.pattern {
            Pattern::Uniform => split(&mut x, region),
            Pattern::Sequential => {
                wl.cursor = (wl.cursor + 1) % region;
                wl.cursor
            }
            Pattern::Hotspot => {
                let hot = (region / 10).max(1);
                if split(&mut x, 10) < 9 {
                    split(&mut x, hot)
                } else {
                    split(&mut x, region)
                }
            }
        };
        let latency = wl.write_latency;
        self.writes_issued += 1;
        if self.volumes[v].held {
            // Rule 13: every write issued from the hold request on is queued.
            self.volumes[v].held_writes.push(HeldWrite {
                issued: now,
                block,
                latency,
            });
            self.held_now += 1;
        } else {
            self.accept_write(v, block, now + latency);
        }
        debug_assert_eq!(
            self.writes_issued,
            self.writes_accepted + self.writes_failed + self.held_now
        );
        let next = self.next_write_time_from(w, now, &mut x);
        self.queue.push(next, w as u64);
    }

    #[inline]
    fn accept_write(&mut self, v: usize, block: u64, complete: Instant) {
        let seq = self.next_seq;
        let vs = &mut self.volumes[v];
        let (outcome, prev) = vs.vol.write_returning_prev(block, seq);
        match outcome {
            WriteOutcome::Applied { .. } => {}
            WriteOutcome::AppliedAfterDeleting { deleted } => self.diff_area_deleted(v, &deleted),
            WriteOutcome::FailedDiffAreaFull => {
                // Rule 17, protection level SNAPSHOT: the application's write fails and the
                // volume is marked VSS_PROTECTION_FAULT_DIFF_AREA_FULL.
                self.writes_failed += 1;
                if !self.volumes[v].faulted {
                    self.volumes[v].faulted = true;
                    if self.trace.enabled() {
                        let vol = self.volumes[v].name.clone();
                        self.trace.push(Record {
                            t_us: self.now.as_us(),
                            kind: "protection_fault",
                            role: format!("volume:{vol}"),
                            name: Some("VSS_PROTECTION_FAULT_DIFF_AREA_FULL"),
                            volume: Some(vol),
                            rule: Some("17"),
                            ..Default::default()
                        });
                    }
                }
                return;
            }
        }
        let vs = &mut self.volumes[v];
        // The live image's digest, kept incrementally: a shadow's expected image is the live
        // digest at its hold instant.
        if let Some(p) = prev {
            vs.live_digest = vs.live_digest.wrapping_sub(mix(block, p));
        }
        vs.live_digest = vs.live_digest.wrapping_add(mix(block, seq));
        if let Some(plex) = vs.plex.as_mut() {
            plex.insert(block, seq);
        }
        self.next_seq += 1;
        vs.max_seq = seq;
        if complete > vs.last_complete {
            vs.last_complete = complete;
        }
        self.writes_accepted += 1;
    }

    fn diff_area_deleted(&mut self, v: usize, keys: &[ShadowKey]) {
        for key in keys {
            if let Some(img) = self
                .images
                .iter_mut()
                .find(|i| i.volume == v && i.key == *key && i.live)
            {
                img.live = false;
                let id = img.id;
                if self.trace.enabled() {
                    let vol = self.volumes[v].name.clone();
                    self.trace.push(Record {
                        t_us: self.now.as_us(),
                        kind: "shadow_deleted",
                        role: format!("volume:{vol}"),
                        snapshot_id: Some(id.to_string()),
                        volume: Some(vol),
                        rule: Some("17"),
                        detail: Some("diff area full, oldest first".into()),
                        ..Default::default()
                    });
                }
                self.coord_input(Input::ShadowDeleted { snapshot: id });
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // Dispatch
    // ---------------------------------------------------------------------------------------

    fn dispatch(&mut self, p: Payload) {
        match p {
            Payload::Coord(input) => {
                if self.trace.enabled() {
                    self.trace_input(&input);
                }
                self.coord_input(input);
            }
            Payload::Feed(r, fb) => {
                if self.reqs[r.idx()].gone {
                    return;
                }
                if self.trace.enabled() {
                    self.trace_feed(r, &fb);
                }
                self.reqs[r.idx()].logic.feed(fb);
                self.requester_act(r);
            }
            Payload::Step(r) => self.requester_act(r),
            Payload::ReadRange(r) => {
                if !self.reqs[r.idx()].gone {
                    self.read_range_done(r);
                }
            }
            Payload::GoAway(r) => self.go_away(r),
        }
    }

    fn coord_input(&mut self, input: Input) {
        let mut out = std::mem::take(&mut self.outbox);
        out.clear();
        self.coord.handle(self.now, input, &mut out);
        for o in out.drain(..) {
            self.execute(o);
        }
        self.outbox = out;
    }

    fn requester_act(&mut self, r: RequesterId) {
        let action = self.reqs[r.idx()].logic.next_action();
        match action {
            Action::Call(mut call) => {
                match &mut call {
                    ApiCall::StartSnapshotSet { new_id }
                    | ApiCall::AddToSnapshotSet { new_id, .. } => {
                        *new_id = Guid::from_random_bytes(self.guids.guid_bytes());
                    }
                    _ => {}
                }
                let name = call.name();
                let succeeded = match call {
                    ApiCall::SetBackupSucceeded { succeeded, .. } => Some(succeeded),
                    _ => None,
                };
                self.calls.push(CallRecord {
                    requester: r.idx(),
                    call: name,
                    result: None,
                    async_result: None,
                    at: self.now,
                    read: None,
                    succeeded,
                });
                self.reqs[r.idx()].outstanding = Some(self.calls.len() - 1);
                if self.trace.enabled() {
                    let role = self.requester_role(r);
                    let detail = self.describe_args(&call);
                    self.trace.push(Record {
                        t_us: self.now.as_us(),
                        kind: "call",
                        role,
                        name: Some(name),
                        detail,
                        ..Default::default()
                    });
                }
                self.coord_input(Input::Call { requester: r, call });
            }
            Action::ReadShadow { volume, snapshot } => self.start_read(r, volume, snapshot),
            Action::Sleep(d) => self.schedule(self.now + d, Payload::Feed(r, Feedback::Woke)),
            Action::NewObject => {
                if self.trace.enabled() {
                    let role = self.requester_role(r);
                    self.trace.push(Record {
                        t_us: self.now.as_us(),
                        kind: "new_object",
                        role,
                        name: Some("CreateVssBackupComponents"),
                        ..Default::default()
                    });
                }
                self.coord_input(Input::NewObject { requester: r });
                self.requester_act(r);
            }
            Action::GoAway => self.go_away(r),
            Action::Wait | Action::Done => {}
        }
    }

    /// The requester process dies: the service sees its object released (decisions rule 27).
    fn go_away(&mut self, r: RequesterId) {
        let req = &mut self.reqs[r.idx()];
        if req.gone {
            return;
        }
        req.gone = true;
        req.read = None;
        req.outstanding = None;
        if self.trace.enabled() {
            let role = self.requester_role(r);
            self.trace.push(Record {
                t_us: self.now.as_us(),
                kind: "go_away",
                role,
                rule: Some("27"),
                ..Default::default()
            });
        }
        if !self.coord.is_released(r) {
            self.coord_input(Input::Call {
                requester: r,
                call: ApiCall::Release,
            });
        }
    }

    /// The arguments of a call worth showing a person, in VSS terms.
    fn describe_args(&self, call: &ApiCall) -> Option<String> {
        let m = self.coord.machine();
        match call {
            ApiCall::SetContext(c) => Some(c.name().to_string()),
            ApiCall::AddComponent(Some(c)) | ApiCall::SetBackupSucceeded { component: c, .. } => {
                let w = &m.writers[c.writer.idx()];
                let comp = &w.components[c.idx as usize];
                let mut d = format!("{}: {}", w.name, comp.name);
                if let ApiCall::SetBackupSucceeded { succeeded, .. } = call {
                    d.push_str(if *succeeded { ", true" } else { ", false" });
                }
                Some(d)
            }
            ApiCall::AddComponent(None) => Some("(unknown component)".into()),
            ApiCall::AddToSnapshotSet {
                volume, provider, ..
            } => {
                let v = volume
                    .map(|v| m.volumes[v.idx()].name.clone())
                    .unwrap_or("(unknown volume)".into());
                let p = match provider {
                    model::api::ProviderArg::Any => "GUID_NULL".to_string(),
                    model::api::ProviderArg::Registered(p) => m.providers[p.idx()].name.clone(),
                    model::api::ProviderArg::Unregistered(g) => g.to_string(),
                };
                Some(format!("{v}, {p}"))
            }
            _ => None,
        }
    }

    fn requester_role(&self, r: RequesterId) -> String {
        format!("requester:{}", self.requester_name(r.idx()))
    }

    /// The name of requester `r`.
    pub fn requester_name(&self, r: usize) -> String {
        self.requester_names.get(r).cloned().unwrap_or_default()
    }

    fn writer_role(&self, w: WriterId) -> String {
        format!("writer:{}", self.coord.machine().writers[w.idx()].name)
    }

    fn provider_role(&self, p: ProviderId) -> String {
        format!("provider:{}", self.coord.machine().providers[p.idx()].name)
    }

    fn execute(&mut self, o: Output) {
        let now = self.now;
        match o {
            Output::Reply {
                requester,
                call,
                result,
                data,
            } => {
                if let Some(i) = self.reqs[requester.idx()].outstanding.take() {
                    self.calls[i].result = Some(result);
                    if result.is_success() && ApiCall::is_async_name(call) {
                        // This call's IVssAsync: its QueryStatus result goes to this entry.
                        self.reqs[requester.idx()].async_call = Some(i);
                    }
                }
                let at = now + self.profile.api_call_latency;
                self.schedule(
                    at,
                    Payload::Feed(requester, Feedback::Reply { call, result, data }),
                );
            }
            Output::AsyncDone {
                requester,
                call,
                result,
                data,
            } => {
                if let Some(i) = self.reqs[requester.idx()].async_call.take() {
                    self.calls[i].async_result = Some(result);
                }
                let at = now + self.profile.api_call_latency;
                self.schedule(
                    at,
                    Payload::Feed(requester, Feedback::AsyncDone { call, result, data }),
                );
            }
            Output::WriterEvent {
                writer,
                event,
                token,
                set_volumes,
                selected,
            } => {
                if self.trace.enabled() {
                    let role = self.writer_role(writer);
                    self.trace.push(Record {
                        t_us: now.as_us(),
                        kind: "event",
                        role,
                        name: Some(event.name()),
                        ..Default::default()
                    });
                }
                match event {
                    WriterEvent::Freeze => self.freeze_at[writer.idx()] = Some(now),
                    WriterEvent::Thaw => self.thaw_delivered(writer),
                    WriterEvent::Abort => self.window_closed(writer),
                    _ => {}
                }
                let info = &self.coord.machine().writers[writer.idx()];
                match self.writers[writer.idx()].on_event(info, event, &set_volumes, &selected) {
                    WriterResponse::Answer { after, result } => {
                        self.schedule(
                            now + after,
                            Payload::Coord(Input::WriterAnswer { token, result }),
                        );
                    }
                    WriterResponse::Hang => {}
                }
            }
            Output::ProviderCall {
                provider,
                call,
                set_id,
                volumes,
                token,
            } => {
                if self.trace.enabled() {
                    let role = self.provider_role(provider);
                    self.trace.push(Record {
                        t_us: now.as_us(),
                        kind: "provider_call",
                        role,
                        name: Some(call.name()),
                        set_id: Some(set_id.to_string()),
                        volume: Some(self.volume_list(&volumes)),
                        ..Default::default()
                    });
                }
                let response = self.providers[provider.idx()].on_call(call);
                if self.coord.machine().providers[provider.idx()].kind == ProviderType::Hardware {
                    match call {
                        // The plex is synced at EndPrepareSnapshots, the rendezvous where a
                        // hardware provider waits for its mirror (vss-spec.md §2.2, §9.5), inside
                        // DoSnapshotSet: a set abandoned before that leaves no plex behind, and
                        // one that fails after it gets AbortSnapshots, which drops it.
                        ProviderCall::EndPrepareSnapshots => {
                            for v in &volumes {
                                let vs = &mut self.volumes[v.idx()];
                                vs.plex = Some(plex_of(&vs.vol));
                            }
                        }
                        ProviderCall::AbortSnapshots => {
                            for v in &volumes {
                                self.volumes[v.idx()].plex = None;
                            }
                        }
                        _ => {}
                    }
                }
                if call == ProviderCall::AbortSnapshots {
                    return;
                }
                match response {
                    ProviderResponse::Answer { after, mut result } => {
                        if result.is_success()
                            && call == ProviderCall::EndPrepareSnapshots
                            && self.coord.machine().providers[provider.idx()].kind
                                == ProviderType::System
                            && !self.diff_area_fits(&volumes)
                        {
                            // Rule 17: the diff area cannot hold the minimum.
                            result = Hresult::InsufficientStorage;
                        }
                        self.schedule(
                            now + after,
                            Payload::Coord(Input::ProviderAnswer { token, result }),
                        );
                    }
                    ProviderResponse::Hang => {}
                }
            }
            Output::SetTimer { at, timer } => {
                self.schedule(at, Payload::Coord(Input::Timer(timer)))
            }
            Output::FlushAndHold { volumes, token } => self.flush_and_hold(&volumes, token),
            Output::ReleaseWrites { volumes } => self.release(&volumes),
            Output::CreateShadow {
                snapshot,
                set_id,
                volume,
                provider,
                ..
            } => {
                let kind = self.coord.machine().providers[provider.idx()].kind;
                self.create_shadow(snapshot, set_id, volume, kind)
            }
            Output::DeleteShadow { snapshot, status } => self.delete_shadow(snapshot, status),
            Output::WriterStateChanged {
                writer,
                event,
                prev,
                next,
                last_error,
                rule,
            } => {
                if !self.graph.is_legal(prev, event, next) {
                    let name = self.coord.machine().writers[writer.idx()].name.clone();
                    self.violation(
                        "writer_state_graph",
                        format!(
                            "{name}: {} -> {} on {} is not in the writer state graph",
                            prev.name(),
                            next.name(),
                            event.name()
                        ),
                    );
                }
                if next == WriterState::FailedAtFreeze && last_error == Hresult::WriterErrorTimeout
                {
                    self.freeze_timed_out(writer);
                }
                if self.trace.enabled() {
                    let role = self.writer_role(writer);
                    self.trace.push(Record {
                        t_us: now.as_us(),
                        kind: "state",
                        role,
                        name: Some(event.name()),
                        prev: Some(prev.name()),
                        next: Some(next.name()),
                        last_error: Some(last_error.name()),
                        rule: (!rule.is_empty()).then_some(rule),
                        ..Default::default()
                    });
                }
            }
            Output::LateAnswerIgnored { .. } => {
                if self.trace.enabled() {
                    self.trace.push(Record {
                        t_us: now.as_us(),
                        kind: "late_answer",
                        role: "coordinator".into(),
                        rule: Some("11"),
                        ..Default::default()
                    });
                }
            }
            Output::Phase {
                set_id,
                phase,
                rule,
            } => {
                if phase == Hresult::FlushWritesTimeout.name()
                    || phase == Hresult::HoldWritesTimeout.name()
                {
                    self.timeout_failure_seen = true;
                }
                if phase != "finished" {
                    self.failed_sets.push(set_id);
                }
                if self.trace.enabled() {
                    self.trace.push(Record {
                        t_us: now.as_us(),
                        kind: "phase",
                        role: "coordinator".into(),
                        set_id: Some(set_id.to_string()),
                        detail: Some(phase.to_string()),
                        rule: Some(rule),
                        ..Default::default()
                    });
                }
            }
        }
    }

    fn volume_list(&self, volumes: &[VolumeId]) -> String {
        volumes
            .iter()
            .map(|v| self.volumes[v.idx()].name.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    fn diff_area_fits(&self, volumes: &[VolumeId]) -> bool {
        volumes.iter().all(|v| {
            let vs = &self.volumes[v.idx()];
            match vs.vol.diff_area_capacity_bytes() {
                None => true,
                Some(cap) => {
                    let bytes = vs.vol.n_blocks() * vs.vol.block_size() as u64;
                    cap.saturating_sub(vs.vol.diff_area_used_bytes())
                        >= self.profile.diff_area_min(bytes)
                }
            }
        })
    }

    // ---------------------------------------------------------------------------------------
    // Freeze windows (invariant `freeze_window`)
    // ---------------------------------------------------------------------------------------

    fn thaw_delivered(&mut self, w: WriterId) {
        if let Some(at) = self.freeze_at[w.idx()].take() {
            let limit = self.coord.machine().writers[w.idx()].freeze_timeout;
            let used = self.now - at;
            let u = &mut self.freeze_use[w.idx()];
            u.longest = u.longest.max(used);
            if used > limit {
                let name = self.coord.machine().writers[w.idx()].name.clone();
                self.violation(
                    "freeze_window",
                    format!("{name} was thawed {used} after Freeze, past its {limit} window"),
                );
            }
        }
    }

    fn window_closed(&mut self, w: WriterId) {
        if let Some(at) = self.freeze_at[w.idx()].take() {
            let used = self.now - at;
            let u = &mut self.freeze_use[w.idx()];
            u.longest = u.longest.max(used);
        }
    }

    fn freeze_timed_out(&mut self, w: WriterId) {
        let limit = self.coord.machine().writers[w.idx()].freeze_timeout;
        if let Some(at) = self.freeze_at[w.idx()] {
            // Rule 13b: the timer fires exactly at limit + 1 µs.
            if self.now != at.deadline_after(limit) {
                let name = self.coord.machine().writers[w.idx()].name.clone();
                self.violation(
                    "freeze_window",
                    format!(
                        "{name}'s freeze timeout fired {} after Freeze, not at {limit} + 1us",
                        self.now - at
                    ),
                );
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // Flush-and-hold and shadows
    // ---------------------------------------------------------------------------------------

    fn flush_and_hold(&mut self, volumes: &[VolumeId], token: u64) {
        let now = self.now;
        let hold_seq = self.next_seq - 1;
        let mut drained = now;
        for v in volumes {
            let vs = &mut self.volumes[v.idx()];
            vs.held = true;
            vs.hold_started = now;
            vs.hold_seq = hold_seq;
            if vs.last_complete > drained {
                drained = vs.last_complete;
            }
        }
        self.hold.holds += 1;
        let done = drained + self.profile.flush_latency;
        if self.trace.enabled() {
            self.trace.push(Record {
                t_us: now.as_us(),
                kind: "hold",
                role: "coordinator".into(),
                name: Some("FlushAndHoldWrites"),
                volume: Some(self.volume_list(volumes)),
                rule: Some("13"),
                ..Default::default()
            });
        }
        self.schedule(done, Payload::Coord(Input::FlushDone { token }));
    }

    fn release(&mut self, volumes: &[VolumeId]) {
        let now = self.now;
        let limit = self.profile.flush_and_hold_timeout;
        let mut released = 0u64;
        let mut longest = Duration::ZERO;
        let mut max_added = Duration::ZERO;
        for v in volumes {
            let vi = v.idx();
            if !self.volumes[vi].held {
                continue;
            }
            self.volumes[vi].held = false;
            let held_for = now - self.volumes[vi].hold_started;
            longest = longest.max(held_for);
            // Rule 14: held writes are released in their original order; none is lost.
            let held = std::mem::take(&mut self.volumes[vi].held_writes);
            let n = held.len() as u64;
            let mut prev_issued = Instant::ZERO;
            for hw in &held {
                if hw.issued < prev_issued {
                    self.violation(
                        "held_writes_preserved",
                        format!(
                            "held writes on {} released out of order",
                            self.volumes[vi].name
                        ),
                    );
                }
                prev_issued = hw.issued;
                max_added = max_added.max(now - hw.issued);
                self.accept_write(vi, hw.block, now + hw.latency);
            }
            self.held_now -= n;
            released += n;
            self.hold.writes_delayed += n;
        }
        let queued: u64 = self
            .volumes
            .iter()
            .map(|v| v.held_writes.len() as u64)
            .sum();
        if queued != self.held_now
            || self.writes_issued != self.writes_accepted + self.writes_failed + self.held_now
        {
            self.violation("held_writes_preserved", "a held write was lost".into());
        }
        self.hold.longest = self.hold.longest.max(longest);
        self.hold.max_added_latency = self.hold.max_added_latency.max(max_added);
        // Invariant: no write is held longer than 10 s + 1 µs, and a hold past 10 s ends the
        // creation with a flush or hold timeout (rules 13, 13b).
        if longest > limit + Duration::MICROSECOND {
            self.violation(
                "hold_within_limit",
                format!("writes were held for {longest}, past {limit} + 1us"),
            );
        } else if longest > limit && !self.timeout_failure_seen {
            self.violation(
                "hold_within_limit",
                format!("a hold of {longest} did not end the creation with a timeout"),
            );
        }
        self.timeout_failure_seen = false;
        if self.trace.enabled() {
            self.trace.push(Record {
                t_us: now.as_us(),
                kind: "release",
                role: "coordinator".into(),
                name: Some("ReleaseWrites"),
                volume: Some(self.volume_list(volumes)),
                n: Some(released),
                us: Some(longest.as_us()),
                detail: Some(max_added.as_us().to_string()),
                rule: Some("14"),
                ..Default::default()
            });
        }
    }

    fn image_digest(&self, v: usize, key: Option<ShadowKey>) -> u64 {
        let vs = &self.volumes[v];
        let mut sum = 0u64;
        for b in vs.vol.written_blocks_sorted() {
            let seq = match key {
                None => vs.vol.read_live(b),
                Some(k) => vs.vol.read_shadow(k, b),
            };
            if let Some(s) = seq {
                sum = sum.wrapping_add(mix(b, s));
            }
        }
        sum
    }

    fn create_shadow(
        &mut self,
        snapshot: SnapshotId,
        set_id: model::ids::SnapshotSetId,
        volume: VolumeId,
        kind: ProviderType,
    ) {
        let v = volume.idx();
        let vs = &mut self.volumes[v];
        // Point in time: nothing accepted on this volume after the hold request (rule 13).
        if vs.max_seq > vs.hold_seq || !vs.held {
            let name = vs.name.clone();
            self.violation(
                "shadow_point_in_time",
                format!("shadow of {name} committed with writes accepted after the hold request"),
            );
        }
        let vs = &mut self.volumes[v];
        let key = ShadowKey(vs.next_key);
        vs.next_key += 1;
        let epoch = vs.hold_seq.max(vs.max_seq);
        // Copy method by provider kind (vss-spec.md §9.5): the system provider's copy-on-write
        // keeps the image as a chain on the volume with a diff area; a software provider's
        // redirect-on-write and a hardware provider's split mirror keep it apart.
        let method = match kind {
            ProviderType::System => {
                vs.vol.create_shadow(key, epoch);
                CopyMethod::CopyOnWrite
            }
            ProviderType::Hardware => {
                // The split: the plex stops following the volume and becomes the shadow. A
                // plex that was never synced (no BeginPrepareSnapshot) is synced now.
                let plex = vs.plex.take().unwrap_or_else(|| plex_of(&vs.vol));
                CopyMethod::SplitMirror(plex)
            }
            _ => {
                vs.vol.create_redirect_shadow(key);
                CopyMethod::RedirectOnWrite
            }
        };
        let method_name = method.name();
        // The live image now is the image at the hold instant: record its digest.
        let digest = self.volumes[v].live_digest;
        debug_assert_eq!(digest, self.image_digest(v, None));
        let device = self.next_device;
        self.next_device += 1;
        self.images.push(ShadowImage {
            id: snapshot,
            set_id,
            volume: v,
            key,
            digest,
            live: true,
            device,
            method,
        });
        if self.trace.enabled() {
            let vol = self.volumes[v].name.clone();
            self.trace.push(Record {
                t_us: self.now.as_us(),
                kind: "shadow_created",
                role: format!("volume:{vol}"),
                set_id: Some(set_id.to_string()),
                snapshot_id: Some(snapshot.to_string()),
                volume: Some(vol),
                n: Some(self.volumes[v].vol.n_written_blocks()),
                detail: Some(method_name.to_string()),
                ..Default::default()
            });
        }
    }

    fn delete_shadow(&mut self, snapshot: SnapshotId, status: ShadowStatus) {
        let Some(img) = self.images.iter_mut().find(|i| i.id == snapshot && i.live) else {
            return;
        };
        img.live = false;
        let (v, key) = (img.volume, img.key);
        match std::mem::replace(&mut img.method, CopyMethod::RedirectOnWrite) {
            CopyMethod::CopyOnWrite => self.volumes[v].vol.delete_shadow(key),
            CopyMethod::RedirectOnWrite => self.volumes[v].vol.delete_redirect_shadow(key),
            CopyMethod::SplitMirror(_) => {}
        }
        if self.trace.enabled() {
            let vol = self.volumes[v].name.clone();
            self.trace.push(Record {
                t_us: self.now.as_us(),
                kind: "shadow_deleted",
                role: format!("volume:{vol}"),
                snapshot_id: Some(snapshot.to_string()),
                volume: Some(vol),
                detail: Some(status.name().to_string()),
                ..Default::default()
            });
        }
    }

    // ---------------------------------------------------------------------------------------
    // Reading shadows
    // ---------------------------------------------------------------------------------------

    fn start_read(&mut self, r: RequesterId, volume: VolumeId, snapshot: SnapshotId) {
        let v = volume.idx();
        let blocks = self.volumes[v].vol.written_blocks_sorted();
        self.reqs[r.idx()].read = Some(ReadJob {
            volume: v,
            snapshot,
            blocks,
            pos: 0,
            digest: 0,
            ok: true,
        });
        self.schedule_next_range(r);
    }

    fn range_len(&self, v: usize) -> usize {
        let bs = self.volumes[v].vol.block_size() as u64;
        (READ_RANGE_BYTES / bs).max(1) as usize
    }

    fn schedule_next_range(&mut self, r: RequesterId) {
        let job = self.reqs[r.idx()].read.as_ref().expect("read in progress");
        let n = (job.blocks.len() - job.pos).min(self.range_len(job.volume)) as u64;
        let bytes = n * self.volumes[job.volume].vol.block_size() as u64;
        let bw = self.reqs[r.idx()].bandwidth;
        // Blocks never written read as zeros and cost no virtual time.
        let us = (bytes as u128 * 1_000_000).div_ceil(bw as u128) as u64;
        self.schedule(self.now + Duration::from_us(us), Payload::ReadRange(r));
    }

    fn read_range_done(&mut self, r: RequesterId) {
        let now = self.now;
        let mut job = self.reqs[r.idx()].read.take().expect("read in progress");
        let n = (job.blocks.len() - job.pos).min(self.range_len(job.volume));
        let range = &job.blocks[job.pos..job.pos + n];
        let img = self.images.iter().find(|i| i.id == job.snapshot);
        let result = match img {
            Some(img) if img.live => {
                let vs = &self.volumes[job.volume];
                let mut digest = job.digest;
                read_image(&vs.vol, img, range, |b, seq| {
                    if let Some(s) = seq {
                        digest = digest.wrapping_add(mix(b, s));
                    }
                });
                job.digest = digest;
                Hresult::Ok
            }
            // The shadow was deleted under the reader (rule 17).
            _ => {
                job.ok = false;
                Hresult::ObjectNotFound
            }
        };
        let (first, last) = (
            range.first().copied().unwrap_or(0),
            range.last().copied().unwrap_or(0),
        );
        let vol_name = self.volumes[job.volume].name.clone();
        self.calls.push(CallRecord {
            requester: r.idx(),
            call: "ReadShadow",
            result: Some(result),
            async_result: None,
            at: now,
            read: Some((vol_name.clone(), first, last, n as u64)),
            succeeded: None,
        });
        if self.trace.enabled() {
            let role = self.requester_role(r);
            self.trace.push(Record {
                t_us: now.as_us(),
                kind: "read",
                role,
                name: Some("ReadShadow"),
                result: Some(result.name()),
                volume: Some(vol_name),
                snapshot_id: Some(job.snapshot.to_string()),
                n: Some(n as u64),
                ..Default::default()
            });
        }
        job.pos += n;
        if job.ok && job.pos < job.blocks.len() {
            self.reqs[r.idx()].read = Some(job);
            self.schedule_next_range(r);
            return;
        }
        if job.ok {
            let expected = self
                .images
                .iter()
                .find(|i| i.id == job.snapshot)
                .map(|i| i.digest);
            if expected != Some(job.digest) {
                let name = self.volumes[job.volume].name.clone();
                self.violation(
                    "shadow_point_in_time",
                    format!(
                        "the shadow of {name} does not read back the image of its hold instant"
                    ),
                );
            }
        }
        let fb = Feedback::ReadDone {
            volume: VolumeId(job.volume as u16),
            complete: job.ok,
        };
        self.reqs[r.idx()].logic.feed(fb);
        self.requester_act(r);
    }

    // ---------------------------------------------------------------------------------------
    // Trace helpers for inputs
    // ---------------------------------------------------------------------------------------

    fn trace_input(&mut self, input: &Input) {
        let t_us = self.now.as_us();
        let rec = match input {
            Input::WriterAnswer { token, result } => {
                let (role, name) = match self.coord.pending_event(*token) {
                    Some((w, e)) => (self.writer_role(w), Some(e.name())),
                    None => ("writer:?".to_string(), None),
                };
                Some(Record {
                    t_us,
                    kind: "answer",
                    role,
                    name,
                    result: Some(result.name()),
                    ..Default::default()
                })
            }
            Input::ProviderAnswer { token, result } => {
                let (role, name) = match self.coord.pending_call(*token) {
                    Some((p, c)) => (self.provider_role(p), Some(c.name())),
                    None => ("provider:?".to_string(), None),
                };
                Some(Record {
                    t_us,
                    kind: "provider_answer",
                    role,
                    name,
                    result: Some(result.name()),
                    ..Default::default()
                })
            }
            Input::FlushDone { .. } => Some(Record {
                t_us,
                kind: "flushed",
                role: "coordinator".into(),
                ..Default::default()
            }),
            _ => None,
        };
        if let Some(r) = rec {
            self.trace.push(r);
        }
    }

    fn trace_feed(&mut self, r: RequesterId, fb: &Feedback) {
        let role = self.requester_role(r);
        let rec = match fb {
            Feedback::Reply { call, result, .. } => Record {
                t_us: self.now.as_us(),
                kind: "reply",
                role,
                name: Some(call),
                result: Some(result.name()),
                ..Default::default()
            },
            Feedback::AsyncDone { call, result, .. } => Record {
                t_us: self.now.as_us(),
                kind: "async_done",
                role,
                name: Some(call),
                result: Some(result.name()),
                ..Default::default()
            },
            Feedback::ReadDone { .. } => return,
            Feedback::Woke => return,
            Feedback::Deadline => Record {
                t_us: self.now.as_us(),
                kind: "deadline",
                role,
                detail: Some("the requester's deadline passed".into()),
                ..Default::default()
            },
        };
        self.trace.push(rec);
    }

    /// Whether any shadow the world tracks is still readable.
    pub fn live_images(&self) -> usize {
        self.images.iter().filter(|i| i.live).count()
    }
}

#[cfg(test)]
mod tests {
    //! The invariant checks can fail: each test breaks one rule behind the coordinator's back
    //! and asserts the named violation is reported.

    use super::*;
    use crate::scenario::parse;

    fn world() -> World {
        let src = r#"
[[volume]]
name = "C:"
size = "1GiB"

[[writer]]
name = "W"
[[writer.component]]
name = "data"
volumes = ["C:"]

[[requester]]
name = "backup"
"#;
        let s = parse("<test>", "test", src).unwrap();
        World::new(&s, 0, Trace::off())
    }

    fn names(w: &World) -> Vec<&'static str> {
        w.violations().iter().map(|v| v.name).collect()
    }

    #[test]
    fn a_write_accepted_during_the_hold_breaks_point_in_time() {
        let mut w = world();
        w.accept_write(0, 1, Instant::from_us(10));
        w.flush_and_hold(&[VolumeId(0)], 1);
        // A write slips past the hold: the shadow would no longer be the hold instant.
        w.accept_write(0, 2, Instant::from_us(20));
        w.create_shadow(Guid(1), Guid(2), VolumeId(0), ProviderType::System);
        assert_eq!(names(&w), ["shadow_point_in_time"]);
    }

    #[test]
    fn an_honest_hold_keeps_point_in_time_and_reads_back() {
        let mut w = world();
        w.accept_write(0, 1, Instant::from_us(10));
        w.flush_and_hold(&[VolumeId(0)], 1);
        w.volumes[0].held_writes.push(HeldWrite {
            issued: Instant::ZERO,
            block: 1,
            latency: Duration::ZERO,
        });
        w.writes_issued += 2;
        w.held_now += 1;
        w.create_shadow(Guid(1), Guid(2), VolumeId(0), ProviderType::System);
        w.release(&[VolumeId(0)]);
        assert!(w.violations().is_empty(), "{:?}", w.violations());
        // The shadow still holds the first write; the live volume holds the released one.
        let img = &w.images[0];
        assert_eq!(w.volumes[0].vol.read_shadow(img.key, 1), Some(1));
        assert_eq!(w.volumes[0].vol.read_live(1), Some(2));
        assert_eq!(w.image_digest(0, Some(img.key)), img.digest);
    }

    #[test]
    fn a_shadow_of_a_failed_set_left_behind_is_reported() {
        let mut w = world();
        w.accept_write(0, 1, Instant::from_us(10));
        w.flush_and_hold(&[VolumeId(0)], 1);
        w.create_shadow(Guid(1), Guid(2), VolumeId(0), ProviderType::System);
        // The set fails but its shadow is not deleted.
        w.failed_sets.push(Guid(2));
        w.finish(EndReason::Finished);
        assert_eq!(names(&w), ["failed_set_shadow_left"]);
    }

    #[test]
    fn a_shadow_that_changes_after_commit_is_reported_at_the_end() {
        let mut w = world();
        w.accept_write(0, 1, Instant::from_us(10));
        w.flush_and_hold(&[VolumeId(0)], 1);
        w.create_shadow(Guid(1), Guid(2), VolumeId(0), ProviderType::System);
        // Corrupt the recorded image: the shadow no longer matches what it must hold.
        w.images[0].digest ^= 1;
        w.finish(EndReason::Finished);
        assert_eq!(names(&w), ["shadow_point_in_time"]);
    }

    #[test]
    fn a_split_mirror_that_missed_a_write_is_reported() {
        let mut w = world();
        w.accept_write(0, 1, Instant::from_us(10));
        // The plex syncs at BeginPrepareSnapshot, then misses a write it should have followed.
        w.volumes[0].plex = Some(plex_of(&w.volumes[0].vol));
        w.accept_write(0, 2, Instant::from_us(20));
        w.volumes[0].plex.as_mut().unwrap().insert(2, 1);
        w.flush_and_hold(&[VolumeId(0)], 1);
        w.create_shadow(Guid(1), Guid(2), VolumeId(0), ProviderType::Hardware);
        w.finish(EndReason::Finished);
        assert_eq!(names(&w), ["shadow_point_in_time"]);
    }

    #[test]
    fn split_mirror_and_redirect_on_write_hold_their_instant() {
        for kind in [ProviderType::Hardware, ProviderType::Software] {
            let mut w = world();
            w.accept_write(0, 1, Instant::from_us(10));
            w.volumes[0].plex = Some(plex_of(&w.volumes[0].vol));
            w.accept_write(0, 2, Instant::from_us(20));
            w.flush_and_hold(&[VolumeId(0)], 1);
            w.create_shadow(Guid(1), Guid(2), VolumeId(0), kind);
            w.writes_issued = w.writes_accepted; // written behind the workloads' back
            w.release(&[VolumeId(0)]);
            // Later writes reach the live volume, not the shadow.
            w.accept_write(0, 1, Instant::from_us(30));
            w.accept_write(0, 3, Instant::from_us(30));
            w.finish(EndReason::Finished);
            assert!(w.violations().is_empty(), "{kind:?}: {:?}", w.violations());
        }
    }

    #[test]
    fn held_writes_queued_out_of_order_are_reported() {
        let mut w = world();
        w.flush_and_hold(&[VolumeId(0)], 1);
        for (issued, block) in [(20, 1), (10, 2)] {
            w.volumes[0].held_writes.push(HeldWrite {
                issued: Instant::from_us(issued),
                block,
                latency: Duration::ZERO,
            });
            w.writes_issued += 1;
            w.held_now += 1;
        }
        w.now = Instant::from_us(30);
        w.release(&[VolumeId(0)]);
        assert_eq!(names(&w), ["held_writes_preserved"]);
    }

    #[test]
    fn a_lost_held_write_is_reported() {
        let mut w = world();
        w.flush_and_hold(&[VolumeId(0)], 1);
        w.writes_issued += 1;
        w.held_now += 1; // counted as held, but never queued: it is lost at the release
        w.release(&[VolumeId(0)]);
        assert_eq!(names(&w), ["held_writes_preserved"]);
    }

    #[test]
    fn a_hold_past_ten_seconds_without_a_timeout_is_reported() {
        let mut w = world();
        w.flush_and_hold(&[VolumeId(0)], 1);
        w.now = Instant::from_us(10_000_001);
        w.release(&[VolumeId(0)]);
        assert_eq!(names(&w), ["hold_within_limit"]);
        let mut w = world();
        w.flush_and_hold(&[VolumeId(0)], 1);
        w.now = Instant::from_us(10_000_002);
        w.timeout_failure_seen = true;
        w.release(&[VolumeId(0)]);
        assert_eq!(
            names(&w),
            ["hold_within_limit"],
            "even a timeout cannot hold past 10 s + 1 us"
        );
    }

    #[test]
    fn an_illegal_writer_transition_is_reported() {
        let mut w = world();
        w.execute(Output::WriterStateChanged {
            writer: WriterId(0),
            event: WriterEvent::Thaw,
            prev: WriterState::Stable,
            next: WriterState::WaitingForPostSnapshot,
            last_error: Hresult::Ok,
            rule: "",
        });
        assert_eq!(names(&w), ["writer_state_graph"]);
    }

    #[test]
    fn a_thaw_past_the_freeze_window_is_reported() {
        let mut w = world();
        w.freeze_at[0] = Some(Instant::ZERO);
        w.now = Instant::from_us(60_000_001);
        w.thaw_delivered(WriterId(0));
        assert_eq!(names(&w), ["freeze_window"]);
    }

    #[test]
    fn a_run_cut_by_its_time_limit_is_stalled() {
        let src = r#"
[run]
max_virtual_time = "1s"

[[volume]]
name = "C:"
size = "1GiB"

[[writer]]
name = "W"
[[writer.component]]
name = "data"
volumes = ["C:"]
[[writer.fault]]
event = "PrepareForBackup"
delay = "5s"

[[requester]]
name = "backup"
"#;
        let s = parse("<test>", "test", src).unwrap();
        let mut w = World::new(&s, 0, Trace::off());
        assert_eq!(w.run(), EndReason::TimeLimit);
        assert_eq!(names(&w), ["stalled"]);
        assert!(!w.requester_completed(0));
    }
}
