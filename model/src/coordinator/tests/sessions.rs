//! Sessions and their objects: who an answer counts for, component mode, AddComponent, the
//! flush-and-hold's stale answers, out-of-sequence calls, stage calls and freeze order.

use super::*;

#[test]
fn a_failed_creation_leaves_the_shadows_of_other_sets_alone() {
    let mut c = two_sessions();
    prepared(&mut c, A, 0, 100, false);
    let out = settled(&mut c, A, 1, ApiCall::DoSnapshotSet);
    assert_eq!(
        done(&out, A, ApiCallKind::DoSnapshotSet),
        Some(Hresult::AsyncFinished)
    );
    assert_eq!(shadow_status(&c, 101), Some(ShadowStatus::Exists));
    // B's creation fails after its commit (PostCommitSnapshots refused, rule 16): its own
    // shadow is aborted (rule 14), A's stays.
    prepared(&mut c, B, 2, 200, false);
    let out = call_as(&mut c, B, 3, ApiCall::DoSnapshotSet);
    let out = settle_with(&mut c, 3, out, &|o| match *o {
        Output::ProviderCall {
            call: ProviderCall::PostCommitSnapshots,
            token,
            ..
        } => Some(Input::ProviderAnswer {
            token,
            result: Hresult::ProviderVeto,
        }),
        _ => healthy(o),
    });
    assert!(done(&out, B, ApiCallKind::DoSnapshotSet).is_some_and(|r| !r.is_success()));
    assert_eq!(shadow_status(&c, 201), Some(ShadowStatus::Aborted));
    assert_eq!(shadow_status(&c, 101), Some(ShadowStatus::Exists));
    assert!(
        !out.iter()
            .any(|o| matches!(o, Output::DeleteShadow { snapshot, .. } if *snapshot == Guid(101))),
        "{out:?}"
    );
}

#[test]
fn a_writer_answer_to_a_session_it_no_longer_backs_up_for_changes_nothing() {
    let mut c = two_sessions();
    prepared(&mut c, A, 0, 100, false);
    settled(&mut c, A, 1, ApiCall::DoSnapshotSet);
    assert_eq!(
        c.writer_status(W),
        (WriterState::WaitingForBackupComplete, Hresult::Ok)
    );
    // B's PrepareForBackup takes the writer into B's backup (rule 9).
    prepared(&mut c, B, 2, 200, false);
    assert_eq!(c.writer_status(W), (WriterState::Stable, Hresult::Ok));
    // A's BackupComplete fails in the writer: the state B's backup sees stays.
    let out = call_as(&mut c, A, 3, ApiCall::BackupComplete);
    let [(WriterEvent::BackupComplete, t)] = delivered(&out)[..] else {
        panic!("BackupComplete is delivered: {out:?}");
    };
    let out = feed(
        &mut c,
        4,
        Input::WriterAnswer {
            token: t,
            result: Hresult::WriterErrorRetryable,
        },
    );
    assert!(
        !out.iter()
            .any(|o| matches!(o, Output::WriterStateChanged { .. })),
        "{out:?}"
    );
    assert_eq!(c.writer_status(W), (WriterState::Stable, Hresult::Ok));
    // A's operation still finishes (rule 8: the failure shows in the writer status only).
    assert_eq!(
        done(&out, A, ApiCallKind::BackupComplete),
        Some(Hresult::AsyncFinished)
    );
}

#[test]
fn a_failed_identify_is_service_wide_whoever_the_writer_backs_up_for() {
    let mut c = two_sessions();
    prepared(&mut c, A, 0, 100, false);
    call_as(&mut c, B, 1, ApiCall::InitializeForBackup);
    let out = call_as(&mut c, B, 2, ApiCall::GatherWriterMetadata);
    let [(WriterEvent::Identify, t)] = delivered(&out)[..] else {
        panic!("Identify is delivered: {out:?}");
    };
    feed(
        &mut c,
        3,
        Input::WriterAnswer {
            token: t,
            result: Hresult::WriterErrorRetryable,
        },
    );
    assert_eq!(
        c.writer_status(W),
        (WriterState::FailedAtIdentify, Hresult::WriterErrorRetryable)
    );
}

/// The events delivered by PrepareForBackup after SetBackupState(`components`), with the
/// writer's one component added or not.
fn prepare_for_backup_targets(components: bool, add: bool) -> Vec<(WriterEvent, u64)> {
    let mut c = service();
    for call in [
        ApiCall::InitializeForBackup,
        ApiCall::SetBackupState {
            select_components: components,
            backup_type: BackupType::Full,
            bootable_system_state: false,
            partial_file_support: false,
        },
        ApiCall::GatherWriterMetadata,
    ] {
        settled(&mut c, R, 0, call);
    }
    if add {
        let out = call(
            &mut c,
            1,
            ApiCall::AddComponent(Some(ComponentRef { writer: W, idx: 0 })),
        );
        assert!(
            out.iter().any(|o| matches!(
                o,
                Output::Reply {
                    result: Hresult::Ok,
                    ..
                }
            )),
            "{out:?}"
        );
    }
    call(&mut c, 2, ApiCall::StartSnapshotSet { new_id: Guid(10) });
    delivered(&call(&mut c, 3, ApiCall::PrepareForBackup))
}

#[test]
fn component_mode_prepares_only_writers_with_a_selected_component_rule_23() {
    // Component mode: a writer without an explicitly added component takes no part.
    assert_eq!(prepare_for_backup_targets(true, false), vec![]);
    assert!(matches!(
        prepare_for_backup_targets(true, true)[..],
        [(WriterEvent::PrepareForBackup, _)]
    ));
    // Non-component mode: every writer that answered Identify, added components or not.
    for add in [false, true] {
        assert!(matches!(
            prepare_for_backup_targets(false, add)[..],
            [(WriterEvent::PrepareForBackup, _)]
        ));
    }
}

#[test]
fn add_component_refuses_a_writer_that_did_not_answer_identify_and_an_unknown_component() {
    let add = |c: &mut Coordinator, writer, idx| {
        let out = call(
            c,
            5,
            ApiCall::AddComponent(Some(ComponentRef { writer, idx })),
        );
        match out[..] {
            [Output::Reply { result, .. }] => result,
            _ => panic!("{out:?}"),
        }
    };
    // The writer failed Identify: it is not in the metadata, its components cannot be added.
    let mut c = service();
    call(&mut c, 0, ApiCall::InitializeForBackup);
    let out = call(&mut c, 1, ApiCall::GatherWriterMetadata);
    let [(WriterEvent::Identify, t)] = delivered(&out)[..] else {
        panic!("{out:?}");
    };
    feed(
        &mut c,
        2,
        Input::WriterAnswer {
            token: t,
            result: Hresult::WriterErrorRetryable,
        },
    );
    assert_eq!(add(&mut c, W, 0), Hresult::ObjectNotFound);
    // It answered: its one component (index 0) is added once; index 1 does not exist.
    let mut c = service();
    settled(&mut c, R, 0, ApiCall::InitializeForBackup);
    settled(&mut c, R, 1, ApiCall::GatherWriterMetadata);
    assert_eq!(add(&mut c, W, 1), Hresult::ObjectNotFound);
    assert_eq!(add(&mut c, W, 0), Hresult::Ok);
    assert_eq!(add(&mut c, W, 0), Hresult::ObjectAlreadyExists);
}

/// Requester `r`'s DoSnapshotSet at `at_ms`, settled up to the flush-and-hold, whose flush
/// never ends. Returns the hold's token.
fn held(c: &mut Coordinator, r: RequesterId, at_ms: u64) -> u64 {
    let out = call_as(c, r, at_ms, ApiCall::DoSnapshotSet);
    let out = settle_with(c, at_ms, out, &|o| match o {
        Output::FlushAndHold { .. } => None,
        _ => healthy(o),
    });
    let [hold] = out
        .iter()
        .filter_map(|o| match o {
            Output::FlushAndHold { token, .. } => Some(*token),
            _ => None,
        })
        .collect::<Vec<_>>()[..]
    else {
        panic!("one flush-and-hold: {out:?}");
    };
    hold
}

fn commits(out: &[Output]) -> usize {
    out.iter()
        .filter(|o| {
            matches!(
                o,
                Output::ProviderCall {
                    call: ProviderCall::CommitSnapshots,
                    ..
                }
            )
        })
        .count()
}

#[test]
fn a_stale_flush_done_commits_nothing() {
    let mut c = two_sessions();
    prepared(&mut c, A, 0, 100, false);
    let first = held(&mut c, A, 1);
    // A's flush never ends: the hold window (10 s + 1 µs, rule 13b) fails A's creation.
    let end = Instant::from_us(1_000).deadline_after(Profile::windows().flush_and_hold_timeout);
    let mut out = Vec::new();
    c.handle(
        end,
        Input::Timer(Timer::HoldWindow { token: first }),
        &mut out,
    );
    assert_eq!(
        done(&out, A, ApiCallKind::DoSnapshotSet),
        Some(Hresult::FlushWritesTimeout)
    );
    // The writer's OnAbort (rule 14) returns.
    settle_with(&mut c, 11_002, out, &healthy);
    // B's creation reaches its own hold; A's flush ending now is for a hold long gone.
    prepared(&mut c, B, 20_000, 200, false);
    let second = held(&mut c, B, 20_001);
    assert_ne!(first, second);
    let out = feed(&mut c, 20_002, Input::FlushDone { token: first });
    assert_eq!(out, vec![]);
    // So is A's hold timer, should it fire again.
    let out = feed(
        &mut c,
        20_002,
        Input::Timer(Timer::HoldWindow { token: first }),
    );
    assert_eq!(out, vec![]);
    // B's own flush, then a repeat of it once the hold is released: one commit in all.
    let out = feed(&mut c, 20_003, Input::FlushDone { token: second });
    assert_eq!(commits(&out), 1, "{out:?}");
    // The commit is in and the writes released: B's hold timer firing later fails nothing.
    let out = settle_with(&mut c, 20_003, out, &|o| match o {
        Output::ProviderCall {
            call: ProviderCall::PostCommitSnapshots,
            ..
        } => None,
        _ => healthy(o),
    });
    assert!(
        out.contains(&Output::ReleaseWrites {
            volumes: vec![C].into()
        }),
        "{out:?}"
    );
    let late =
        Instant::from_us(20_001_000).deadline_after(Profile::windows().flush_and_hold_timeout);
    let mut timer_out = Vec::new();
    c.handle(
        late,
        Input::Timer(Timer::HoldWindow { token: second }),
        &mut timer_out,
    );
    assert_eq!(timer_out, vec![]);
    let post_commit = out
        .iter()
        .find_map(|o| match o {
            Output::ProviderCall {
                call: ProviderCall::PostCommitSnapshots,
                token,
                ..
            } => Some(*token),
            _ => None,
        })
        .expect("PostCommitSnapshots is called");
    let out = feed(
        &mut c,
        40_000,
        Input::ProviderAnswer {
            token: post_commit,
            result: Hresult::Ok,
        },
    );
    let out = settle_with(&mut c, 40_000, out, &healthy);
    assert_eq!(
        done(&out, B, ApiCallKind::DoSnapshotSet),
        Some(Hresult::AsyncFinished)
    );
    assert_eq!(
        feed(&mut c, 20_004, Input::FlushDone { token: second }),
        vec![]
    );
}

#[test]
fn a_flush_that_ends_at_the_hold_timer_instant_is_late_rule_13b() {
    let mut c = service();
    prepared(&mut c, R, 0, 100, false);
    let hold = held(&mut c, R, 1);
    let end = Instant::from_us(1_000).deadline_after(Profile::windows().flush_and_hold_timeout);
    let mut out = Vec::new();
    c.handle(end, Input::FlushDone { token: hold }, &mut out);
    assert_eq!(commits(&out), 0, "{out:?}");
    // One microsecond earlier it would have been in time.
    let mut c = service();
    prepared(&mut c, R, 0, 100, false);
    let hold = held(&mut c, R, 1);
    let mut out = Vec::new();
    c.handle(
        Instant::from_us(end.as_us() - 1),
        Input::FlushDone { token: hold },
        &mut out,
    );
    assert_eq!(commits(&out), 1, "{out:?}");
}

#[test]
fn the_host_is_told_which_event_or_call_an_answer_belongs_to() {
    let mut profile = Profile::windows();
    profile.writer_response_timeout = crate::time::Duration::from_secs(7);
    let mut c = Coordinator::new(profile.clone(), Machine::one_writer_one_volume(), 2);
    assert_eq!(c.profile(), &profile);
    assert_eq!(c.machine(), &Machine::one_writer_one_volume());
    assert!(c.is_idle());
    call_as(&mut c, A, 0, ApiCall::InitializeForBackup);
    call_as(&mut c, B, 0, ApiCall::InitializeForBackup);
    let [(WriterEvent::Identify, a)] =
        delivered(&call_as(&mut c, A, 1, ApiCall::GatherWriterMetadata))[..]
    else {
        panic!("A's Identify runs");
    };
    // B's Identify waits in the writer's mailbox (rule 30): nothing answers it yet.
    let out = call_as(&mut c, B, 1, ApiCall::GatherWriterMetadata);
    assert_eq!(delivered(&out), vec![]);
    let b = a + 2;
    assert_eq!(c.pending_event(a), Some((W, WriterEvent::Identify)));
    assert_eq!(c.pending_event(b), None);
    assert!(!c.is_idle());
    let out = answer(&mut c, 2, a);
    assert_eq!(delivered(&out), vec![(WriterEvent::Identify, b)]);
    assert_eq!(c.pending_event(a), None);
    assert_eq!(c.pending_event(b), Some((W, WriterEvent::Identify)));
    answer(&mut c, 3, b);
    assert!(c.is_idle());
    // A provider call, until it is answered.
    settled(
        &mut c,
        A,
        4,
        ApiCall::StartSnapshotSet { new_id: Guid(100) },
    );
    let out = call_as(
        &mut c,
        A,
        5,
        ApiCall::AddToSnapshotSet {
            volume: Some(C),
            provider: ProviderArg::Any,
            new_id: Guid(101),
        },
    );
    let [
        Output::ProviderCall {
            provider,
            call,
            token,
            ..
        },
    ] = out[..]
    else {
        panic!("{out:?}");
    };
    assert_eq!(call, ProviderCall::BeginPrepareSnapshot);
    assert_eq!(c.pending_call(token), Some((provider, call)));
    assert!(!c.is_idle());
    feed(
        &mut c,
        6,
        Input::ProviderAnswer {
            token,
            result: Hresult::Ok,
        },
    );
    assert_eq!(c.pending_call(token), None);
    assert!(c.is_idle());
    // An event voided by a failed creation still runs, but nobody waits for its answer.
    let out = settled(
        &mut c,
        A,
        7,
        ApiCall::SetBackupState {
            select_components: false,
            backup_type: BackupType::Full,
            bootable_system_state: false,
            partial_file_support: false,
        },
    );
    assert_eq!(out.len(), 1);
    settled(&mut c, A, 8, ApiCall::PrepareForBackup);
    let out = call_as(&mut c, A, 9, ApiCall::DoSnapshotSet);
    let [(WriterEvent::PrepareForSnapshot, t)] = delivered(&out)[..] else {
        panic!("{out:?}");
    };
    assert_eq!(
        c.pending_event(t),
        Some((W, WriterEvent::PrepareForSnapshot))
    );
    call_as(&mut c, A, 10, ApiCall::AbortBackup);
    assert_eq!(c.pending_event(t), None);
    assert!(!c.is_idle(), "OnAbort runs");
}

#[test]
fn release_ends_the_object_and_a_new_one_starts_in_the_backup_context() {
    let mut c = service();
    call(&mut c, 0, ApiCall::InitializeForBackup);
    call(
        &mut c,
        1,
        ApiCall::SetContext(crate::vss::SnapshotContext::FileShareBackup),
    );
    assert_eq!(
        c.session_context(R),
        crate::vss::SnapshotContext::FileShareBackup
    );
    assert!(!c.is_released(R));
    call(&mut c, 2, ApiCall::Release);
    assert!(c.is_released(R));
    feed(&mut c, 3, Input::NewObject { requester: R });
    assert!(!c.is_released(R));
    assert_eq!(c.session_context(R), crate::vss::SnapshotContext::Backup);
}

#[test]
fn do_snapshot_set_is_refused_out_of_sequence() {
    let dss = |c: &mut Coordinator| {
        replied(
            &call(c, 50, ApiCall::DoSnapshotSet),
            ApiCallKind::DoSnapshotSet,
        )
    };
    // Writer context: no set yet; a set but no PrepareForBackup; an AddToSnapshotSet still
    // waiting for its provider.
    let mut c = service();
    for call in [
        ApiCall::InitializeForBackup,
        ApiCall::SetBackupState {
            select_components: false,
            backup_type: BackupType::Full,
            bootable_system_state: false,
            partial_file_support: false,
        },
        ApiCall::GatherWriterMetadata,
    ] {
        settled(&mut c, R, 0, call);
    }
    assert_eq!(dss(&mut c), Some(Hresult::BadState));
    settled(
        &mut c,
        R,
        1,
        ApiCall::StartSnapshotSet { new_id: Guid(100) },
    );
    settled(
        &mut c,
        R,
        2,
        ApiCall::AddToSnapshotSet {
            volume: Some(C),
            provider: ProviderArg::Any,
            new_id: Guid(101),
        },
    );
    assert_eq!(dss(&mut c), Some(Hresult::BadState), "not prepared");
    settled(&mut c, R, 3, ApiCall::PrepareForBackup);
    // Once, and not again.
    assert_eq!(dss(&mut c), Some(Hresult::Ok));
    assert_eq!(dss(&mut c), Some(Hresult::BadState));

    // Writer-less: no PrepareForBackup, but not while an AddToSnapshotSet is outstanding.
    let mut c = service();
    call(&mut c, 0, ApiCall::InitializeForBackup);
    call(
        &mut c,
        1,
        ApiCall::SetContext(crate::vss::SnapshotContext::FileShareBackup),
    );
    call(&mut c, 2, ApiCall::StartSnapshotSet { new_id: Guid(100) });
    let out = call(
        &mut c,
        3,
        ApiCall::AddToSnapshotSet {
            volume: Some(C),
            provider: ProviderArg::Any,
            new_id: Guid(101),
        },
    );
    let [Output::ProviderCall { token, .. }] = out[..] else {
        panic!("{out:?}");
    };
    assert_eq!(dss(&mut c), Some(Hresult::BadState), "add outstanding");
    feed(
        &mut c,
        4,
        Input::ProviderAnswer {
            token,
            result: Hresult::Ok,
        },
    );
    assert_eq!(dss(&mut c), Some(Hresult::Ok));
}

#[test]
fn each_provider_is_called_once_per_stage_with_all_its_volumes() {
    let mut machine = Machine::one_writer_one_volume();
    machine.volumes.push(crate::machine::VolumeInfo {
        name: "D:\\".into(),
        bytes: 1 << 30,
    });
    let mut c = Coordinator::new(Profile::windows(), machine, 1);
    call(&mut c, 0, ApiCall::InitializeForBackup);
    call(
        &mut c,
        1,
        ApiCall::SetContext(crate::vss::SnapshotContext::FileShareBackup),
    );
    call(&mut c, 2, ApiCall::StartSnapshotSet { new_id: Guid(100) });
    for (v, id) in [(VolumeId(1), 101), (C, 102)] {
        settled(
            &mut c,
            R,
            3,
            ApiCall::AddToSnapshotSet {
                volume: Some(v),
                provider: ProviderArg::Any,
                new_id: Guid(id),
            },
        );
    }
    let out = settled(&mut c, R, 4, ApiCall::DoSnapshotSet);
    // Writer-less (rule 24): no writer hears of it.
    assert_eq!(count(&out, |o| matches!(o, Output::WriterEvent { .. })), 0);
    let calls: Vec<(ProviderCall, Vec<VolumeId>)> = out
        .iter()
        .filter_map(|o| match o {
            Output::ProviderCall { call, volumes, .. } => Some((*call, volumes.to_vec())),
            _ => None,
        })
        .collect();
    let both = vec![VolumeId(1), C];
    assert_eq!(
        calls,
        [
            ProviderCall::EndPrepareSnapshots,
            ProviderCall::PreCommitSnapshots,
            ProviderCall::CommitSnapshots,
            ProviderCall::PostCommitSnapshots,
            ProviderCall::PreFinalCommitSnapshots,
            ProviderCall::PostFinalCommitSnapshots,
        ]
        .map(|call| (call, both.clone()))
    );
    // The hold is on both volumes, in volume order.
    assert!(
        out.contains(&Output::ReleaseWrites {
            volumes: vec![C, VolumeId(1)].into()
        }),
        "{out:?}"
    );
    assert_eq!(c.shadows().len(), 2);
}

#[test]
fn a_new_object_releases_the_one_it_replaces_once() {
    let mut c = service();
    prepared(&mut c, R, 0, 100, false);
    settled(&mut c, R, 1, ApiCall::DoSnapshotSet);
    assert_eq!(shadow_status(&c, 101), Some(ShadowStatus::Exists));
    // The process made a new object without releasing the old one: the old one is released
    // (rule 27): BackupShutdown, its auto-release shadow deleted.
    let out = feed(&mut c, 2, Input::NewObject { requester: R });
    assert!(
        matches!(delivered(&out)[..], [(WriterEvent::BackupShutdown, _)]),
        "{out:?}"
    );
    assert_eq!(shadow_status(&c, 101), Some(ShadowStatus::Released));
    settle_with(&mut c, 2, out, &healthy);
    // A released object replaced: nothing is sent again.
    call(&mut c, 3, ApiCall::InitializeForBackup);
    call(&mut c, 3, ApiCall::Release);
    assert!(c.is_released(R));
    let out = feed(&mut c, 4, Input::NewObject { requester: R });
    assert_eq!(out, vec![]);
}

#[test]
fn an_answer_to_a_replaced_object_counts_for_nothing() {
    let mut c = service();
    call(&mut c, 0, ApiCall::InitializeForBackup);
    let out = call(&mut c, 1, ApiCall::GatherWriterMetadata);
    let [(WriterEvent::Identify, old)] = delivered(&out)[..] else {
        panic!("{out:?}");
    };
    feed(&mut c, 2, Input::NewObject { requester: R });
    call(&mut c, 3, ApiCall::InitializeForBackup);
    let out = call(&mut c, 4, ApiCall::GatherWriterMetadata);
    assert_eq!(
        delivered(&out),
        vec![],
        "the writer is still in the old Identify"
    );
    // The old object's Identify returns: ignored; the new one's is handed over.
    let out = answer(&mut c, 5, old);
    assert!(
        out.contains(&Output::LateAnswerIgnored { token: old }),
        "{out:?}"
    );
    assert_eq!(done(&out, R, ApiCallKind::GatherWriterMetadata), None);
    let [(WriterEvent::Identify, new)] = delivered(&out)[..] else {
        panic!("{out:?}");
    };
    let out = answer(&mut c, 6, new);
    assert!(out.iter().any(|o| matches!(
        o,
        Output::AsyncDone { data: crate::api::ReplyData::WriterMetadata(ids), .. } if ids == &[W]
    )), "{out:?}");
}

#[test]
fn writers_freeze_by_application_level_and_thaw_in_reverse_rule_2() {
    use crate::vss::ApplicationLevel::{BackEnd, FrontEnd, System, SystemRm};
    let mut machine = Machine::one_writer_one_volume();
    let one = machine.writers[0].clone();
    machine.writers = [SystemRm, FrontEnd, System, BackEnd]
        .into_iter()
        .map(|level| crate::machine::WriterInfo {
            level,
            ..one.clone()
        })
        .collect();
    let mut c = Coordinator::new(Profile::windows(), machine, 1);
    prepared(&mut c, R, 0, 100, false);
    let out = settled(&mut c, R, 1, ApiCall::DoSnapshotSet);
    let order = |wanted: WriterEvent| -> Vec<u16> {
        out.iter()
            .filter_map(|o| match o {
                Output::WriterEvent { writer, event, .. } if *event == wanted => Some(writer.0),
                _ => None,
            })
            .collect()
    };
    assert_eq!(order(WriterEvent::Freeze), [1, 3, 2, 0]);
    assert_eq!(order(WriterEvent::Thaw), [0, 2, 3, 1]);
    assert_eq!(
        done(&out, R, ApiCallKind::DoSnapshotSet),
        Some(Hresult::AsyncFinished)
    );
}
