//! Writers: the service-wide status, delivering events and hearing their answers, failures
//! and time limits (rules 5-11, S3-S9).

use crate::api::{Output, Timer};
use crate::ids::{RequesterId, WriterId};
use crate::time::Instant;
use crate::vss::{Hresult, WriterEvent, WriterState};

use super::Coordinator;
use super::session::Seat;

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
}

#[derive(Clone, Copy, Debug)]
pub(super) struct FreezeWindow {
    pub(super) token: u64,
    pub(super) thaw_delivered: bool,
    /// The session whose creation froze the writer.
    pub(super) requester: RequesterId,
    pub(super) generation: u32,
}

/// An event delivered to a writer and not yet answered.
#[derive(Clone, Copy, Debug)]
pub(super) struct PendingEvent {
    pub(super) writer: WriterId,
    pub(super) event: WriterEvent,
    pub(super) requester: RequesterId,
    /// The object generation that sent it (a retry creates a new object in the same slot).
    pub(super) generation: u32,
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
        let tokens = self.broadcast(now, r, event, targets, out);
        self.op_wait(r, tokens);
        self.op_maybe_finish(now, r, out);
    }

    /// Delivers `event` to `writers` at once (rule 3) and returns the tokens to wait for.
    pub(super) fn broadcast(
        &mut self,
        now: Instant,
        r: RequesterId,
        event: WriterEvent,
        writers: &[WriterId],
        out: &mut Vec<Output>,
    ) -> Vec<u64> {
        let mut tokens = Vec::with_capacity(writers.len());
        for &w in writers {
            tokens.push(self.deliver(now, r, w, event, out));
        }
        tokens
    }

    pub(super) fn deliver(
        &mut self,
        now: Instant,
        r: RequesterId,
        w: WriterId,
        event: WriterEvent,
        out: &mut Vec<Output>,
    ) -> u64 {
        let token = self.token();
        match event {
            // Rule 9: state and last error are reset when a writer receives PrepareForBackup of
            // a new backup session.
            WriterEvent::PrepareForBackup => {
                self.sessions[r.idx()].seats[w.idx()] = Seat::default();
                self.writers[w.idx()].owner = Some((r, self.sessions[r.idx()].generation));
                self.set_writer(w, event, WriterState::Stable, Hresult::Ok, "9", out);
            }
            WriterEvent::Abort => self.sessions[r.idx()].seats[w.idx()].aborted = true,
            WriterEvent::Freeze => {
                let generation = self.sessions[r.idx()].generation;
                self.writers[w.idx()].freeze = Some(FreezeWindow {
                    token,
                    thaw_delivered: false,
                    requester: r,
                    generation,
                });
                let limit = self.machine.writers[w.idx()].freeze_timeout;
                out.push(Output::SetTimer {
                    at: now.deadline_after(limit),
                    timer: Timer::FreezeWindow { writer: w, token },
                });
            }
            WriterEvent::Thaw => {
                self.sessions[r.idx()].seats[w.idx()].thawed = true;
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
        let (set_volumes, selected) = if event == WriterEvent::PrepareForSnapshot {
            let s = &self.sessions[r.idx()];
            let vols = s
                .set
                .as_ref()
                .map(|set| set.volumes.iter().map(|v| v.volume).collect());
            let sel = s
                .components
                .iter()
                .filter(|c| c.writer == w)
                .map(|c| c.idx)
                .collect();
            (vols.unwrap_or_default(), sel)
        } else {
            (Vec::new(), Vec::new())
        };
        let generation = self.sessions[r.idx()].generation;
        self.pending_events.insert(
            token,
            PendingEvent {
                writer: w,
                event,
                requester: r,
                generation,
            },
        );
        out.push(Output::WriterEvent {
            writer: w,
            event,
            token,
            set_volumes,
            selected,
        });
        token
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
        let Some(p) = self.pending_events.remove(token) else {
            out.push(Output::LateAnswerIgnored { token });
            return;
        };
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
                    if !s.metadata_done() && !s.identified.contains(&w) {
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
        let Some(p) = self.pending_events.remove(token) else {
            return;
        };
        if p.generation != self.sessions[p.requester.idx()].generation {
            // The object that sent it has been replaced: nobody waits for it.
            return;
        }
        // Rule 11: not answered in time: VSS_E_WRITER_NOT_RESPONDING.
        self.writer_failed(now, p, Hresult::WriterNotResponding, "11", out);
        self.resolved(now, p.requester, token, out);
    }

    /// Rule 7: `writer`'s freeze window (of the Freeze delivery `token`) has ended.
    pub(super) fn freeze_window_ended(
        &mut self,
        now: Instant,
        writer: WriterId,
        token: u64,
        out: &mut Vec<Output>,
    ) {
        let rec = &self.writers[writer.idx()];
        let Some(f) = rec.freeze else { return };
        if f.token != token || (f.thaw_delivered && !self.profile.kb915331_race) {
            return;
        }
        let r = f.requester;
        if f.generation != self.sessions[r.idx()].generation {
            return;
        }
        // KB 915331's race (profile knob) fires only while the same creation runs.
        if f.thaw_delivered && self.creation.as_ref().is_none_or(|c| c.requester != r) {
            return;
        }
        // Rule 7: the window ended before Thaw was delivered: OnAbort, FAILED_AT_FREEZE
        // with VSS_E_WRITERERROR_TIMEOUT; the later Thaw is not delivered.
        self.writers[writer.idx()].freeze = None;
        // Any answer still outstanding from this writer in this creation is void.
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
        self.set_writer(
            writer,
            WriterEvent::Freeze,
            WriterState::FailedAtFreeze,
            Hresult::WriterErrorTimeout,
            "7",
            out,
        );
        self.sessions[r.idx()].seats[writer.idx()].out = true;
        if !self.sessions[r.idx()].seats[writer.idx()].aborted {
            self.deliver(now, r, writer, WriterEvent::Abort, out);
        }
        for t in stale {
            self.resolved(now, r, t, out);
        }
    }
}
