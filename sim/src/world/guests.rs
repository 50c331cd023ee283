//! Guest code in the world: requesters and writers run by your async Rust on the guest runtime
//! ([`crate::guest`]). The loop lets the guest run up to each event's virtual time, and what the
//! guest did becomes events at the instants it did it, carried out like a scripted role's.

use model::api::Input;
use model::ids::{RequesterId, WriterId};
use model::time::Instant;

use super::{EndReason, Payload, World};
use crate::guest::mailbox::{Delivery, Out, ReqBox, WriterBox};
use crate::guest::{GuestError, GuestStats, Host, Stop};

impl World {
    /// Hands requesters `reqs` and writers `writers` (indices) to guest code on `host`; the
    /// code itself is spawned on the host by the caller.
    pub(crate) fn host_guests(&mut self, host: Host, reqs: &[usize], writers: &[usize]) {
        self.attach_mail(host.mail.clone(), reqs, writers);
        self.guest = Some(Box::new(host));
    }

    /// Code outside the model runs requesters `reqs` and writers `writers` (indices), reached
    /// through `mail`: each gets its box, and the requesters no model logic.
    pub(super) fn attach_mail(
        &mut self,
        mail: std::rc::Rc<std::cell::RefCell<crate::guest::Mailbox>>,
        reqs: &[usize],
        writers: &[usize],
    ) {
        {
            let mut m = mail.borrow_mut();
            m.reqs = (0..self.reqs.len()).map(|_| None).collect();
            m.writers = (0..self.writers.len()).map(|_| None).collect();
            for &r in reqs {
                m.reqs[r] = Some(ReqBox::default());
            }
            for &w in writers {
                m.writers[w] = Some(WriterBox::default());
            }
        }
        for &r in reqs {
            self.reqs[r].guest = Some(None);
        }
        self.mail = Some(mail);
    }

    /// Why guest code could not go on, if the run stopped for that. Such a run ends with
    /// [`EndReason::GuestError`] and has no end records in its trace.
    pub fn guest_error(&self) -> Option<&GuestError> {
        self.guest_error.as_ref()
    }

    /// The guest runtime's counts (zero without guest code).
    pub fn guest_stats(&self) -> GuestStats {
        self.guest.as_deref().map(Host::stats).unwrap_or_default()
    }

    /// Whether guest code answers writer `w`'s events.
    pub(super) fn guest_runs_writer(&self, w: WriterId) -> bool {
        self.mail
            .as_ref()
            .is_some_and(|m| m.borrow().runs_writer(w))
    }

    /// Hands an event to a guest writer.
    pub(super) fn deliver_to_guest(&mut self, w: WriterId, d: Delivery) {
        if let Some(m) = &self.mail {
            m.borrow_mut().deliver(w, d);
        }
        self.wake_guest();
    }

    /// Lets the guest runtime know something reached it (nothing to do for a socket client,
    /// which the server tells itself).
    pub(super) fn wake_guest(&mut self) {
        if let Some(host) = self.guest.as_deref_mut() {
            host.wake();
        }
    }

    /// The world's loop with guest code, as one poll of the future the guest runtime runs
    /// ([`crate::guest::Runtime::run`]): steps the world while the guest need not run, and
    /// drives the guest up to the next event when it must (something reached it, or its clock
    /// is behind that event's millisecond). What the guest did becomes events at the instants
    /// it did it. Ready with the end reason.
    pub(crate) fn poll_with_guest(
        &mut self,
        cx: &mut std::task::Context<'_>,
        local: &mut tokio::task::LocalSet,
        mut fence: std::pin::Pin<&mut tokio::time::Sleep>,
    ) -> std::task::Poll<EndReason> {
        use std::task::Poll;
        loop {
            if !self.driving {
                if let Some(e) = self.end {
                    return Poll::Ready(e);
                }
                let next = self.guest_fence();
                let host = self.guest.as_deref_mut().expect("a world with guest code");
                if host.needs_drive(next) {
                    host.begin_drive(next, fence.as_mut());
                    self.driving = true;
                } else if let Some(e) = self.step_kernel() {
                    return Poll::Ready(e);
                }
                continue;
            }
            let host = self.guest.as_deref_mut().expect("a world with guest code");
            let stop = match host.poll_drive(cx, local, fence.as_mut()) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(stop) => stop,
            };
            self.driving = false;
            match stop {
                Ok(Stop::Fence) => {}
                Ok(Stop::Acted(at)) => {
                    let outs = std::mem::take(&mut host.mail.borrow_mut().out);
                    // Never before the event it reacts to: the guest sees time to the
                    // millisecond.
                    let now = self.kernel.now();
                    let at = at.max(now);
                    if at == now && self.kernel.peek_at().is_none_or(|t| t > now) {
                        // Nothing else is due now: carry the actions out at once, in order,
                        // as the queue would hand them out next.
                        for o in outs {
                            if let Err(stop) = self.kernel.step_in_place() {
                                debug_assert!(matches!(stop, crate::kernel::Stop::StepLimit));
                                self.end = Some(self.finish(EndReason::StepLimit));
                                break;
                            }
                            self.on_guest(o);
                        }
                        if self.end.is_none() && self.running && self.all_done() {
                            self.end = Some(self.finish(EndReason::Finished));
                        }
                    } else {
                        for o in outs {
                            self.schedule(at, Payload::Guest(o));
                        }
                    }
                }
                Err(e) => {
                    host.mail.borrow_mut().closed = true;
                    self.guest_error = Some(e);
                    self.running = false;
                    self.end = Some(EndReason::GuestError);
                }
            }
        }
    }

    /// The virtual time the guest must have run up to before the world goes on: the next
    /// one-shot event (a slot's write never reaches a guest), or the end of the run.
    fn guest_fence(&self) -> Instant {
        self.kernel
            .peek_heap_at()
            .unwrap_or(Instant::MAX)
            .min(self.kernel.max_time())
    }

    /// Carries out one thing guest code did.
    pub(super) fn on_guest(&mut self, out: Out) {
        match out {
            Out::Call { requester, call } => {
                if !self.reqs[requester.idx()].gone {
                    self.call_api(requester, call);
                }
            }
            Out::NewObject { requester } => {
                if !self.reqs[requester.idx()].gone {
                    self.new_object(requester);
                }
            }
            Out::Read {
                requester,
                volume,
                snapshot,
            } => {
                if self.reqs[requester.idx()].gone {
                } else if self.copy_of(snapshot, volume) {
                    self.start_read(requester, volume, snapshot);
                } else {
                    // No shadow copy of that volume has this id: nothing to read.
                    self.feed_requester(
                        requester,
                        model::requester::Feedback::ReadDone {
                            volume,
                            complete: false,
                        },
                    );
                }
            }
            Out::ReadBlocks {
                requester,
                volume,
                snapshot,
                first,
                count,
            } => {
                if self.reqs[requester.idx()].gone {
                } else if self.copy_of(snapshot, volume) {
                    self.read_blocks(requester, volume, snapshot, first, count);
                } else {
                    self.blocks_to_guest(requester, (model::vss::Hresult::ObjectNotFound, 0, 0));
                }
            }
            Out::Done { requester, verdict } => self.guest_done(requester, verdict),
            Out::Answer { token, result, .. } => {
                let input = Input::WriterAnswer { token, result };
                self.note_input(&input);
                self.coord_input(input);
            }
            Out::App {
                writer,
                token,
                frozen,
            } => {
                let session = self.coord.event_session(token);
                if frozen {
                    if let Some(session) = session {
                        self.freeze_apps(writer, session);
                    }
                } else {
                    self.thaw_apps(writer, session);
                }
            }
        }
    }

    /// Whether `snapshot` is a shadow copy of `volume` (a guest names both).
    fn copy_of(&self, snapshot: model::ids::SnapshotId, volume: model::ids::VolumeId) -> bool {
        self.store.volume_of(snapshot) == Some(volume)
    }

    fn guest_done(&mut self, r: RequesterId, verdict: model::vss::Hresult) {
        self.reqs[r.idx()].guest = Some(Some(verdict));
    }
}
