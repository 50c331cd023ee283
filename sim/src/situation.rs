//! Situations worth reaching: the coverage of a fault search measured in what happened, not in
//! lines of code ("sometimes" assertions). A search that never made a hold time out proves
//! nothing about hold timeouts; `vss-sim fuzz --json` reports, for every situation here, how
//! many cases reached it, and the text summary names those no case reached.
//!
//! A situation is read from the run's facts, like an oracle, but judges nothing: it only notes
//! that the run got there. [`Situations`] is switched on per run
//! ([`crate::world::World::watch_situations`]); a plain `run` does not pay for it.

use model::vss::{Hresult, WriterState};

use crate::fact::{DeletedBy, Fact};

/// Every writer state a backup can leave a writer in: the writer state graph's (restore
/// states, `VSS_WS_UNKNOWN` and `VSS_WS_COUNT` are not reached by backups).
pub const WRITER_STATES: [WriterState; 13] = model::graph::STATES;

/// Every failure code a writer's status can carry: the seven a writer sets (rule S9) and the
/// one the service sets on a writer that stops answering (rule 11).
pub const WRITER_ERRORS: [Hresult; 8] = [
    Hresult::WriterErrorInconsistentSnapshot,
    Hresult::WriterErrorOutOfResources,
    Hresult::WriterErrorTimeout,
    Hresult::WriterErrorRetryable,
    Hresult::WriterErrorNonRetryable,
    Hresult::WriterErrorRecoveryFailed,
    Hresult::WriterErrorPartialFailure,
    Hresult::WriterNotResponding,
];

/// The failures a requester sees from the service itself: each flush-and-hold timeout
/// (rule 13), the provider's codes as translated (rule 16), storage (rule 17), a deadline's
/// cancel (rule 25).
pub const RESULTS: [Hresult; 6] = [
    Hresult::FlushWritesTimeout,
    Hresult::HoldWritesTimeout,
    Hresult::InsufficientStorage,
    Hresult::ProviderVeto,
    Hresult::UnexpectedProviderError,
    Hresult::AsyncCancelled,
];

/// The other situations: name and what reaching it means.
pub const EVENTS: [(&str, &str); 16] = [
    (
        "second_requester_refused",
        "a StartSnapshotSet refused with VSS_E_SNAPSHOT_SET_IN_PROGRESS (rule 20)",
    ),
    (
        "requester_gone_during_hold",
        "a requester process went away while writes were held (rules 27, 14)",
    ),
    (
        "shadow_deleted_while_read",
        "a shadow copy vanished under a requester reading it (VSS_E_OBJECT_NOT_FOUND)",
    ),
    (
        "diff_area_full_original_volume",
        "a full diff area deleted a shadow copy to keep the volume writable (rule 17)",
    ),
    (
        "diff_area_full_snapshot_protection",
        "a full diff area under snapshot protection failed the volume's writes (rule 17)",
    ),
    (
        "app_image_torn",
        "an application's image in a shadow copy was torn (a finding, rule 33)",
    ),
    (
        "app_image_consistent",
        "an application's image in a shadow copy was consistent",
    ),
    (
        "app_image_frozen",
        "an application was frozen by its writer when its shadow copy was made (rule S5)",
    ),
    (
        "freeze_window_expired",
        "a writer's freeze window ended before its Thaw (rule 7)",
    ),
    (
        "late_answer_ignored",
        "a handler answered after the service had given up on it (rule 30)",
    ),
    (
        "deadline_passed",
        "a requester's own deadline passed (rule 25)",
    ),
    (
        "stuck_call_healed",
        "a hung handler or provider call was answered at the heal (rule 31)",
    ),
    (
        "writes_held_and_released",
        "writes were held during a creation and released in order (rules 13, 14)",
    ),
    (
        "writerless_shadow",
        "a shadow copy made in a context without writers (rule S21)",
    ),
    (
        "shadow_outlives_run",
        "a shadow copy was still there when the run ended (a persistent context)",
    ),
    (
        "backup_succeeded",
        "a requester's backup completed with S_OK",
    ),
];

/// How many situations there are.
pub const COUNT: usize = WRITER_STATES.len() + WRITER_ERRORS.len() + RESULTS.len() + EVENTS.len();

// Every situation has a bit in a `u64`.
const _: () = assert!(COUNT <= 64);

const STATE_BASE: usize = 0;
const ERROR_BASE: usize = STATE_BASE + WRITER_STATES.len();
const RESULT_BASE: usize = ERROR_BASE + WRITER_ERRORS.len();
const EVENT_BASE: usize = RESULT_BASE + RESULTS.len();

/// The name of situation `i` (`0..COUNT`): `writer_state:VSS_WS_FAILED_AT_FREEZE`,
/// `writer_error:VSS_E_WRITER_NOT_RESPONDING`, `result:VSS_E_HOLD_WRITES_TIMEOUT`, or one of
/// [`EVENTS`].
pub fn name(i: usize) -> String {
    if i < ERROR_BASE {
        format!("writer_state:{}", WRITER_STATES[i - STATE_BASE].name())
    } else if i < RESULT_BASE {
        format!("writer_error:{}", WRITER_ERRORS[i - ERROR_BASE].name())
    } else if i < EVENT_BASE {
        format!("result:{}", RESULTS[i - RESULT_BASE].name())
    } else {
        EVENTS[i - EVENT_BASE].0.to_string()
    }
}

/// Every situation's name, in order.
pub fn names() -> impl Iterator<Item = String> {
    (0..COUNT).map(name)
}

fn event(name: &str) -> u64 {
    let i = EVENTS
        .iter()
        .position(|(n, _)| *n == name)
        .expect("a situation of EVENTS");
    1 << (EVENT_BASE + i)
}

fn index_of<T: PartialEq>(list: &[T], x: &T, base: usize) -> u64 {
    list.iter()
        .position(|y| y == x)
        .map_or(0, |i| 1 << (base + i))
}

/// The situations one run reached, as bits (situation `i` is bit `i`).
#[derive(Clone, Debug, Default)]
pub struct Situations {
    reached: u64,
    /// Writes are held now (between a hold and its release).
    holding: bool,
}

impl Situations {
    /// The situations reached so far.
    pub fn reached(&self) -> u64 {
        self.reached
    }

    /// Notes what `fact` shows.
    pub fn observe(&mut self, fact: &Fact) {
        let bits = match fact {
            Fact::StateChanged {
                next, last_error, ..
            } => {
                index_of(&WRITER_STATES, next, STATE_BASE)
                    | index_of(&WRITER_ERRORS, last_error, ERROR_BASE)
            }
            Fact::Answered { result, .. } if *result == Hresult::SnapshotSetInProgress => {
                event("second_requester_refused")
            }
            Fact::Answered { result, .. } | Fact::AsyncAnswered { result, .. } => {
                index_of(&RESULTS, result, RESULT_BASE)
            }
            Fact::Hold { .. } => {
                self.holding = true;
                0
            }
            Fact::Release { released, .. } => {
                self.holding = false;
                if released.n > 0 {
                    event("writes_held_and_released")
                } else {
                    0
                }
            }
            Fact::GoAway { .. } if self.holding => event("requester_gone_during_hold"),
            Fact::ReadEnded { result, .. } if *result == Hresult::ObjectNotFound => {
                event("shadow_deleted_while_read")
            }
            Fact::ShadowDeleted {
                by: DeletedBy::DiffAreaFull,
                ..
            } => event("diff_area_full_original_volume"),
            Fact::ProtectionFault { .. } => event("diff_area_full_snapshot_protection"),
            Fact::AppImage { frozen, torn, .. } => {
                let image = if torn.is_some() {
                    event("app_image_torn")
                } else {
                    event("app_image_consistent")
                };
                image
                    | if *frozen {
                        event("app_image_frozen")
                    } else {
                        0
                    }
            }
            Fact::FreezeTimedOut { .. } => event("freeze_window_expired"),
            Fact::LateAnswer => event("late_answer_ignored"),
            Fact::Deadline { .. } => event("deadline_passed"),
            Fact::Healed { answered } if *answered > 0 => event("stuck_call_healed"),
            Fact::ShadowCreated { context, .. } if !context.has_writers() => {
                event("writerless_shadow")
            }
            Fact::ShadowsVerified(live) if !live.is_empty() => event("shadow_outlives_run"),
            Fact::RequesterResult {
                result: Hresult::Ok,
                ..
            } => event("backup_succeeded"),
            _ => 0,
        };
        self.reached |= bits;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_situation_has_one_name() {
        let all: Vec<String> = names().collect();
        assert_eq!(all.len(), COUNT);
        let mut sorted = all.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), COUNT, "{all:?}");
        assert_eq!(name(0), "writer_state:VSS_WS_STABLE");
        assert_eq!(name(RESULT_BASE + 1), "result:VSS_E_HOLD_WRITES_TIMEOUT");
    }

    #[test]
    fn a_fact_marks_its_situation() {
        let mut s = Situations::default();
        s.observe(&Fact::LateAnswer);
        s.observe(&Fact::Healed { answered: 0 });
        assert_eq!(s.reached(), event("late_answer_ignored"));
        s.observe(&Fact::Healed { answered: 2 });
        assert_ne!(s.reached() & event("stuck_call_healed"), 0);
    }
}
