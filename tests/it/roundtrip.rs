//! Generated scenarios survive their canonical text: `parse(s.to_toml()) == s` for valid
//! scenarios built in memory (volumes, providers with faults, writers with components and
//! faults, workloads, standard requesters with policies, scripted requesters, `[expect]`).
//!
//! The generator builds validated data directly, the way a program would, so it also checks
//! that the text says everything the data holds. The runner's seed is fixed: the same cases
//! every run.

use model::api::{ApiCall, ComponentRef, ProviderArg};
use model::ids::{Guid, ProviderId, VolumeId, WriterId};
use model::profile::Profile;
use model::provider::ProviderFault;
use model::requester::{Policy, ScriptStep, WriterFailurePolicy};
use model::time::Duration;
use model::vss::{
    ApplicationLevel, BackupType, Hresult, ObjectType, ProtectionLevel, ProviderCall, ProviderType,
    SnapshotContext, UsageType, WriterEvent, WriterState,
};
use model::writer::FaultAction;
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use proptest::test_runner::{Config, RngSeed};
use sim::scenario::{
    CALL_NAMES, CallExpect, ComponentSpec, Expect, Heal, Pattern, ProviderSpec, RequesterSpec,
    Scenario, StepNames, VIOLATION_NAMES, VolumeSpec, WorkloadSpec, WriterFaultSpec, WriterSpec,
    parse,
};

/// Names the generator never gives a declared object: script steps use them for `NOT_FOUND`.
const GHOST_WRITER: &str = "Ghost Writer";
const GHOST_VOLUME: &str = "Q:";

const VOLUME_NAMES: &[&str] = &["C:\\", "D:\\", "E:\\", "D:\\mnt\\data\\", "X:\\"];
const WRITER_NAMES: &[&str] = &[
    "SqlServerWriter",
    "System Writer",
    "COM+ REGDB Writer",
    "app-writer_2",
];

fn dur() -> impl Strategy<Value = Duration> {
    prop_oneof![
        (0u64..5_000).prop_map(Duration::from_us),
        (1u64..100_000).prop_map(Duration::from_ms),
        (1u64..100_000).prop_map(Duration::from_secs),
        (0u64..1_000_000_000_000).prop_map(Duration::from_us),
    ]
}

fn size() -> impl Strategy<Value = u64> {
    prop_oneof![
        (0u64..1 << 20),
        (1u64..4096).prop_map(|n| n << 20),
        (1u64..1000).prop_map(|n| n * 1_000_000),
    ]
}

fn hresult() -> impl Strategy<Value = Hresult> {
    select(Hresult::ALL)
}

fn writer_failure_code() -> impl Strategy<Value = Hresult> {
    let codes: Vec<Hresult> = Hresult::ALL
        .iter()
        .copied()
        .filter(|c| c.is_writer_failure())
        .collect();
    select(codes)
}

fn action(code: BoxedStrategy<Hresult>) -> impl Strategy<Value = FaultAction> {
    prop_oneof![
        code.prop_map(FaultAction::Fail),
        Just(FaultAction::Hang),
        dur().prop_map(FaultAction::Delay),
    ]
}

fn guid() -> impl Strategy<Value = Guid> {
    (1u128..).prop_map(Guid)
}

fn profile() -> impl Strategy<Value = Profile> {
    (
        (
            proptest::option::of(dur()),
            proptest::option::of(dur()),
            proptest::option::of(dur()),
            any::<bool>(),
            any::<bool>(),
            select(ProtectionLevel::ALL),
        ),
        (
            proptest::option::of(any::<u32>()),
            // MaxShadowCopies is at least 1.
            proptest::option::of(1u32..=u32::MAX),
            proptest::option::of(any::<u32>()),
            proptest::option::of(dur()),
            proptest::option::of(dur()),
        ),
    )
        .prop_map(
            |((freeze, hold, response, kb, checks, level), (spv, ca, vps, api, flush))| {
                let mut p = Profile::windows();
                if let Some(d) = freeze {
                    p.freeze_timeout_default = d;
                }
                if let Some(d) = hold {
                    p.flush_and_hold_timeout = d;
                }
                if let Some(d) = response {
                    p.writer_response_timeout = d;
                }
                p.kb915331_race = kb;
                p.checks_volume_set = checks;
                p.protection_level = level;
                if let Some(n) = spv {
                    p.shadows_per_volume_max = n;
                }
                if let Some(n) = ca {
                    p.client_accessible_shadows_max = n;
                }
                if let Some(n) = vps {
                    p.volumes_per_set_max = n;
                }
                if let Some(d) = api {
                    p.api_call_latency = d;
                }
                if let Some(d) = flush {
                    p.flush_latency = d;
                }
                p
            },
        )
}

fn volumes() -> impl Strategy<Value = Vec<VolumeSpec>> {
    subsequence(VOLUME_NAMES, 1..=VOLUME_NAMES.len())
        .prop_shuffle()
        .prop_flat_map(|names| {
            let n = names.len();
            (
                Just(names),
                proptest::collection::vec(
                    (
                        9u32..=20,
                        1u64..1 << 24,
                        proptest::option::of(size()),
                        any::<bool>(),
                    ),
                    n,
                ),
            )
        })
        .prop_map(|(names, specs)| {
            names
                .iter()
                .zip(specs)
                .map(|(name, (shift, blocks, diff_area, removable))| VolumeSpec {
                    name: name.to_string(),
                    bytes: blocks << shift,
                    block_size: 1 << shift,
                    diff_area,
                    removable,
                })
                .collect()
        })
}

/// A sorted, duplicate-free latency table over `names` (the order validation keeps).
fn latency<K: Copy + Ord + std::fmt::Debug + 'static>(
    names: Vec<K>,
) -> impl Strategy<Value = Vec<(K, Duration)>> {
    subsequence(names.clone(), 0..=names.len().min(4))
        .prop_flat_map(|keys| {
            let n = keys.len();
            (Just(keys), proptest::collection::vec(dur(), n))
        })
        .prop_map(|(keys, ds)| {
            let mut v: Vec<(K, Duration)> = keys.into_iter().zip(ds).collect();
            v.sort();
            v
        })
}

fn provider_faults() -> impl Strategy<Value = Vec<ProviderFault>> {
    proptest::collection::vec(
        (
            select(ProviderCall::ALL),
            action(hresult().boxed()),
            proptest::option::of(0u32..5),
        )
            .prop_map(|(call, action, times)| ProviderFault {
                call,
                action,
                times,
            }),
        0..3,
    )
}

fn providers(n_volumes: usize) -> impl Strategy<Value = Vec<ProviderSpec>> {
    proptest::collection::vec(
        (
            select(vec![ProviderType::Software, ProviderType::Hardware]),
            proptest::option::of(guid()),
            select(vec!["1.0", "2.1"]),
            proptest::option::of(subsequence(
                (0..n_volumes).collect::<Vec<_>>(),
                0..=n_volumes,
            )),
            latency(ProviderCall::ALL.to_vec()),
            provider_faults(),
        ),
        0..3,
    )
    .prop_map(|list| {
        list.into_iter()
            .enumerate()
            .map(
                |(i, (kind, id, version, volumes, latency, faults))| ProviderSpec {
                    name: format!("Provider {i}"),
                    kind,
                    id,
                    version: version.to_string(),
                    volumes,
                    latency,
                    faults,
                },
            )
            .collect()
    })
}

fn writer_events() -> Vec<WriterEvent> {
    WriterEvent::ALL
        .iter()
        .copied()
        .filter(|e| !matches!(e, WriterEvent::PreRestore | WriterEvent::PostRestore))
        .collect()
}

fn writer_fault() -> impl Strategy<Value = WriterFaultSpec> {
    select(writer_events())
        .prop_flat_map(|event| {
            let code = if event == WriterEvent::Identify {
                hresult().boxed()
            } else {
                writer_failure_code().boxed()
            };
            (Just(event), action(code), proptest::option::of(0u32..4))
        })
        .prop_map(|(event, action, sessions)| WriterFaultSpec {
            event,
            action,
            sessions,
        })
}

fn components(n_volumes: usize) -> impl Strategy<Value = Vec<ComponentSpec>> {
    proptest::collection::vec(
        (
            select(vec!["", "SQL01", "C:\\Windows\\System32"]),
            subsequence((0..n_volumes).collect::<Vec<_>>(), 0..=n_volumes).prop_shuffle(),
        ),
        0..3,
    )
    .prop_map(|list| {
        list.into_iter()
            .enumerate()
            .map(|(i, (path, volumes))| ComponentSpec {
                name: format!("component \"{i}\""),
                logical_path: path.to_string(),
                volumes,
            })
            .collect()
    })
}

fn writers(n_volumes: usize) -> impl Strategy<Value = Vec<WriterSpec>> {
    proptest::collection::vec(
        (
            proptest::option::of(guid()),
            select(ApplicationLevel::ALL),
            select(UsageType::ALL),
            proptest::option::of(dur()),
            proptest::option::of(any::<bool>()),
            latency(writer_events()),
            components(n_volumes),
            proptest::collection::vec(writer_fault(), 0..3),
        ),
        0..=WRITER_NAMES.len(),
    )
    .prop_map(|list| {
        list.into_iter()
            .enumerate()
            .map(
                |(i, (class_id, level, usage, freeze, checks, latency, components, faults))| {
                    WriterSpec {
                        name: WRITER_NAMES[i].to_string(),
                        class_id,
                        level,
                        usage,
                        freeze_timeout: freeze,
                        checks_volume_set: checks,
                        latency,
                        components,
                        faults,
                    }
                },
            )
            .collect()
    })
}

fn workloads(n_volumes: usize) -> impl Strategy<Value = Vec<WorkloadSpec>> {
    proptest::collection::vec(
        (
            subsequence((0..n_volumes).collect::<Vec<_>>(), 1..=n_volumes).prop_shuffle(),
            1u64..=10_000_000,
            select(vec![
                Pattern::Uniform,
                Pattern::Sequential,
                Pattern::Hotspot,
            ]),
            proptest::option::of(1u64..1 << 40),
            dur(),
            proptest::option::of((
                dur().prop_filter("above zero", |d| *d > Duration::ZERO),
                dur(),
            )),
        ),
        0..3,
    )
    .prop_map(|list| {
        list.into_iter()
            .enumerate()
            .map(
                |(i, (volumes, rate, pattern, blocks, write_latency, burst))| WorkloadSpec {
                    name: format!("app{i}.exe"),
                    volumes,
                    rate,
                    pattern,
                    blocks,
                    write_latency,
                    burst,
                    // Applications need a writer with a matching component: the catalog's
                    // `apps/` files round-trip them (tests/it/scenarios.rs).
                    app: None,
                },
            )
            .collect()
    })
}

fn policy() -> impl Strategy<Value = Policy> {
    (
        0u32..5,
        dur(),
        prop_oneof![
            Just(Policy::default_retry_on()),
            proptest::collection::vec(hresult(), 0..4)
        ],
        select(vec![
            WriterFailurePolicy::Continue,
            WriterFailurePolicy::Abort,
            WriterFailurePolicy::Retry,
            WriterFailurePolicy::Stop,
        ]),
        proptest::option::of(dur()),
    )
        .prop_map(
            |(retries, retry_wait, retry_on, writer_failure, deadline)| Policy {
                retries,
                retry_wait,
                retry_on,
                writer_failure,
                deadline,
            },
        )
}

/// What a scenario's script steps can refer to.
#[derive(Clone, Debug)]
struct Machine {
    volumes: usize,
    providers: usize,
    /// (writer, component index) of every declared component.
    components: Vec<(u16, u16)>,
}

fn call(wait: bool, call: ApiCall) -> (ScriptStep, StepNames) {
    let wait = wait || !call.is_async();
    (ScriptStep::Call { call, wait }, StepNames::default())
}

fn step(m: Machine) -> impl Strategy<Value = (ScriptStep, StepNames)> {
    let vol = 0..m.volumes as u16;
    let component = if m.components.is_empty() {
        Just(None).boxed()
    } else {
        select(m.components.clone())
            .prop_map(|(writer, idx)| {
                Some(ComponentRef {
                    writer: WriterId(writer),
                    idx,
                })
            })
            .boxed()
    };
    let provider = prop_oneof![
        Just(ProviderArg::Any),
        (0..=m.providers as u16).prop_map(|i| ProviderArg::Registered(ProviderId(i))),
        (1u128 << 100..).prop_map(|g| ProviderArg::Unregistered(Guid(g))),
    ];
    let plain = select(vec![
        ApiCall::InitializeForBackup,
        ApiCall::GatherWriterMetadata,
        ApiCall::StartSnapshotSet { new_id: Guid::NULL },
        ApiCall::PrepareForBackup,
        ApiCall::DoSnapshotSet,
        ApiCall::GatherWriterStatus,
        ApiCall::BackupComplete,
        ApiCall::AbortBackup,
        ApiCall::Cancel,
        ApiCall::Release,
    ]);
    prop_oneof![
        dur().prop_map(|d| (ScriptStep::Sleep(d), StepNames::default())),
        vol.clone()
            .prop_map(|v| (ScriptStep::Read(VolumeId(v)), StepNames::default())),
        Just((ScriptStep::GoAway, StepNames::default())),
        (any::<bool>(), plain).prop_map(|(w, c)| call(w, c)),
        select(SnapshotContext::ALL).prop_map(|c| call(true, ApiCall::SetContext(c))),
        (
            any::<bool>(),
            any::<bool>(),
            select(BackupType::ALL),
            any::<bool>()
        )
            .prop_map(|(s, boot, b, partial)| call(
                true,
                ApiCall::SetBackupState {
                    select_components: s,
                    bootable_system_state: boot,
                    backup_type: b,
                    partial_file_support: partial,
                }
            )),
        component.clone().prop_map(|c| match c {
            Some(c) => call(true, ApiCall::AddComponent(Some(c))),
            None => (
                ScriptStep::Call {
                    call: ApiCall::AddComponent(None),
                    wait: true,
                },
                StepNames {
                    writer: Some(GHOST_WRITER.into()),
                    component: Some("db".into()),
                    volume: None,
                },
            ),
        }),
        (component, any::<bool>()).prop_map(|(c, succeeded)| match c {
            Some(component) => call(
                true,
                ApiCall::SetBackupSucceeded {
                    component,
                    succeeded,
                },
            ),
            None => call(true, ApiCall::Release),
        }),
        later_calls(&m, vol.clone(), provider.clone()),
        (proptest::option::of(vol), provider).prop_map(|(v, provider)| {
            let names = StepNames {
                volume: v.is_none().then(|| GHOST_VOLUME.to_string()),
                ..StepNames::default()
            };
            (
                ScriptStep::Call {
                    call: ApiCall::AddToSnapshotSet {
                        volume: v.map(VolumeId),
                        provider,
                        new_id: Guid::NULL,
                    },
                    wait: true,
                },
                names,
            )
        }),
    ]
}

/// The steps of the calls outside the backup sequence: a query, a shadow copy named by its
/// volume, a writer class named by its writer.
fn later_calls(
    m: &Machine,
    vol: std::ops::Range<u16>,
    provider: impl Strategy<Value = ProviderArg> + Clone + 'static,
) -> BoxedStrategy<(ScriptStep, StepNames)> {
    let mut writers: Vec<u16> = m.components.iter().map(|&(w, _)| w).collect();
    writers.dedup();
    let writer = if writers.is_empty() {
        Just(None).boxed()
    } else {
        select(writers).prop_map(Some).boxed()
    };
    prop_oneof![
        Just(call(true, ApiCall::Query)),
        (proptest::option::of(vol.clone()), provider).prop_map(|(v, provider)| {
            let names = StepNames {
                volume: v.is_none().then(|| GHOST_VOLUME.to_string()),
                ..StepNames::default()
            };
            let call = ApiCall::IsVolumeSupported {
                volume: v.map(VolumeId),
                provider,
            };
            (ScriptStep::Call { call, wait: true }, names)
        }),
        vol.clone().prop_map(|v| (
            ScriptStep::OnShadow {
                call: ApiCall::GetSnapshotProperties(Guid::NULL),
                volume: Some(VolumeId(v)),
            },
            StepNames::default()
        )),
        (proptest::option::of(vol), any::<bool>()).prop_map(|(v, force)| (
            ScriptStep::OnShadow {
                call: ApiCall::DeleteSnapshots {
                    source: Guid::NULL,
                    object: if v.is_some() {
                        ObjectType::Snapshot
                    } else {
                        ObjectType::SnapshotSet
                    },
                    force,
                },
                volume: v.map(VolumeId),
            },
            StepNames::default()
        )),
        (writer, any::<bool>()).prop_map(|(w, enable)| match w {
            Some(w) => (
                ScriptStep::WriterClass {
                    enable,
                    writer: WriterId(w),
                },
                StepNames::default()
            ),
            None => call(true, ApiCall::Query),
        }),
    ]
    .boxed()
}

fn requesters(m: Machine) -> impl Strategy<Value = Vec<RequesterSpec>> {
    let n = m.volumes;
    let all: Vec<usize> = (0..n).collect();
    let standard = (
        select(
            SnapshotContext::ALL
                .iter()
                .copied()
                .filter(|c| *c != SnapshotContext::All)
                .collect::<Vec<_>>(),
        ),
        subsequence(all.clone(), 1..=n).prop_shuffle(),
        0u32..4,
        policy(),
    )
        .prop_map(|(context, volumes, repeat, policy)| (context, volumes, repeat, policy, None));
    let scripted = proptest::collection::vec(step(m), 0..12).prop_map(move |steps| {
        (
            SnapshotContext::Backup,
            all.clone(),
            0,
            Policy::default(),
            Some(steps),
        )
    });
    proptest::collection::vec(
        (
            prop_oneof![standard, scripted],
            dur(),
            1u64..1 << 40,
            proptest::option::of(dur()),
        ),
        1..4,
    )
    .prop_map(|list| {
        list.into_iter()
            .enumerate()
            .map(
                |(i, ((context, volumes, repeat, policy, steps), start, bw, go_away_at))| {
                    let (script, script_names) = match steps {
                        None => (None, Vec::new()),
                        Some(steps) => {
                            let (s, n): (Vec<_>, Vec<_>) = steps.into_iter().unzip();
                            (Some(s), n)
                        }
                    };
                    RequesterSpec {
                        name: format!("requester {i}"),
                        context,
                        volumes,
                        start,
                        read_bandwidth: bw,
                        go_away_at,
                        repeat,
                        policy,
                        // A flawed standard requester prints back as its `kind`.
                        flaw: if script.is_none() {
                            model::requester::Flaw::ALL.get(i % 6).copied()
                        } else {
                            None
                        },
                        script,
                        script_names,
                    }
                },
            )
            .collect()
    })
}

fn expect(requesters: Vec<String>, writers: Vec<String>) -> impl Strategy<Value = Expect> {
    let statuses = vec![
        "exists",
        "released",
        "deleted",
        "aborted",
        "diff_area_full",
        "recycled",
    ];
    (
        proptest::option::of(hresult()),
        subsequence(requesters.clone(), 0..=requesters.len()).prop_flat_map(|names| {
            let n = names.len();
            (Just(names), proptest::collection::vec(hresult(), n))
        }),
        subsequence(writers.clone(), 0..=writers.len()).prop_flat_map(|names| {
            let n = names.len();
            (
                Just(names),
                proptest::collection::vec(
                    (
                        proptest::option::of(select(WriterState::ALL)),
                        proptest::option::of(hresult()),
                    ),
                    n,
                ),
            )
        }),
        proptest::collection::vec(
            (
                proptest::option::of(select(requesters)),
                select(CALL_NAMES),
                1u32..5,
                proptest::option::of(hresult()),
                proptest::option::of(hresult()),
            ),
            0..4,
        ),
        subsequence(VIOLATION_NAMES, 0..3).prop_shuffle(),
        subsequence(statuses.clone(), 0..3).prop_flat_map(|names| {
            let n = names.len();
            (Just(names), proptest::collection::vec(0u32..100, n))
        }),
    )
        .prop_map(
            |(result, (rq, rq_codes), (wr, wr_exp), calls, violations, (st, counts))| {
                // The file's tables are maps: validation keeps them sorted by name.
                let mut requesters: Vec<(String, Hresult)> = rq.into_iter().zip(rq_codes).collect();
                requesters.sort();
                let mut writers: Vec<_> = wr
                    .into_iter()
                    .zip(wr_exp)
                    .map(|(n, (s, e))| (n, s, e))
                    .collect();
                writers.sort_by(|a, b| a.0.cmp(&b.0));
                let mut snapshots: Vec<(String, u32)> =
                    st.into_iter().map(String::from).zip(counts).collect();
                snapshots.sort();
                // A GatherWriterStatus expectation may name writers too (the same table).
                let call_writers = writers.clone();
                Expect {
                    result,
                    requesters,
                    writers,
                    calls: calls
                        .into_iter()
                        .map(|(requester, call, nth, result, async_result)| CallExpect {
                            requester,
                            call: call.to_string(),
                            nth,
                            result,
                            async_result,
                            writers: if call == "GatherWriterStatus" {
                                call_writers.clone()
                            } else {
                                Vec::new()
                            },
                        })
                        .collect(),
                    // Absent, empty and a list all print back.
                    findings: match violations.len() {
                        0 => None,
                        1 => Some(Vec::new()),
                        _ => Some(vec![
                            "torn_transaction".into(),
                            "mixed_file_generation".into(),
                        ]),
                    },
                    violations: violations.into_iter().map(String::from).collect(),
                    snapshots,
                }
            },
        )
}

fn header() -> impl Strategy<Value = (String, String, u64, String, String)> {
    (
        "[a-z][a-z0-9_-]{0,12}",
        prop_oneof![Just(String::new()), "[ -~äµ]{0,24}"],
        prop_oneof![Just(0u64), any::<u64>()],
        select(vec!["vss-sim.local", "SQL01.contoso.com"]),
        select(vec!["2024-01-01T00:00:00Z", "2025-06-30T23:59:59Z"]),
    )
        .prop_map(|(name, description, seed, machine, epoch)| {
            (name, description, seed, machine.into(), epoch.into())
        })
}

fn scenario() -> impl Strategy<Value = Scenario> {
    volumes()
        .prop_flat_map(|volumes| {
            let n = volumes.len();
            (Just(volumes), providers(n), writers(n))
        })
        .prop_flat_map(|(volumes, providers, writers)| {
            let n = volumes.len();
            let m = Machine {
                volumes: n,
                providers: providers.len(),
                components: writers
                    .iter()
                    .enumerate()
                    .flat_map(|(w, spec)| {
                        (0..spec.components.len()).map(move |c| (w as u16, c as u16))
                    })
                    .collect(),
            };
            (
                Just(volumes),
                Just(providers),
                Just(writers),
                workloads(n),
                requesters(m),
                (
                    header(),
                    profile(),
                    dur(),
                    any::<u64>(),
                    latency(ProviderCall::ALL.to_vec()),
                    provider_faults(),
                ),
            )
        })
        .prop_flat_map(
            |(volumes, providers, writers, workloads, requesters, rest)| {
                let rq = requesters.iter().map(|r| r.name.clone()).collect();
                let wr = writers.iter().map(|w| w.name.clone()).collect();
                (
                    Just((volumes, providers, writers, workloads, requesters, rest)),
                    expect(rq, wr),
                )
            },
        )
        .prop_map(
            |((volumes, providers, writers, workloads, requesters, rest), expect)| {
                let (
                    (name, description, seed, machine_name, epoch),
                    profile,
                    max_virtual_time,
                    max_steps,
                    system_provider_latency,
                    system_provider_faults,
                ) = rest;
                // The run's limits must fit the work asked for (`check/budget.rs`): a long
                // enough run for every start and repeat, a step budget for every write.
                let needs_time = requesters
                    .iter()
                    .any(|r| r.start >= max_virtual_time || r.repeat > 0);
                let max_virtual_time = if needs_time {
                    max_virtual_time.max(Duration::from_us(100_000_000_000_000))
                } else {
                    max_virtual_time
                };
                let max_steps = max_steps | (1 << 62);
                // Half the scenarios heal, half-way through the run (rule 31).
                let heal = (seed & 1 == 1 && max_virtual_time.as_us() > 1).then(|| Heal {
                    at: Duration::from_us(max_virtual_time.as_us() / 2),
                    settle_within: Duration::from_us(1 + seed % 1_000_000_000),
                });
                Scenario {
                    name,
                    description,
                    seed,
                    machine_name,
                    epoch,
                    profile,
                    max_virtual_time,
                    max_steps,
                    heal,
                    volumes,
                    system_provider_latency,
                    system_provider_faults,
                    providers,
                    writers,
                    workloads,
                    requesters,
                    expect,
                }
            },
        )
}

proptest! {
    #![proptest_config(Config {
        cases: 200,
        rng_seed: RngSeed::Fixed(0x5eed),
        failure_persistence: None,
        ..Config::default()
    })]

    #[test]
    fn a_generated_scenario_parses_back_from_its_canonical_text(s in scenario()) {
        let text = s.to_toml();
        let back = parse("<generated>", "ignored-stem", &text);
        prop_assert!(back.is_ok(), "{}\n--- text ---\n{text}", back.unwrap_err());
        let back = back.unwrap();
        prop_assert_eq!(&back, &s, "--- text ---\n{}", text);
        prop_assert_eq!(back.to_toml(), text);
    }
}
