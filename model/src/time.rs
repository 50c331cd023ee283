//! Virtual time: whole microseconds since the start of a run.
//!
//! The model never reads a clock. Every handler receives `now: Instant` from the simulation loop,
//! which is the only thing that advances time (ARCHITECTURE.md, invariant 2). Deadlines are
//! inclusive (rule 13b): a timer for a limit fires at `limit + 1 µs`, so an answer that
//! arrives exactly at the limit is handled first.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// A point in virtual time, in whole microseconds since the run started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

/// A span of virtual time, in whole microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(u64);

impl Instant {
    /// The start of every run.
    pub const ZERO: Instant = Instant(0);
    /// Latest representable instant; used as "never".
    pub const MAX: Instant = Instant(u64::MAX);

    /// An instant `us` microseconds after the start of the run.
    pub const fn from_us(us: u64) -> Instant {
        Instant(us)
    }
    /// Microseconds since the start of the run.
    pub const fn as_us(self) -> u64 {
        self.0
    }
    /// Time elapsed from `earlier` to `self`, zero if `earlier` is later.
    pub const fn saturating_since(self, earlier: Instant) -> Duration {
        Duration(self.0.saturating_sub(earlier.0))
    }
    /// The deadline timer instant for an inclusive limit (rule 13b): `self + limit + 1 µs`.
    pub const fn deadline_after(self, limit: Duration) -> Instant {
        Instant(self.0.saturating_add(limit.0).saturating_add(1))
    }
}

impl Duration {
    /// No time at all.
    pub const ZERO: Duration = Duration(0);
    /// One microsecond, the resolution of virtual time.
    pub const MICROSECOND: Duration = Duration(1);

    /// `us` microseconds.
    pub const fn from_us(us: u64) -> Duration {
        Duration(us)
    }
    /// `ms` milliseconds.
    pub const fn from_ms(ms: u64) -> Duration {
        Duration(ms * 1_000)
    }
    /// `s` seconds.
    pub const fn from_secs(s: u64) -> Duration {
        Duration(s * 1_000_000)
    }
    /// Whole microseconds.
    pub const fn as_us(self) -> u64 {
        self.0
    }
    /// Multiplies, saturating at the largest duration.
    pub const fn saturating_mul(self, n: u64) -> Duration {
        Duration(self.0.saturating_mul(n))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, rhs: Duration) -> Instant {
        Instant(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        self.0 = self.0.saturating_add(rhs.0);
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, rhs: Instant) -> Duration {
        Duration(self.0.saturating_sub(rhs.0))
    }
}

impl Add for Duration {
    type Output = Duration;
    fn add(self, rhs: Duration) -> Duration {
        Duration(self.0.saturating_add(rhs.0))
    }
}

/// Formats as seconds with six decimals (`12.500000s`), the timeline's stamp.
impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}s", self.0 / 1_000_000, self.0 % 1_000_000)
    }
}

/// Formats with the largest unit that keeps the value whole: `60s`, `1.5ms` prints as `1500us`.
impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = self.0;
        if us != 0 && us % 1_000_000 == 0 {
            write!(f, "{}s", us / 1_000_000)
        } else if us != 0 && us % 1_000 == 0 {
            write!(f, "{}ms", us / 1_000)
        } else {
            write!(f, "{us}us")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_is_inclusive() {
        let freeze = Instant::from_us(5);
        let limit = Duration::from_secs(60);
        assert_eq!(freeze.deadline_after(limit).as_us(), 5 + 60_000_000 + 1);
    }

    #[test]
    fn display() {
        assert_eq!(Instant::from_us(12_500_000).to_string(), "12.500000s");
        assert_eq!(Duration::from_secs(60).to_string(), "60s");
        assert_eq!(Duration::from_us(1_500).to_string(), "1500us");
        assert_eq!(Duration::from_ms(20).to_string(), "20ms");
    }
}
