//! The machine of a scenario: writers, providers, volumes, workloads and requesters, with the
//! identities drawn from the seed.

use model::coordinator::Coordinator;
use model::ids::{Guid, RequesterId, VolumeId};
use model::machine::{ComponentInfo, Machine, ProviderInfo, VolumeInfo, WriterInfo};
use model::provider::ProviderLogic;
use model::requester::{Feedback, RequesterLogic, ScriptedRequester, StandardRequester};
use model::time::Instant;
use model::volume::store::ShadowStore;
use model::volume::{Protection, Volume};
use model::vss::ProtectionLevel;
use model::writer::{ScriptedWriter, WriterFault, WriterLogic};

use super::requesters::Req;
use super::workload::Workload;
use super::{Payload, World, vid};
use crate::kernel::Kernel;
use crate::kernel::rng::SimRng;
use crate::oracle::{Oracles, Setup};
use crate::record::Recorder;
use crate::scenario::Scenario;
use crate::trace::Trace;

impl World {
    /// Builds the machine of `scenario` for `seed`, with `trace` as the trace sink.
    pub fn new(scenario: &Scenario, seed: u64, trace: Trace) -> World {
        let profile = scenario.profile.clone();
        let machine = machine(scenario, seed);
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
        let mut system = ProviderLogic::default();
        for (c, d) in &scenario.system_provider_latency {
            system.set_latency(*c, *d);
        }
        system.faults = scenario.system_provider_faults.clone();
        let mut providers = vec![system];
        for p in &scenario.providers {
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
        let mut store = ShadowStore::new(
            scenario
                .volumes
                .iter()
                .map(|v| {
                    Volume::new(
                        v.bytes / u64::from(v.block_size),
                        v.block_size,
                        v.diff_area,
                        protection,
                    )
                })
                .collect(),
        );
        // Size each volume's block map for the regions its workloads write, capped at what a
        // short run writes: a larger map is cleared for nothing, a smaller one grows by doubling.
        // A workload counts at most the blocks it writes in a second (its bursts' share of
        // one), so a slow writer over a large volume does not clear a large map for a few
        // blocks. One pass over the workloads' volume lists (each volume counted once per
        // workload).
        let mut region = vec![0u64; scenario.volumes.len()];
        for w in &scenario.workloads {
            let per_sec = match w.burst {
                Some((on, off)) => {
                    let period = (on.as_us() + off.as_us()).max(1);
                    u64::try_from(
                        (u128::from(w.rate) * u128::from(on.as_us())).div_ceil(u128::from(period)),
                    )
                    .unwrap_or(u64::MAX)
                }
                None => w.rate,
            };
            let mut vols = w.volumes.clone();
            vols.sort_unstable();
            vols.dedup();
            for v in vols {
                let n_blocks = store.volume(vid(v)).n_blocks();
                let blocks = w.blocks.unwrap_or(u64::MAX).min(n_blocks).min(per_sec);
                region[v] = region[v].saturating_add(blocks);
            }
        }
        for (v, region) in region.into_iter().enumerate() {
            store.reserve_live(vid(v), region.min(1 << 10) as usize);
        }
        let workloads: Vec<Workload> = scenario
            .workloads
            .iter()
            .map(|w| Workload::new(w, &store, seed))
            .collect();
        let reqs = scenario
            .requesters
            .iter()
            .map(|r| Req {
                logic: match &r.script {
                    None => RequesterLogic::Standard(
                        StandardRequester::new(
                            &machine,
                            r.context,
                            r.volumes.iter().map(|v| vid(*v)).collect(),
                            r.policy.clone(),
                            r.repeat,
                        )
                        .with_flaw(r.flaw),
                    ),
                    Some(steps) => {
                        RequesterLogic::Scripted(ScriptedRequester::on_machine(steps, &machine))
                    }
                },
                bandwidth: r.read_bandwidth,
                read: None,
                gone: false,
                guest: None,
            })
            .collect();
        let max_time = Instant::ZERO + scenario.max_virtual_time;
        let oracles = Oracles::new(&Setup {
            machine: &machine,
            profile: &profile,
            max_steps: scenario.max_steps,
            max_time,
            heal: scenario
                .heal
                .map(|h| (Instant::ZERO + h.at, Instant::ZERO + h.at + h.settle_within)),
        });
        let requester_names = scenario.requesters.iter().map(|r| r.name.clone()).collect();
        let rec = Recorder::new(
            trace,
            (&scenario.name, seed),
            &machine,
            requester_names,
            oracles,
        );
        let coord = Coordinator::new(profile.clone(), machine, scenario.requesters.len());
        let mut world = World {
            profile,
            kernel: Kernel::new(workloads.len(), scenario.max_steps, max_time),
            coord,
            writers,
            providers,
            store,
            workloads,
            reqs,
            guids: SimRng::fork(seed, "guids"),
            running: true,
            outboxes: vec![Vec::with_capacity(32)],
            notes: Vec::new(),
            rec,
            end: None,
            workload_names: scenario.workloads.iter().map(|w| w.name.clone()).collect(),
            set_shadows: None,
            heals: scenario.heal.is_some(),
            healed: false,
            coord_depth: 0,
            deferred: Vec::new(),
            hung: Vec::new(),
            guest: None,
            guest_error: None,
            driving: false,
            mail: None,
            served: false,
            volume_guids: {
                let mut g = SimRng::fork(seed, "volume-guids");
                scenario
                    .volumes
                    .iter()
                    .map(|_| Guid::from_random_bytes(g.guid_bytes()))
                    .collect()
            },
        };
        for (i, r) in scenario.requesters.iter().enumerate() {
            let id = RequesterId::from_index(i);
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
        if let Some(h) = scenario.heal {
            world.schedule(Instant::ZERO + h.at, Payload::Heal);
            world.schedule(Instant::ZERO + h.at + h.settle_within, Payload::SettleDue);
        }
        for w in 0..world.workloads.len() {
            let first = world.workloads[w].first_write_time();
            world.kernel.arm_slot(w, first);
        }
        world
    }
}

/// The static machine description: writer and provider identities drawn from the seed.
pub(crate) fn machine(scenario: &Scenario, seed: u64) -> Machine {
    let profile = &scenario.profile;
    let mut ids = SimRng::fork(seed, "writer-instance-ids");
    let mut classes = SimRng::fork(seed, "writer-class-ids");
    let writers = scenario
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
                    volumes: c.volumes.iter().map(|v| vid(*v)).collect(),
                })
                .collect(),
        })
        .collect();
    let mut pids = SimRng::fork(seed, "provider-ids");
    let mut system_info = ProviderInfo::system();
    if scenario.volumes.iter().any(|v| v.removable) {
        // The system provider supports every non-removable local volume.
        system_info.supports = Some(
            (0..scenario.volumes.len())
                .filter(|i| !scenario.volumes[*i].removable)
                .map(vid)
                .collect::<Vec<VolumeId>>(),
        );
    }
    let mut providers = vec![system_info];
    for p in &scenario.providers {
        providers.push(ProviderInfo {
            name: p.name.clone(),
            id: p
                .id
                .unwrap_or_else(|| Guid::from_random_bytes(pids.guid_bytes())),
            kind: p.kind,
            version: p.version.clone(),
            supports: p
                .volumes
                .as_ref()
                .map(|v| v.iter().map(|i| vid(*i)).collect()),
        });
    }
    Machine {
        writers,
        providers,
        volumes: scenario
            .volumes
            .iter()
            .map(|v| VolumeInfo {
                name: v.name.clone(),
                bytes: v.bytes,
            })
            .collect(),
    }
}
