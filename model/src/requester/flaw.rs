//! Deliberately wrong requesters: the standard sequence with one bug that backup tools have
//! shipped. Each is a mutant a fault search must catch with some oracle; none is a behaviour
//! anyone should copy.

/// A bug of a deliberately wrong requester.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Flaw {
    /// Ignores the writers' status: marks every component it added backed up
    /// (`SetBackupSucceeded(true)`), whatever GatherWriterStatus said and whatever it read.
    IgnoresWriterStatus,
    /// Starts copying its first shadow copy and releases its object at once, in an
    /// auto-release context: the shadow copy vanishes mid-copy, and it reports the backup good.
    ReleasesWhileReading,
    /// When DoSnapshotSet fails, copies the live volumes instead and reports the backup good.
    LiveFallback,
    /// Takes `Wait`'s return for DoSnapshotSet's result and never asks `QueryStatus`: goes on
    /// with a set that was never committed, ignores what fails after, reports the backup good.
    TrustsWait,
    /// After a failure neither aborts nor releases: the object, its set and the creation lock
    /// stay held, and a second requester starves.
    NeverReleases,
}

impl Flaw {
    /// Every flaw, in the order `vss-sim fuzz --list-requesters` prints them.
    pub const ALL: [Flaw; 5] = [
        Flaw::IgnoresWriterStatus,
        Flaw::ReleasesWhileReading,
        Flaw::LiveFallback,
        Flaw::TrustsWait,
        Flaw::NeverReleases,
    ];

    /// The requester's name (the scenario's `kind`, `fuzz --requester`).
    pub fn name(self) -> &'static str {
        match self {
            Flaw::IgnoresWriterStatus => "ignores-writer-status",
            Flaw::ReleasesWhileReading => "releases-while-reading",
            Flaw::LiveFallback => "live-fallback",
            Flaw::TrustsWait => "trusts-wait",
            Flaw::NeverReleases => "never-releases",
        }
    }

    /// The flaw named `name`.
    pub fn from_name(name: &str) -> Option<Flaw> {
        Flaw::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// The name of the correct standard requester, listed first.
pub const STANDARD: &str = "standard";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for f in Flaw::ALL {
            assert_eq!(Flaw::from_name(f.name()), Some(f));
            assert_ne!(f.name(), STANDARD);
        }
        assert_eq!(Flaw::from_name(STANDARD), None);
    }
}
