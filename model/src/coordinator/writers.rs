//! Writers: the service-wide status, delivering events and hearing their answers, failures
//! and time limits (rules 5-11, S3-S9).

use crate::api::{Output, Timer, Volumes};
use std::collections::VecDeque;

use crate::ids::{RequesterId, WriterId};
use crate::time::Instant;
use crate::vss::{Hresult, WriterEvent, WriterState};

use super::Coordinator;
use super::session::Seat;
use super::tokens::TokenSet;

/// The service-wide status of one writer (what `vssadmin list writers` shows).
#[derive(Clone, Debug)]
pub(super) struct WriterRec {
    pub(super) state: WriterState,
    pub(super) last_error: Hresult,
    /// The current freeze window: the token of the Freeze delivery and whether Thaw was sent.
    pub(super) freeze: Option<FreezeWindow>,
    /// The backup session (requester slot and object generation) the writer is taking part
    /// in: the last to send it PrepareForBackup. Events of any other session cannot change
    /// its state (only Identify, which is service-wide).
    pub(super) owner: Option<(RequesterId, u32)>,
    /// The token of the event whose handler runs: one at a time, across sessions (rule 30).
    pub(super) running: Option<u64>,
    /// Events sent while a handler runs, handed over in the order they were sent (rule 30).
    pub(super) mailbox: VecDeque<Mail>,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct FreezeWindow {
    pub(super) token: u64,
    pub(super) thaw_delivered: bool,
    /// The session whose creation froze the writer.
    pub(super) requester: RequesterId,
    pub(super) generation: u32,
}

/// An event sent to a writer and not yet answered or given up on.
#[derive(Clone, Copy, Debug)]
pub(super) struct PendingEvent {
    pub(super) writer: WriterId,
    pub(super) event: WriterEvent,
    pub(super) requester: RequesterId,
    /// The object generation that sent it (a retry creates a new object in the same slot).
    pub(super) generation: u32,
    /// Handed to the writer: its handler runs. False while it waits in the mailbox (rule 30).
    pub(super) delivered: bool,
    /// Its answer no longer counts (rule 14), but its handler still runs (rule 30).
    pub(super) void: bool,
}

/// An event in a writer's mailbox: its token and what the writer is handed with it.
#[derive(Clone, Debug)]
pub(super) struct Mail {
    token: u64,
    set_volumes: Volumes,
    selected: Vec<u16>,
}

impl Coordinator {
    /// Sends `event` to `targets` as part of `r`'s operation, which finishes when every writer
    /// has answered or timed out.
    pub(super) fn op_broadcast(
        &mut self,
        now: Instant,
        r: RequesterId,
        event: WriterEvent,
        targets: &[WriterId],
        out: &mut Vec<Output>,
    ) {
        let mut waiting = self.sessions[r.idx()]
            .op
            .as_mut()
            .map(|op| std::mem::take(&mut op.waiting));
        self.broadcast(now, r, event, targets, waiting.as_mut(), out);
        if let (Some(op), Some(waiting)) = (self.sessions[r.idx()].op.as_mut(), waiting) {
            op.waiting = waiting;
        }
        self.op_maybe_finish(now, r, out);
    }

    /// Delivers `event` to `writers` at once (rule 3) and adds their tokens to `waiting`, the
    /// set a stage or an operation waits for (`None`: nothing waits for the answers).
    pub(super) fn broadcast(
        &mut self,
        now: Instant,
        r: RequesterId,
        event: WriterEvent,
        writers: &[WriterId],
        mut waiting: Option<&mut TokenSet>,
        out: &mut Vec<Output>,
    ) {
        for &w in writers {
            let token = self.deliver(now, r, w, event, out);
            if let Some(waiting) = waiting.as_deref_mut() {
                waiting.insert(token, ());
            }
        }
    }

    /// Sends `event` to writer `w` for session `r` and returns its token. The writer runs one
    /// handler at a time, whichever session sent it (rule 30): a free writer is handed the
    /// event at once, a busy one finds it in its mailbox when the running handler returns or
    /// is given up on.
    pub(super) fn deliver(
        &mut self,
        now: Instant,
        r: RequesterId,
        w: WriterId,
        event: WriterEvent,
        out: &mut Vec<Output>,
    ) -> u64 {
        let token = self.token();
        // What the session notes at once: the writer takes part afresh (rule 9), is sent its one
        // Abort (rule 14), is sent Thaw (so rule 14's clean-up sends it no Abort).
        match event {
            WriterEvent::PrepareForBackup => {
                self.sessions[r.idx()].seats[w.idx()] = Seat::default();
            }
            WriterEvent::Abort => self.sessions[r.idx()].seats[w.idx()].aborted = true,
            WriterEvent::Thaw => self.sessions[r.idx()].seats[w.idx()].thawed = true,
            _ => {}
        }
        let (set_volumes, selected) = if event == WriterEvent::PrepareForSnapshot {
            // PrepareForSnapshot is sent by the session's own creation.
            let sel = self.sessions[r.idx()].selected[w.idx()].clone();
            (self.set_volumes(), sel)
        } else {
            (self.no_volumes.clone(), Vec::new())
        };
        let generation = self.sessions[r.idx()].generation;
        self.pending_events.insert(
            token,
            PendingEvent {
                writer: w,
                event,
                requester: r,
                generation,
                delivered: false,
                void: false,
            },
        );
        let mail = Mail {
            token,
            set_volumes,
            selected,
        };
        let rec = &self.writers[w.idx()];
        if rec.running.is_none() && rec.mailbox.is_empty() {
            self.hand_over(now, mail, false, out);
        } else {
            self.writers[w.idx()].mailbox.push_back(mail);
        }
        token
    }

    /// Hands a sent event to its writer: its handler starts now, and so do its response limit
    /// (rule 11) or, for Freeze, the writer's freeze window (rule 7). `queued`: it waited in the
    /// mailbox behind another handler (rule 30).
    fn hand_over(&mut self, now: Instant, mail: Mail, queued: bool, out: &mut Vec<Output>) {
        let token = mail.token;
        let p = self
            .pending_events
            .get_mut(token)
            .expect("mail is for a pending event");
        p.delivered = true;
        let p = *p;
        let (w, event) = (p.writer, p.event);
        self.writers[w.idx()].running = Some(token);
        match event {
            // Rule 9: state and last error are reset when a writer receives PrepareForBackup of
            // a new backup session (rule 30 when it had to wait for it).
            WriterEvent::PrepareForBackup => {
                self.writers[w.idx()].owner = Some((p.requester, p.generation));
                let rule = if queued { "30" } else { "9" };
                self.set_writer(w, event, WriterState::Stable, Hresult::Ok, rule, out);
            }
            WriterEvent::Freeze => {
                self.writers[w.idx()].freeze = Some(FreezeWindow {
                    token,
                    thaw_delivered: false,
                    requester: p.requester,
                    generation: p.generation,
                });
                let limit = self.machine.writers[w.idx()].freeze_timeout;
                out.push(Output::SetTimer {
                    at: now.deadline_after(limit),
                    timer: Timer::FreezeWindow { writer: w, token },
                });
            }
            WriterEvent::Thaw => {
                if let Some(f) = self.writers[w.idx()].freeze.as_mut() {
                    f.thaw_delivered = true;
                }
            }
            _ => {}
        }
        if event != WriterEvent::Freeze {
            // Rule 11: every other event has a response limit.
            out.push(Output::SetTimer {
                at: now.deadline_after(self.profile.writer_response_timeout),
                timer: Timer::WriterResponse { token },
            });
        }
        out.push(Output::WriterEvent {
            writer: w,
            event,
            token,
            set_volumes: mail.set_volumes,
            selected: mail.selected,
        });
    }

    /// The handler of event `token` returned or was given up on (rule 30): writer `w` is free.
    /// Nothing changes if that handler was not the one running (it was given up on before),
    /// so a mailbox is never released twice. The next event is handed over by
    /// [`Coordinator::next_mail`] once the answer has been dealt with; events sent meanwhile
    /// join the mailbox behind those already waiting.
    fn writer_free(&mut self, w: WriterId, token: u64) {
        let rec = &mut self.writers[w.idx()];
        if rec.running == Some(token) {
            rec.running = None;
        }
    }

    /// A free writer `w` is handed the oldest event still wanted from its mailbox (rule 30).
    fn next_mail(&mut self, now: Instant, w: WriterId, out: &mut Vec<Output>) {
        while self.writers[w.idx()].running.is_none() {
            let Some(mail) = self.writers[w.idx()].mailbox.pop_front() else {
                return;
            };
            // An event dropped while it waited (its creation failed, its window passed) is
            // never handed over.
            if self.pending_events.contains(mail.token) {
                self.hand_over(now, mail, true, out);
            }
        }
    }

    /// Removes the outstanding event `token` whose handler runs (answered or given up on) and
    /// frees its writer (rule 30).
    fn handler_over(&mut self, token: u64) -> PendingEvent {
        let p = self
            .pending_events
            .remove(token)
            .expect("the handler's event is pending");
        self.writer_free(p.writer, token);
        p
    }

    /// Voids the outstanding event `token` (rule 14: its creation ended): one still waiting in
    /// the mailbox is never handed over; one whose handler runs keeps its writer busy until it
    /// returns or is given up on (rule 30), and its answer is then ignored.
    pub(super) fn void_event(&mut self, token: u64) {
        let Some(p) = self.pending_events.get_mut(token) else {
            return;
        };
        if p.delivered {
            p.void = true;
        } else {
            self.pending_events.remove(token);
        }
    }

    /// Sets a writer's state and last error; `rule` is the id of the `docs/rules.md` rule behind
    /// the change (never empty: an ordinary transition cites its `S` rule).
    pub(super) fn set_writer(
        &mut self,
        w: WriterId,
        event: WriterEvent,
        next: WriterState,
        last_error: Hresult,
        rule: &'static str,
        out: &mut Vec<Output>,
    ) {
        let rec = &mut self.writers[w.idx()];
        let prev = rec.state;
        if prev == next && rec.last_error == last_error {
            return;
        }
        rec.state = next;
        rec.last_error = last_error;
        out.push(Output::WriterStateChanged {
            writer: w,
            event,
            prev,
            next,
            last_error,
            rule,
        });
    }

    pub(super) fn on_writer_answer(
        &mut self,
        now: Instant,
        token: u64,
        result: Hresult,
        out: &mut Vec<Output>,
    ) {
        // An answer to an event no handler runs for (given up on, rules 7, 11; or never handed
        // over) is noted and ignored; it frees nothing (rule 30).
        let Some(w) = self
            .pending_events
            .get(token)
            .filter(|p| p.delivered)
            .map(|p| p.writer)
        else {
            out.push(Output::LateAnswerIgnored { token });
            return;
        };
        self.handler_returned(now, token, result, out);
        // Then the writer takes its next event (rule 30).
        self.next_mail(now, w, out);
    }

    /// The handler of event `token` returned `result`: the writer is free (rule 30) and the
    /// answer counts, unless nobody wants it any more.
    fn handler_returned(
        &mut self,
        now: Instant,
        token: u64,
        result: Hresult,
        out: &mut Vec<Output>,
    ) {
        let p = self.handler_over(token);
        if p.void {
            out.push(Output::LateAnswerIgnored { token });
            return;
        }
        let w = p.writer;
        // An answer to an object since replaced (a retry's new object) changes nothing.
        if p.generation != self.sessions[p.requester.idx()].generation {
            out.push(Output::LateAnswerIgnored { token });
            return;
        }
        // A writer left out of the session (failed, timed out) is not heard from again,
        // except its answers to Abort and BackupShutdown.
        let seat = self.sessions[p.requester.idx()].seats[w.idx()];
        if seat.out && !matches!(p.event, WriterEvent::Abort | WriterEvent::BackupShutdown) {
            out.push(Output::LateAnswerIgnored { token });
            self.resolved(now, p.requester, token, out);
            return;
        }
        if result.is_success() {
            if p.event == WriterEvent::PostSnapshot {
                self.sessions[p.requester.idx()].seats[w.idx()].post_snapshot_done = true;
            }
            let next = match p.event {
                WriterEvent::Identify => {
                    let s = &mut self.sessions[p.requester.idx()];
                    if !s.metadata_done() {
                        // One Identify per writer and session: each answers once.
                        debug_assert!(!s.identified.contains(&w));
                        s.identified.push(w);
                    }
                    None
                }
                // The state each event leads to, and the rule that says so (rules S3-S8).
                WriterEvent::PrepareForBackup => Some((WriterState::Stable, "S3")),
                WriterEvent::PrepareForSnapshot => Some((WriterState::WaitingForFreeze, "S4")),
                WriterEvent::Freeze => Some((WriterState::WaitingForThaw, "S5")),
                WriterEvent::Thaw => Some((WriterState::WaitingForPostSnapshot, "S6")),
                WriterEvent::PostSnapshot => Some((WriterState::WaitingForBackupComplete, "S7")),
                WriterEvent::BackupComplete => Some((WriterState::Stable, "S8")),
                _ => None,
            };
            if let (Some((next, rule)), true) = (next, self.owns(p)) {
                let last_error = self.writers[w.idx()].last_error;
                self.set_writer(w, p.event, next, last_error, rule, out);
            }
        } else {
            // The rule is picked by the event in `writer_failed`.
            self.writer_failed(now, p, result, "", out);
        }
        self.resolved(now, p.requester, token, out);
    }

    /// A writer failed an event (its own failure or a timeout): `FAILED_AT_<event>` and left out
    /// of the session's later events (rules 5, 6, 8, 10, 11, S9). An empty `rule` means the
    /// writer's own failure, whose rule follows from the event.
    pub(super) fn writer_failed(
        &mut self,
        now: Instant,
        p: PendingEvent,
        code: Hresult,
        rule: &'static str,
        out: &mut Vec<Output>,
    ) {
        let w = p.writer;
        let seat = &mut self.sessions[p.requester.idx()].seats[w.idx()];
        if p.event != WriterEvent::Identify {
            seat.out = true;
        }
        let not_responding = code == Hresult::WriterNotResponding;
        seat.not_responding |= not_responding;
        let already_aborted = seat.aborted;
        if !self.owns(p) {
            // The writer is taking part in another session's backup: this session's failure
            // does not overwrite the state that backup sees.
            return;
        }
        match p.event.failed_state() {
            Some(state) => {
                let rule = if !rule.is_empty() {
                    rule
                } else {
                    match p.event {
                        WriterEvent::Identify => "10",
                        WriterEvent::PrepareForSnapshot => "5",
                        WriterEvent::Freeze | WriterEvent::Thaw => "6",
                        WriterEvent::PostSnapshot | WriterEvent::BackupComplete => "8",
                        // PrepareForBackup, BackupShutdown, restore events: the documented
                        // FAILED_AT state of the event (rule S9).
                        _ => "S9",
                    }
                };
                self.set_writer(w, p.event, state, code, rule, out);
            }
            None => {
                // Abort has no failed state: the state stays, the last error records it
                // (rule 11 when it did not answer; rule S9's failure code otherwise).
                let state = self.writers[w.idx()].state;
                let rule = if rule.is_empty() { "S9" } else { rule };
                self.set_writer(w, p.event, state, code, rule, out);
            }
        }
        // Rule 6: a writer that fails Freeze or Thaw receives OnAbort; one that stopped
        // answering is left out of every later event instead (rule 11).
        if matches!(p.event, WriterEvent::Freeze | WriterEvent::Thaw) {
            self.writers[w.idx()].freeze = None;
            if !not_responding && !already_aborted {
                self.deliver(now, p.requester, w, WriterEvent::Abort, out);
            }
        }
    }

    /// Whether the session that sent event `p` may change the writer's state: Identify is
    /// service-wide; any other event only from the session whose backup the writer is in.
    pub(super) fn owns(&self, p: PendingEvent) -> bool {
        p.event == WriterEvent::Identify
            || p.event == WriterEvent::PrepareForBackup
            || self.writers[p.writer.idx()].owner == Some((p.requester, p.generation))
    }

    /// A token the requester's operation or the creation waited for is resolved.
    pub(super) fn resolved(
        &mut self,
        now: Instant,
        r: RequesterId,
        token: u64,
        out: &mut Vec<Output>,
    ) {
        if let Some(c) = self.creation.as_mut() {
            if c.waiting.remove(token).is_some() {
                self.creation_step(now, out);
                return;
            }
        }
        let s = &mut self.sessions[r.idx()];
        if let Some(op) = s.op.as_mut() {
            if op.waiting.remove(token).is_some() {
                self.op_maybe_finish(now, r, out);
            }
        }
    }

    /// Rule 11: the response limit of the event `token` has passed.
    pub(super) fn writer_response_due(&mut self, now: Instant, token: u64, out: &mut Vec<Output>) {
        if !self.pending_events.get(token).is_some_and(|p| p.delivered) {
            return;
        }
        // The handler is given up on: the writer is free (rule 30).
        let p = self.handler_over(token);
        if !p.void && p.generation == self.sessions[p.requester.idx()].generation {
            // Rule 11: not answered in time: VSS_E_WRITER_NOT_RESPONDING. (An event whose
            // answer no longer counts, or whose object has been replaced, has nobody waiting.)
            self.writer_failed(now, p, Hresult::WriterNotResponding, "11", out);
            self.resolved(now, p.requester, token, out);
        }
        // Then the writer takes its next event (rule 30).
        self.next_mail(now, p.writer, out);
    }

    /// Rule 7: `writer`'s freeze window (of the Freeze delivery `token`) has ended.
    pub(super) fn freeze_window_ended(
        &mut self,
        now: Instant,
        writer: WriterId,
        token: u64,
        out: &mut Vec<Output>,
    ) {
        let window = self.writers[writer.idx()]
            .freeze
            .filter(|f| f.token == token);
        let applies = window.is_some_and(|f| {
            (!f.thaw_delivered || self.profile.kb915331_race)
                && f.generation == self.sessions[f.requester.idx()].generation
                // KB 915331's race (profile knob) fires only while the same creation runs.
                && (!f.thaw_delivered
                    || self
                        .creation
                        .as_ref()
                        .is_some_and(|c| c.requester == f.requester))
        });
        let running = self.writers[writer.idx()].running;
        let Some(f) = window.filter(|_| applies) else {
            // No creation needs this window any more, but a Freeze handler still running at its
            // end is given up on all the same: the writer takes its next event (rules 7, 30).
            if running == Some(token) {
                self.handler_over(token);
                self.next_mail(now, writer, out);
            }
            return;
        };
        let r = f.requester;
        // Rule 7: the window ended before Thaw was delivered: OnAbort, FAILED_AT_FREEZE
        // with VSS_E_WRITERERROR_TIMEOUT; the later Thaw is not delivered.
        self.writers[writer.idx()].freeze = None;
        // Any answer still outstanding from this writer in this creation is void; a Thaw still
        // in the mailbox is never handed over.
        let stale: Vec<u64> = self
            .pending_events
            .iter()
            .filter(|(_, p)| {
                p.writer == writer && matches!(p.event, WriterEvent::Freeze | WriterEvent::Thaw)
            })
            .map(|(t, _)| t)
            .collect();
        for &t in &stale {
            self.pending_events.remove(t);
        }
        // The handler running is given up on: the writer is free (rule 30).
        if let Some(t) = running.filter(|t| stale.contains(t)) {
            self.writer_free(writer, t);
        }
        self.set_writer(
            writer,
            WriterEvent::Freeze,
            WriterState::FailedAtFreeze,
            Hresult::WriterErrorTimeout,
            "7",
            out,
        );
        out.push(Output::FreezeTimedOut { writer });
        self.sessions[r.idx()].seats[writer.idx()].out = true;
        if !self.sessions[r.idx()].seats[writer.idx()].aborted {
            self.deliver(now, r, writer, WriterEvent::Abort, out);
        }
        for t in stale {
            self.resolved(now, r, t, out);
        }
        // Then the writer takes its next event (rule 30).
        self.next_mail(now, writer, out);
    }
}
