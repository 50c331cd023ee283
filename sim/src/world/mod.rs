//! The simulated machine: the coordinator, the role instances behind their edges, the shadow
//! store, the workloads, and the loop that drives them on the kernel.
//!
//! Where each concern lives:
//! - [`crate::kernel`]: the clock, the queue, the slots, the step budget (time advances only
//!   there);
//! - `build.rs`: the machine of a scenario;
//! - `route.rs`: the host, which carries the coordinator's outputs to writers, providers,
//!   requesters, timers and the shadow store, and their answers back;
//! - `requesters.rs`: requester processes, their calls and their shadow reads;
//! - `workload.rs`: the applications writing to the volumes (the hot path);
//! - [`crate::record`]: every fact, once, to the trace, the oracles and the accounting;
//! - [`model::volume::store`]: flush-and-hold, held writes, copy methods, diff areas.

mod apps;
mod build;
mod guests;
mod requesters;
mod route;
mod served;
mod workload;

use model::api::{ApiCallKind, Input};
use model::coordinator::Coordinator;
use model::ids::{Guid, RequesterId, SnapshotSetId, VolumeId};
use model::profile::Profile;
use model::provider::ProviderLogic;
use model::requester::Feedback;
use model::time::Instant;
use model::volume::store::{ShadowInfo, ShadowStore, StoreNote, WriteCounts};
use model::vss::Hresult;
use model::writer::WriterLogic;

use crate::kernel::rng::SimRng;
use crate::kernel::{Kernel, Next, Stop};
use crate::oracle::Violation;
use crate::record::{CallRecord, DeletedBy, Fact, Recorder};
use crate::trace::Record;

pub use crate::record::EndReason;
pub(crate) use build::machine as machine_of;
use requesters::Req;
pub(crate) use served::Served;
use workload::Workload;

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
    /// A requester process goes away (rule 27).
    GoAway(RequesterId),
    /// `[run] heal_at`: faults stop and stuck calls answer (rule 31).
    Heal,
    /// `heal_at + settle_within`: the run should have ended by now (rule 31).
    SettleDue,
    /// Something guest code did, at the virtual time it did it.
    Guest(crate::guest::Out),
    /// A block range read for guest code is done.
    BlocksRead(RequesterId, requesters::BlockRead),
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

/// The simulated machine and its loop.
pub struct World {
    profile: Profile,
    kernel: Kernel<Payload>,
    coord: Coordinator,
    writers: Vec<WriterLogic>,
    providers: Vec<ProviderLogic>,
    store: ShadowStore,
    workloads: Vec<Workload>,
    reqs: Vec<Req>,
    guids: SimRng,
    running: bool,
    /// Reusable coordinator outboxes, one per nesting level in use.
    outboxes: Vec<Vec<model::api::Output>>,
    notes: Vec<StoreNote>,
    /// Facts to the trace, the oracles and the accounting.
    pub rec: Recorder,
    end: Option<EndReason>,
    volume_guids: Vec<Guid>,
    /// The workloads' names (an application's name in its findings).
    workload_names: Vec<String>,
    /// The set whose shadow copies are being made, and the volumes that have one so far.
    set_shadows: Option<(SnapshotSetId, Vec<VolumeId>)>,
    /// Whether the scenario heals (`[run] heal_at`, rule 31).
    heals: bool,
    /// Healed: no fault fires any more (rule 31).
    healed: bool,
    /// How deep the world is in carrying out the service's outputs.
    coord_depth: u32,
    /// Inputs for the service noted while carrying out its outputs, given once they are done.
    deferred: Vec<Input>,
    /// Until healed, the `S_OK` answers of the handlers and provider calls that hung; sent at
    /// `heal_at` (kept only when the scenario heals).
    hung: Vec<Input>,
    /// The runtime of guest code (your requesters and writers), if the world hosts any.
    guest: Option<Box<crate::guest::Host>>,
    /// Why guest code could not go on, if it could not (the run then stopped).
    guest_error: Option<crate::guest::GuestError>,
    /// A drive of the guest is in progress (the world waits for it).
    driving: bool,
    /// What passes between the world and code outside the model (guest code, or the
    /// emulator's socket clients): `None` when every role is the model's.
    mail: Option<std::rc::Rc<std::cell::RefCell<crate::guest::Mailbox>>>,
    /// Driven from outside (`vss-sim serve`): the run never ends by itself, an empty queue is
    /// only idle.
    served: bool,
}

impl World {
    // ---------------------------------------------------------------------------------------
    // Accessors for the report and the views
    // ---------------------------------------------------------------------------------------

    /// The coordinator (writer status, shadows, machine).
    pub fn coordinator(&self) -> &Coordinator {
        &self.coord
    }
    /// Every API call in order.
    pub fn calls(&self) -> &[CallRecord] {
        self.rec.calls()
    }
    /// Invariants that did not hold.
    pub fn violations(&self) -> &[Violation] {
        self.rec.violations()
    }
    /// Findings (rule 33): torn application images in crash-consistent shadow copies.
    pub fn findings(&self) -> &[crate::record::Finding] {
        self.rec.findings()
    }
    /// Current virtual time.
    pub fn now(&self) -> Instant {
        self.kernel.now()
    }
    /// Events dispatched (every workload write counts as one).
    pub fn steps(&self) -> u64 {
        self.kernel.steps()
    }
    /// The standard requester's own verdict (see `RequesterLogic::verdict`); `None` for a script
    /// or a requester that went away before deciding.
    pub fn requester_verdict(&self, r: usize) -> Option<Hresult> {
        self.reqs[r].verdict()
    }
    /// From now on, note which situations of [`crate::situation`] the run reaches (a fault
    /// search's coverage); see [`World::situations`].
    pub fn watch_situations(&mut self) {
        self.rec.situations = Some(crate::situation::Situations::default());
    }
    /// The situations reached so far, as bits (0 unless watched).
    pub fn situations(&self) -> u64 {
        self.rec.situations.as_ref().map_or(0, |s| s.reached())
    }
    /// The store's write accounting.
    pub fn write_counts(&self) -> WriteCounts {
        self.store.counts()
    }
    /// Volumes marked `VSS_PROTECTION_FAULT_DIFF_AREA_FULL`, in declaration order.
    pub fn protection_faults(&self) -> Vec<String> {
        let m = self.coord.machine();
        (0..self.store.n_volumes())
            .filter(|&v| self.store.is_faulted(vid(v)))
            .map(|v| m.volumes[v].name.clone())
            .collect()
    }
    /// Average pending events (heap entries and workload slots).
    pub fn average_queue_len(&self) -> f64 {
        self.kernel.average_queue_len()
    }
    /// The profile in force.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }
    /// The name of requester `r`.
    pub fn requester_name(&self, r: usize) -> String {
        self.rec.requester_name(r)
    }
    /// The shadow store: every volume and shadow copy, read-only (what the NBD exports read).
    pub fn store(&self) -> &ShadowStore {
        &self.store
    }
    /// Live shadow copies, in creation order, as an administrator lists them.
    pub fn shadow_views(&self) -> Vec<ShadowInfo> {
        self.store.live_shadows().collect()
    }
    /// Every volume's shadow storage, in declaration order.
    pub fn storage_views(&self) -> Vec<StorageView> {
        let m = self.coord.machine();
        (0..self.store.n_volumes())
            .map(|i| {
                let vol = self.store.volume(vid(i));
                StorageView {
                    volume: i,
                    name: m.volumes[i].name.clone(),
                    guid: self.volume_guids[i],
                    volume_bytes: vol.n_blocks() * u64::from(vol.block_size()),
                    used_bytes: vol.diff_area_used_bytes(),
                    max_bytes: vol.diff_area_capacity_bytes(),
                    n_shadows: vol.n_shadows(),
                }
            })
            .collect()
    }

    // ---------------------------------------------------------------------------------------
    // The loop
    // ---------------------------------------------------------------------------------------

    fn note(&mut self, fact: Fact) {
        self.rec.note(self.coord.machine(), self.kernel.now(), fact);
    }

    /// Samples volume `v`'s counters for the trace (a no-op with the trace off).
    #[inline]
    fn sample(&mut self, v: VolumeId) {
        if self.rec.trace.enabled() {
            self.sample_traced(v);
        }
    }

    fn sample_traced(&mut self, v: VolumeId) {
        let vol = self.store.volume(v);
        let values = [
            self.store.held_on(v),
            vol.diff_area_used_bytes(),
            self.store.accepted_on(v),
        ];
        self.rec
            .sample(self.coord.machine(), self.kernel.now(), v, values);
    }

    fn schedule(&mut self, at: Instant, p: Payload) {
        self.kernel.schedule(at, p);
    }

    /// Dispatches every event due at or before `t` (or until the run ends), then sets the clock
    /// to `t`: the state an observer sees at virtual time `t`. Returns the end reason if the run
    /// ended first.
    pub fn run_until(&mut self, t: Instant) -> Option<EndReason> {
        loop {
            if let Some(e) = self.end {
                return Some(e);
            }
            match self.kernel.peek_at() {
                Some(at) if at <= t && at <= self.kernel.max_time() => {
                    if let Some(e) = self.step() {
                        return Some(e);
                    }
                }
                _ => {
                    self.kernel.idle_until(t);
                    return None;
                }
            }
        }
    }

    /// Runs until the end condition or a limit; returns why it stopped.
    pub fn run(&mut self) -> EndReason {
        loop {
            if let Some(r) = self.step() {
                return r;
            }
        }
    }

    /// Runs like [`World::run`], handing `f` every trace record as soon as it is made (the
    /// trace must keep records: `Trace::on(_, true)`); none is kept after `f` has it.
    pub fn run_with(&mut self, mut f: impl FnMut(Record)) -> EndReason {
        loop {
            let end = self.step();
            self.rec.trace.take_records(&mut f);
            if let Some(r) = end {
                return r;
            }
        }
    }

    /// Dispatches one event; `Some` when the run has ended. (A world with guest code is run by
    /// its guest runtime instead, `harness::Simulation::run`.)
    pub fn step(&mut self) -> Option<EndReason> {
        debug_assert!(
            self.guest.is_none(),
            "a world with guest code runs on its runtime"
        );
        self.step_kernel()
    }

    /// Dispatches the kernel's next event; `Some` when the run has ended.
    fn step_kernel(&mut self) -> Option<EndReason> {
        if let Some(e) = self.end {
            return Some(e);
        }
        match self.kernel.advance() {
            Ok(Next::Slot(w)) => {
                // A workload write changes no requester's or the service's state: the end
                // condition cannot have changed.
                self.on_write(w);
                None
            }
            Ok(Next::Event(p)) => {
                self.dispatch(p);
                if self.running && !self.served && self.all_done() {
                    return Some(self.finish(EndReason::Finished));
                }
                None
            }
            Err(Stop::StepLimit) => Some(self.finish(EndReason::StepLimit)),
            Err(Stop::QueueEmpty) => Some(self.finish(EndReason::QueueEmpty)),
            Err(Stop::TimeLimit) => Some(self.finish(EndReason::TimeLimit)),
        }
    }

    fn all_done(&self) -> bool {
        self.reqs.iter().all(Req::is_done) && self.coord.is_idle()
    }

    fn finish(&mut self, reason: EndReason) -> EndReason {
        self.running = false;
        self.end = Some(reason);
        let verified = self.store.verify_live();
        self.note(Fact::ShadowsVerified(verified));
        for r in 0..self.reqs.len() {
            let result = self.requester_result(r);
            self.note(Fact::RequesterResult {
                requester: RequesterId(u16::try_from(r).expect("requester index fits the id")),
                result,
                // The standard sequence's own verdict; a process that went away before it had
                // one reported nothing (its result is then judged from its calls).
                reported: self.requester_verdict(r).is_some(),
            });
        }
        let diff_leaks = (0..self.store.n_volumes())
            .filter_map(|v| {
                let vol = self.store.volume(vid(v));
                let used = vol.diff_area_used_bytes();
                (vol.n_shadows() == 0 && used > 0).then_some((vid(v), used))
            })
            .collect();
        self.note(Fact::Settled {
            creation_lock: self.coord.creation_lock(),
            diff_leaks,
        });
        self.note(Fact::Ending { reason });
        let (events, writes) = (self.kernel.steps(), self.store.counts());
        self.note(Fact::End {
            reason,
            events,
            writes,
        });
        reason
    }

    /// The result of requester `r` by the rule of `run --json`'s `result` (README, "JSON output"):
    /// `S_OK` when its backup completed, else its first failure, `VSS_S_ASYNC_CANCELLED` if it
    /// cancelled or aborted before any, `VSS_S_ASYNC_PENDING` if it had not finished.
    pub fn requester_result(&self, r: usize) -> Hresult {
        // The standard requester knows its own story (retries, deadline, repeats).
        if let Some(v) = self.requester_verdict(r) {
            return v;
        }
        if self.script_completed(r) {
            return Hresult::Ok;
        }
        for c in self.calls().iter().filter(|c| c.requester == r) {
            // AbortBackup, or a Cancel that cancelled something (S_OK), before any failure.
            if c.call == Some(ApiCallKind::AbortBackup)
                || (c.call == Some(ApiCallKind::Cancel) && c.result == Some(Hresult::Ok))
            {
                return Hresult::AsyncCancelled;
            }
            if let Some(res) = c.result
                && !res.is_success()
            {
                return res;
            }
            if let Some(a) = c.async_result
                && (a == Hresult::AsyncCancelled || !a.is_success())
            {
                return a;
            }
        }
        // No failure, no cancellation, no completed backup: it had not finished when it went
        // away or the run stopped.
        Hresult::AsyncPending
    }

    /// Whether a script's backup completed: its BackupComplete finished, or, in a writer-less
    /// context (no BackupComplete there, rule 24), its DoSnapshotSet did.
    fn script_completed(&self, r: usize) -> bool {
        let finished = |kind: ApiCallKind| {
            self.calls().iter().any(|c| {
                c.requester == r
                    && c.call == Some(kind)
                    && c.async_result == Some(Hresult::AsyncFinished)
            })
        };
        // The context the object was given (SetContext), not the scenario's default.
        let id = RequesterId(u16::try_from(r).expect("requester index fits the id"));
        if self.coord.session_context(id).has_writers() {
            finished(ApiCallKind::BackupComplete)
        } else {
            finished(ApiCallKind::DoSnapshotSet)
        }
    }

    fn dispatch(&mut self, p: Payload) {
        match p {
            Payload::Coord(input) => {
                self.note_input(&input);
                self.coord_input(input);
            }
            Payload::Feed(r, fb) => {
                if self.reqs[r.idx()].gone {
                    return;
                }
                self.note_feed(r, &fb);
                self.feed_requester(r, fb);
            }
            Payload::Step(r) => self.requester_act(r),
            Payload::ReadRange(r) => {
                if !self.reqs[r.idx()].gone {
                    self.read_range_done(r);
                }
            }
            Payload::GoAway(r) => {
                // Healed: a go-away is a fault and fires no more (rule 31).
                if !self.healed {
                    self.go_away(r);
                }
            }
            Payload::Heal => self.heal(),
            Payload::SettleDue => self.settle_due(),
            Payload::Guest(out) => self.on_guest(out),
            Payload::BlocksRead(r, job) => {
                if !self.reqs[r.idx()].gone {
                    self.blocks_read(r, job);
                }
            }
        }
    }

    /// `[run] heal_at` (rule 31): no writer or provider fault fires from now on, and every
    /// handler or provider call still stuck answers `S_OK` at once (an answer to a handler the
    /// service already abandoned is late and ignored, rule 30).
    fn heal(&mut self) {
        self.healed = true;
        for w in &mut self.writers {
            w.heal();
        }
        for p in &mut self.providers {
            p.heal();
        }
        let hung = std::mem::take(&mut self.hung);
        let now = self.kernel.now();
        self.note(Fact::Healed {
            answered: u32::try_from(hung.len()).unwrap_or(u32::MAX),
        });
        for input in hung {
            self.schedule(now, Payload::Coord(input));
        }
    }

    /// `heal_at + settle_within` with the run still going: what is open, for the `settles`
    /// oracle.
    fn settle_due(&mut self) {
        let waiting = (0..self.reqs.len())
            .filter(|&r| !self.reqs[r].is_done())
            .map(RequesterId::from_index)
            .collect();
        self.note(Fact::SettleDue {
            waiting,
            creation_lock: self.coord.creation_lock(),
            service_busy: !self.coord.is_idle(),
        });
    }

    fn coord_input(&mut self, input: Input) {
        // Inputs nest (an output's effect can be another input), so outboxes are pooled: each
        // level takes one and gives it back, and none is allocated twice.
        let mut out = self.outboxes.pop().unwrap_or_default();
        self.coord.handle(self.kernel.now(), input, &mut out);
        self.coord_depth += 1;
        for o in out.drain(..) {
            self.execute(o);
        }
        self.coord_depth -= 1;
        self.outboxes.push(out);
        if self.coord_depth == 0 && !self.deferred.is_empty() {
            for input in std::mem::take(&mut self.deferred) {
                self.coord_input(input);
            }
        }
    }

    /// Passes on what the store noted while writing: deleted shadows reach the coordinator.
    #[inline]
    fn store_notes(&mut self) {
        if !self.notes.is_empty() {
            self.pass_store_notes();
        }
    }

    #[cold]
    fn pass_store_notes(&mut self) {
        for n in std::mem::take(&mut self.notes) {
            match n {
                StoreNote::ProtectionFault { volume } => {
                    self.note(Fact::ProtectionFault { volume })
                }
                StoreNote::ShadowDeleted { volume, snapshot } => {
                    self.note(Fact::ShadowDeleted {
                        snapshot,
                        volume,
                        by: DeletedBy::DiffAreaFull,
                    });
                    let input = Input::ShadowDeleted { snapshot };
                    if self.coord_depth > 0 {
                        // Noted while the service's outputs are being carried out (writes
                        // released at a commit): the service learns of it once it has had its
                        // say, so what it already decided (the next stage) comes first.
                        self.deferred.push(input);
                    } else {
                        self.coord_input(input);
                    }
                }
            }
        }
    }

    fn note_input(&mut self, input: &Input) {
        let fact = match input {
            Input::WriterAnswer { token, result } => {
                let of = self.coord.pending_event(*token);
                // A frozen application has finished its unit before the answer is heard (a
                // guest writer freezes its application itself).
                if !of.is_some_and(|(w, _)| self.guest_runs_writer(w)) {
                    let session = self.coord.event_session(*token);
                    self.apps_on_answer(of, *result, session);
                }
                Fact::WriterAnswer {
                    of,
                    result: *result,
                }
            }
            Input::ProviderAnswer { token, result } => Fact::ProviderAnswer {
                of: self.coord.pending_call(*token),
                result: *result,
            },
            Input::FlushDone { .. } => Fact::Flushed,
            _ => return,
        };
        self.note(fact);
    }

    fn note_feed(&mut self, requester: RequesterId, fb: &Feedback) {
        let fact = match fb {
            Feedback::Reply { call, result, .. } => Fact::Reply {
                requester,
                call: *call,
                result: *result,
            },
            Feedback::AsyncDone { call, result, data } => Fact::AsyncDone {
                requester,
                call: *call,
                result: *result,
                writers: match data {
                    model::api::ReplyData::WriterStatus(list) => list.clone(),
                    _ => Vec::new(),
                },
            },
            Feedback::Deadline => Fact::Deadline { requester },
            Feedback::ReadDone { .. } | Feedback::Woke => return,
        };
        self.note(fact);
    }
}

/// The id of volume index `v` (checked: `scenario::limits::MAX_VOLUMES` keeps it in 16 bits).
fn vid(v: usize) -> VolumeId {
    VolumeId::from_index(v)
}
