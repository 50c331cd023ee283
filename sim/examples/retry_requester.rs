//! A backup requester with Microsoft's retry advice (rule S15): on a retryable failure, wait ten
//! minutes and try again, three tries in all, within an overall deadline. It runs as ordinary
//! async Rust inside the simulation: the waits cost virtual time only.
//!
//! ```text
//! cargo run --release --example retry_requester
//! ```
//!
//! The machine is the catalog's `policy_microsoft_three_tries`: SqlServerWriter's Freeze fails
//! `VSS_E_WRITERERROR_RETRYABLE` in its first two sessions, so the backup succeeds on the third
//! try, 20 minutes of virtual time later. The tests run the same requester (its waits scaled
//! down, as the fault search scales every limit) over 1 000 machines of the fault search, and
//! require that no oracle ever fires.

#![allow(clippy::print_stdout)] // An example prints its verdict.

use std::time::Duration;

use sim::api::{BackupType, Hresult, Requester, VssError, WriterState};
use sim::harness::Simulation;

/// How patient the requester is.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    /// Tries in all.
    pub tries: u32,
    /// The wait between two tries.
    pub wait: Duration,
    /// The whole backup, waits included, must be over by then.
    pub deadline: Duration,
}

/// Microsoft's advice: three tries, ten minutes apart; done within an hour.
pub const MICROSOFT: Policy = Policy {
    tries: 3,
    wait: Duration::from_secs(600),
    deadline: Duration::from_secs(3600),
};

/// Whether rule S15 says to wait and try again after `e`.
fn retryable(e: VssError) -> bool {
    matches!(
        e,
        VssError::WriterErrorOutOfResources
            | VssError::WriterErrorTimeout
            | VssError::WriterErrorRetryable
            | VssError::FlushWritesTimeout
            | VssError::HoldWritesTimeout
            | VssError::ProviderVeto
            | VssError::UnexpectedProviderError
            | VssError::SnapshotSetInProgress
    )
}

/// The first writer failure a status shows, if any.
fn writer_failure(bc: &sim::api::BackupComponents) -> Option<VssError> {
    bc.writer_status().iter().find_map(|w| {
        let failed = !matches!(
            w.state,
            WriterState::Stable | WriterState::WaitingForBackupComplete
        );
        VssError::try_from(w.last_error)
            .ok()
            .or(failed.then_some(VssError::WriterErrorNonRetryable))
    })
}

/// One try: the whole sequence of rule S1, checking writer status after PrepareForBackup and
/// after DoSnapshotSet (a writer's Freeze failure shows only there, rule 6). On a failure the
/// set is aborted (rule S12); dropping the object releases it.
async fn attempt(me: &Requester) -> Result<(), VssError> {
    let mut bc = me.create_backup_components();
    bc.initialize_for_backup().await?;
    bc.set_backup_state(true, false, BackupType::Full, false)
        .await?;
    bc.gather_writer_metadata().await?.finish().await?;
    let mut components = Vec::new();
    for w in bc.writer_metadata() {
        for c in w.components {
            bc.add_component(c.component).await?;
            components.push(c.component);
        }
    }
    bc.start_snapshot_set().await?;
    let result = async {
        let mut shadows = Vec::new();
        for v in me.volumes() {
            shadows.push((bc.add_to_snapshot_set(v.id, None).await?, v.id));
        }
        bc.prepare_for_backup().await?.finish().await?;
        bc.gather_writer_status().await?.finish().await?;
        if let Some(e) = writer_failure(&bc) {
            return Err(e);
        }
        bc.do_snapshot_set().await?.finish().await?;
        bc.gather_writer_status().await?.finish().await?;
        if let Some(e) = writer_failure(&bc) {
            return Err(e);
        }
        for (shadow, volume) in shadows {
            bc.read_shadow(shadow, volume).await?;
        }
        for c in &components {
            bc.set_backup_succeeded(*c, true).await?;
        }
        bc.backup_complete().await?.finish().await?;
        Ok(())
    }
    .await;
    if result.is_err() {
        // Best effort: the object goes away next anyway.
        let _ = bc.abort_backup().await;
    }
    result
}

/// The requester: tries until one succeeds, a failure is not retryable, the tries are used up,
/// or the deadline passes (then the try in flight is dropped, which releases its object and
/// aborts its set, rule 27, and the verdict is `E_ABORT`).
pub async fn backup(me: Requester, policy: Policy) -> Result<(), VssError> {
    let tries = async {
        let mut last = Err(VssError::Fail);
        for n in 1..=policy.tries {
            last = attempt(&me).await;
            match last {
                Err(e) if retryable(e) && n < policy.tries => {
                    tokio::time::sleep(policy.wait).await;
                }
                _ => break,
            }
        }
        last
    };
    tokio::time::timeout(policy.deadline, tries)
        .await
        .unwrap_or(Err(VssError::Abort))
}

/// The machine of `policy_microsoft_three_tries`, without its requester.
const MACHINE: &str = r#"
name = "writer-retryable-twice"

[[volume]]
name = "D:"
size = "16GiB"

[[writer]]
name = "SqlServerWriter"
level = "VSS_APP_BACK_END"
[[writer.component]]
name = "sales"
volumes = ["D:"]
[[writer.fault]]
event = "OnPrepareSnapshot"
delay = "150s"
sessions = 2
[[writer.fault]]
event = "OnFreeze"
fail = "VSS_E_WRITERERROR_RETRYABLE"
sessions = 2

[[workload]]
name = "sqlservr.exe"
volumes = ["D:"]
rate = 200
blocks = 4096
"#;

/// Runs the requester on the machine.
fn run(seed: u64) -> sim::harness::Outcome {
    Simulation::from_toml(
        "writer-retryable-twice.toml",
        "writer-retryable-twice",
        MACHINE,
    )
    .expect("the machine parses")
    .seed(seed)
    .requester("microsoft", |me| backup(me, MICROSOFT))
    .run()
    .expect("the requester runs")
}

fn main() {
    let out = run(1);
    let result = out.result("microsoft").unwrap_or(Hresult::Fail);
    let tries = out
        .report()
        .calls
        .iter()
        .filter(|c| c.call == "InitializeForBackup")
        .count();
    println!(
        "retry_requester: {result} after {tries} tries and {:.1} virtual minutes; {} violations",
        out.report().virtual_time_us as f64 / 60e6,
        out.violations.len()
    );
    for v in &out.violations {
        println!("  {}: {}", v.name, v.detail);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_third_try_succeeds_twenty_minutes_later() {
        let out = run(1);
        sim::assert_no_violations!(out);
        assert_eq!(out.result("microsoft"), Some(Hresult::Ok));
        let inits = out
            .report()
            .calls
            .iter()
            .filter(|c| c.call == "InitializeForBackup")
            .count();
        assert_eq!(inits, 3);
        let minutes = out.report().virtual_time_us / 60_000_000;
        assert!((20..30).contains(&minutes), "{minutes} min");
    }

    #[test]
    fn a_short_deadline_gives_up_and_leaves_nothing_behind() {
        let policy = Policy {
            deadline: Duration::from_secs(900),
            ..MICROSOFT
        };
        let out = Simulation::from_toml("m.toml", "m", MACHINE)
            .unwrap()
            .requester("microsoft", move |me| backup(me, policy))
            .run()
            .unwrap();
        sim::assert_no_violations!(out);
        assert_eq!(out.result("microsoft"), Some(Hresult::Abort));
        assert!(out.report().snapshots.iter().all(|s| s.status != "exists"));
    }

    /// The fault search's limits are scaled down (a 5-second freeze window, healing within 20
    /// seconds, everything settled five minutes later): so is the requester's patience.
    const SCALED: Policy = Policy {
        tries: 3,
        wait: Duration::from_secs(20),
        deadline: Duration::from_secs(240),
    };

    #[test]
    fn no_oracle_fires_over_a_thousand_fault_plans() {
        let search = sim::harness::Fuzz::new(1_000, 0x5eed);
        let result = search.run(|machine| machine.requester("backup", |me| backup(me, SCALED)));
        match result {
            Ok(n) => assert_eq!(n, 1_000),
            Err(failure) => panic!("{failure}"),
        }
    }
}
