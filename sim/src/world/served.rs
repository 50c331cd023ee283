//! A world driven from outside (`vss-sim serve`): socket clients are requesters and writers
//! behind the same mailbox guest code uses, and the world moves only when a client's request
//! lets it. The server ([`crate::serve`]) decides how far; this file is the world's side of it.

use std::cell::RefCell;
use std::rc::Rc;

use model::ids::{ProviderId, RequesterId, WriterId};
use model::provider::ProviderFault;
use model::time::Instant;
use model::writer::WriterFault;

use super::{EndReason, Payload, World};
use crate::guest::Mailbox;
use crate::guest::mailbox::Out;

/// What one step of a served world did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Served {
    /// It dispatched one event.
    Stepped,
    /// Nothing was due by the time asked for: the clock is there now.
    Idle,
    /// The run is over (its time or step limit).
    Ended(EndReason),
}

impl World {
    /// Drives the world from outside: requesters `reqs` and writers `writers` (indices) are the
    /// clients', reached through the mailbox returned; the run never ends by itself.
    pub(crate) fn serve_outside(
        &mut self,
        reqs: &[usize],
        writers: &[usize],
    ) -> Rc<RefCell<Mailbox>> {
        let mail = Rc::new(RefCell::new(Mailbox::default()));
        self.attach_mail(mail.clone(), reqs, writers);
        self.served = true;
        mail
    }

    /// Carries out what a client did, now, as the queue would hand it out next.
    pub(crate) fn outside_now(&mut self, out: Out) -> Option<EndReason> {
        if let Some(e) = self.end {
            return Some(e);
        }
        if self.kernel.step_in_place().is_err() {
            let e = self.finish(EndReason::StepLimit);
            self.end = Some(e);
            return Some(e);
        }
        self.on_guest(out);
        None
    }

    /// Carries out what a client did at virtual time `at` (a handler's answer after the
    /// virtual time it took).
    pub(crate) fn outside_at(&mut self, at: Instant, out: Out) {
        self.schedule(at.max(self.kernel.now()), Payload::Guest(out));
    }

    /// Dispatches the next event if it is due by `until`; else moves the clock to `until`.
    pub(crate) fn served_step(&mut self, until: Instant) -> Served {
        if let Some(e) = self.end {
            return Served::Ended(e);
        }
        match self.kernel.peek_at() {
            Some(at) if at <= until => match self.step_kernel() {
                Some(e) => Served::Ended(e),
                None => Served::Stepped,
            },
            _ => {
                if until != Instant::MAX {
                    self.kernel.idle_until(until);
                }
                Served::Idle
            }
        }
    }

    /// Whether nothing is left to happen but workload writes (every call answered, every
    /// timer and read done).
    pub(crate) fn is_quiet(&self) -> bool {
        self.kernel.peek_heap_at().is_none()
    }

    /// The run's end, if it has ended.
    pub(crate) fn ended(&self) -> Option<EndReason> {
        self.end
    }

    /// Ends a served run now (the server shuts down): the trace gets its end records.
    pub(crate) fn end_served(&mut self) -> EndReason {
        if let Some(e) = self.end {
            return e;
        }
        let e = self.finish(EndReason::Finished);
        self.end = Some(e);
        e
    }

    /// A client's requester process dies (its connection closed): rule 27, now.
    pub(crate) fn outside_go_away(&mut self, r: RequesterId) {
        if self.end.is_none() {
            self.go_away(r);
        }
    }

    /// Whether requester `r` has gone away.
    pub(crate) fn requester_gone(&self, r: RequesterId) -> bool {
        self.reqs[r.idx()].gone
    }

    /// Adds a writer fault from now on (a client's `inject`).
    pub(crate) fn inject_writer_fault(&mut self, w: WriterId, fault: WriterFault) {
        self.writers[w.idx()].inject(fault);
    }

    /// Adds a provider fault from now on (a client's `inject`).
    pub(crate) fn inject_provider_fault(&mut self, p: ProviderId, fault: ProviderFault) {
        self.providers[p.idx()].inject(fault);
    }

    /// Writes held by flush-and-hold right now (none once every hold is over, rule 14).
    pub fn held_writes_now(&self) -> u64 {
        self.store.held_now()
    }
}
