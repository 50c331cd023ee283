//! The VSS service (coordinator) as a sans-IO state machine.
//!
//! It holds one backup session per requester (the `IVssBackupComponents` object and its
//! `VSS_E_BAD_STATE` rules), the service-wide writer status, the one snapshot-set creation the
//! machine allows at a time (rule 20), and the shadow copies it has made. It never
//! reads a clock: every input carries `now`, and every effect (writer event, provider call,
//! flush-and-hold, timer) is appended to the caller's outbox as an [`Output`].
//!
//! Reading order: [`Coordinator::handle`] (here) dispatches; `session.rs` has the API calls
//! (`call_*`) and their order; `creation.rs` walks `DoSnapshotSet` through rule 2's order
//! (`creation_step`) and cleans up after rule 14 (`fail_creation`); `writers.rs` delivers writer
//! events and hears their answers; `providers.rs` calls providers; `shadows.rs` keeps the
//! shadow copies; `admin.rs` has the calls outside the sequence (`IsVolumeSupported`,
//! `GetSnapshotProperties`, `Query`, `DeleteSnapshots`).

mod admin;
mod creation;
mod providers;
mod session;
mod shadows;
mod tokens;
mod writers;

use std::collections::VecDeque;

use crate::api::{ApiCallKind, Input, Output, ReplyData, Timer, Volumes};
use crate::ids::{ProviderId, RequesterId, WriterId};
use crate::machine::Machine;
use crate::profile::Profile;
use crate::time::Instant;
use crate::vss::{Hresult, ProviderCall, SnapshotContext, WriterEvent, WriterState};

use creation::Creation;
use providers::PendingCall;
use session::Session;
use tokens::TokenMap;
use writers::{PendingEvent, WriterRec};

pub use admin::shadow_attributes;
pub use shadows::ShadowRecord;

/// The VSS service of one simulated machine.
#[derive(Debug)]
pub struct Coordinator {
    profile: Profile,
    machine: Machine,
    writers: Vec<WriterRec>,
    sessions: Vec<Session>,
    /// Writer events sent and not yet answered or given up on, by token: those waiting in a
    /// writer's mailbox (rule 30) and those whose handler runs.
    pending_events: TokenMap<PendingEvent>,
    /// Provider calls not yet answered, by token (`AbortSnapshots`, never answered, is not kept).
    pending_calls: TokenMap<PendingCall>,
    /// Who holds the machine's one creation slot (StartSnapshotSet .. DoSnapshotSet's end).
    creation_owner: Option<RequesterId>,
    creation: Option<Creation>,
    shadows: Vec<ShadowRecord>,
    next_token: u64,
    /// The empty volume list, shared (an empty `Arc` slice still allocates its counts).
    no_volumes: Volumes,
}

fn reply(
    out: &mut Vec<Output>,
    requester: RequesterId,
    call: ApiCallKind,
    result: Hresult,
    data: ReplyData,
) {
    out.push(Output::Reply {
        requester,
        call,
        result,
        data,
    });
}

impl Coordinator {
    /// A service with every writer `VSS_WS_STABLE` / `S_OK` and `n_requesters` fresh objects.
    pub fn new(profile: Profile, machine: Machine, n_requesters: usize) -> Coordinator {
        let writers = machine
            .writers
            .iter()
            .map(|_| WriterRec {
                state: WriterState::Stable,
                last_error: Hresult::Ok,
                freeze: None,
                owner: None,
                running: None,
                mailbox: VecDeque::new(),
            })
            .collect();
        let n_writers = machine.writers.len();
        let sessions = (0..n_requesters)
            .map(|_| Session::new(n_writers, 0))
            .collect();
        Coordinator {
            profile,
            machine,
            writers,
            sessions,
            pending_events: TokenMap::new(),
            pending_calls: TokenMap::new(),
            creation_owner: None,
            creation: None,
            shadows: Vec::new(),
            next_token: 1,
            no_volumes: Volumes::from([]),
        }
    }

    /// The machine description.
    pub fn machine(&self) -> &Machine {
        &self.machine
    }

    /// The profile in force.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// Service-wide writer status: `(state, last_error)` of every writer, in subscription order.
    pub fn writer_status(&self, writer: WriterId) -> (WriterState, Hresult) {
        let rec = &self.writers[writer.idx()];
        (rec.state, rec.last_error)
    }

    /// Every shadow copy made so far, in creation order.
    pub fn shadows(&self) -> &[ShadowRecord] {
        &self.shadows
    }

    /// Whether nothing is in flight: no creation, no unanswered writer event or provider call,
    /// no pending asynchronous operation.
    pub fn is_idle(&self) -> bool {
        self.creation.is_none()
            && self.pending_events.iter().all(|(_, p)| p.void)
            && self.pending_calls.is_empty()
            && self
                .sessions
                .iter()
                .all(|s| s.op.as_ref().is_none_or(|op| op.result.is_some()))
    }

    /// The context of requester `r`'s current object (`VSS_CTX_BACKUP` until SetContext).
    pub fn session_context(&self, r: RequesterId) -> SnapshotContext {
        self.sessions[r.idx()].context
    }

    /// The backup session (requester slot and object generation) an outstanding event's token
    /// was sent for: an application its writer froze for one session is thawed by that
    /// session's Thaw, Abort or BackupShutdown only.
    pub fn event_session(&self, token: u64) -> Option<(RequesterId, u32)> {
        self.pending_events
            .get(token)
            .map(|p| (p.requester, p.generation))
    }

    /// The writer and event an outstanding token belongs to.
    pub fn pending_event(&self, token: u64) -> Option<(WriterId, WriterEvent)> {
        self.pending_events
            .get(token)
            .filter(|p| p.delivered && !p.void)
            .map(|p| (p.writer, p.event))
    }

    /// The provider and call an outstanding token belongs to.
    pub fn pending_call(&self, token: u64) -> Option<(ProviderId, ProviderCall)> {
        self.pending_calls.get(token).map(|p| (p.provider, p.call))
    }

    /// Who holds the machine's one creation lock: from StartSnapshotSet to the end of its
    /// DoSnapshotSet, AbortBackup or Release (rule 20).
    pub fn creation_lock(&self) -> Option<RequesterId> {
        self.creation_owner
    }

    /// Whether a requester has released its object.
    pub fn is_released(&self, requester: RequesterId) -> bool {
        self.sessions[requester.idx()].released()
    }

    /// Feeds one input; effects are appended to `out` in the order they happen.
    pub fn handle(&mut self, now: Instant, input: Input, out: &mut Vec<Output>) {
        match input {
            Input::Call { requester, call } => self.on_call(now, requester, call, out),
            Input::WriterAnswer { token, result } => self.on_writer_answer(now, token, result, out),
            Input::ProviderAnswer { token, result } => {
                self.on_provider_answer(now, token, result, out)
            }
            Input::FlushDone { token } => self.on_flush_done(now, token, out),
            Input::Timer(timer) => self.on_timer(now, timer, out),
            Input::NewObject { requester } => self.new_object(now, requester, out),
            Input::ShadowDeleted { snapshot } => self.shadow_deleted(snapshot, out),
        }
    }

    fn new_object(&mut self, now: Instant, r: RequesterId, out: &mut Vec<Output>) {
        if !self.sessions[r.idx()].released() {
            self.call_release(now, r, out);
        }
        let generation = self.sessions[r.idx()].generation + 1;
        self.sessions[r.idx()] = Session::new(self.writers.len(), generation);
    }

    fn token(&mut self) -> u64 {
        let t = self.next_token;
        self.next_token += 1;
        t
    }

    fn on_timer(&mut self, now: Instant, timer: Timer, out: &mut Vec<Output>) {
        match timer {
            Timer::WriterResponse { token } => self.writer_response_due(now, token, out),
            Timer::FreezeWindow { writer, token } => {
                self.freeze_window_ended(now, writer, token, out)
            }
            Timer::HoldWindow { token } => self.hold_window_ended(now, token, out),
            Timer::AsyncFinish { requester, token } => self.async_finish_due(requester, token, out),
        }
    }
}

#[cfg(test)]
mod tests;
