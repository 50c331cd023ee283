//! `hold_within_limit`: no write is held longer than the flush-and-hold limit (10 s) plus 1 µs,
//! and a hold past the limit ends the creation with `VSS_E_FLUSH_WRITES_TIMEOUT` or
//! `VSS_E_HOLD_WRITES_TIMEOUT` (rules 13, 13b).

use model::machine::Machine;
use model::time::{Duration, Instant};
use model::vss::Hresult;

use super::{Entry, Oracle, OracleInfo, Setup, Violation, found};
use crate::fact::{Fact, FactKind};

pub(super) const ENTRY: Entry = Entry {
    info: OracleInfo {
        name: "hold_within_limit",
        description: "writes are held at most 10 s + 1us, and a longer hold fails the creation",
        rule: "13b",
    },
    sees: FactKind::set(&[FactKind::Phase, FactKind::Release]),
    build,
};

fn build(setup: &Setup<'_>) -> Box<dyn Oracle> {
    Box::new(HoldWithinLimit {
        limit: setup.profile.flush_and_hold_timeout,
        timeout_seen: false,
    })
}

struct HoldWithinLimit {
    limit: Duration,
    /// A flush or hold timeout ended the creation since the last release.
    timeout_seen: bool,
}

impl Oracle for HoldWithinLimit {
    fn observe(&mut self, _: &Machine, now: Instant, fact: &Fact, out: &mut Vec<Violation>) {
        match fact {
            Fact::Phase { phase, .. }
                if *phase == Hresult::FlushWritesTimeout.name()
                    || *phase == Hresult::HoldWritesTimeout.name() =>
            {
                self.timeout_seen = true;
            }
            Fact::Release { released, .. } => {
                let (longest, limit) = (released.longest, self.limit);
                if longest > limit + Duration::MICROSECOND {
                    out.push(found(
                        now,
                        format!("writes were held for {longest}, past {limit} + 1us"),
                    ));
                } else if longest > limit && !self.timeout_seen {
                    out.push(found(
                        now,
                        format!("a hold of {longest} did not end the creation with a timeout"),
                    ));
                }
                self.timeout_seen = false;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{C, judge};
    use crate::fact::Fact;
    use model::ids::Guid;
    use model::time::Duration;
    use model::volume::store::{Released, WriteCounts};

    fn release(us: u64) -> Fact {
        Fact::Release {
            volumes: vec![C].into(),
            released: Released {
                longest: Duration::from_us(us),
                ..Default::default()
            },
            counts: WriteCounts::default(),
            queued: 0,
        }
    }

    #[test]
    fn a_hold_past_ten_seconds_without_a_timeout_is_reported() {
        let limit = 10_000_000;
        assert_eq!(
            judge("hold_within_limit", vec![(1, release(limit + 2))]).len(),
            1
        );
        assert_eq!(
            judge("hold_within_limit", vec![(1, release(limit + 1))]).len(),
            1
        );
        let timeout = Fact::Phase {
            set_id: Guid(1),
            phase: "VSS_E_HOLD_WRITES_TIMEOUT",
            rule: "13",
        };
        assert!(
            judge(
                "hold_within_limit",
                vec![(1, timeout), (2, release(limit + 1))]
            )
            .is_empty()
        );
        assert!(judge("hold_within_limit", vec![(1, release(limit))]).is_empty());
    }
}
