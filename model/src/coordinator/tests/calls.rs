//! The calls outside the backup sequence: IsVolumeSupported (rule 34), GetSnapshotProperties
//! and Query (rule 35), DeleteSnapshots (rule 36), the SetBackupState flags (rule 37) and the
//! writer-class filter (rule 38).

use super::*;
use crate::api::ReplyData;
use crate::ids::ProviderId;
use crate::vss::{ObjectType, SnapshotContext, attr};

/// The result and data of the one reply to `kind` in `out`.
fn answer_of(out: &[Output], kind: ApiCallKind) -> (Hresult, ReplyData) {
    out.iter()
        .find_map(|o| match o {
            Output::Reply {
                call, result, data, ..
            } if *call == kind => Some((*result, data.clone())),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{kind:?} is answered: {out:?}"))
}

fn ask(c: &mut Coordinator, r: RequesterId, call: ApiCall) -> (Hresult, ReplyData) {
    let kind = call.kind();
    answer_of(&settled(c, r, 50, call), kind)
}

/// Requester `A` made set 100 with shadow 101 of `C` (VSS_CTX_BACKUP), creation over.
fn made() -> Coordinator {
    let mut c = two_sessions();
    prepared(&mut c, A, 0, 100, false);
    let out = settled(&mut c, A, 1, DO_SET);
    assert_eq!(
        done(&out, A, ApiCallKind::DoSnapshotSet),
        Some(Hresult::AsyncFinished)
    );
    c
}

fn delete(source: u128, object: ObjectType) -> ApiCall {
    ApiCall::DeleteSnapshots {
        source: Guid(source),
        object,
        force: false,
    }
}

#[test]
fn is_volume_supported_answers_per_provider_and_needs_an_initialised_object_rule_34() {
    let mut c = two_sessions();
    let any = ApiCall::IsVolumeSupported {
        provider: ProviderArg::Any,
        volume: Some(C),
    };
    assert_eq!(ask(&mut c, A, any.clone()).0, Hresult::BadState);
    ask(&mut c, A, INIT);
    assert_eq!(
        ask(&mut c, A, any),
        (Hresult::Ok, ReplyData::Supported(true))
    );
    let system = ApiCall::IsVolumeSupported {
        provider: ProviderArg::Registered(ProviderId(0)),
        volume: Some(C),
    };
    assert_eq!(
        ask(&mut c, A, system),
        (Hresult::Ok, ReplyData::Supported(true))
    );
    let unknown = ApiCall::IsVolumeSupported {
        provider: ProviderArg::Any,
        volume: None,
    };
    assert_eq!(ask(&mut c, A, unknown).0, Hresult::ObjectNotFound);
    let unregistered = ApiCall::IsVolumeSupported {
        provider: ProviderArg::Unregistered(Guid(77)),
        volume: Some(C),
    };
    assert_eq!(
        ask(&mut c, A, unregistered).0,
        Hresult::ProviderNotRegistered
    );
}

#[test]
fn get_snapshot_properties_describes_a_created_shadow_copy_rule_35() {
    let mut c = made();
    let (h, data) = ask(&mut c, A, ApiCall::GetSnapshotProperties(Guid(101)));
    assert_eq!(h, Hresult::Ok);
    let ReplyData::SnapshotProps(list) = data else {
        panic!("{data:?}")
    };
    let [p] = &list[..] else { panic!("{list:?}") };
    assert_eq!((p.id, p.set_id, p.set_count), (Guid(101), Guid(100), 1));
    assert_eq!((p.volume, p.provider, p.device), (C, ProviderId(0), 1));
    assert_eq!(p.context, SnapshotContext::Backup);
    assert_ne!(
        p.attributes & attr::DIFFERENTIAL,
        0,
        "the system provider's copy-on-write"
    );
    assert_eq!(p.state, SnapshotState::Created);
    assert_eq!(
        p.device_object(),
        "\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy1"
    );
    // Another object of the same context sees it too; an unknown id is not found.
    ask(&mut c, B, INIT);
    assert_eq!(
        ask(&mut c, B, ApiCall::GetSnapshotProperties(Guid(101))).0,
        Hresult::Ok
    );
    assert_eq!(
        ask(&mut c, B, ApiCall::GetSnapshotProperties(Guid(5))).0,
        Hresult::ObjectNotFound
    );
}

#[test]
fn query_lists_the_shadow_copies_of_the_objects_context_only_rule_35() {
    let mut c = made();
    let (h, data) = ask(&mut c, A, ApiCall::Query);
    assert_eq!(h, Hresult::Ok);
    let ReplyData::SnapshotProps(list) = data else {
        panic!("{data:?}")
    };
    assert_eq!(list.iter().map(|p| p.id).collect::<Vec<_>>(), [Guid(101)]);
    // Before InitializeForBackup: out of sequence.
    assert_eq!(ask(&mut c, B, ApiCall::Query).0, Hresult::BadState);
    ask(&mut c, B, INIT);
    ask(&mut c, B, NO_WRITERS);
    assert_eq!(
        ask(&mut c, B, ApiCall::Query),
        (Hresult::Ok, ReplyData::SnapshotProps(Vec::new()))
    );
    assert_eq!(
        ask(&mut c, B, ApiCall::GetSnapshotProperties(Guid(101))).0,
        Hresult::ObjectNotFound,
        "a shadow copy of another context is not seen"
    );
}

#[test]
fn delete_snapshots_removes_through_the_services_deletion_rule_36() {
    let mut c = made();
    let out = settled(&mut c, A, 2, delete(100, ObjectType::SnapshotSet));
    assert_eq!(
        answer_of(&out, ApiCallKind::DeleteSnapshots),
        (
            Hresult::Ok,
            ReplyData::Deleted {
                count: 1,
                first_not_deleted: Guid::NULL
            }
        )
    );
    assert_eq!(
        count(&out, |o| matches!(
            o,
            Output::DeleteShadow {
                snapshot: Guid(101),
                status: ShadowStatus::Deleted
            }
        )),
        1
    );
    assert!(out.iter().any(|o| matches!(
        o,
        Output::SnapshotState {
            snapshot: Guid(101),
            state: SnapshotState::Deleted,
            ..
        }
    )));
    assert_eq!(shadow_status(&c, 101), Some(ShadowStatus::Deleted));
    // Gone: nothing left to delete or describe.
    assert_eq!(
        ask(&mut c, A, delete(101, ObjectType::Snapshot)).0,
        Hresult::ObjectNotFound
    );
    assert_eq!(
        ask(&mut c, A, ApiCall::GetSnapshotProperties(Guid(101))).0,
        Hresult::ObjectNotFound
    );
    assert_eq!(
        ask(&mut c, A, delete(100, ObjectType::Provider)).0,
        Hresult::InvalidArg
    );
}

#[test]
fn a_shadow_copy_of_a_set_still_being_created_is_neither_shown_nor_deleted_rule_36() {
    let mut c = two_sessions();
    prepared(&mut c, A, 0, 100, false);
    // The creation stops before its last provider call returns: the shadow copy exists
    // (committed), the creation has not ended.
    let out = call_as(&mut c, A, 1, DO_SET);
    settle_with(&mut c, 1, out, &|o| match *o {
        Output::ProviderCall {
            call: ProviderCall::PostFinalCommitSnapshots,
            ..
        } => None,
        _ => healthy(o),
    });
    assert_eq!(shadow_status(&c, 101), Some(ShadowStatus::Exists));
    ask(&mut c, B, INIT);
    assert_eq!(
        ask(&mut c, B, ApiCall::GetSnapshotProperties(Guid(101))).0,
        Hresult::ObjectNotFound
    );
    assert_eq!(
        ask(&mut c, B, ApiCall::Query),
        (Hresult::Ok, ReplyData::SnapshotProps(Vec::new()))
    );
    assert_eq!(
        ask(&mut c, B, delete(101, ObjectType::Snapshot)),
        (
            Hresult::BadState,
            ReplyData::Deleted {
                count: 0,
                first_not_deleted: Guid(101)
            }
        )
    );
    assert_eq!(shadow_status(&c, 101), Some(ShadowStatus::Exists));
}

#[test]
fn set_backup_state_flags_change_nothing_rule_37() {
    let mut c = service();
    let flags = ApiCall::SetBackupState {
        select_components: false,
        bootable_system_state: true,
        backup_type: BackupType::Full,
        partial_file_support: true,
    };
    assert_eq!(
        replies(&mut c, &[INIT, flags, GATHER, START, ADD, PREPARE, DO_SET]),
        [Hresult::Ok; 7]
    );
}

/// The writers `GatherWriterMetadata` reported in `out`, and the Identify events delivered.
fn gathered(c: &mut Coordinator) -> (Vec<WriterId>, usize) {
    let out = settled(c, R, 10, GATHER);
    let identify = count(&out, |o| {
        matches!(
            o,
            Output::WriterEvent {
                event: WriterEvent::Identify,
                ..
            }
        )
    });
    let ids = out
        .iter()
        .find_map(|o| match o {
            Output::AsyncDone {
                data: ReplyData::WriterMetadata(ids),
                ..
            } => Some(ids.clone()),
            _ => None,
        })
        .expect("the metadata is gathered");
    (ids, identify)
}

#[test]
fn a_disabled_writer_class_gets_no_event_and_is_not_listed_rule_38() {
    let class = Guid(1); // MailWriter's class
    let mut c = service();
    replies(&mut c, &[INIT, ApiCall::DisableWriterClasses(vec![class])]);
    assert_eq!(gathered(&mut c), (vec![], 0));
    // After GatherWriterMetadata the filter is fixed.
    assert_eq!(
        replies(&mut c, &[ApiCall::EnableWriterClasses(vec![class])]),
        [Hresult::BadState]
    );
    // The backup goes on without the writer: no PrepareForBackup, no status entry.
    let out = settled(&mut c, R, 20, START);
    assert_eq!(
        replied(&out, ApiCallKind::StartSnapshotSet),
        Some(Hresult::Ok)
    );
    replies(&mut c, &[FULL, ADD]);
    let out = settled(&mut c, R, 30, PREPARE);
    assert_eq!(delivered(&out), vec![]);
    let out = settled(&mut c, R, 40, STATUS);
    assert!(out.iter().any(|o| matches!(
        o,
        Output::AsyncDone { data: ReplyData::WriterStatus(list), .. } if list.is_empty()
    )));
}

#[test]
fn enable_writer_classes_enables_only_its_classes_rule_38() {
    // Enabling another class leaves MailWriter out.
    let mut c = service();
    replies(&mut c, &[INIT, ApiCall::EnableWriterClasses(vec![Guid(9)])]);
    assert_eq!(gathered(&mut c), (vec![], 0));
    // Enabling its class after disabling it cancels the disable.
    let mut c = service();
    let calls = [
        INIT,
        ApiCall::DisableWriterClasses(vec![Guid(1)]),
        ApiCall::EnableWriterClasses(vec![Guid(1)]),
    ];
    assert_eq!(replies(&mut c, &calls), [Hresult::Ok; 3]);
    assert_eq!(gathered(&mut c), (vec![W], 1));
    // Before InitializeForBackup the calls are out of sequence.
    let mut c = service();
    assert_eq!(
        replies(&mut c, &[ApiCall::DisableWriterClasses(vec![Guid(1)])]),
        [Hresult::BadState]
    );
}
