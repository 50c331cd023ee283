//! Writers: one Abort per session, freeze windows and KB 915331's race, the mailbox, state
//! changes and failures by event.

use super::*;

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
            assert_eq!(&**set_volumes, want, "{event:?}");
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
    let hold = at(&|o| matches!(o, Output::FlushAndHold { volumes, .. } if **volumes == [C]));
    let made = at(&|o| matches!(o, Output::CreateShadow { .. }));
    let release = at(&|o| matches!(o, Output::ReleaseWrites { volumes } if **volumes == [C]));
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
