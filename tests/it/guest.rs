//! Your own code inside the simulation: async requesters and writers on the guest runtime, on
//! the simulation's clock (`sim::guest`, `sim::api`, `sim::harness`).

use std::time::Duration as StdDuration;

use sim::api::{BackupType, Requester, VssError};
use sim::harness::Simulation;
use sim::world::EndReason;

/// Two data volumes, a database writer on both (scripted) and its application writing.
const MACHINE: &str = r#"
name = "guest-machine"

[[volume]]
name = "D:"
size = "64MiB"

[[volume]]
name = "E:"
size = "32MiB"

[[writer]]
name = "SqlServerWriter"
level = "VSS_APP_BACK_END"
latency = { OnFreeze = "40ms", OnThaw = "10ms" }
[[writer.component]]
name = "sales"
logical_path = "SQLSERVER"
volumes = ["D:", "E:"]

[[workload]]
name = "sqlservr.exe"
application = "database"
writer = "SqlServerWriter"
volumes = ["D:", "E:"]
rate = 500
pattern = "hotspot"
blocks = 1024
"#;

/// The same machine without its application, for long virtual waits (an hour of writes would
/// be an hour of events).
const QUIET: &str = r#"
name = "quiet-machine"
[run]
max_virtual_time = "2h"

[[volume]]
name = "D:"
size = "64MiB"

[[writer]]
name = "SqlServerWriter"
level = "VSS_APP_BACK_END"
[[writer.component]]
name = "sales"
volumes = ["D:"]
"#;

fn quiet() -> Simulation {
    Simulation::from_toml("quiet-machine.toml", "quiet-machine", QUIET).unwrap()
}

fn machine() -> Simulation {
    Simulation::from_toml("guest-machine.toml", "guest-machine", MACHINE).unwrap()
}

/// A component-mode full backup of every volume, as VShadow does it (rule S1).
async fn full_backup(me: Requester) -> Result<(), VssError> {
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
    let mut shadows = Vec::new();
    for v in me.volumes() {
        shadows.push((bc.add_to_snapshot_set(v.id, None).await?, v.id));
    }
    bc.prepare_for_backup().await?.finish().await?;
    bc.do_snapshot_set().await?.finish().await?;
    for (shadow, volume) in shadows {
        bc.read_shadow(shadow, volume).await?;
    }
    for c in components {
        bc.set_backup_succeeded(c, true).await?;
    }
    bc.backup_complete().await?.finish().await?;
    Ok(())
}

#[test]
fn a_user_requester_backs_up_and_the_oracles_judge_it() {
    let out = machine()
        .seed(3)
        .requester("mine", full_backup)
        .run()
        .unwrap();
    sim::assert_no_violations!(out);
    assert_eq!(out.end, EndReason::Finished);
    assert_eq!(out.result("mine"), Some(sim::api::Hresult::Ok));
    assert!(out.findings.is_empty(), "{:?}", out.findings);
    let calls: Vec<&str> = out.report.calls.iter().map(|c| c.call).collect();
    assert!(
        calls.starts_with(&["InitializeForBackup", "SetBackupState"]),
        "{calls:?}"
    );
    assert!(
        calls.contains(&"DoSnapshotSet") && calls.ends_with(&["Release"]),
        "{calls:?}"
    );
    assert!(out.stats.drives > 0 && out.stats.actions > 0);
}

/// Waits with `timeout` and `sleep` on a call that is slow on purpose, then backs up.
async fn patient(me: Requester) -> Result<(), VssError> {
    tokio::time::sleep(StdDuration::from_secs(600)).await;
    let mut bc = me.create_backup_components();
    bc.initialize_for_backup().await?;
    let gather = bc.gather_writer_metadata().await?;
    // 1 ms is too short for Identify: the wait times out, and the operation goes on.
    let early = tokio::time::timeout(StdDuration::from_millis(1), gather.wait()).await;
    assert!(early.is_err(), "Identify takes longer than 1 ms");
    gather.finish().await?;
    tokio::time::sleep(StdDuration::from_secs(3000)).await;
    drop(bc);
    full_backup(me).await
}

#[test]
fn timers_run_on_virtual_time_and_replay_byte_for_byte() {
    let run = || {
        quiet()
            .seed(11)
            .requester("patient", patient)
            .run()
            .unwrap()
    };
    let (a, b) = (run(), run());
    assert_eq!(a.trace, b.trace, "one seed, one trace");
    assert_eq!(a.end, EndReason::Finished);
    assert_eq!(a.result("patient"), Some(sim::api::Hresult::Ok));
    // An hour of virtual time passed in the sleeps alone …
    assert!(
        a.report.virtual_time_us >= 3_600_000_000,
        "{}",
        a.report.virtual_time_us
    );
    // … in a bounded number of loop steps and guest passages, none per millisecond slept.
    assert!(a.steps < 1_000, "{} steps", a.steps);
    assert!(a.stats.drives < 1_000, "{:?}", a.stats);
    assert!(a.stats.polls < 5_000, "{:?}", a.stats);
}
