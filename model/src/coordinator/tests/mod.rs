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
use crate::vss::{BackupType, Hresult, ProviderCall, SnapshotState, WriterEvent, WriterState};

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
            bootable_system_state: false,
            partial_file_support: false,
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
            bootable_system_state: false,
            partial_file_support: false,
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
    bootable_system_state: false,
    partial_file_support: false,
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

/// The result of the one reply to `kind` in `out`.
fn replied(out: &[Output], kind: ApiCallKind) -> Option<Hresult> {
    out.iter().find_map(|o| match o {
        Output::Reply { call, result, .. } if *call == kind => Some(*result),
        _ => None,
    })
}

fn count(out: &[Output], f: impl Fn(&Output) -> bool) -> usize {
    out.iter().filter(|o| f(o)).count()
}

mod calls;
mod creation;
mod providers;
mod sessions;
mod writers;
