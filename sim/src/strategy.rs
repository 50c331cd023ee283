//! proptest strategies that draw whole scenarios for a fault search.
//!
//! A case is drawn in two steps, as swarm testing does (TigerBeetle's `options_swarm`): first
//! [`Features`], which parts of the machine are on at all (writer faults, provider faults,
//! applications, a second requester, writer-less contexts, bounded diff areas, a process that
//! goes away, a deadline, bursts, a slow flush), then a [`Plan`] of small numbers within those features. A
//! plan is plain data that proptest shrinks (fewer volumes, writers, faults; smaller values);
//! [`Plan::build`] turns it into a [`Scenario`] that passes every check of the scenario format.
//!
//! Generated machines are small and their limits short (a 5-second freeze window, a 15-second
//! writer response limit, a deadline of at most a minute, rule 28's diff-area minimum at 1 MiB
//! and 4 MiB), so a case is a few thousand events
//! and a search runs thousands of cases a second; the rules are the same, only scaled. Every
//! case heals (rule 31) between 5 and 20 virtual seconds in and must settle within five
//! minutes after: safety while the faults fire, liveness once they stop.

use std::sync::OnceLock;

use model::app::AppKind;
use model::provider::ProviderFault;
use model::requester::{Flaw, Policy};
use model::time::Duration;
use model::vss::{ApplicationLevel, Hresult, ProviderCall, SnapshotContext, WriterEvent};
use model::writer::FaultAction;
use proptest::prelude::*;

use crate::scenario::{
    AppSpec, ComponentSpec, Heal, Pattern, RequesterSpec, Scenario, VolumeSpec, WorkloadSpec,
    WriterFaultSpec, WriterSpec, parse,
};

/// Which parts of the machine a case turns on: each is drawn first, on or off, so rare
/// combinations of features are tried as often as common ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Features {
    /// Writers fail, hang or answer late.
    pub writer_faults: bool,
    /// The system provider fails, vetoes or stalls.
    pub provider_faults: bool,
    /// Writers own applications (a database, a file rewriter).
    pub applications: bool,
    /// A second requester backs up the same machine.
    pub second_requester: bool,
    /// Requesters use other contexts than `VSS_CTX_BACKUP` (writer-less, persistent).
    pub other_contexts: bool,
    /// Volumes have bounded diff areas (rules 17, 28).
    pub diff_areas: bool,
    /// A requester's process goes away (rule 27).
    pub go_away: bool,
    /// Requesters have a deadline.
    pub deadline: bool,
    /// Plain workloads write in bursts.
    pub bursts: bool,
    /// The file systems' flush takes long, sometimes past the 10-second hold (rule 13).
    pub slow_flush: bool,
}

impl Features {
    /// Every feature on.
    pub const ALL: Features = Features {
        writer_faults: true,
        provider_faults: true,
        applications: true,
        second_requester: true,
        other_contexts: true,
        diff_areas: true,
        go_away: true,
        deadline: true,
        bursts: true,
        slow_flush: true,
    };
}

/// A volume: its size (an index into the sizes below) and an optional bounded diff area.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumePlan {
    /// 0: 64 MiB, 1: 256 MiB, 2: 1 GiB, 3: 8 GiB.
    pub size: u8,
    /// A bounded diff area of this many MiB (the fuzz profile's minimum is 1 MiB).
    pub diff_area_mib: Option<u16>,
}

/// A writer fault: which event, what the handler does, for how many sessions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriterFaultPlan {
    /// Index into [`FAULT_EVENTS`].
    pub event: u8,
    /// 0..4: fail with [`WRITER_CODES`]`[code]`; 4: hang; 5: answer after 8 s (past the scaled
    /// freeze window); 6: after 20 s (past the scaled response limit).
    pub action: u8,
    /// The failure code.
    pub code: u8,
    /// Only the first session.
    pub once: bool,
}

/// A writer: its application level, its component's volumes, an application, its faults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriterPlan {
    /// 0: front end, 1: back end, 2: system.
    pub level: u8,
    /// Bit mask of the volumes its one component lies on (none set: the first).
    pub volumes: u8,
    /// 0: none, 1: a database, 2: a file rewriter (when its component's volumes allow).
    pub app: u8,
    /// Faults.
    pub faults: Vec<WriterFaultPlan>,
}

/// A plain workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadPlan {
    /// Index into the volumes.
    pub volume: u8,
    /// 0: 50/s, 1: 200/s, 2: 800/s.
    pub rate: u8,
    /// 0: uniform, 1: sequential, 2: hotspot.
    pub pattern: u8,
    /// Bursts: on and off, in ms.
    pub burst: Option<(u16, u16)>,
}

/// A system provider fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderFaultPlan {
    /// Index into [`PROVIDER_CALLS`].
    pub call: u8,
    /// 0..4: fail with [`PROVIDER_CODES`]`[code]`; 4: take 12 s; 5: hang (until a deadline or
    /// the heal).
    pub action: u8,
    /// The failure code.
    pub code: u8,
    /// Only the first call.
    pub once: bool,
}

/// A requester.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequesterPlan {
    /// Index into [`CONTEXTS`] (only `VSS_CTX_BACKUP` without `other_contexts`).
    pub context: u8,
    /// When it starts, in ms.
    pub start_ms: u16,
    /// Its deadline, in s.
    pub deadline_s: Option<u8>,
    /// When its process goes away, in ms.
    pub go_away_ms: Option<u16>,
    /// It reads at 2 MB/s instead of 200 MB/s (with bounded diff areas: a long read a full diff
    /// area can cut short).
    pub slow_read: bool,
}

/// One case of a fault search, as small numbers proptest can shrink.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The features it was drawn with.
    pub features: Features,
    /// Volumes (1 to 3).
    pub volumes: Vec<VolumePlan>,
    /// Writers (1 to 3).
    pub writers: Vec<WriterPlan>,
    /// Plain workloads (0 to 2).
    pub workloads: Vec<WorkloadPlan>,
    /// System provider faults.
    pub provider_faults: Vec<ProviderFaultPlan>,
    /// The first requester.
    pub requester: RequesterPlan,
    /// A second one.
    pub second: Option<RequesterPlan>,
    /// When faults stop (`[run] heal_at`, rule 31), in s.
    pub heal_s: u8,
    /// The flush's length, in ms (`slow_flush`; past 10 000 the hold times out).
    pub flush_ms: Option<u16>,
    /// Snapshot protection: a full diff area fails writes instead of deleting shadows (rule 17;
    /// drawn with `diff_areas`).
    pub snapshot_protection: bool,
    /// The run's seed.
    pub seed: u64,
}

/// The writer events a generated fault targets.
pub const FAULT_EVENTS: [WriterEvent; 9] = [
    WriterEvent::Identify,
    WriterEvent::PrepareForBackup,
    WriterEvent::PrepareForSnapshot,
    WriterEvent::Freeze,
    WriterEvent::Thaw,
    WriterEvent::PostSnapshot,
    WriterEvent::BackupComplete,
    WriterEvent::Abort,
    WriterEvent::BackupShutdown,
];

/// The writer failure codes a generated fault returns.
pub const WRITER_CODES: [Hresult; 7] = [
    Hresult::WriterErrorRetryable,
    Hresult::WriterErrorNonRetryable,
    Hresult::WriterErrorTimeout,
    Hresult::WriterErrorOutOfResources,
    Hresult::WriterErrorInconsistentSnapshot,
    Hresult::WriterErrorRecoveryFailed,
    Hresult::WriterErrorPartialFailure,
];

/// The provider calls a generated fault targets.
pub const PROVIDER_CALLS: [ProviderCall; 7] = [
    ProviderCall::BeginPrepareSnapshot,
    ProviderCall::EndPrepareSnapshots,
    ProviderCall::PreCommitSnapshots,
    ProviderCall::CommitSnapshots,
    ProviderCall::PostCommitSnapshots,
    ProviderCall::PreFinalCommitSnapshots,
    ProviderCall::PostFinalCommitSnapshots,
];

/// The provider failure codes a generated fault returns.
pub const PROVIDER_CODES: [Hresult; 4] = [
    Hresult::ProviderVeto,
    Hresult::Fail,
    Hresult::OutOfMemory,
    Hresult::UnexpectedProviderError,
];

/// The contexts a requester may use with `other_contexts`.
pub const CONTEXTS: [SnapshotContext; 5] = [
    SnapshotContext::Backup,
    SnapshotContext::FileShareBackup,
    SnapshotContext::NasRollback,
    SnapshotContext::AppRollback,
    SnapshotContext::ClientAccessible,
];

/// When a case heals, in s: mostly after the first faults had their time (every requester
/// starts within 2 s, the scaled limits are 5 and 15 s), sometimes in the middle of a hang,
/// and early enough that a case stays short (a hang lasts until the heal).
const HEAL_S: std::ops::Range<u8> = 5..21;

/// How long a healed case has to settle: its reads (at most three 8-GiB volumes at 200 MB/s)
/// and the second requester's retries fit with room to spare.
const SETTLE_WITHIN: Duration = Duration::from_secs(300);

const SIZES: [u64; 4] = [64 << 20, 256 << 20, 1 << 30, 8 << 30];
const RATES: [u64; 3] = [50, 200, 800];

/// The features of a swarm case: each on or off at even odds.
pub fn features() -> impl Strategy<Value = Features> {
    (any::<[bool; 5]>(), any::<[bool; 5]>()).prop_map(|(a, b)| Features {
        writer_faults: a[0],
        provider_faults: a[1],
        applications: a[2],
        second_requester: a[3],
        other_contexts: a[4],
        diff_areas: b[0],
        go_away: b[1],
        deadline: b[2],
        bursts: b[3],
        slow_flush: b[4],
    })
}

fn requester_plan(f: Features) -> impl Strategy<Value = RequesterPlan> {
    (
        if f.other_contexts {
            0..CONTEXTS.len() as u8
        } else {
            0..1u8
        },
        0u16..2_000,
        if f.deadline {
            proptest::option::of(5u8..60).boxed()
        } else {
            Just(None).boxed()
        },
        if f.go_away {
            proptest::option::of(0u16..3_000).boxed()
        } else {
            Just(None).boxed()
        },
        if f.diff_areas {
            any::<bool>().boxed()
        } else {
            Just(false).boxed()
        },
    )
        .prop_map(
            |(context, start_ms, deadline_s, go_away_ms, slow_read)| RequesterPlan {
                context,
                start_ms,
                deadline_s,
                go_away_ms,
                slow_read,
            },
        )
}

/// A plan within `f`.
pub fn plan(f: Features) -> impl Strategy<Value = Plan> {
    let volume = (
        0u8..SIZES.len() as u8,
        if f.diff_areas {
            proptest::option::of(1u16..48).boxed()
        } else {
            Just(None).boxed()
        },
    )
        .prop_map(|(size, diff_area_mib)| VolumePlan {
            size,
            diff_area_mib,
        });
    let writer_fault = (
        0u8..FAULT_EVENTS.len() as u8,
        0u8..7,
        0u8..WRITER_CODES.len() as u8,
        any::<bool>(),
    )
        .prop_map(|(event, action, code, once)| WriterFaultPlan {
            event,
            action,
            code,
            once,
        });
    let writer = (
        0u8..3,
        any::<u8>(),
        if f.applications { 0u8..3 } else { 0u8..1 },
        proptest::collection::vec(writer_fault, if f.writer_faults { 0..3 } else { 0..1 }),
    )
        .prop_map(|(level, volumes, app, faults)| WriterPlan {
            level,
            volumes,
            app,
            faults,
        });
    let workload = (
        0u8..3,
        0u8..RATES.len() as u8,
        0u8..3,
        if f.bursts {
            proptest::option::of((1u16..200, 1u16..400)).boxed()
        } else {
            Just(None).boxed()
        },
    )
        .prop_map(|(volume, rate, pattern, burst)| WorkloadPlan {
            volume,
            rate,
            pattern,
            burst,
        });
    let provider_fault = (
        0u8..PROVIDER_CALLS.len() as u8,
        0u8..6,
        0u8..PROVIDER_CODES.len() as u8,
        any::<bool>(),
    )
        .prop_map(|(call, action, code, once)| ProviderFaultPlan {
            call,
            action,
            code,
            once,
        });
    (
        proptest::collection::vec(volume, 1..4),
        proptest::collection::vec(writer, 1..4),
        proptest::collection::vec(workload, 0..3),
        proptest::collection::vec(provider_fault, if f.provider_faults { 0..3 } else { 0..1 }),
        requester_plan(f),
        if f.second_requester {
            proptest::option::of(requester_plan(f)).boxed()
        } else {
            Just(None).boxed()
        },
        (
            HEAL_S,
            if f.slow_flush {
                proptest::option::of(5u16..12_000).boxed()
            } else {
                Just(None).boxed()
            },
            if f.diff_areas {
                any::<bool>().boxed()
            } else {
                Just(false).boxed()
            },
            any::<u64>(),
        ),
    )
        .prop_map(
            move |(
                volumes,
                writers,
                workloads,
                provider_faults,
                requester,
                second,
                (heal_s, flush_ms, snapshot_protection, seed),
            )| {
                let mut p = Plan {
                    features: f,
                    volumes,
                    writers,
                    workloads,
                    provider_faults,
                    requester,
                    second,
                    heal_s,
                    flush_ms,
                    snapshot_protection,
                    seed,
                };
                // A feature turned off draws nothing of its kind.
                if !f.writer_faults {
                    p.writers.iter_mut().for_each(|w| w.faults.clear());
                }
                if !f.provider_faults {
                    p.provider_faults.clear();
                }
                p
            },
        )
}

/// A swarm case: its features first, then a plan within them.
pub fn swarm() -> impl Strategy<Value = Plan> {
    features().prop_flat_map(plan)
}

/// Every scenario a plan builds starts from this: the default profile and limits.
fn base() -> &'static Scenario {
    static BASE: OnceLock<Scenario> = OnceLock::new();
    BASE.get_or_init(|| {
        let text = "name = \"fuzz\"\n[[volume]]\nname = \"C:\"\nsize = \"64MiB\"\n\
                    [[requester]]\nname = \"backup\"\n";
        parse("fuzz", "fuzz", text).expect("the base scenario parses")
    })
}

impl Plan {
    /// The scenario of this plan; its requesters run `flaw`'s version of the standard sequence
    /// (`None`: the correct one), the second requester always the correct one.
    pub fn build(&self, name: &str, flaw: Option<Flaw>) -> Scenario {
        let mut s = base().clone();
        s.name = name.to_string();
        s.seed = self.seed;
        // Short limits: the rules are the same, the cases cheaper.
        s.profile.freeze_timeout_default = Duration::from_secs(5);
        s.profile.writer_response_timeout = Duration::from_secs(15);
        s.max_virtual_time = Duration::from_secs(600);
        // Rule 28's minimum scaled down as the time limits are, so a bounded diff area can fill.
        s.profile.diff_area_min_small = 1 << 20;
        s.profile.diff_area_min_large = 4 << 20;
        if let Some(ms) = self.flush_ms {
            s.profile.flush_latency = Duration::from_ms(u64::from(ms));
        }
        if self.snapshot_protection {
            s.profile.protection_level = model::vss::ProtectionLevel::Snapshot;
        }
        s.max_steps = 5_000_000;
        let letters = ["C:\\", "D:\\", "E:\\"];
        s.volumes = self
            .volumes
            .iter()
            .take(3)
            .enumerate()
            .map(|(i, v)| VolumeSpec {
                name: letters[i].to_string(),
                bytes: SIZES[usize::from(v.size) % SIZES.len()],
                block_size: 4096,
                diff_area: v.diff_area_mib.map(|m| u64::from(m) << 20),
                removable: false,
            })
            .collect();
        let n_vol = s.volumes.len();
        s.writers = Vec::new();
        s.workloads = Vec::new();
        for (i, w) in self.writers.iter().take(3).enumerate() {
            let mask = w.volumes & ((1 << n_vol) - 1);
            let vols: Vec<usize> = if mask == 0 {
                vec![0]
            } else {
                (0..n_vol).filter(|v| mask & (1 << v) != 0).collect()
            };
            let name = format!("Writer{i}");
            s.writers.push(WriterSpec {
                name: name.clone(),
                class_id: None,
                level: [
                    ApplicationLevel::FrontEnd,
                    ApplicationLevel::BackEnd,
                    ApplicationLevel::System,
                ][usize::from(w.level) % 3],
                usage: model::vss::UsageType::UserData,
                freeze_timeout: None,
                checks_volume_set: None,
                latency: Vec::new(),
                components: vec![ComponentSpec {
                    name: format!("data{i}"),
                    logical_path: String::new(),
                    volumes: vols.clone(),
                }],
                faults: w.faults.iter().map(writer_fault).collect(),
            });
            let kind = match w.app {
                1 if vols.len() <= 2 => Some(AppKind::DATABASE),
                2 if vols.len() == 1 => Some(AppKind::FILE_REWRITE),
                _ => None,
            };
            if let Some(kind) = kind {
                let data_blocks = 4096;
                s.workloads.push(WorkloadSpec {
                    name: format!("app{i}.exe"),
                    volumes: vols.clone(),
                    rate: 250,
                    // A file rewriter's blocks follow its files, not a pattern.
                    pattern: if matches!(kind, AppKind::Database { .. }) {
                        Pattern::Hotspot
                    } else {
                        Pattern::Uniform
                    },
                    blocks: matches!(kind, AppKind::Database { .. }).then_some(data_blocks),
                    write_latency: Duration::from_us(200),
                    burst: None,
                    app: Some(AppSpec {
                        kind,
                        writer: i,
                        data_blocks,
                    }),
                });
            }
        }
        for (i, w) in self.workloads.iter().take(2).enumerate() {
            s.workloads.push(WorkloadSpec {
                name: format!("load{i}"),
                volumes: vec![usize::from(w.volume) % n_vol],
                rate: RATES[usize::from(w.rate) % RATES.len()],
                pattern: [Pattern::Uniform, Pattern::Sequential, Pattern::Hotspot]
                    [usize::from(w.pattern) % 3],
                blocks: Some(20_000),
                write_latency: Duration::from_us(200),
                burst: w.burst.map(|(on, off)| {
                    (
                        Duration::from_ms(u64::from(on)),
                        Duration::from_ms(u64::from(off)),
                    )
                }),
                app: None,
            });
        }
        // A hung provider call ends by a deadline or at the heal (rules 16, 31); by
        // heal_at + settle_within the machine must have settled.
        s.heal = Some(Heal {
            at: Duration::from_secs(u64::from(self.heal_s)),
            settle_within: SETTLE_WITHIN,
        });
        s.system_provider_faults = self.provider_faults.iter().map(provider_fault).collect();
        let all: Vec<usize> = (0..n_vol).collect();
        s.requesters = vec![requester(&self.requester, "backup", &all, flaw)];
        if let Some(second) = &self.second {
            s.requesters.push(requester(second, "second", &all, None));
        }
        s
    }
}

fn writer_fault(f: &WriterFaultPlan) -> WriterFaultSpec {
    WriterFaultSpec {
        event: FAULT_EVENTS[usize::from(f.event) % FAULT_EVENTS.len()],
        action: match f.action {
            0..4 => FaultAction::Fail(WRITER_CODES[usize::from(f.code) % WRITER_CODES.len()]),
            4 => FaultAction::Hang,
            5 => FaultAction::Delay(Duration::from_secs(8)),
            _ => FaultAction::Delay(Duration::from_secs(20)),
        },
        sessions: f.once.then_some(1),
    }
}

fn provider_fault(f: &ProviderFaultPlan) -> ProviderFault {
    ProviderFault {
        call: PROVIDER_CALLS[usize::from(f.call) % PROVIDER_CALLS.len()],
        action: match f.action {
            0..4 => FaultAction::Fail(PROVIDER_CODES[usize::from(f.code) % PROVIDER_CODES.len()]),
            4 => FaultAction::Delay(Duration::from_secs(12)),
            _ => FaultAction::Hang,
        },
        times: f.once.then_some(1),
    }
}

fn requester(
    r: &RequesterPlan,
    name: &str,
    volumes: &[usize],
    flaw: Option<Flaw>,
) -> RequesterSpec {
    let mut policy = Policy {
        deadline: r.deadline_s.map(|s| Duration::from_secs(u64::from(s))),
        ..Policy::default()
    };
    if name == "second" {
        // The second backup retries when the first holds the creation lock (rule S15).
        policy.retries = 2;
        policy.retry_wait = Duration::from_secs(5);
    }
    RequesterSpec {
        name: name.to_string(),
        context: CONTEXTS[usize::from(r.context) % CONTEXTS.len()],
        volumes: volumes.to_vec(),
        start: Duration::from_ms(u64::from(r.start_ms)),
        read_bandwidth: if r.slow_read { 2_000_000 } else { 200_000_000 },
        go_away_at: r.go_away_ms.map(|m| Duration::from_ms(u64::from(m))),
        repeat: 0,
        policy,
        script: None,
        flaw,
        script_names: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::test_runner::{Config, TestRunner};

    #[test]
    fn every_plan_builds_a_scenario_the_format_accepts() {
        let mut runner = TestRunner::new(Config {
            cases: 200,
            ..Config::default()
        });
        runner
            .run(&swarm(), |p| {
                let s = p.build("case", None);
                let back = s.check().map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(back.to_toml(), s.to_toml());
                Ok(())
            })
            .unwrap();
    }
}
