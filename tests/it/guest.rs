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
    let calls: Vec<&str> = out.report().calls.iter().map(|c| c.call).collect();
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
        a.report().virtual_time_us >= 3_600_000_000,
        "{}",
        a.report().virtual_time_us
    );
    // … in a bounded number of loop steps and guest passages, none per millisecond slept.
    assert!(a.steps < 1_000, "{} steps", a.steps);
    assert!(a.stats.drives < 1_000, "{:?}", a.stats);
    assert!(a.stats.polls < 5_000, "{:?}", a.stats);
}

/// The tests' writer: what `OnIdentify` describes (given how many times it was asked), a
/// checkpoint at PrepareForSnapshot or not, and its application frozen at Freeze — or, buggy,
/// left writing. Done right, it is a database writer (rules S4-S6).
struct TestWriter {
    identify: fn(u32, &mut sim::api::Metadata),
    asked: u32,
    checkpoint: bool,
    buggy: bool,
}

impl TestWriter {
    /// A database on D: and E: that checkpoints.
    fn database(buggy: bool) -> TestWriter {
        TestWriter {
            identify: |_, md| md.add_component("sales", "SQLSERVER", &["D:\\", "E:\\"]),
            asked: 0,
            checkpoint: true,
            buggy,
        }
    }

    /// One that describes nothing: it keeps the components the scenario declares.
    fn any_machine(buggy: bool) -> TestWriter {
        TestWriter {
            identify: |_, _| {},
            asked: 0,
            checkpoint: false,
            buggy,
        }
    }
}

impl sim::api::Writer for TestWriter {
    async fn on_identify(&mut self, md: &mut sim::api::Metadata) -> bool {
        self.asked += 1;
        (self.identify)(self.asked, md);
        true
    }
    async fn on_prepare_snapshot(&mut self, _: &mut sim::api::WriterCx) -> bool {
        if self.checkpoint {
            // A checkpoint takes a while.
            tokio::time::sleep(StdDuration::from_millis(30)).await;
        }
        true
    }
    async fn on_freeze(&mut self, cx: &mut sim::api::WriterCx) -> bool {
        if !self.buggy {
            cx.freeze_application();
        }
        true
    }
    async fn on_thaw(&mut self, cx: &mut sim::api::WriterCx) -> bool {
        cx.thaw_application();
        true
    }
    async fn on_abort(&mut self, cx: &mut sim::api::WriterCx) -> bool {
        cx.thaw_application();
        true
    }
}

fn with_database(buggy: bool, seed: u64) -> sim::harness::Outcome {
    machine()
        .seed(seed)
        .writer(
            sim::api::Registration::new("SqlServerWriter")
                .level(sim::api::ApplicationLevel::BackEnd),
            TestWriter::database(buggy),
        )
        .requester("mine", full_backup)
        .run()
        .unwrap()
}

#[test]
fn a_user_writer_that_freezes_its_database_leaves_it_consistent() {
    for seed in 0..20 {
        let out = with_database(false, seed);
        sim::assert_no_violations!(out);
        assert_eq!(out.result("mine"), Some(sim::api::Hresult::Ok));
        assert!(out.findings.is_empty(), "seed {seed}: {:?}", out.findings);
        let t = out.trace_text();
        assert!(t.contains("\"name\":\"OnFreeze\""), "the writer was frozen");
    }
}

#[test]
fn a_user_writer_that_keeps_writing_through_freeze_is_caught_torn() {
    let mut caught = 0;
    for seed in 0..20 {
        let out = with_database(true, seed);
        let names: Vec<&str> = out.violations.iter().map(|v| v.name).collect();
        // The writer said its database was frozen; the backup marked it good; the shadow
        // copies hold half a transaction.
        assert!(
            names.iter().all(|n| *n == "component_backup_consistent"),
            "seed {seed}: {names:?}"
        );
        if !names.is_empty() {
            caught += 1;
            let v = &out.violations[0];
            assert!(v.detail.contains("torn"), "{}", v.detail);
        }
    }
    assert!(caught > 0, "some seed cuts the database mid-transaction");
}

/// One machine, a vendor's backup product (the standard requester) starting at `vendor_start`
/// and yours starting at `mine_start`; a slow checkpoint keeps the first creation open.
fn collide(vendor_start: &str, mine_start: u64) -> sim::harness::Outcome {
    let src = format!(
        r#"
name = "two-products"
[[volume]]
name = "C:"
size = "1GiB"
[[writer]]
name = "SqlServerWriter"
latency = {{ OnPrepareSnapshot = "3s" }}
[[writer.component]]
name = "sales"
volumes = ["C:"]
[[requester]]
name = "vendor"
start = "{vendor_start}"
"#
    );
    Simulation::from_toml("two-products.toml", "two-products", &src)
        .unwrap()
        .requester("mine", move |me| async move {
            tokio::time::sleep(StdDuration::from_millis(mine_start)).await;
            full_backup(me).await
        })
        .run()
        .unwrap()
}

#[test]
fn your_requester_and_a_scripted_one_collide_whoever_starts_second_is_refused() {
    let in_progress = Some(sim::api::Hresult::SnapshotSetInProgress);
    let late_mine = collide("0s", 1_000);
    sim::assert_no_violations!(late_mine);
    assert_eq!(late_mine.result("vendor"), Some(sim::api::Hresult::Ok));
    assert_eq!(late_mine.result("mine"), in_progress);
    let late_vendor = collide("1s", 0);
    sim::assert_no_violations!(late_vendor);
    assert_eq!(late_vendor.result("mine"), Some(sim::api::Hresult::Ok));
    assert_eq!(late_vendor.result("vendor"), in_progress);
    let refused = late_vendor
        .report()
        .calls
        .iter()
        .find(|c| c.requester == "vendor" && c.call == "StartSnapshotSet")
        .unwrap();
    assert_eq!(refused.result, "VSS_E_SNAPSHOT_SET_IN_PROGRESS");
}

#[test]
fn guest_code_that_panics_or_never_lets_time_move_is_an_error_not_a_hang() {
    let panicked = quiet()
        .requester("mine", |_| async { panic!("my backup broke") })
        .run()
        .unwrap_err();
    assert!(
        panicked.to_string().contains("my backup broke"),
        "{panicked}"
    );
    let spins = quiet()
        .requester("mine", |_| async {
            loop {
                tokio::task::yield_now().await;
            }
        })
        .run()
        .unwrap_err();
    assert!(
        matches!(spins, sim::guest::GuestError::Stuck { .. }),
        "{spins:?}"
    );
    assert!(
        spins.to_string().contains("virtual time cannot advance"),
        "{spins}"
    );
}

#[test]
fn a_writer_whose_identify_answer_changes_is_told_rule_s2() {
    let e = quiet()
        .writer(
            sim::api::Registration::new("Fickle"),
            // Its metadata changes between Identify calls (rule S2 forbids it).
            TestWriter {
                identify: |n, md| md.add_component(&format!("c{n}"), "", &["D:\\"]),
                ..TestWriter::any_machine(false)
            },
        )
        .requester("mine", full_backup)
        .run()
        .unwrap_err();
    assert!(e.to_string().contains("rule S2"), "{e}");
    let e = quiet()
        .writer(
            sim::api::Registration::new("Lost"),
            // A component on a volume the machine does not have.
            TestWriter {
                identify: |_, md| md.add_component("c", "", &["Z:\\"]),
                ..TestWriter::any_machine(false)
            },
        )
        .run()
        .unwrap_err();
    assert!(e.to_string().contains("\"Z:\\\\\""), "{e}");
    let e = quiet()
        .requester("twice", full_backup)
        .requester("twice", full_backup)
        .run()
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("two requesters are called \"twice\""),
        "{e}"
    );
}

/// Reads a block range of one shadow copy twice, a second apart, while the database keeps
/// writing: the shadow copy is a point in time, so both reads see the same content.
async fn ranges(me: Requester) -> Result<(), VssError> {
    let mut bc = me.create_backup_components();
    bc.initialize_for_backup().await?;
    bc.set_backup_state(false, false, BackupType::Full, false)
        .await?;
    bc.gather_writer_metadata().await?.finish().await?;
    bc.start_snapshot_set().await?;
    let d = me.volume("D:\\").expect("the machine has D:");
    let shadow = bc.add_to_snapshot_set(d, None).await?;
    bc.prepare_for_backup().await?.finish().await?;
    bc.do_snapshot_set().await?.finish().await?;
    let first = bc.read_blocks(shadow, d, 0, 1024).await?;
    tokio::time::sleep(StdDuration::from_secs(1)).await;
    let again = bc.read_blocks(shadow, d, 0, 1024).await?;
    assert_eq!(first, again, "a shadow copy does not change");
    assert!(
        first.held > 0,
        "the database had written some of its blocks"
    );
    // 64 MiB of 4 KiB blocks: 16 384; one past the end is refused, as is an empty range.
    assert_eq!(
        bc.read_blocks(shadow, d, 16_384 - 10, 11).await,
        Err(VssError::InvalidArg)
    );
    assert_eq!(
        bc.read_blocks(shadow, d, 0, 0).await,
        Err(VssError::InvalidArg)
    );
    let unknown = sim::api::Guid(42);
    assert_eq!(
        bc.read_blocks(unknown, d, 0, 8).await,
        Err(VssError::ObjectNotFound)
    );
    // A few ranges are no backup: abort it, and do not report it good (the oracles would
    // say it was not read in full).
    bc.abort_backup().await?;
    Err(VssError::Abort)
}

#[test]
fn a_block_range_of_a_shadow_copy_reads_the_same_however_late() {
    let out = machine().seed(5).requester("ranges", ranges).run().unwrap();
    sim::assert_no_violations!(out);
    assert_eq!(out.result("ranges"), Some(sim::api::Hresult::Abort));
    let trace = out.trace_text();
    let reads = trace
        .lines()
        .filter(|l| l.contains("\"kind\":\"read\"") && l.contains("\"first_block\":0"))
        .count();
    assert_eq!(
        reads, 2,
        "two good reads, each one record; an unknown shadow copy is refused before any read"
    );
}

#[test]
fn a_fault_search_over_your_writer_passes_the_right_one_and_shrinks_the_buggy_one() {
    let search = sim::harness::Fuzz::new(300, 7);
    let take_over = |buggy| {
        move |m: Simulation| {
            m.writer(
                sim::api::Registration::new("Writer0"),
                TestWriter::any_machine(buggy),
            )
        }
    };
    assert_eq!(
        search.run(take_over(false)).map_err(|f| f.to_string()),
        Ok(300)
    );
    let failure = search.run(take_over(true)).unwrap_err();
    assert!(
        failure.reason.contains("component_backup_consistent"),
        "{failure}"
    );
    // Shrunk to a machine that still fails, with no injected fault left to blame.
    assert!(failure.scenario.faults().is_empty(), "{failure}");
    let replay = Simulation::from_scenario(failure.scenario.clone())
        .writer(
            sim::api::Registration::new("Writer0"),
            TestWriter::any_machine(true),
        )
        .run()
        .unwrap();
    assert!(
        !replay.violations.is_empty(),
        "the shrunk machine replays the failure"
    );
}

/// Operations and replies belong to their own calls and objects.
async fn careful(me: Requester) -> Result<(), VssError> {
    use sim::api::Hresult;
    // A call given up on (its future dropped by a timeout) still reaches the service; its
    // reply is dropped, and the next call gets its own.
    let mut bc = me.create_backup_components();
    bc.initialize_for_backup().await?;
    let gave_up = tokio::time::timeout(StdDuration::ZERO, bc.gather_writer_metadata()).await;
    assert!(gave_up.is_err());
    // The first gather is still running: the service refuses a second (rule S13's one
    // operation at a time), and this call hears that refusal, not the first call's reply.
    assert_eq!(
        bc.gather_writer_metadata().await.err(),
        Some(VssError::BadState)
    );
    // The object goes away with an operation running: that operation ends cancelled, and a
    // new object's operation of the same call is its own.
    drop(bc);
    let mut bc = me.create_backup_components();
    bc.initialize_for_backup().await?;
    let gather = bc.gather_writer_metadata().await?;
    assert_eq!(gather.finish().await, Ok(Hresult::AsyncFinished));
    // Cancel on an operation that is over says so and touches nothing else.
    bc.set_backup_state(false, false, BackupType::Full, false)
        .await?;
    bc.start_snapshot_set().await?;
    let d = me.volume("D:\\").expect("the machine has D:");
    bc.add_to_snapshot_set(d, None).await?;
    let prepare = bc.prepare_for_backup().await?;
    assert_eq!(gather.cancel().await, Hresult::AsyncFinished);
    assert_eq!(prepare.finish().await, Ok(Hresult::AsyncFinished));
    let old = bc.gather_writer_status().await?;
    drop(bc);
    assert_eq!(old.query_status(), Hresult::AsyncCancelled);
    old.wait().await; // returns: its object is gone
    Err(VssError::Abort)
}

#[test]
fn operations_and_replies_belong_to_their_own_calls_and_objects() {
    let out = quiet().requester("careful", careful).run().unwrap();
    assert_eq!(out.result("careful"), Some(sim::api::Hresult::Abort));
    sim::assert_no_violations!(out);
}
