//! The oracles: every protocol invariant a run is judged by, each an observer in a file of its
//! own, fed the same facts the trace records ([`crate::fact::Fact`]) and owning its own state.
//! A run's `violations` come only from here.
//!
//! Adding an oracle is adding a file and a line in [`ALL`]: an [`Entry`] with its name (as
//! `violations` and `[expect] violations` spell it), a one-line description, the rule it
//! enforces (docs/rules.md), the kinds of fact it looks at (it is shown no other: most facts
//! reach no oracle at all) and a constructor. Each file keeps a unit test that feeds it facts
//! breaking its invariant on purpose.

use model::api::{ApiCall, ApiCallKind};
use model::ids::{RequesterId, SnapshotId, SnapshotSetId, VolumeId};
use model::machine::Machine;
use model::profile::Profile;
use model::time::Instant;
use model::vss::Hresult;

use crate::fact::{Fact, FactKind};

mod backup_from_shadow;
mod component_backup_consistent;
mod creation_lock_freed;
mod failed_set_shadow_left;
mod freeze_ends;
mod freeze_window;
mod held_writes_preserved;
mod hold_within_limit;
mod one_creation_at_a_time;
mod settles;
mod shadow_point_in_time;
mod shadows_after_release;
mod snapshot_state_graph;
mod stalled;
mod writer_state_graph;

/// A map for the few keys an oracle tracks (requesters, sets, shadows of one run): pairs in
/// insertion order, searched linearly, the first four inline (no heap for a machine of a few
/// requesters and volumes). Cheaper than a `BTreeMap` at these sizes; iteration is in
/// insertion order, never hashed.
#[derive(Clone, Debug)]
pub(crate) struct VecMap<K, V> {
    pairs: smallvec::SmallVec<[(K, V); 4]>,
}

/// A short list an oracle keeps (volumes, shadows, components of one object): inline up to 4.
pub(crate) type Few<T> = smallvec::SmallVec<[T; 4]>;

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        VecMap {
            pairs: smallvec::SmallVec::new(),
        }
    }
}

// Lookups search from the newest pair: keys are unique, and the entries a run touches most
// are the recent ones (the set being made, the shadow copies just created).
impl<K: PartialEq, V> VecMap<K, V> {
    pub(crate) fn get(&self, k: &K) -> Option<&V> {
        self.pairs
            .iter()
            .rev()
            .find(|(x, _)| x == k)
            .map(|(_, v)| v)
    }

    pub(crate) fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        self.pairs
            .iter_mut()
            .rev()
            .find(|(x, _)| x == k)
            .map(|(_, v)| v)
    }

    pub(crate) fn insert(&mut self, k: K, v: V) -> Option<V> {
        match self.get_mut(&k) {
            Some(old) => Some(std::mem::replace(old, v)),
            None => {
                self.pairs.push((k, v));
                None
            }
        }
    }

    pub(crate) fn remove(&mut self, k: &K) -> Option<V> {
        let i = self.pairs.iter().rposition(|(x, _)| x == k)?;
        Some(self.pairs.remove(i).1)
    }

    pub(crate) fn entry_or_default(&mut self, k: K) -> &mut V
    where
        V: Default,
    {
        let i = match self.pairs.iter().rposition(|(x, _)| *x == k) {
            Some(i) => i,
            None => {
                self.pairs.push((k, V::default()));
                self.pairs.len() - 1
            }
        };
        &mut self.pairs[i].1
    }

    /// The pairs, in insertion order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.pairs.iter().map(|(k, v)| (k, v))
    }
}

/// An invariant that did not hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The oracle's name.
    pub name: &'static str,
    /// What was seen.
    pub detail: String,
    /// When.
    pub at: Instant,
}

/// What an oracle is, as data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OracleInfo {
    /// The name `violations` prints.
    pub name: &'static str,
    /// One line for people (`vss-sim oracles`).
    pub description: &'static str,
    /// The rules it enforces (docs/rules.md), comma and space between.
    pub rule: &'static str,
}

/// What an oracle may know of the run before it starts.
#[derive(Clone, Copy, Debug)]
pub struct Setup<'a> {
    /// The machine: writers (with their freeze windows), providers, volumes.
    pub machine: &'a Machine,
    /// The limits and knobs in force.
    pub profile: &'a Profile,
    /// The run's step budget.
    pub max_steps: u64,
    /// The run's virtual time limit.
    pub max_time: Instant,
    /// `[run] heal_at` and the instant the run must have settled by (rule 31), if it heals.
    pub heal: Option<(Instant, Instant)>,
}

/// An observer of a run's facts.
pub trait Oracle {
    /// Sees one fact at `now` on `machine` (names, freeze windows); pushes what it finds broken
    /// onto `out`.
    fn observe(&mut self, machine: &Machine, now: Instant, fact: &Fact, out: &mut Vec<Violation>);
}

/// One line of the oracle list.
#[derive(Clone, Copy)]
pub struct Entry {
    /// Name, description, rule.
    pub info: OracleInfo,
    /// The kinds of fact it looks at (`FactKind::set`); it is shown no other.
    pub sees: u64,
    /// Builds the observer for one run.
    pub build: fn(&Setup<'_>) -> Box<dyn Oracle>,
}

/// Every oracle, in the order they see each fact (so the order of violations found by one fact
/// is this order).
pub const ALL: &[Entry] = &[
    failed_set_shadow_left::ENTRY,
    shadow_point_in_time::ENTRY,
    held_writes_preserved::ENTRY,
    hold_within_limit::ENTRY,
    writer_state_graph::ENTRY,
    stalled::ENTRY,
    freeze_window::ENTRY,
    one_creation_at_a_time::ENTRY,
    shadows_after_release::ENTRY,
    freeze_ends::ENTRY,
    snapshot_state_graph::ENTRY,
    component_backup_consistent::ENTRY,
    backup_from_shadow::ENTRY,
    creation_lock_freed::ENTRY,
    settles::ENTRY,
];

/// The names of every oracle, in list order.
pub fn names() -> impl Iterator<Item = &'static str> {
    ALL.iter().map(|e| e.info.name)
}

/// Fact kinds: [`FactKind::bit`] gives each one bit of a `u64`.
const FACT_KINDS: usize = 64;

// An audience is a `u32` of oracle indices.
const _: () = assert!(ALL.len() <= 32, "an audience holds at most 32 oracles");

/// The oracles of one run.
pub struct Oracles {
    list: Vec<(&'static str, Box<dyn Oracle>)>,
    /// For each fact kind (by number), the oracles that look at it: bit `i` is `list[i]`.
    audience: [u32; FACT_KINDS],
    scratch: Vec<Violation>,
}

impl Oracles {
    /// Every oracle of [`ALL`], built for this run.
    pub fn new(setup: &Setup<'_>) -> Oracles {
        let mut audience = [0u32; FACT_KINDS];
        for (k, who) in audience.iter_mut().enumerate() {
            for (i, e) in ALL.iter().enumerate() {
                if e.sees & (1 << k) != 0 {
                    *who |= 1 << i;
                }
            }
        }
        Oracles {
            list: ALL
                .iter()
                .map(|e| (e.info.name, (e.build)(setup)))
                .collect(),
            audience,
            scratch: Vec::new(),
        }
    }

    /// Shows `fact` to every oracle; what they find goes onto `out`, named after its oracle.
    pub fn observe(
        &mut self,
        machine: &Machine,
        now: Instant,
        fact: &Fact,
        out: &mut Vec<Violation>,
    ) {
        // The oracles that look at this kind, in list order: most facts reach few of them.
        let mut who = self.audience[fact.kind() as usize];
        while who != 0 {
            let i = who.trailing_zeros() as usize;
            who &= who - 1;
            let (name, o) = &mut self.list[i];
            o.observe(machine, now, fact, &mut self.scratch);
            for mut v in self.scratch.drain(..) {
                v.name = name;
                out.push(v);
            }
        }
    }
}

/// A violation found now (the name is filled in by [`Oracles::observe`]).
fn found(now: Instant, detail: String) -> Violation {
    Violation {
        name: "",
        detail,
        at: now,
    }
}

/// Which requester started which snapshot set, read from the facts: a `StartSnapshotSet` call
/// carries the new set's id, and its `S_OK` answer makes the set the caller's current one. An
/// oracle that needs it sees [`SetOwners::SEES`] and passes every fact to
/// [`SetOwners::observe`].
#[derive(Default)]
struct SetOwners {
    /// The id of each requester's `StartSnapshotSet` not answered yet.
    asked: VecMap<RequesterId, SnapshotSetId>,
    /// Each requester's current set.
    current: VecMap<RequesterId, SnapshotSetId>,
    /// Every started set's requester.
    owner: VecMap<SnapshotSetId, RequesterId>,
}

impl SetOwners {
    /// The kinds of fact it reads.
    const SEES: &[FactKind] = &[FactKind::Call, FactKind::Answered];

    fn observe(&mut self, fact: &Fact) {
        match fact {
            Fact::Call {
                requester,
                call: ApiCall::StartSnapshotSet { new_id },
            } => {
                self.asked.insert(*requester, *new_id);
            }
            Fact::Answered {
                requester,
                call: ApiCallKind::StartSnapshotSet,
                result,
            } => {
                if let Some(id) = self.asked.remove(requester)
                    && *result == Hresult::Ok
                {
                    self.current.insert(*requester, id);
                    self.owner.insert(id, *requester);
                }
            }
            _ => {}
        }
    }

    /// The requester's current set.
    fn set_of(&self, r: RequesterId) -> Option<SnapshotSetId> {
        self.current.get(&r).copied()
    }

    /// The sets `r` started, in the order they were started.
    fn sets_of(&self, r: RequesterId) -> impl Iterator<Item = SnapshotSetId> + '_ {
        self.owner
            .iter()
            .filter(move |(_, owner)| **owner == r)
            .map(|(set, _)| *set)
    }

    /// The requester that started `set`.
    fn owner_of(&self, set: SnapshotSetId) -> Option<RequesterId> {
        self.owner.get(&set).copied()
    }
}

/// What each requester read, and of which set: its current set ([`SetOwners`]), every shadow
/// copy's set and volume, and the shadow copies each requester read to the end. Shared by the
/// oracles that judge a backup by what it read ([`BackupReads::SEES`], every fact passed to
/// [`BackupReads::observe`]).
#[derive(Default)]
struct BackupReads {
    sets: SetOwners,
    /// Every shadow copy made: its set and volume.
    shadows: VecMap<SnapshotId, (SnapshotSetId, VolumeId)>,
    /// What each requester read to the end (its image compared with its instant): the set and
    /// volume of each shadow copy, kept for its current set and the set read last only (a
    /// requester that makes backup after backup does not make every check longer).
    read_in_full: VecMap<RequesterId, Few<(SnapshotSetId, VolumeId)>>,
}

impl BackupReads {
    /// The kinds of fact it reads.
    const SEES: &[FactKind] = &[
        FactKind::Call,
        FactKind::Answered,
        FactKind::ShadowCreated,
        FactKind::ReadEnded,
    ];

    fn observe(&mut self, fact: &Fact) {
        self.sets.observe(fact);
        match fact {
            Fact::ShadowCreated {
                set_id,
                snapshot,
                volume,
                ..
            } => {
                self.shadows.insert(*snapshot, (*set_id, *volume));
            }
            Fact::ReadEnded {
                requester,
                snapshot,
                result: Hresult::Ok,
                matches: Some(_),
                ..
            } => {
                let Some(&(set, volume)) = self.shadows.get(snapshot) else {
                    return;
                };
                let current = self.sets.set_of(*requester);
                let read = self.read_in_full.entry_or_default(*requester);
                // Reads of a set that is neither current nor this one can never count again.
                read.retain(|(s, _)| Some(*s) == current || *s == set);
                read.push((set, volume));
            }
            _ => {}
        }
    }

    /// The requester's current set.
    fn set_of(&self, r: RequesterId) -> Option<SnapshotSetId> {
        self.sets.set_of(r)
    }

    /// Whether `r` read `volume` in full from a shadow copy of its current set.
    fn read_from_its_set(&self, r: RequesterId, volume: VolumeId) -> bool {
        let Some(set) = self.set_of(r) else {
            return false;
        };
        self.read_in_full
            .get(&r)
            .is_some_and(|read| read.contains(&(set, volume)))
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Feeding an oracle facts by hand.

    use super::*;
    use model::ids::{VolumeId, WriterId};

    /// A machine with one writer (60 s freeze window) and one volume `C:\`.
    pub(crate) fn machine() -> Machine {
        Machine::one_writer_one_volume()
    }

    /// Runs the oracle `name` over `facts` (each at its instant); returns the violations.
    pub(crate) fn judge(name: &str, facts: Vec<(u64, Fact)>) -> Vec<Violation> {
        let m = machine();
        let p = Profile::windows();
        let setup = Setup {
            machine: &m,
            profile: &p,
            max_steps: 1_000,
            max_time: Instant::from_us(3_600_000_000),
            heal: Some((Instant::from_us(60_000_000), Instant::from_us(90_000_000))),
        };
        let entry = ALL.iter().find(|e| e.info.name == name).expect("an oracle");
        let mut o = (entry.build)(&setup);
        let mut out = Vec::new();
        // As a run shows them: only the kinds the oracle declares it sees, so a test also
        // catches a kind missing from its `sees`.
        for (t, f) in facts {
            if entry.sees & f.kind().bit() != 0 {
                o.observe(&m, Instant::from_us(t), &f, &mut out);
            }
        }
        out
    }

    pub(crate) const W: WriterId = WriterId(0);
    pub(crate) const C: VolumeId = VolumeId(0);

    /// Requester `r` calls `call`.
    pub(crate) fn call(r: u16, call: ApiCall) -> Fact {
        Fact::Call {
            requester: RequesterId(r),
            call,
        }
    }

    /// The service answers requester `r`'s `call` with `result`.
    pub(crate) fn answered(r: u16, call: ApiCallKind, result: Hresult) -> Fact {
        Fact::Answered {
            requester: RequesterId(r),
            call,
            result,
        }
    }

    /// Requester `r` starts set `id`, and the service accepts it.
    pub(crate) fn start_set(r: u16, id: u128) -> [Fact; 2] {
        [
            call(
                r,
                ApiCall::StartSnapshotSet {
                    new_id: model::ids::Guid(id),
                },
            ),
            answered(r, ApiCallKind::StartSnapshotSet, Hresult::Ok),
        ]
    }

    /// Shadow copy `id` of set `set` on `C:`, made by copy-on-write in `context`, its instant
    /// kept.
    pub(crate) fn created(set: u128, id: u128, context: model::vss::SnapshotContext) -> Fact {
        Fact::ShadowCreated {
            set_id: model::ids::Guid(set),
            snapshot: model::ids::Guid(id),
            volume: C,
            provider: model::ids::ProviderId(0),
            context,
            created: model::volume::store::Created {
                method: model::volume::store::CopyMethod::CopyOnWrite,
                instant_kept: true,
                n_written: 0,
                device: 1,
            },
        }
    }

    /// A `DoSnapshotSet` phase fact ending set `id`'s creation.
    pub(crate) fn phase(id: u128, phase: &'static str) -> Fact {
        Fact::Phase {
            set_id: model::ids::Guid(id),
            phase,
            rule: "2",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_oracle_has_a_unique_name_a_description_and_a_rule() {
        let mut names: Vec<&str> = names().collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        for e in ALL {
            assert!(!e.info.description.is_empty(), "{}", e.info.name);
            assert!(!e.info.rule.is_empty(), "{}", e.info.name);
        }
    }
}
