//! The calls outside the backup sequence from async Rust: `IsVolumeSupported`,
//! `GetSnapshotProperties`, `Query`, `DeleteSnapshots` (rules 34-36), the `SetBackupState`
//! flags (rule 37) and the writer-class filter (rule 38), through `sim::harness::Simulation`.

use std::cell::RefCell;
use std::rc::Rc;

use sim::api::{
    BackupType, Guid, Hresult, ObjectType, Requester, SnapshotContext, SnapshotState, VssError,
};
use sim::harness::Simulation;
use sim::world::EndReason;

/// Two data volumes and two writers, one of them on `E:` alone.
const MACHINE: &str = r#"
name = "calls-machine"

[[volume]]
name = "D:"
size = "64MiB"

[[volume]]
name = "E:"
size = "32MiB"

[[writer]]
name = "SqlServerWriter"
level = "VSS_APP_BACK_END"
[[writer.component]]
name = "sales"
volumes = ["D:", "E:"]

[[writer]]
name = "IndexWriter"
[[writer.component]]
name = "index"
volumes = ["E:"]
"#;

fn machine() -> Simulation {
    Simulation::from_toml("calls-machine.toml", "calls-machine", MACHINE).unwrap()
}

/// Makes persistent shadow copies of both volumes (`VSS_CTX_APP_ROLLBACK`), reads them back
/// through `Query` and `GetSnapshotProperties`, deletes one, then the rest of the set.
async fn persistent(me: Requester) -> Result<(), VssError> {
    let (d, e) = (me.volume("D:\\").unwrap(), me.volume("E:\\").unwrap());
    let mut bc = me.create_backup_components();
    // Before InitializeForBackup every call is out of sequence.
    assert_eq!(
        bc.is_volume_supported(None, d).await,
        Err(VssError::BadState)
    );
    bc.initialize_for_backup().await?;
    bc.set_context(SnapshotContext::AppRollback).await?;
    // Rule 37: both flags are accepted (and recorded).
    bc.set_backup_state(false, true, BackupType::Full, true)
        .await?;
    assert!(bc.is_volume_supported(None, d).await?);
    assert_eq!(
        bc.is_volume_supported(Some(Guid(0xbad)), d).await,
        Err(VssError::ProviderNotRegistered)
    );
    assert_eq!(
        bc.is_volume_supported(None, sim::api::VolumeId(9)).await,
        Err(VssError::ObjectNotFound)
    );
    bc.gather_writer_metadata().await?.finish().await?;
    let set = bc.start_snapshot_set().await?;
    let on_d = bc.add_to_snapshot_set(d, None).await?;
    let on_e = bc.add_to_snapshot_set(e, None).await?;
    bc.prepare_for_backup().await?.finish().await?;
    bc.do_snapshot_set().await?.finish().await?;

    let all = bc.query().await?;
    assert_eq!(all.iter().map(|p| p.id).collect::<Vec<_>>(), [on_d, on_e]);
    let p = bc.get_snapshot_properties(on_e).await?;
    assert_eq!((p.set_id, p.volume, p.set_count), (set, e, 2));
    assert_eq!(p.context, SnapshotContext::AppRollback);
    assert_eq!(p.state, SnapshotState::Created);
    assert_eq!(
        p.device_object(),
        "\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy2"
    );
    assert!(p.created_at > sim::api::Instant::ZERO);
    bc.read_shadow(on_d, d).await?;
    bc.read_shadow(on_e, e).await?;
    bc.backup_complete().await?.finish().await?;

    assert_eq!(
        bc.delete_snapshots(on_d, ObjectType::Snapshot, false)
            .await?,
        1
    );
    assert_eq!(
        bc.get_snapshot_properties(on_d).await,
        Err(VssError::ObjectNotFound)
    );
    assert_eq!(
        bc.delete_snapshots_partial(set, ObjectType::SnapshotSet, true)
            .await,
        (Hresult::Ok, 1, Guid::NULL)
    );
    assert_eq!(bc.query().await?, []);
    assert_eq!(
        bc.delete_snapshots(set, ObjectType::SnapshotSet, false)
            .await,
        Err(VssError::ObjectNotFound)
    );
    bc.release().await;
    Ok(())
}

#[test]
fn persistent_shadow_copies_are_queried_described_and_deleted() {
    let run = || {
        machine()
            .seed(5)
            .requester("admin", persistent)
            .run()
            .unwrap()
    };
    let out = run();
    sim::assert_no_violations!(out);
    assert_eq!(out.end, EndReason::Finished);
    assert_eq!(out.result("admin"), Some(Hresult::Ok));
    let statuses: Vec<&str> = out.report().snapshots.iter().map(|s| s.status).collect();
    assert_eq!(
        statuses,
        ["deleted", "deleted"],
        "DeleteSnapshots, not Release"
    );
    let calls: Vec<&str> = out.report().calls.iter().map(|c| c.call).collect();
    for name in [
        "IsVolumeSupported",
        "Query",
        "GetSnapshotProperties",
        "DeleteSnapshots",
    ] {
        assert!(calls.contains(&name), "{name} is recorded: {calls:?}");
    }
    assert_eq!(run().trace, out.trace, "one seed, one trace");
}

#[test]
fn a_disabled_writer_class_is_left_out_of_the_session() {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let keep = seen.clone();
    let out = machine()
        .seed(2)
        .requester("picky", move |me: Requester| async move {
            // The class id is the writer's on this machine: ask a first object's metadata.
            let mut probe = me.create_backup_components();
            probe.initialize_for_backup().await?;
            probe.gather_writer_metadata().await?.finish().await?;
            let index = probe
                .writer_metadata()
                .into_iter()
                .find(|w| w.name == "IndexWriter")
                .expect("IndexWriter answers Identify")
                .class_id;
            probe.release().await;
            let mut bc2 = me.create_backup_components();
            bc2.initialize_for_backup().await?;
            bc2.disable_writer_classes(&[index]).await?;
            bc2.set_backup_state(false, false, BackupType::Full, false)
                .await?;
            bc2.gather_writer_metadata().await?.finish().await?;
            assert_eq!(
                bc2.enable_writer_classes(&[index]).await,
                Err(VssError::BadState),
                "fixed once the metadata is gathered"
            );
            keep.borrow_mut()
                .extend(bc2.writer_metadata().into_iter().map(|w| w.name));
            bc2.start_snapshot_set().await?;
            let d = me.volume("D:\\").unwrap();
            let shadow = bc2.add_to_snapshot_set(d, None).await?;
            bc2.prepare_for_backup().await?.finish().await?;
            bc2.do_snapshot_set().await?.finish().await?;
            bc2.gather_writer_status().await?.finish().await?;
            assert_eq!(bc2.writer_status().len(), 1, "{:?}", bc2.writer_status());
            bc2.read_shadow(shadow, d).await?;
            bc2.backup_complete().await?.finish().await?;
            Ok(())
        })
        .run()
        .unwrap();
    sim::assert_no_violations!(out);
    assert_eq!(out.result("picky"), Some(Hresult::Ok));
    assert_eq!(*seen.borrow(), ["SqlServerWriter"]);
}
