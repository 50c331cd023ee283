//! The one snapshot-set creation at a time (rule 20): `DoSnapshotSet`'s stages in rule 2's
//! order, the flush-and-hold (rules 13, 13b) and rule 14's clean-up.

use crate::api::{ApiCallKind, Output, ReplyData, ShadowStatus, Timer, Volumes};
use crate::ids::{ProviderId, RequesterId, SnapshotSetId, VolumeId, WriterId};
use crate::time::Instant;
use crate::vss::{Hresult, ProviderCall, SnapshotState, WriterEvent, WriterState};

use super::session::Phase;
use super::tokens::TokenSet;
use super::{Coordinator, reply};

/// The highest freeze rank (`ApplicationLevel::freeze_rank` is at most this): frozen last,
/// thawed first.
const LAST_RANK: u8 = 3;

/// `DoSnapshotSet`'s phases, in rule 2's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stage {
    Start,
    PrepareForSnapshot,
    EndPrepareSnapshots,
    Freeze(u8),
    PreCommitSnapshots,
    FlushAndHold,
    CommitSnapshots,
    PostCommitSnapshots,
    Thaw(u8),
    PreFinalCommitSnapshots,
    PostSnapshot,
    PostFinalCommitSnapshots,
}

impl Stage {
    /// The provider call a provider stage makes (`None` for the others).
    fn provider_call(self) -> Option<ProviderCall> {
        Some(match self {
            Stage::EndPrepareSnapshots => ProviderCall::EndPrepareSnapshots,
            Stage::PreCommitSnapshots => ProviderCall::PreCommitSnapshots,
            Stage::CommitSnapshots => ProviderCall::CommitSnapshots,
            Stage::PostCommitSnapshots => ProviderCall::PostCommitSnapshots,
            Stage::PreFinalCommitSnapshots => ProviderCall::PreFinalCommitSnapshots,
            Stage::PostFinalCommitSnapshots => ProviderCall::PostFinalCommitSnapshots,
            _ => return None,
        })
    }
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Hold {
    pub(super) token: u64,
    pub(super) flushed: bool,
    /// When the hold timer fires (10 s + 1 µs after the hold began, rule 13b).
    pub(super) deadline: Instant,
}

/// The one snapshot-set creation in progress (rule 20).
#[derive(Clone, Debug)]
pub(super) struct Creation {
    pub(super) requester: RequesterId,
    pub(super) set_id: SnapshotSetId,
    pub(super) stage: Stage,
    /// Writer-event and provider-call tokens the current stage waits for.
    pub(super) waiting: TokenSet,
    pub(super) hold: Option<Hold>,
    pub(super) released: bool,
    /// Providers of the set with the volumes each handles, in provider order.
    pub(super) providers: Vec<(ProviderId, Volumes)>,
    /// Every volume of the set, in volume order (what is held and released).
    pub(super) volumes: Volumes,
    pub(super) with_writers: bool,
}

impl Coordinator {
    pub(super) fn call_do_snapshot_set(
        &mut self,
        now: Instant,
        r: RequesterId,
        out: &mut Vec<Output>,
    ) {
        let name = ApiCallKind::DoSnapshotSet;
        let s = &self.sessions[r.idx()];
        let with_writers = s.context.has_writers();
        let bad = match &s.set {
            None => true,
            Some(set) => set.adds_pending > 0,
        } || !matches!(s.phase, Phase::Initialized | Phase::Prepared)
            || (with_writers && (!s.metadata_done() || s.phase != Phase::Prepared));
        if bad {
            return reply(out, r, name, Hresult::BadState, ReplyData::None);
        }
        let set = s.set.as_ref().expect("checked above");
        let set_id = set.id;
        let mut providers: Vec<(ProviderId, Vec<VolumeId>)> = Vec::new();
        for v in &set.volumes {
            match providers.iter_mut().find(|(p, _)| *p == v.provider) {
                Some((_, vols)) => vols.push(v.volume),
                None => providers.push((v.provider, vec![v.volume])),
            }
        }
        providers.sort_by_key(|(p, _)| *p);
        let mut volumes: Vec<VolumeId> = set.volumes.iter().map(|v| v.volume).collect();
        volumes.sort();
        let providers = providers
            .into_iter()
            .map(|(p, v)| (p, Volumes::from(v)))
            .collect();
        self.sessions[r.idx()].phase = Phase::Snapshotting { result: None };
        self.start_op(r, name);
        self.creation = Some(Creation {
            requester: r,
            set_id,
            stage: Stage::Start,
            waiting: TokenSet::new(),
            hold: None,
            released: false,
            providers,
            volumes: volumes.into(),
            with_writers,
        });
        reply(out, r, name, Hresult::Ok, ReplyData::None);
        self.creation_step(now, out);
    }

    pub(super) fn on_flush_done(&mut self, now: Instant, token: u64, out: &mut Vec<Output>) {
        let Some(c) = self.creation.as_mut() else {
            return;
        };
        let Some(hold) = c.hold.as_mut() else { return };
        // A flush of another hold, or one that ends after this hold's stage (the writes are
        // released only once the commits are in), changes nothing.
        if hold.token != token || c.stage != Stage::FlushAndHold {
            return;
        }
        // Rule 13b: a flush that ends at the timer's instant (10 s + 1 µs) is late; the hold
        // timer due at this same instant fails the creation.
        if now >= hold.deadline {
            return;
        }
        hold.flushed = true;
        self.creation_step(now, out);
    }

    /// Advances `DoSnapshotSet` through rule 2's order while the current stage has
    /// nothing left to wait for.
    pub(super) fn creation_step(&mut self, now: Instant, out: &mut Vec<Output>) {
        loop {
            let Some(c) = self.creation.as_ref() else {
                return;
            };
            if !c.waiting.is_empty() {
                return;
            }
            if c.stage == Stage::FlushAndHold && !c.hold.is_some_and(|h| h.flushed) {
                return;
            }
            let r = c.requester;
            let with_writers = c.with_writers;
            let stage = c.stage;
            let next = match stage {
                Stage::Start => Stage::PrepareForSnapshot,
                Stage::PrepareForSnapshot => Stage::EndPrepareSnapshots,
                Stage::EndPrepareSnapshots => Stage::Freeze(0),
                Stage::Freeze(LAST_RANK) => Stage::PreCommitSnapshots,
                Stage::Freeze(n) => Stage::Freeze(n + 1),
                Stage::PreCommitSnapshots => Stage::FlushAndHold,
                Stage::FlushAndHold => Stage::CommitSnapshots,
                Stage::CommitSnapshots => Stage::PostCommitSnapshots,
                Stage::PostCommitSnapshots => Stage::Thaw(LAST_RANK),
                Stage::Thaw(0) => Stage::PreFinalCommitSnapshots,
                Stage::Thaw(n) => Stage::Thaw(n - 1),
                Stage::PreFinalCommitSnapshots => Stage::PostSnapshot,
                Stage::PostSnapshot => Stage::PostFinalCommitSnapshots,
                Stage::PostFinalCommitSnapshots => {
                    self.finish_creation(out);
                    return;
                }
            };
            debug_assert_ne!(next, stage, "every step moves DoSnapshotSet on");
            if next == Stage::PostCommitSnapshots {
                // All commits are in: release the held writes in their original order.
                self.release_hold(out);
            }
            // The stage's set of tokens is reused: cleared, then filled by the stage's sends.
            let mut waiting = std::mem::take(
                &mut self
                    .creation
                    .as_mut()
                    .expect("creation in progress")
                    .waiting,
            );
            waiting.clear();
            let sink = Some(&mut waiting);
            match next {
                Stage::PrepareForSnapshot if with_writers => {
                    let targets = self.session_targets(r);
                    self.broadcast(now, r, WriterEvent::PrepareForSnapshot, &targets, sink, out)
                }
                Stage::Freeze(rank) if with_writers => {
                    let mut targets = self.session_targets(r);
                    targets.retain(|w| self.machine.writers[w.idx()].level.freeze_rank() == rank);
                    self.broadcast(now, r, WriterEvent::Freeze, &targets, sink, out)
                }
                Stage::Thaw(rank) if with_writers => {
                    // Only writers whose freeze window is still open get Thaw (rule 7).
                    let mut targets = self.session_targets(r);
                    targets.retain(|w| {
                        self.machine.writers[w.idx()].level.freeze_rank() == rank
                            && self.writers[w.idx()].freeze.is_some()
                    });
                    self.broadcast(now, r, WriterEvent::Thaw, &targets, sink, out)
                }
                Stage::PostSnapshot if with_writers => {
                    let targets = self.session_targets(r);
                    self.broadcast(now, r, WriterEvent::PostSnapshot, &targets, sink, out)
                }
                Stage::EndPrepareSnapshots
                | Stage::PreCommitSnapshots
                | Stage::CommitSnapshots
                | Stage::PostCommitSnapshots
                | Stage::PreFinalCommitSnapshots
                | Stage::PostFinalCommitSnapshots => {
                    let call = next.provider_call().expect("a provider stage");
                    self.call_providers(r, call, &mut waiting, out)
                }
                Stage::FlushAndHold => self.start_hold(now, out),
                _ => {}
            }
            let c = self.creation.as_mut().expect("creation in progress");
            c.stage = next;
            c.waiting = waiting;
        }
    }

    /// The volumes of the set being created, in volume order (empty when none is).
    pub(super) fn set_volumes(&self) -> Volumes {
        self.creation
            .as_ref()
            .map_or_else(|| self.no_volumes.clone(), |c| c.volumes.clone())
    }

    pub(super) fn start_hold(&mut self, now: Instant, out: &mut Vec<Output>) {
        let token = self.token();
        let volumes = self.set_volumes();
        let c = self.creation.as_mut().expect("creation in progress");
        let deadline = now.deadline_after(self.profile.flush_and_hold_timeout);
        c.hold = Some(Hold {
            token,
            flushed: false,
            deadline,
        });
        out.push(Output::FlushAndHold { volumes, token });
        // Rule 13b: a release exactly 10 s after the hold began is in time.
        out.push(Output::SetTimer {
            at: now.deadline_after(self.profile.flush_and_hold_timeout),
            timer: Timer::HoldWindow { token },
        });
    }

    pub(super) fn release_hold(&mut self, out: &mut Vec<Output>) {
        let volumes = self.set_volumes();
        let c = self.creation.as_mut().expect("creation in progress");
        if c.hold.is_some() && !c.released {
            c.released = true;
            out.push(Output::ReleaseWrites { volumes });
        }
    }

    pub(super) fn finish_creation(&mut self, out: &mut Vec<Output>) {
        let c = self.creation.take().expect("creation in progress");
        if self.creation_owner == Some(c.requester) {
            self.creation_owner = None;
        }
        // Every freeze window of this creation is over.
        for rec in self.writers.iter_mut() {
            if rec.freeze.is_some_and(|f| f.requester == c.requester) {
                rec.freeze = None;
            }
        }
        self.set_snapshots_to(c.requester, None, SnapshotState::Created, out);
        out.push(Output::Phase {
            set_id: c.set_id,
            phase: "finished",
            rule: "2",
        });
        self.op_finish(c.requester, Hresult::AsyncFinished, ReplyData::None, out);
    }

    /// Rule 14's clean-up (also rules 16, 25, 27): release held writes in order,
    /// `AbortSnapshots` to the providers, `OnAbort` to writers between PrepareForSnapshot and
    /// Thaw (they return to `STABLE` / `S_OK`), no shadow of the set survives, and the
    /// operation ends with `code`. Returns the writers that were sent `OnAbort`.
    pub(super) fn fail_creation(
        &mut self,
        now: Instant,
        code: Hresult,
        rule: &'static str,
        out: &mut Vec<Output>,
    ) -> Vec<WriterId> {
        let Some(c) = self.creation.take() else {
            return Vec::new();
        };
        let r = c.requester;
        out.push(Output::Phase {
            set_id: c.set_id,
            phase: code.name(),
            rule,
        });
        self.set_snapshots_to(r, None, SnapshotState::Aborted, out);
        if c.hold.is_some() && !c.released {
            out.push(Output::ReleaseWrites {
                volumes: c.volumes.clone(),
            });
        }
        // Providers hear AbortSnapshots only for a set whose DoSnapshotSet was called (rule 14).
        for (provider, volumes) in &c.providers {
            // AbortSnapshots is not answered: nothing waits for its token.
            let token = self.token();
            out.push(Output::ProviderCall {
                provider: *provider,
                call: ProviderCall::AbortSnapshots,
                set_id: c.set_id,
                volumes: volumes.clone(),
                token,
            });
        }
        // Answers still outstanding for this creation are void.
        // A Thaw already delivered still completes: that writer gets no Abort (rule 14).
        for t in c.waiting.tokens() {
            if self
                .pending_events
                .get(t)
                .is_some_and(|p| p.event != WriterEvent::Thaw)
            {
                self.void_event(t);
            }
            self.pending_calls.remove(t);
        }
        let mut aborted = Vec::new();
        if c.with_writers {
            let after_post_snapshot = matches!(
                c.stage,
                Stage::PreFinalCommitSnapshots
                    | Stage::PostSnapshot
                    | Stage::PostFinalCommitSnapshots
            );
            for w in self.session_targets(r) {
                let state = self.writers[w.idx()].state;
                let seat = self.sessions[r.idx()].seats[w.idx()];
                // Rule 14: writers that completed PrepareForSnapshot and have received neither
                // Thaw nor an Abort; rule 16: after PreFinalCommitSnapshots fails, also those
                // waiting for PostSnapshot.
                let waiting_state = (matches!(
                    state,
                    WriterState::WaitingForFreeze | WriterState::WaitingForThaw
                ) && !seat.thawed)
                    || (after_post_snapshot
                        && state == WriterState::WaitingForPostSnapshot
                        && c.stage != Stage::PostFinalCommitSnapshots);
                if waiting_state && !seat.aborted {
                    self.writers[w.idx()].freeze = None;
                    self.set_writer(
                        w,
                        WriterEvent::Abort,
                        WriterState::Stable,
                        Hresult::Ok,
                        "14",
                        out,
                    );
                    self.deliver(now, r, w, WriterEvent::Abort, out);
                    aborted.push(w);
                }
            }
        }
        let set_id = c.set_id;
        for sh in self.shadows.iter_mut() {
            if sh.set_id == set_id && sh.status == ShadowStatus::Exists {
                sh.status = ShadowStatus::Aborted;
                out.push(Output::DeleteShadow {
                    snapshot: sh.id,
                    status: ShadowStatus::Aborted,
                });
            }
        }
        if self.creation_owner == Some(r) {
            self.creation_owner = None;
        }
        self.op_finish(r, code, ReplyData::None, out);
        aborted
    }

    /// Rules 13, 13b: the hold window of hold `token` has ended.
    pub(super) fn hold_window_ended(&mut self, now: Instant, token: u64, out: &mut Vec<Output>) {
        let Some(c) = self.creation.as_ref() else {
            return;
        };
        let Some(hold) = c.hold else { return };
        if hold.token != token || c.released {
            return;
        }
        // Rules 13, 13b: the hold lasted 10 s + 1 µs.
        let code = if hold.flushed {
            Hresult::HoldWritesTimeout
        } else {
            Hresult::FlushWritesTimeout
        };
        self.fail_creation(now, code, "13", out);
    }
}
