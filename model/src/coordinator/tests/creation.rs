//! Call order and the writer-less contexts, failed and cancelled creations, and one session's
//! end leaving another's creation alone.

use super::*;

#[test]
fn a_writer_context_takes_its_calls_in_rule_s1_order() {
    use Hresult::{BadState as Bad, ObjectNotFound, Ok};
    let mut c = service();
    #[rustfmt::skip]
    let steps = [
        (NO_WRITERS, Bad), (INIT, Ok), (INIT, Bad),
        (COMPONENT, Bad), (STATUS, Bad), (START, Bad), (GATHER, Ok), (GATHER, Bad),
        (NO_WRITERS, Bad), (STATUS, Ok), (START, Ok), (START, Bad), (ADD, Ok),
        (PREPARE, Bad), (COMPLETE, Bad), (SUCCEEDED, Bad), (FULL, Ok), (DO_SET, Bad),
        (PREPARE, Ok), (PREPARE, Bad), (FULL, Bad), (COMPONENT, Bad), (DO_SET, Ok),
        (FULL, Bad), (PREPARE, Bad), (SUCCEEDED, ObjectNotFound), (COMPLETE, Ok),
        (COMPLETE, Bad), (ABORT, Ok),
    ];
    let calls: Vec<ApiCall> = steps.iter().map(|(call, _)| call.clone()).collect();
    let want: Vec<Hresult> = steps.iter().map(|(_, result)| *result).collect();
    assert_eq!(replies(&mut c, &calls), want);
    // AbortBackup after BackupComplete changes nothing: the shadow stays until Release.
    assert_eq!(shadow_status(&c, 101), Some(ShadowStatus::Exists));
    call(&mut c, 1, ApiCall::Release);
    assert_eq!(shadow_status(&c, 101), Some(ShadowStatus::Released));
    assert_eq!(replies(&mut c, &[INIT]), [Bad], "a released object");
}

#[test]
fn component_mode_and_abort_backup_in_a_writer_context() {
    use Hresult::{BadState as Bad, Ok};
    let mut c = service();
    let components = ApiCall::SetBackupState {
        select_components: true,
        backup_type: BackupType::Full,
        bootable_system_state: false,
        partial_file_support: false,
    };
    #[rustfmt::skip]
    let steps = [
        (INIT, Ok), (components, Ok), (GATHER, Ok), (COMPONENT, Ok), (START, Ok),
        (ADD, Ok), (PREPARE, Ok), (DO_SET, Ok), (SUCCEEDED, Ok),
    ];
    let calls: Vec<ApiCall> = steps.iter().map(|(call, _)| call.clone()).collect();
    let want: Vec<Hresult> = steps.iter().map(|(_, result)| *result).collect();
    assert_eq!(replies(&mut c, &calls), want);
    // AbortBackup after the writer's PostSnapshot: no OnAbort (rules 16, S10); the set's
    // shadows are deleted (rule 22) and the backup is over.
    let out = call(&mut c, 1, ABORT);
    assert_eq!(delivered(&out), vec![]);
    assert_eq!(shadow_status(&c, 101), Some(ShadowStatus::Deleted));
    assert_eq!(replies(&mut c, &[FULL, STATUS, COMPLETE]), [Bad, Bad, Bad]);
}

#[test]
fn a_writerless_context_refuses_the_writer_calls_rule_24() {
    use Hresult::{AsyncFinished, BadState as Bad, Ok};
    let mut c = service();
    #[rustfmt::skip]
    let steps = [
        (INIT, Ok), (NO_WRITERS, Ok), (NO_WRITERS, Bad), (START, Ok), (GATHER, Ok),
        (COMPONENT, Bad), (ADD, Ok), (PREPARE, Bad), (DO_SET, Ok), (COMPLETE, Bad),
    ];
    let calls: Vec<ApiCall> = steps.iter().map(|(call, _)| call.clone()).collect();
    let want: Vec<Hresult> = steps.iter().map(|(_, result)| *result).collect();
    assert_eq!(replies(&mut c, &calls), want);
    assert_eq!(shadow_status(&c, 101), Some(ShadowStatus::Exists));
    // Aborted: the metadata can no longer be asked for.
    let mut c = service();
    assert_eq!(
        replies(&mut c, &[INIT, NO_WRITERS, START, ABORT, GATHER]),
        [Ok, Ok, Ok, Ok, Bad]
    );
    let _ = AsyncFinished;
}

/// A backup whose DoSnapshotSet the provider fails at `stage` (`VSS_E_PROVIDER_VETO`, rule 16);
/// every other answer healthy. Returns the service and DoSnapshotSet's outputs.
fn vetoed_at(stage: ProviderCall) -> (Coordinator, Vec<Output>) {
    let mut c = service();
    prepared(&mut c, R, 0, 100, false);
    let out = call(&mut c, 1, DO_SET);
    let out = settle_with(&mut c, 1, out, &|o| match *o {
        Output::ProviderCall { call, token, .. } if call == stage => Some(Input::ProviderAnswer {
            token,
            result: Hresult::ProviderVeto,
        }),
        _ => healthy(o),
    });
    assert_eq!(
        done(&out, R, ApiCallKind::DoSnapshotSet),
        Some(Hresult::ProviderVeto),
        "{stage:?}"
    );
    (c, out)
}

#[test]
fn a_failed_creation_aborts_the_writers_between_prepare_for_snapshot_and_thaw_rules_14_16() {
    use ProviderCall::*;
    // (stage that fails, OnAbort sent, held writes released by the clean-up)
    let cases = [
        (EndPrepareSnapshots, true, 0),
        (CommitSnapshots, true, 1),
        (PostCommitSnapshots, true, 0),
        (PreFinalCommitSnapshots, true, 0),
        (PostFinalCommitSnapshots, false, 0),
    ];
    for (stage, abort, cleanup_release) in cases {
        let (c, out) = vetoed_at(stage);
        let aborts = count(&out, |o| {
            matches!(
                o,
                Output::WriterEvent {
                    event: WriterEvent::Abort,
                    ..
                }
            )
        });
        assert_eq!(aborts, usize::from(abort), "{stage:?}: {out:?}");
        if abort {
            // Rule 14: back to STABLE / S_OK.
            assert_eq!(
                c.writer_status(W),
                (WriterState::Stable, Hresult::Ok),
                "{stage:?}"
            );
        }
        // The held writes are released once: by the clean-up inside the hold, after the
        // commits otherwise, never before the hold.
        let releases = count(&out, |o| matches!(o, Output::ReleaseWrites { .. }));
        let in_order = matches!(
            stage,
            PostCommitSnapshots | PreFinalCommitSnapshots | PostFinalCommitSnapshots
        );
        assert_eq!(
            releases,
            cleanup_release + usize::from(in_order),
            "{stage:?}: {out:?}"
        );
        // No shadow of the failed set survives (rule 14).
        assert!(
            c.shadows()
                .iter()
                .all(|sh| sh.status != ShadowStatus::Exists),
            "{stage:?}"
        );
    }
}

#[test]
fn a_writer_handed_thaw_gets_no_abort_when_the_creation_ends_rule_14() {
    let mut c = service();
    prepared(&mut c, R, 0, 100, false);
    let out = call(&mut c, 1, DO_SET);
    let out = settle_with(&mut c, 1, out, &|o| match o {
        Output::WriterEvent {
            event: WriterEvent::Thaw,
            ..
        } => None,
        _ => healthy(o),
    });
    let [(WriterEvent::Thaw, thaw)] = delivered(&out)
        .into_iter()
        .filter(|(e, _)| *e == WriterEvent::Thaw)
        .collect::<Vec<_>>()[..]
    else {
        panic!("{out:?}");
    };
    let out = call(&mut c, 2, ABORT);
    assert_eq!(
        done(&out, R, ApiCallKind::DoSnapshotSet),
        Some(Hresult::AsyncCancelled)
    );
    assert_eq!(delivered(&out), vec![], "no OnAbort after Thaw");
    // Its Thaw still completes (rule 14).
    let out = answer(&mut c, 3, thaw);
    assert_eq!(
        c.writer_status(W),
        (WriterState::WaitingForPostSnapshot, Hresult::Ok),
        "{out:?}"
    );
}

#[test]
fn cancel_reports_an_ended_operation_and_ends_a_running_one_rules_s13_25() {
    let mut c = service();
    assert_eq!(
        replies(&mut c, &[INIT, ApiCall::Cancel]),
        [Hresult::Ok, Hresult::BadState]
    );
    // GatherWriterMetadata running: Cancel ends it, cancelled; asked again, it says so.
    let out = call(&mut c, 1, GATHER);
    assert_eq!(delivered(&out).len(), 1);
    let out = call(&mut c, 2, ApiCall::Cancel);
    assert_eq!(replied(&out, ApiCallKind::Cancel), Some(Hresult::Ok));
    assert_eq!(
        done(&out, R, ApiCallKind::GatherWriterMetadata),
        Some(Hresult::AsyncCancelled)
    );
    let out = call(&mut c, 3, ApiCall::Cancel);
    assert_eq!(
        replied(&out, ApiCallKind::Cancel),
        Some(Hresult::AsyncCancelled)
    );
    // A finished operation: VSS_S_ASYNC_FINISHED; a failed one: its failure.
    let (mut c, _) = vetoed_at(ProviderCall::PreCommitSnapshots);
    let out = call(&mut c, 5, ApiCall::Cancel);
    assert_eq!(
        replied(&out, ApiCallKind::Cancel),
        Some(Hresult::ProviderVeto)
    );
    let mut c = service();
    assert_eq!(
        replies(&mut c, &[INIT, GATHER, ApiCall::Cancel]),
        [Hresult::Ok, Hresult::Ok, Hresult::AsyncFinished]
    );
}

#[test]
fn cancel_aborts_do_snapshot_set_before_the_release_and_not_after_rule_25() {
    // Before the release: the creation is aborted.
    let mut c = service();
    prepared(&mut c, R, 0, 100, false);
    let out = call(&mut c, 1, DO_SET);
    assert_eq!(delivered(&out).len(), 1, "PrepareForSnapshot");
    let out = call(&mut c, 2, ApiCall::Cancel);
    assert_eq!(replied(&out, ApiCallKind::Cancel), Some(Hresult::Ok));
    assert_eq!(
        done(&out, R, ApiCallKind::DoSnapshotSet),
        Some(Hresult::AsyncCancelled)
    );
    // After the release: nothing changes, the set is made.
    let mut c = service();
    prepared(&mut c, R, 0, 100, false);
    let out = call(&mut c, 1, DO_SET);
    let out = settle_with(&mut c, 1, out, &|o| match o {
        Output::ProviderCall {
            call: ProviderCall::PostCommitSnapshots,
            ..
        } => None,
        _ => healthy(o),
    });
    let [post_commit] = out
        .iter()
        .filter_map(|o| match o {
            Output::ProviderCall {
                call: ProviderCall::PostCommitSnapshots,
                token,
                ..
            } => Some(*token),
            _ => None,
        })
        .collect::<Vec<_>>()[..]
    else {
        panic!("{out:?}");
    };
    let out = call(&mut c, 2, ApiCall::Cancel);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(replied(&out, ApiCallKind::Cancel), Some(Hresult::Ok));
    let out = feed(
        &mut c,
        3,
        Input::ProviderAnswer {
            token: post_commit,
            result: Hresult::Ok,
        },
    );
    let out = settle_with(&mut c, 3, out, &healthy);
    assert_eq!(
        done(&out, R, ApiCallKind::DoSnapshotSet),
        Some(Hresult::AsyncFinished)
    );
}

/// A's backup made its set (set 100); B's DoSnapshotSet (set 200) is waiting for the writer's
/// PrepareForSnapshot. Returns the service and that event's token.
fn b_creating_after_a() -> (Coordinator, u64) {
    let mut c = two_sessions();
    prepared(&mut c, A, 0, 100, false);
    settled(&mut c, A, 1, DO_SET);
    prepared(&mut c, B, 2, 200, false);
    let out = call_as(&mut c, B, 3, DO_SET);
    let [(WriterEvent::PrepareForSnapshot, t)] = delivered(&out)[..] else {
        panic!("{out:?}");
    };
    (c, t)
}

#[test]
fn one_session_ending_leaves_another_sessions_creation_alone() {
    for end in [ABORT, ApiCall::Release] {
        let (mut c, t) = b_creating_after_a();
        let out = call_as(&mut c, A, 4, end.clone());
        assert_eq!(done(&out, B, ApiCallKind::DoSnapshotSet), None, "{end:?}");
        // A's set is gone with it (deleted, or released: rules 22, 27); B's creation goes on.
        assert_ne!(shadow_status(&c, 101), Some(ShadowStatus::Exists));
        let out = answer(&mut c, 5, t);
        let out = settle_with(&mut c, 5, out, &healthy);
        assert_eq!(
            done(&out, B, ApiCallKind::DoSnapshotSet),
            Some(Hresult::AsyncFinished),
            "{end:?}"
        );
        assert_eq!(shadow_status(&c, 201), Some(ShadowStatus::Exists));
    }
}

#[test]
fn releasing_one_session_keeps_the_creation_slot_another_holds_rule_20() {
    let mut c = Coordinator::new(Profile::windows(), Machine::one_writer_one_volume(), 3);
    let r2 = RequesterId(2);
    for r in [A, B, r2] {
        call_as(&mut c, r, 0, INIT);
        call_as(&mut c, r, 0, NO_WRITERS);
    }
    assert_eq!(
        replied(&call_as(&mut c, A, 1, START), ApiCallKind::StartSnapshotSet),
        Some(Hresult::Ok)
    );
    call_as(&mut c, B, 2, ApiCall::Release);
    let start = ApiCall::StartSnapshotSet { new_id: Guid(300) };
    assert_eq!(
        replied(
            &call_as(&mut c, r2, 3, start.clone()),
            ApiCallKind::StartSnapshotSet
        ),
        Some(Hresult::SnapshotSetInProgress)
    );
    call_as(&mut c, A, 4, ApiCall::Release);
    assert_eq!(
        replied(
            &call_as(&mut c, r2, 5, start),
            ApiCallKind::StartSnapshotSet
        ),
        Some(Hresult::Ok)
    );
}

#[test]
fn abort_backup_during_its_own_creation_cancels_it_rule_22() {
    let mut c = service();
    prepared(&mut c, R, 0, 100, false);
    let out = call(&mut c, 1, DO_SET);
    let [(WriterEvent::PrepareForSnapshot, _)] = delivered(&out)[..] else {
        panic!("{out:?}");
    };
    let out = call(&mut c, 2, ABORT);
    assert_eq!(
        done(&out, R, ApiCallKind::DoSnapshotSet),
        Some(Hresult::AsyncCancelled)
    );
    assert_eq!(
        count(&out, |o| matches!(
            o,
            Output::ProviderCall {
                call: ProviderCall::AbortSnapshots,
                ..
            }
        )),
        1,
        "{out:?}"
    );
}

/// The states shadow `id` is put in, in order, in `out` (rule S29).
fn snapshot_states(out: &[Output], id: u128) -> Vec<SnapshotState> {
    out.iter()
        .filter_map(|o| match *o {
            Output::SnapshotState {
                snapshot, state, ..
            } if snapshot == Guid(id) => Some(state),
            _ => None,
        })
        .collect()
}

#[test]
fn each_shadow_copy_moves_along_the_provider_calls_to_created_aborted_or_deleted_rule_s29() {
    use SnapshotState::*;
    let mut c = service();
    prepared(&mut c, R, 0, 100, false);
    let out = settled(&mut c, R, 1, DO_SET);
    assert_eq!(
        snapshot_states(&out, 101),
        vec![
            ProcessingPrepare,
            Prepared,
            ProcessingPrecommit,
            Precommitted,
            ProcessingCommit,
            Committed,
            ProcessingPostcommit,
            Postcommitted,
            ProcessingPrefinalcommit,
            Prefinalcommitted,
            ProcessingPostfinalcommit,
            Created,
        ]
    );
    // An auto-release shadow copy goes with its requester's release.
    let out = settled(&mut c, R, 2, ApiCall::Release);
    assert_eq!(snapshot_states(&out, 101), vec![Deleted]);
    // A creation that fails leaves it aborted, whatever step it had reached.
    let (_, out) = vetoed_at(ProviderCall::CommitSnapshots);
    assert_eq!(snapshot_states(&out, 101).last(), Some(&Aborted));
    // So does a set dropped before DoSnapshotSet.
    let mut c = service();
    prepared(&mut c, R, 0, 100, false);
    let out = settled(&mut c, R, 1, ApiCall::AbortBackup);
    assert_eq!(snapshot_states(&out, 101), vec![Aborted]);
}
