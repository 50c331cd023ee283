//! The coordinator driven through `handle` alone: inputs in, outputs checked.

use std::collections::VecDeque;

use super::Coordinator;
use crate::api::{
    ApiCall, ApiCallKind, ComponentRef, Input, Output, ProviderArg, ShadowStatus, Timer,
};
use crate::ids::{Guid, RequesterId, VolumeId, WriterId};
use crate::machine::Machine;
use crate::profile::Profile;
use crate::time::Instant;
use crate::vss::{BackupType, Hresult, ProviderCall, WriterEvent, WriterState};

const R: RequesterId = RequesterId(0);
const W: WriterId = WriterId(0);

/// One writer with one component on the one volume, the system provider, one requester.
fn service() -> Coordinator {
    let machine = Machine::one_writer_one_volume();
    Coordinator::new(Profile::windows(), machine, 1)
}

fn feed(c: &mut Coordinator, at_ms: u64, input: Input) -> Vec<Output> {
    let mut out = Vec::new();
    c.handle(Instant::from_us(at_ms * 1000), input, &mut out);
    out
}

fn call(c: &mut Coordinator, at_ms: u64, call: ApiCall) -> Vec<Output> {
    feed(c, at_ms, Input::Call { requester: R, call })
}

fn answer(c: &mut Coordinator, at_ms: u64, token: u64) -> Vec<Output> {
    feed(
        c,
        at_ms,
        Input::WriterAnswer {
            token,
            result: Hresult::Ok,
        },
    )
}

/// The events handed to writer `W` in `out`, with their tokens.
fn delivered(out: &[Output]) -> Vec<(WriterEvent, u64)> {
    out.iter()
        .filter_map(|o| match o {
            Output::WriterEvent {
                writer,
                event,
                token,
                ..
            } if *writer == W => Some((*event, *token)),
            _ => None,
        })
        .collect()
}

/// The response-limit timers set in `out`: (token, when).
fn response_timers(out: &[Output]) -> Vec<(u64, Instant)> {
    out.iter()
        .filter_map(|o| match o {
            Output::SetTimer {
                at,
                timer: Timer::WriterResponse { token },
            } => Some((*token, *at)),
            _ => None,
        })
        .collect()
}

/// Initialise, gather metadata, start a set and prepare for backup; then AbortBackup, whose
/// OnAbort the writer has not answered yet. Returns the service and the Abort's token.
fn aborted_with_abort_running() -> (Coordinator, u64) {
    let mut c = service();
    call(&mut c, 0, ApiCall::InitializeForBackup);
    call(
        &mut c,
        1,
        ApiCall::SetBackupState {
            select_components: false,
            backup_type: BackupType::Full,
        },
    );
    let out = call(&mut c, 2, ApiCall::GatherWriterMetadata);
    let [(WriterEvent::Identify, t)] = delivered(&out)[..] else {
        panic!("Identify is delivered: {out:?}");
    };
    answer(&mut c, 3, t);
    call(&mut c, 4, ApiCall::StartSnapshotSet { new_id: Guid(10) });
    let out = call(&mut c, 5, ApiCall::PrepareForBackup);
    let [(WriterEvent::PrepareForBackup, t)] = delivered(&out)[..] else {
        panic!("PrepareForBackup is delivered: {out:?}");
    };
    answer(&mut c, 6, t);
    let out = call(&mut c, 7, ApiCall::AbortBackup);
    let [(WriterEvent::Abort, abort)] = delivered(&out)[..] else {
        panic!("Abort is delivered: {out:?}");
    };
    (c, abort)
}

#[test]
fn backup_shutdown_waits_for_the_running_abort_handler() {
    let (mut c, abort) = aborted_with_abort_running();
    // Rule 27: releasing sends BackupShutdown, but the writer is still in OnAbort (rule 30).
    let out = call(&mut c, 10, ApiCall::Release);
    assert!(
        out.iter().any(|o| matches!(
            o,
            Output::Reply {
                call: ApiCallKind::Release,
                result: Hresult::Ok,
                ..
            }
        )),
        "{out:?}"
    );
    assert_eq!(delivered(&out), vec![], "nothing reaches a busy writer");
    assert!(!c.is_idle(), "BackupShutdown is still to be delivered");
    // OnAbort returns at 500 ms: BackupShutdown is handed over then, and its response limit
    // (rule 11) counts from then.
    let out = answer(&mut c, 500, abort);
    let [(WriterEvent::BackupShutdown, shutdown)] = delivered(&out)[..] else {
        panic!("BackupShutdown is delivered when OnAbort returns: {out:?}");
    };
    let limit = Profile::windows().writer_response_timeout;
    assert_eq!(
        response_timers(&out),
        vec![(shutdown, Instant::from_us(500_000).deadline_after(limit))]
    );
    answer(&mut c, 501, shutdown);
    assert!(c.is_idle());
}

#[test]
fn backup_shutdown_follows_an_abort_given_up_on_and_its_late_answer_frees_nothing() {
    let (mut c, abort) = aborted_with_abort_running();
    let out = call(&mut c, 10, ApiCall::Release);
    assert_eq!(delivered(&out), vec![]);
    // OnAbort never returns: at its response limit (rule 11) it is given up on and the
    // writer takes BackupShutdown (rule 30).
    let at = Instant::from_us(7_000).deadline_after(Profile::windows().writer_response_timeout);
    let mut out = Vec::new();
    c.handle(
        at,
        Input::Timer(Timer::WriterResponse { token: abort }),
        &mut out,
    );
    let [(WriterEvent::BackupShutdown, shutdown)] = delivered(&out)[..] else {
        panic!("BackupShutdown is delivered once OnAbort is given up on: {out:?}");
    };
    // OnAbort's answer, after all: noted, ignored, and BackupShutdown still runs.
    let later = at.as_us() / 1000 + 1;
    let out = answer(&mut c, later, abort);
    assert_eq!(out, vec![Output::LateAnswerIgnored { token: abort }]);
    // A new object's Identify waits for the running BackupShutdown: the late answer did not
    // release the writer's mailbox a second time.
    feed(&mut c, later + 1, Input::NewObject { requester: R });
    call(&mut c, later + 2, ApiCall::InitializeForBackup);
    let out = call(&mut c, later + 3, ApiCall::GatherWriterMetadata);
    assert_eq!(
        delivered(&out),
        vec![],
        "the writer is still in OnBackupShutdown"
    );
    let out = answer(&mut c, later + 4, shutdown);
    assert!(
        matches!(delivered(&out)[..], [(WriterEvent::Identify, _)]),
        "{out:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// A healthy host: every writer event and provider call answered `S_OK`, every flush at once.
// ---------------------------------------------------------------------------------------------

const A: RequesterId = RequesterId(0);
const B: RequesterId = RequesterId(1);
const C: VolumeId = VolumeId(0);

/// `service()` with two requesters.
fn two_sessions() -> Coordinator {
    Coordinator::new(Profile::windows(), Machine::one_writer_one_volume(), 2)
}

fn call_as(c: &mut Coordinator, r: RequesterId, at_ms: u64, call: ApiCall) -> Vec<Output> {
    feed(c, at_ms, Input::Call { requester: r, call })
}

/// What a healthy host answers to `o`: `S_OK` from writers and providers (`AbortSnapshots` is
/// never answered), the flush done at once, an operation that needs no writer finished.
fn healthy(o: &Output) -> Option<Input> {
    match *o {
        Output::WriterEvent { token, .. } => Some(Input::WriterAnswer {
            token,
            result: Hresult::Ok,
        }),
        Output::ProviderCall { call, token, .. } if call != ProviderCall::AbortSnapshots => {
            Some(Input::ProviderAnswer {
                token,
                result: Hresult::Ok,
            })
        }
        Output::FlushAndHold { token, .. } => Some(Input::FlushDone { token }),
        Output::SetTimer {
            timer: timer @ Timer::AsyncFinish { .. },
            ..
        } => Some(Input::Timer(timer)),
        _ => None,
    }
}

/// Feeds back, at `at_ms`, what `answer` gives for each output, and for the outputs those
/// answers lead to, until nothing is left to answer. Returns every output on the way.
fn settle_with(
    c: &mut Coordinator,
    at_ms: u64,
    out: Vec<Output>,
    answer: &dyn Fn(&Output) -> Option<Input>,
) -> Vec<Output> {
    let mut all = Vec::new();
    let mut todo: VecDeque<Output> = out.into();
    while let Some(o) = todo.pop_front() {
        if let Some(input) = answer(&o) {
            todo.extend(feed(c, at_ms, input));
        }
        all.push(o);
    }
    all
}

/// Requester `r`'s call at `at_ms`, settled by a healthy host.
fn settled(c: &mut Coordinator, r: RequesterId, at_ms: u64, call: ApiCall) -> Vec<Output> {
    let out = call_as(c, r, at_ms, call);
    settle_with(c, at_ms, out, &healthy)
}

/// Requester `r`'s backup up to PrepareForBackup (settled), with set `set` of volume `C` and its
/// shadow `set + 1`: every call but DoSnapshotSet, which the caller makes.
fn prepared(c: &mut Coordinator, r: RequesterId, at_ms: u64, set: u128, components: bool) {
    let mut calls = vec![
        ApiCall::InitializeForBackup,
        ApiCall::SetBackupState {
            select_components: components,
            backup_type: BackupType::Full,
        },
        ApiCall::GatherWriterMetadata,
    ];
    if components {
        calls.push(ApiCall::AddComponent(Some(ComponentRef {
            writer: W,
            idx: 0,
        })));
    }
    calls.extend([
        ApiCall::StartSnapshotSet { new_id: Guid(set) },
        ApiCall::AddToSnapshotSet {
            volume: Some(C),
            provider: ProviderArg::Any,
            new_id: Guid(set + 1),
        },
        ApiCall::PrepareForBackup,
    ]);
    for call in calls {
        let kind = call.kind();
        let out = settled(c, r, at_ms, call);
        assert!(
            out.iter().any(|o| matches!(
                o,
                Output::Reply { call, result, .. } if *call == kind && result.is_success()
            )),
            "{kind:?}: {out:?}"
        );
    }
}

/// The final result of requester `r`'s asynchronous `call` in `out`.
fn done(out: &[Output], r: RequesterId, kind: ApiCallKind) -> Option<Hresult> {
    out.iter().find_map(|o| match o {
        Output::AsyncDone {
            requester,
            call,
            result,
            ..
        } if *requester == r && *call == kind => Some(*result),
        _ => None,
    })
}

/// The status of shadow `id`.
fn shadow_status(c: &Coordinator, id: u128) -> Option<ShadowStatus> {
    c.shadows()
        .iter()
        .find(|sh| sh.id == Guid(id))
        .map(|sh| sh.status)
}

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
        out.contains(&Output::ReleaseWrites { volumes: vec![C] }),
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

/// The result of the one reply to `kind` in `out`.
fn replied(out: &[Output], kind: ApiCallKind) -> Option<Hresult> {
    out.iter().find_map(|o| match o {
        Output::Reply { call, result, .. } if *call == kind => Some(*result),
        _ => None,
    })
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
            Output::ProviderCall { call, volumes, .. } => Some((*call, volumes.clone())),
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
            volumes: vec![C, VolumeId(1)]
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

/// Requester `R`'s calls, each settled by a healthy host; the result each call returned.
fn replies(c: &mut Coordinator, calls: &[ApiCall]) -> Vec<Hresult> {
    calls
        .iter()
        .map(|call| {
            let out = settled(c, R, 0, call.clone());
            replied(&out, call.kind()).expect("every call is answered")
        })
        .collect()
}

const INIT: ApiCall = ApiCall::InitializeForBackup;
const GATHER: ApiCall = ApiCall::GatherWriterMetadata;
const STATUS: ApiCall = ApiCall::GatherWriterStatus;
const PREPARE: ApiCall = ApiCall::PrepareForBackup;
const DO_SET: ApiCall = ApiCall::DoSnapshotSet;
const COMPLETE: ApiCall = ApiCall::BackupComplete;
const ABORT: ApiCall = ApiCall::AbortBackup;
const FULL: ApiCall = ApiCall::SetBackupState {
    select_components: false,
    backup_type: BackupType::Full,
};
const START: ApiCall = ApiCall::StartSnapshotSet { new_id: Guid(100) };
const ADD: ApiCall = ApiCall::AddToSnapshotSet {
    volume: Some(C),
    provider: ProviderArg::Any,
    new_id: Guid(101),
};
const COMPONENT: ApiCall = ApiCall::AddComponent(Some(ComponentRef { writer: W, idx: 0 }));
const NO_WRITERS: ApiCall = ApiCall::SetContext(crate::vss::SnapshotContext::FileShareBackup);
const SUCCEEDED: ApiCall = ApiCall::SetBackupSucceeded {
    component: ComponentRef { writer: W, idx: 0 },
    succeeded: true,
};

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

fn count(out: &[Output], f: impl Fn(&Output) -> bool) -> usize {
    out.iter().filter(|o| f(o)).count()
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

/// `one_writer_one_volume` with volumes `D:\` and `E:\` too, and the given profile and
/// providers after the system provider.
fn three_volumes(profile: Profile, providers: Vec<crate::machine::ProviderInfo>) -> Coordinator {
    let mut machine = Machine::one_writer_one_volume();
    for name in ["D:\\", "E:\\"] {
        machine.volumes.push(crate::machine::VolumeInfo {
            name: name.into(),
            bytes: 1 << 30,
        });
    }
    machine.providers.extend(providers);
    Coordinator::new(profile, machine, 1)
}

const D: VolumeId = VolumeId(1);
const E: VolumeId = VolumeId(2);

fn add_to_set(c: &mut Coordinator, v: VolumeId, id: u128) -> Vec<Output> {
    call(
        c,
        0,
        ApiCall::AddToSnapshotSet {
            volume: Some(v),
            provider: ProviderArg::Any,
            new_id: Guid(id),
        },
    )
}

/// The result of `AddToSnapshotSet` of `v`, the provider answering `S_OK`.
fn added(c: &mut Coordinator, v: VolumeId, id: u128) -> Hresult {
    let out = add_to_set(c, v, id);
    let out = settle_with(c, 0, out, &healthy);
    replied(&out, ApiCallKind::AddToSnapshotSet).expect("answered")
}

/// A writer-less set in `context` of `volumes`, made; the object released and a new one made
/// and initialised in the same context.
fn make_set(
    c: &mut Coordinator,
    context: crate::vss::SnapshotContext,
    set: u128,
    volumes: &[VolumeId],
) {
    replies(
        c,
        &[
            INIT,
            ApiCall::SetContext(context),
            ApiCall::StartSnapshotSet { new_id: Guid(set) },
        ],
    );
    for (i, &v) in (1..).zip(volumes) {
        assert_eq!(added(c, v, set + i), Hresult::Ok);
    }
    assert_eq!(
        replies(c, &[DO_SET, ApiCall::Release]),
        [Hresult::Ok, Hresult::Ok]
    );
    feed(c, 0, Input::NewObject { requester: R });
}

#[test]
fn add_to_snapshot_set_enforces_the_set_and_volume_limits_rule_18() {
    use crate::vss::SnapshotContext::{ClientAccessible, NasRollback};
    let mut profile = Profile::windows();
    profile.volumes_per_set_max = 2;
    profile.shadows_per_volume_max = 1;
    let mut c = three_volumes(profile, vec![]);
    // C has its one persistent shadow: no other set may take C; D and E may.
    make_set(&mut c, NasRollback, 100, &[C]);
    replies(
        &mut c,
        &[
            INIT,
            ApiCall::SetContext(NasRollback),
            ApiCall::StartSnapshotSet { new_id: Guid(200) },
        ],
    );
    assert_eq!(
        added(&mut c, C, 201),
        Hresult::MaximumNumberOfSnapshotsReached
    );
    assert_eq!(added(&mut c, D, 202), Hresult::Ok);
    assert_eq!(added(&mut c, D, 203), Hresult::ObjectAlreadyExists);
    // E's BeginPrepareSnapshot is outstanding: the set holds two volumes already.
    let out = add_to_set(&mut c, E, 204);
    assert_eq!(replied(&out, ApiCallKind::AddToSnapshotSet), None);
    assert_eq!(
        added(&mut c, C, 205),
        Hresult::MaximumNumberOfVolumesReached
    );
    // Client-accessible shadows recycle instead of hitting the limit (rule 18).
    let mut profile = Profile::windows();
    profile.shadows_per_volume_max = 1;
    let mut c = three_volumes(profile, vec![]);
    make_set(&mut c, ClientAccessible, 100, &[C]);
    replies(
        &mut c,
        &[
            INIT,
            ApiCall::SetContext(ClientAccessible),
            ApiCall::StartSnapshotSet { new_id: Guid(200) },
        ],
    );
    assert_eq!(added(&mut c, C, 201), Hresult::Ok);
    // Once C's shadow is gone, C may be added again.
    let mut profile = Profile::windows();
    profile.shadows_per_volume_max = 1;
    let mut c = three_volumes(profile, vec![]);
    make_set(&mut c, NasRollback, 100, &[C]);
    feed(
        &mut c,
        0,
        Input::ShadowDeleted {
            snapshot: Guid(101),
        },
    );
    replies(
        &mut c,
        &[
            INIT,
            ApiCall::SetContext(NasRollback),
            ApiCall::StartSnapshotSet { new_id: Guid(200) },
        ],
    );
    assert_eq!(added(&mut c, C, 201), Hresult::Ok);
}

#[test]
fn the_service_picks_hardware_then_software_then_system_rule_4() {
    use crate::machine::ProviderInfo;
    use crate::vss::ProviderType;
    let provider = |kind, id, volumes: Vec<VolumeId>| ProviderInfo {
        name: format!("{kind:?}"),
        id: Guid(id),
        kind,
        version: "1".into(),
        supports: Some(volumes),
    };
    let mut c = three_volumes(
        Profile::windows(),
        vec![
            provider(ProviderType::Software, 7, vec![C, D]),
            provider(ProviderType::Hardware, 8, vec![D]),
        ],
    );
    replies(&mut c, &[INIT, NO_WRITERS, START]);
    let chosen = |out: &[Output]| match out {
        [Output::ProviderCall { provider, .. }] => provider.0,
        _ => panic!("{out:?}"),
    };
    let picks: Vec<u16> = [(C, 101), (D, 102), (E, 103)]
        .into_iter()
        .map(|(v, id)| chosen(&add_to_set(&mut c, v, id)))
        .collect();
    assert_eq!(picks, [1, 2, 0]);
}

#[test]
fn abort_backup_stops_waiting_for_the_providers_preparing_volumes_once_each() {
    let mut c = three_volumes(Profile::windows(), vec![]);
    replies(&mut c, &[INIT, NO_WRITERS, START]);
    assert_eq!(added(&mut c, E, 103), Hresult::Ok);
    // The system provider hangs in BeginPrepareSnapshot for C and D.
    let tokens: Vec<u64> = [(C, 101), (D, 102)]
        .into_iter()
        .map(|(v, id)| match add_to_set(&mut c, v, id)[..] {
            [Output::ProviderCall { token, .. }] => token,
            ref out => panic!("{out:?}"),
        })
        .collect();
    let out = call(&mut c, 1, ABORT);
    let aborts: Vec<Vec<VolumeId>> = out
        .iter()
        .filter_map(|o| match o {
            Output::ProviderCall {
                call: ProviderCall::AbortSnapshots,
                volumes,
                ..
            } => Some(volumes.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(aborts, [vec![C, D]]);
    // Their answers find no call: no AddToSnapshotSet returns.
    for token in tokens {
        assert_eq!(c.pending_call(token), None);
        let out = feed(
            &mut c,
            2,
            Input::ProviderAnswer {
                token,
                result: Hresult::Ok,
            },
        );
        assert_eq!(out, vec![]);
    }
    assert!(c.is_idle());
}

#[test]
fn an_aborted_or_released_set_marks_only_its_own_shadows() {
    let mut c = two_sessions();
    prepared(&mut c, A, 0, 100, false);
    settled(&mut c, A, 1, DO_SET);
    prepared(&mut c, B, 0, 200, false);
    settled(&mut c, B, 1, DO_SET);
    let out = call_as(&mut c, B, 2, ABORT);
    assert_eq!(shadow_status(&c, 201), Some(ShadowStatus::Deleted));
    assert_eq!(shadow_status(&c, 101), Some(ShadowStatus::Exists));
    assert_eq!(count(&out, |o| matches!(o, Output::DeleteShadow { .. })), 1);
    // Released after: a deleted shadow stays deleted, nothing is deleted twice.
    let out = call_as(&mut c, B, 3, ApiCall::Release);
    assert_eq!(shadow_status(&c, 201), Some(ShadowStatus::Deleted));
    assert_eq!(count(&out, |o| matches!(o, Output::DeleteShadow { .. })), 0);
    assert_eq!(shadow_status(&c, 101), Some(ShadowStatus::Exists));
    // The volume dropping one shadow (rule 17) marks that one.
    feed(
        &mut c,
        4,
        Input::ShadowDeleted {
            snapshot: Guid(101),
        },
    );
    assert_eq!(shadow_status(&c, 101), Some(ShadowStatus::DiffAreaFull));
    assert_eq!(shadow_status(&c, 201), Some(ShadowStatus::Deleted));
}

#[test]
fn client_accessible_shadows_past_the_maximum_recycle_the_oldest_of_their_volume_rule_18() {
    use crate::vss::SnapshotContext::{ClientAccessible, NasRollback};
    let mut profile = Profile::windows();
    profile.client_accessible_shadows_max = 2;
    let mut c = three_volumes(profile, vec![]);
    make_set(&mut c, NasRollback, 100, &[C]);
    make_set(&mut c, ClientAccessible, 200, &[C, D]);
    make_set(&mut c, ClientAccessible, 300, &[D]);
    make_set(&mut c, ClientAccessible, 400, &[C]);
    // C holds 201 and 401; D holds 202 and 301; the persistent one counts for nothing.
    let status: Vec<Option<ShadowStatus>> = [101, 201, 202, 301, 401]
        .into_iter()
        .map(|id| shadow_status(&c, id))
        .collect();
    use ShadowStatus::{Exists, Recycled};
    assert_eq!(status, [Some(Exists); 5]);
    make_set(&mut c, ClientAccessible, 500, &[C]);
    let status: Vec<Option<ShadowStatus>> = [101, 201, 202, 301, 401, 501]
        .into_iter()
        .map(|id| shadow_status(&c, id))
        .collect();
    assert_eq!(
        status,
        [Exists, Recycled, Exists, Exists, Exists, Exists].map(Some)
    );
}

#[test]
fn gather_writer_status_reports_the_writers_that_answered_identify() {
    let mut c = service();
    let out = [INIT, GATHER, STATUS]
        .into_iter()
        .flat_map(|call| settled(&mut c, R, 0, call))
        .collect::<Vec<_>>();
    assert!(
        out.iter().any(|o| matches!(
            o,
            Output::AsyncDone {
                call: ApiCallKind::GatherWriterStatus,
                data: crate::api::ReplyData::WriterStatus(list),
                ..
            } if list == &[crate::api::WriterStatus {
                writer: W,
                state: WriterState::Stable,
                last_error: Hresult::Ok
            }]
        )),
        "{out:?}"
    );
    // A status operation's timer that fires after it was cancelled and another started
    // finishes nothing.
    let first = call(&mut c, 1, STATUS);
    call(&mut c, 2, ApiCall::Cancel);
    let second = call(&mut c, 3, STATUS);
    let timer = |out: &[Output]| {
        out.iter()
            .find_map(|o| match o {
                Output::SetTimer {
                    timer: t @ Timer::AsyncFinish { .. },
                    ..
                } => Some(*t),
                _ => None,
            })
            .expect("an AsyncFinish timer")
    };
    assert_eq!(feed(&mut c, 4, Input::Timer(timer(&first))), vec![]);
    let out = feed(&mut c, 5, Input::Timer(timer(&second)));
    assert_eq!(
        done(&out, R, ApiCallKind::GatherWriterStatus),
        Some(Hresult::AsyncFinished)
    );
    assert_eq!(feed(&mut c, 6, Input::Timer(timer(&second))), vec![]);
}

/// `service()` prepared for backup (set 100 of `C`), DoSnapshotSet answered up to the
/// writer's Freeze, which is delivered and not answered. Returns the service and all outputs.
fn freezing() -> (Coordinator, Vec<Output>) {
    let mut c = service();
    prepared(&mut c, R, 0, 100, false);
    let out = call(&mut c, 1, DO_SET);
    let out = settle_with(&mut c, 1, out, &|o| match o {
        Output::WriterEvent {
            event: WriterEvent::Freeze,
            ..
        } => None,
        _ => healthy(o),
    });
    (c, out)
}

fn events_of(out: &[Output], wanted: WriterEvent) -> usize {
    count(
        out,
        |o| matches!(o, Output::WriterEvent { event, .. } if *event == wanted),
    )
}

#[test]
fn a_writer_gets_one_abort_per_session_rule_14() {
    let (mut c, out) = freezing();
    assert_eq!(c.writer_status(W).0, WriterState::WaitingForFreeze);
    // The set and the writer's selection go with PrepareForSnapshot only.
    for o in &out {
        if let Output::WriterEvent {
            event, set_volumes, ..
        } = o
        {
            let want: &[VolumeId] = if *event == WriterEvent::PrepareForSnapshot {
                &[C]
            } else {
                &[]
            };
            assert_eq!(set_volumes, want, "{event:?}");
        }
    }
    let [(WriterEvent::Freeze, freeze)] = delivered(&out)
        .into_iter()
        .filter(|(e, _)| *e == WriterEvent::Freeze)
        .collect::<Vec<_>>()[..]
    else {
        panic!("{out:?}");
    };
    // AbortBackup mid-Freeze: rule 14's clean-up sends OnAbort; AbortBackup itself sends no
    // second one. It is handed over when OnFreeze returns (rule 30).
    let out = call(&mut c, 2, ABORT);
    assert_eq!(delivered(&out), vec![]);
    let out = answer(&mut c, 3, freeze);
    let out = settle_with(&mut c, 3, out, &healthy);
    assert_eq!(events_of(&out, WriterEvent::Abort), 1, "{out:?}");
    assert!(c.is_idle());
}

#[test]
fn a_freeze_window_that_ends_after_thaw_was_handed_over_fails_nothing_rule_7() {
    let (mut c, out) = freezing();
    let freeze = out
        .iter()
        .find_map(|o| match o {
            Output::SetTimer {
                timer: t @ Timer::FreezeWindow { .. },
                ..
            } => Some(*t),
            _ => None,
        })
        .expect("Freeze opens the window");
    let [(WriterEvent::Freeze, f)] = delivered(&out)
        .into_iter()
        .filter(|(e, _)| *e == WriterEvent::Freeze)
        .collect::<Vec<_>>()[..]
    else {
        panic!("{out:?}");
    };
    // Freeze returns; Thaw is handed over and runs when the window ends.
    let out = answer(&mut c, 2, f);
    let out = settle_with(&mut c, 2, out, &|o| match o {
        Output::WriterEvent {
            event: WriterEvent::Thaw,
            ..
        } => None,
        _ => healthy(o),
    });
    assert_eq!(events_of(&out, WriterEvent::Thaw), 1, "{out:?}");
    let out = feed(&mut c, 60_001, Input::Timer(freeze));
    assert_eq!(out, vec![]);
    assert_eq!(
        c.writer_status(W),
        (WriterState::WaitingForThaw, Hresult::Ok)
    );
}

#[test]
fn an_event_dropped_while_it_waited_in_the_mailbox_is_never_handed_over_rule_30() {
    let mut c = two_sessions();
    prepared(&mut c, A, 0, 100, false);
    // B's Identify runs when A's DoSnapshotSet sends PrepareForSnapshot: it waits.
    call_as(&mut c, B, 1, INIT);
    let out = call_as(&mut c, B, 1, GATHER);
    let [(WriterEvent::Identify, identify)] = delivered(&out)[..] else {
        panic!("{out:?}");
    };
    let out = call_as(&mut c, A, 2, DO_SET);
    assert_eq!(delivered(&out), vec![]);
    // A aborts: its PrepareForSnapshot is dropped, its OnAbort waits too.
    let out = call_as(&mut c, A, 3, ABORT);
    assert_eq!(delivered(&out), vec![]);
    let out = answer(&mut c, 4, identify);
    assert!(
        matches!(delivered(&out)[..], [(WriterEvent::Abort, _)]),
        "{out:?}"
    );
}

/// The writer state changes in `out`: (event, next state, last error, rule).
fn changes(out: &[Output]) -> Vec<(WriterEvent, WriterState, Hresult, &'static str)> {
    out.iter()
        .filter_map(|o| match *o {
            Output::WriterStateChanged {
                event,
                next,
                last_error,
                rule,
                ..
            } => Some((event, next, last_error, rule)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_healthy_backup_walks_the_writer_through_its_states_rules_s3_s8() {
    use WriterEvent as E;
    use WriterState as S;
    let mut c = service();
    prepared(&mut c, R, 0, 100, false);
    let mut out = settled(&mut c, R, 1, DO_SET);
    // The held writes are released once every commit is in: after the shadow is made.
    let at = |f: &dyn Fn(&Output) -> bool| out.iter().position(f).expect("in the outputs");
    let hold = at(&|o| matches!(o, Output::FlushAndHold { volumes, .. } if volumes == &[C]));
    let made = at(&|o| matches!(o, Output::CreateShadow { .. }));
    let release = at(&|o| matches!(o, Output::ReleaseWrites { volumes } if volumes == &[C]));
    assert!(hold < made && made < release, "{out:?}");
    out.extend(settled(&mut c, R, 2, COMPLETE));
    let ok = Hresult::Ok;
    assert_eq!(
        changes(&out),
        [
            (E::PrepareForSnapshot, S::WaitingForFreeze, ok, "S4"),
            (E::Freeze, S::WaitingForThaw, ok, "S5"),
            (E::Thaw, S::WaitingForPostSnapshot, ok, "S6"),
            (E::PostSnapshot, S::WaitingForBackupComplete, ok, "S7"),
            (E::BackupComplete, S::Stable, ok, "S8"),
        ]
    );
}

/// A backup in which the writer answers `event` with `result` (or, `None`, never: its
/// response limit passes, rule 11); everything else healthy. Returns the service and every
/// output of DoSnapshotSet (and, for BackupComplete, of that call).
fn writer_fails(event: WriterEvent, result: Option<Hresult>) -> (Coordinator, Vec<Output>) {
    let mut c = service();
    prepared(&mut c, R, 0, 100, false);
    let fail = |o: &Output| match *o {
        Output::WriterEvent {
            event: e, token, ..
        } if e == event => Some(match result {
            Some(result) => Input::WriterAnswer { token, result },
            None => Input::Timer(Timer::WriterResponse { token }),
        }),
        _ => healthy(o),
    };
    let out = call(&mut c, 1, DO_SET);
    let mut out = settle_with(&mut c, 1, out, &fail);
    if event == WriterEvent::BackupComplete {
        let more = call(&mut c, 2, COMPLETE);
        out.extend(settle_with(&mut c, 2, more, &fail));
    }
    (c, out)
}

#[test]
fn a_writer_failure_is_recorded_with_its_rule_and_leaves_the_writer_out_rules_5_6_8_11() {
    use WriterEvent as E;
    use WriterState as S;
    let err = Hresult::WriterErrorRetryable;
    let cases = [
        (E::PrepareForSnapshot, S::FailedAtPrepareSnapshot, "5"),
        (E::Freeze, S::FailedAtFreeze, "6"),
        (E::Thaw, S::FailedAtThaw, "6"),
        (E::PostSnapshot, S::FailedAtPostSnapshot, "8"),
        (E::BackupComplete, S::FailedAtBackupComplete, "8"),
    ];
    for (event, state, rule) in cases {
        let (mut c, out) = writer_fails(event, Some(err));
        assert!(
            changes(&out).contains(&(event, state, err, rule)),
            "{event:?}: {out:?}"
        );
        // The creation goes on without it (rules 5, 6): no later event but OnAbort
        // (Freeze, Thaw: rule 6), whose answer counts.
        assert_eq!(
            done(&out, R, ApiCallKind::DoSnapshotSet),
            Some(Hresult::AsyncFinished),
            "{event:?}"
        );
        let after: Vec<WriterEvent> = out
            .iter()
            .filter_map(|o| match o {
                Output::WriterEvent { event, .. } => Some(*event),
                _ => None,
            })
            .skip_while(|e| *e != event)
            .skip(1)
            .collect();
        let abort = matches!(event, E::Freeze | E::Thaw);
        let want: &[WriterEvent] = if abort { &[E::Abort] } else { &[] };
        assert_eq!(after, want, "{event:?}");
        assert!(
            !out.iter()
                .any(|o| matches!(o, Output::LateAnswerIgnored { .. })),
            "{event:?}: {out:?}"
        );
        assert_eq!(c.writer_status(W), (state, err), "{event:?}");
        // A failed writer still gets BackupShutdown (rule 5).
        let out = call(&mut c, 3, ApiCall::Release);
        assert_eq!(events_of(&out, E::BackupShutdown), 1, "{event:?}");
    }
    // Not answering in time (rule 11): VSS_E_WRITER_NOT_RESPONDING, no OnAbort, and no
    // BackupShutdown either.
    for (event, state) in [
        (E::PrepareForSnapshot, S::FailedAtPrepareSnapshot),
        (E::Thaw, S::FailedAtThaw),
    ] {
        let (mut c, out) = writer_fails(event, None);
        let nr = Hresult::WriterNotResponding;
        assert!(
            changes(&out).contains(&(event, state, nr, "11")),
            "{event:?}: {out:?}"
        );
        assert_eq!(events_of(&out, E::Abort), 0, "{event:?}");
        let out = call(&mut c, 3, ApiCall::Release);
        assert_eq!(events_of(&out, E::BackupShutdown), 0, "{event:?}");
    }
    // PrepareForBackup's failure: its documented FAILED_AT state (rule S9).
    let mut c = service();
    for call in [INIT, FULL, GATHER, START, ADD] {
        settled(&mut c, R, 0, call);
    }
    let out = call(&mut c, 1, PREPARE);
    let [(E::PrepareForBackup, t)] = delivered(&out)[..] else {
        panic!("{out:?}");
    };
    let out = feed(
        &mut c,
        2,
        Input::WriterAnswer {
            token: t,
            result: err,
        },
    );
    assert_eq!(
        changes(&out),
        [(E::PrepareForBackup, S::FailedAtPrepareBackup, err, "S9")]
    );
    // Identify's failure: rule 10.
    let mut c = service();
    call(&mut c, 0, INIT);
    let out = call(&mut c, 1, GATHER);
    let [(E::Identify, t)] = delivered(&out)[..] else {
        panic!("{out:?}");
    };
    let out = feed(
        &mut c,
        2,
        Input::WriterAnswer {
            token: t,
            result: err,
        },
    );
    assert_eq!(
        changes(&out),
        [(E::Identify, S::FailedAtIdentify, err, "10")]
    );
}

#[test]
fn an_abort_that_fails_keeps_the_state_and_records_the_error_rule_s9() {
    let (mut c, out) = freezing();
    let [(WriterEvent::Freeze, freeze)] = delivered(&out)
        .into_iter()
        .filter(|(e, _)| *e == WriterEvent::Freeze)
        .collect::<Vec<_>>()[..]
    else {
        panic!("{out:?}");
    };
    call(&mut c, 2, ABORT);
    let out = answer(&mut c, 3, freeze);
    let [(WriterEvent::Abort, abort)] = delivered(&out)[..] else {
        panic!("{out:?}");
    };
    let err = Hresult::WriterErrorNonRetryable;
    let out = feed(
        &mut c,
        4,
        Input::WriterAnswer {
            token: abort,
            result: err,
        },
    );
    assert_eq!(
        changes(&out),
        [(WriterEvent::Abort, WriterState::Stable, err, "S9")]
    );
}

#[test]
fn a_response_limit_passing_for_an_answer_nobody_waits_for_fails_nothing_rule_11() {
    // The writer's PrepareForSnapshot handler runs when AbortBackup voids it.
    let mut c = service();
    prepared(&mut c, R, 0, 100, false);
    let out = call(&mut c, 1, DO_SET);
    let [(WriterEvent::PrepareForSnapshot, t)] = delivered(&out)[..] else {
        panic!("{out:?}");
    };
    call(&mut c, 2, ABORT);
    let out = feed(&mut c, 3, Input::Timer(Timer::WriterResponse { token: t }));
    assert_eq!(changes(&out), []);
    assert_eq!(c.writer_status(W), (WriterState::Stable, Hresult::Ok));
    // The object was replaced: its event's limit fails nothing either.
    let mut c = service();
    call(&mut c, 0, INIT);
    let out = call(&mut c, 1, GATHER);
    let [(WriterEvent::Identify, t)] = delivered(&out)[..] else {
        panic!("{out:?}");
    };
    feed(&mut c, 2, Input::NewObject { requester: R });
    let out = feed(&mut c, 3, Input::Timer(Timer::WriterResponse { token: t }));
    assert_eq!(changes(&out), []);
    assert_eq!(c.writer_status(W), (WriterState::Stable, Hresult::Ok));
}

#[test]
fn a_freeze_window_that_ends_before_thaw_fails_the_writer_rule_7() {
    // Freeze answered; the providers hang in PreCommitSnapshots, so Thaw is not sent.
    let mut c = service();
    prepared(&mut c, R, 0, 100, false);
    let out = call(&mut c, 1, DO_SET);
    let out = settle_with(&mut c, 1, out, &|o| match o {
        Output::ProviderCall {
            call: ProviderCall::PreCommitSnapshots,
            ..
        } => None,
        _ => healthy(o),
    });
    let window = |out: &[Output]| {
        out.iter()
            .find_map(|o| match o {
                Output::SetTimer {
                    timer: t @ Timer::FreezeWindow { .. },
                    ..
                } => Some(*t),
                _ => None,
            })
            .expect("Freeze opens the window")
    };
    let timer = window(&out);
    let Timer::FreezeWindow { writer, token } = timer else {
        unreachable!()
    };
    // A window timer of another Freeze delivery changes nothing.
    let stale = Timer::FreezeWindow {
        writer,
        token: token + 1_000,
    };
    assert_eq!(feed(&mut c, 30_000, Input::Timer(stale)), vec![]);
    let out = feed(&mut c, 60_001, Input::Timer(timer));
    assert_eq!(
        changes(&out),
        [(
            WriterEvent::Freeze,
            WriterState::FailedAtFreeze,
            Hresult::WriterErrorTimeout,
            "7"
        )]
    );
    assert!(out.contains(&Output::FreezeTimedOut { writer: W }));
    assert_eq!(events_of(&out, WriterEvent::Abort), 1);
}

/// The freeze-window timer set in `out`.
fn freeze_window(out: &[Output]) -> Timer {
    out.iter()
        .find_map(|o| match o {
            Output::SetTimer {
                timer: t @ Timer::FreezeWindow { .. },
                ..
            } => Some(*t),
            _ => None,
        })
        .expect("Freeze opens the window")
}

/// With KB 915331's race on: Freeze answered, Thaw handed over and not answered.
fn thawing_with_the_race() -> (Coordinator, Timer) {
    let mut profile = Profile::windows();
    profile.kb915331_race = true;
    let mut c = Coordinator::new(profile, Machine::one_writer_one_volume(), 1);
    prepared(&mut c, R, 0, 100, false);
    let out = call(&mut c, 1, DO_SET);
    let out = settle_with(&mut c, 1, out, &|o| match o {
        Output::WriterEvent {
            event: WriterEvent::Thaw,
            ..
        } => None,
        _ => healthy(o),
    });
    assert_eq!(events_of(&out, WriterEvent::Thaw), 1);
    (c, freeze_window(&out))
}

#[test]
fn kb915331_race_fails_a_thawing_writer_only_while_its_creation_runs() {
    let (mut c, window) = thawing_with_the_race();
    let out = feed(&mut c, 60_001, Input::Timer(window));
    assert_eq!(
        changes(&out),
        [(
            WriterEvent::Freeze,
            WriterState::FailedAtFreeze,
            Hresult::WriterErrorTimeout,
            "7"
        )]
    );
    // The creation was ended first: the window no longer matters.
    let (mut c, window) = thawing_with_the_race();
    call(&mut c, 2, ABORT);
    let out = feed(&mut c, 60_001, Input::Timer(window));
    assert_eq!(changes(&out), []);
    assert_eq!(c.writer_status(W).0, WriterState::WaitingForThaw);
}

#[test]
fn a_freeze_handler_still_running_when_its_window_ends_is_given_up_on_rules_7_30() {
    let (mut c, out) = freezing();
    let window = freeze_window(&out);
    // AbortBackup: nobody needs the window; OnAbort waits behind the hung OnFreeze.
    let out = call(&mut c, 2, ABORT);
    assert_eq!(delivered(&out), vec![]);
    let out = feed(&mut c, 60_001, Input::Timer(window));
    assert!(
        matches!(delivered(&out)[..], [(WriterEvent::Abort, _)]),
        "{out:?}"
    );
}

#[test]
fn one_writers_freeze_window_leaves_the_other_writers_events_alone_rule_7() {
    use crate::vss::ApplicationLevel::FrontEnd;
    let mut machine = Machine::one_writer_one_volume();
    let one = crate::machine::WriterInfo {
        level: FrontEnd,
        ..machine.writers[0].clone()
    };
    let short = crate::machine::WriterInfo {
        freeze_timeout: crate::time::Duration::from_secs(1),
        ..one.clone()
    };
    machine.writers = vec![short, one];
    let mut c = Coordinator::new(Profile::windows(), machine, 1);
    prepared(&mut c, R, 0, 100, false);
    let out = call(&mut c, 1, DO_SET);
    // Writer 0 answers Freeze, writer 1 does not yet.
    let out = settle_with(&mut c, 1, out, &|o| match o {
        Output::WriterEvent {
            writer: WriterId(1),
            event: WriterEvent::Freeze,
            ..
        } => None,
        _ => healthy(o),
    });
    let late = out
        .iter()
        .find_map(|o| match o {
            Output::WriterEvent {
                writer: WriterId(1),
                event: WriterEvent::Freeze,
                token,
                ..
            } => Some(*token),
            _ => None,
        })
        .expect("writer 1 is frozen");
    let window = freeze_window(&out);
    assert!(matches!(
        window,
        Timer::FreezeWindow {
            writer: WriterId(0),
            ..
        }
    ));
    let out = feed(&mut c, 1_002, Input::Timer(window));
    assert!(out.contains(&Output::FreezeTimedOut {
        writer: WriterId(0)
    }));
    // Writer 1's Freeze still counts.
    let out = answer(&mut c, 1_003, late);
    assert!(
        !out.contains(&Output::LateAnswerIgnored { token: late }),
        "{out:?}"
    );
    assert_eq!(c.writer_status(WriterId(1)).0, WriterState::WaitingForThaw);
}

#[test]
fn abort_backup_before_do_snapshot_set_frees_the_creation_slot_rule_20() {
    let mut c = two_sessions();
    for r in [A, B] {
        call_as(&mut c, r, 0, INIT);
        call_as(&mut c, r, 0, NO_WRITERS);
    }
    let start =
        |c: &mut Coordinator, r| replied(&call_as(c, r, 1, START), ApiCallKind::StartSnapshotSet);
    assert_eq!(start(&mut c, A), Some(Hresult::Ok));
    assert_eq!(start(&mut c, B), Some(Hresult::SnapshotSetInProgress));
    call_as(&mut c, A, 2, ABORT);
    assert_eq!(start(&mut c, B), Some(Hresult::Ok));
}

#[test]
fn another_session_ending_leaves_an_add_to_snapshot_set_waiting_for_its_provider() {
    let mut c = two_sessions();
    for r in [A, B] {
        call_as(&mut c, r, 0, INIT);
        call_as(&mut c, r, 0, NO_WRITERS);
    }
    call_as(&mut c, B, 1, START);
    let out = call_as(&mut c, B, 2, ADD);
    let [Output::ProviderCall { token, .. }] = out[..] else {
        panic!("{out:?}");
    };
    let out = call_as(&mut c, A, 3, ApiCall::Release);
    assert_eq!(
        count(&out, |o| matches!(o, Output::ProviderCall { .. })),
        0,
        "{out:?}"
    );
    let out = feed(
        &mut c,
        4,
        Input::ProviderAnswer {
            token,
            result: Hresult::Ok,
        },
    );
    assert_eq!(
        replied(&out, ApiCallKind::AddToSnapshotSet),
        Some(Hresult::Ok)
    );
}

#[test]
fn prepare_for_backup_is_refused_in_a_writerless_context_even_when_all_else_is_ready_rule_24() {
    let mut c = service();
    assert_eq!(
        replies(
            &mut c,
            &[INIT, NO_WRITERS, FULL, GATHER, START, ADD, PREPARE]
        ),
        [
            Hresult::Ok,
            Hresult::Ok,
            Hresult::Ok,
            Hresult::Ok,
            Hresult::Ok,
            Hresult::Ok,
            Hresult::BadState
        ]
    );
}
