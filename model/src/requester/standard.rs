//! The standard requester: VShadow's sequence (rule S27) with a retry and abandon `Policy`.

use crate::api::{ApiCall, ApiCallKind, ComponentRef, ProviderArg, ReplyData, WriterStatus};
use crate::ids::{Guid, SnapshotId, VolumeId, WriterId};
use crate::machine::Machine;
use crate::time::Duration;
use crate::vss::{BackupType, Hresult, SnapshotContext};

use super::{Action, Feedback, Flaw};

/// What a requester does when a writer is in a failed state after PrepareForBackup or
/// DoSnapshotSet (as Kopia does on `VSS_E_SNAPSHOT_SET_IN_PROGRESS`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WriterFailurePolicy {
    /// Go on without the failed writer; its components are not marked succeeded.
    #[default]
    Continue,
    /// Abandon the backup (AbortBackup, Release).
    Abort,
    /// Abandon the backup and retry it, if the writer's last error is one to retry on.
    Retry,
    /// What VShadow does: stop at the first *selected* writer (one with a component added) in
    /// a failed state. VShadow's `CheckSelectedWriterStatus` throws after `GatherWriterStatus`,
    /// so it never calls `BackupComplete` and makes no `AbortBackup`; releasing the object on
    /// the way out still sends BackupShutdown (rule 27). Never retried.
    Stop,
}

/// Retry and abandon rules, so the policies of real tools can be written in a scenario and
/// compared in virtual time (Microsoft's 3 tries 10 minutes apart, restic's 120-second deadline,
/// UrBackup's 3 attempts, Kopia's retry on in-progress).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Extra attempts after the first.
    pub retries: u32,
    /// Wait between a failed attempt's Release and the next attempt.
    pub retry_wait: Duration,
    /// Failures that are retried.
    pub retry_on: Vec<Hresult>,
    /// What to do about a failed writer.
    pub writer_failure: WriterFailurePolicy,
    /// The whole backup must end within this; then the requester cancels and abandons it.
    pub deadline: Option<Duration>,
}

impl Policy {
    /// The transient failures Microsoft advises to retry (rule S15), plus
    /// `VSS_E_SNAPSHOT_SET_IN_PROGRESS` (wait and retry, rule S15).
    pub fn default_retry_on() -> Vec<Hresult> {
        vec![
            Hresult::WriterErrorOutOfResources,
            Hresult::WriterErrorTimeout,
            Hresult::WriterErrorRetryable,
            Hresult::FlushWritesTimeout,
            Hresult::HoldWritesTimeout,
            Hresult::ProviderVeto,
            Hresult::UnexpectedProviderError,
            Hresult::SnapshotSetInProgress,
        ]
    }
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            retries: 0,
            retry_wait: Duration::from_secs(600),
            retry_on: Policy::default_retry_on(),
            writer_failure: WriterFailurePolicy::Continue,
            deadline: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Initialize,
    SetContext,
    SetBackupState,
    GatherWriterMetadata,
    AddComponent(usize),
    StartSnapshotSet,
    AddToSnapshotSet(usize),
    PrepareForBackup,
    StatusAfterPrepare,
    DoSnapshotSet,
    StatusAfterSnapshot,
    Read(usize),
    /// A flawed requester copying live volume `i` after DoSnapshotSet failed.
    ReadLive(usize),
    SetBackupSucceeded(usize),
    BackupComplete,
    StatusAfterComplete,
    CancelAsync,
    AbortBackup,
    Release,
    RetryWait,
    NewObject,
    Done,
}

/// The standard requester's configuration and progress.
#[derive(Clone, Debug)]
pub struct StandardRequester {
    context: SnapshotContext,
    volumes: Vec<VolumeId>,
    /// Components of every writer: (writer, component index, volumes).
    catalog: Vec<(WriterId, u16, Vec<VolumeId>)>,
    /// Where each writer's components start in `catalog`.
    catalog_start: Vec<usize>,
    policy: Policy,
    /// Backups still to run after this one (`repeat`).
    repeats_left: u32,
    retries_left: u32,
    step: Step,
    waiting: bool,
    /// An asynchronous operation is pending (so Cancel makes sense).
    async_pending: bool,
    /// A Cancel call has been made and has not returned yet.
    cancel_pending: bool,
    /// The synchronous call made and not yet returned.
    in_flight: Option<ApiCallKind>,
    /// A synchronous call given up on at the deadline: its reply, if it ever comes, is ignored.
    abandoned_call: Option<ApiCallKind>,
    /// The asynchronous operation was cancelled at the deadline and is no longer waited for:
    /// its end, if it ever comes, changes nothing.
    abandoned_op: bool,
    to_add: Vec<ComponentRef>,
    snapshots: Vec<(VolumeId, SnapshotId)>,
    read_ok: Vec<VolumeId>,
    failed_writers: Vec<(WriterId, Hresult)>,
    set_started: bool,
    /// The attempt in progress failed (or was abandoned) with this.
    attempt_failure: Option<Hresult>,
    retry_pending: bool,
    completed: bool,
    first_failure: Option<Hresult>,
    cancelled: bool,
    deadline_passed: bool,
    /// The bug of a deliberately wrong requester (`None`: the correct standard requester).
    flaw: Option<Flaw>,
    /// A `TrustsWait` requester took a failed DoSnapshotSet for a success: it ignores every
    /// failure from then on.
    trusting: bool,
}

impl StandardRequester {
    /// A requester that backs up `volumes` in `context` on `machine`, `1 + repeats` times.
    pub fn new(
        machine: &Machine,
        context: SnapshotContext,
        volumes: Vec<VolumeId>,
        policy: Policy,
        repeats: u32,
    ) -> StandardRequester {
        let catalog = machine
            .writers
            .iter()
            .enumerate()
            .flat_map(|(w, info)| {
                info.components.iter().enumerate().map(move |(c, comp)| {
                    let c = u16::try_from(c).expect("bounded by the scenario limits");
                    (WriterId::from_index(w), c, comp.volumes.clone())
                })
            })
            .collect();
        let catalog_start = machine
            .writers
            .iter()
            .scan(0, |start, info| {
                let here = *start;
                *start += info.components.len();
                Some(here)
            })
            .collect();
        StandardRequester {
            context,
            volumes,
            catalog,
            catalog_start,
            retries_left: policy.retries,
            policy,
            repeats_left: repeats,
            step: Step::Initialize,
            waiting: false,
            async_pending: false,
            cancel_pending: false,
            in_flight: None,
            abandoned_call: None,
            abandoned_op: false,
            to_add: Vec::new(),
            snapshots: Vec::new(),
            read_ok: Vec::new(),
            failed_writers: Vec::new(),
            set_started: false,
            attempt_failure: None,
            retry_pending: false,
            completed: false,
            first_failure: None,
            cancelled: false,
            deadline_passed: false,
            flaw: None,
            trusting: false,
        }
    }

    /// The same requester with a deliberate bug (`None`: none).
    pub fn with_flaw(mut self, flaw: Option<Flaw>) -> StandardRequester {
        self.flaw = flaw;
        self
    }

    fn flawed(&self, flaw: Flaw) -> bool {
        self.flaw == Some(flaw)
    }

    /// Whether it has nothing more to do.
    pub(super) fn is_done(&self) -> bool {
        self.step == Step::Done
    }

    /// `S_OK` when its last attempt completed, the first failure it met,
    /// `VSS_S_ASYNC_CANCELLED` when it abandoned the backup on its own (deadline) before any
    /// failure; `None` while undecided.
    pub(super) fn verdict(&self) -> Option<Hresult> {
        if self.completed {
            Some(Hresult::Ok)
        } else if self.cancelled {
            Some(Hresult::AsyncCancelled)
        } else {
            self.first_failure
        }
    }

    /// Whether its last attempt ran to the end.
    pub(super) fn completed(&self) -> bool {
        self.completed
    }

    fn reset_attempt(&mut self) {
        self.to_add.clear();
        self.snapshots.clear();
        self.read_ok.clear();
        self.failed_writers.clear();
        self.set_started = false;
        self.attempt_failure = None;
        self.retry_pending = false;
        self.completed = false;
        self.trusting = false;
    }

    /// The next action. Call again after each [`StandardRequester::feed`].
    pub fn next_action(&mut self) -> Action {
        if self.waiting {
            return Action::Wait;
        }
        let action = match self.step {
            Step::Initialize => Action::Call(ApiCall::InitializeForBackup),
            Step::SetContext => Action::Call(ApiCall::SetContext(self.context)),
            Step::SetBackupState => Action::Call(ApiCall::SetBackupState {
                select_components: true,
                backup_type: BackupType::Full,
                bootable_system_state: false,
                partial_file_support: false,
            }),
            Step::GatherWriterMetadata => Action::Call(ApiCall::GatherWriterMetadata),
            Step::AddComponent(i) => Action::Call(ApiCall::AddComponent(Some(self.to_add[i]))),
            Step::StartSnapshotSet => {
                Action::Call(ApiCall::StartSnapshotSet { new_id: Guid::NULL })
            }
            Step::AddToSnapshotSet(i) => Action::Call(ApiCall::AddToSnapshotSet {
                volume: Some(self.volumes[i]),
                provider: ProviderArg::Any,
                new_id: Guid::NULL,
            }),
            Step::PrepareForBackup => Action::Call(ApiCall::PrepareForBackup),
            Step::StatusAfterPrepare | Step::StatusAfterSnapshot | Step::StatusAfterComplete => {
                Action::Call(ApiCall::GatherWriterStatus)
            }
            Step::DoSnapshotSet => Action::Call(ApiCall::DoSnapshotSet),
            Step::Read(i) => {
                let (volume, snapshot) = self.snapshots[i];
                if self.flawed(Flaw::ReleasesWhileReading) {
                    // The copy runs in the background; the object is released at once.
                    self.advance();
                    return Action::ReadShadow {
                        volume,
                        snapshot,
                        background: true,
                    };
                }
                Action::ReadShadow {
                    volume,
                    snapshot,
                    background: false,
                }
            }
            Step::ReadLive(i) => Action::ReadLive {
                volume: self.volumes[i],
            },
            Step::SetBackupSucceeded(i) => {
                let c = self.to_add[i];
                let vols = &self.catalog_entry(c).2;
                // True only for components whose writer is not failed and whose volumes were
                // read in full.
                let succeeded = self.flawed(Flaw::IgnoresWriterStatus)
                    || (!self.failed_writers.iter().any(|(w, _)| *w == c.writer)
                        && vols.iter().all(|v| self.read_ok.contains(v)));
                Action::Call(ApiCall::SetBackupSucceeded {
                    component: c,
                    succeeded,
                })
            }
            Step::BackupComplete => Action::Call(ApiCall::BackupComplete),
            Step::CancelAsync => {
                self.cancel_pending = true;
                Action::Call(ApiCall::Cancel)
            }
            Step::AbortBackup => Action::Call(ApiCall::AbortBackup),
            Step::Release => Action::Call(ApiCall::Release),
            Step::RetryWait => Action::Sleep(self.policy.retry_wait),
            Step::NewObject => {
                // Creating an object is immediate: no reply to wait for.
                self.reset_attempt();
                self.step = Step::Initialize;
                return Action::NewObject;
            }
            Step::Done => return Action::Done,
        };
        if let Action::Call(call) = &action {
            self.in_flight = Some(call.kind());
        }
        self.waiting = true;
        action
    }

    fn catalog_entry(&self, c: ComponentRef) -> &(WriterId, u16, Vec<VolumeId>) {
        let entry = &self.catalog[self.catalog_start[c.writer.idx()] + usize::from(c.idx)];
        debug_assert!(entry.0 == c.writer && entry.1 == c.idx);
        entry
    }

    /// Feeds what came back from the last action.
    pub fn feed(&mut self, feedback: Feedback) {
        match feedback {
            Feedback::Deadline => {
                if self.step == Step::Done || self.deadline_passed {
                    return;
                }
                self.deadline_passed = true;
                self.retries_left = 0;
                self.repeats_left = 0;
                if self.first_failure.is_none() && !self.completed {
                    self.cancelled = true;
                }
                if self.async_pending {
                    // Cancel the operation, then abandon the backup once it has ended.
                    self.waiting = false;
                    self.step = Step::CancelAsync;
                } else if matches!(self.step, Step::RetryWait | Step::NewObject) {
                    // Between attempts the object is already released: nothing to abandon.
                    self.retry_pending = false;
                    self.waiting = false;
                    self.step = Step::Done;
                } else if !self.waiting {
                    self.abandon();
                } else if matches!(self.step, Step::Read(_)) {
                    self.waiting = false;
                    self.abandon();
                } else if let Some(call) =
                    self.in_flight.filter(|c| !c.is_async() && !c.is_clean_up())
                {
                    // Blocked in a synchronous call (AddToSnapshotSet waits for a provider's
                    // BeginPrepareSnapshot): give it up and clean up; its entry stays pending
                    // unless it returns, and a late reply is ignored.
                    self.abandoned_call = Some(call);
                    self.in_flight = None;
                    self.waiting = false;
                    if call == ApiCallKind::StartSnapshotSet {
                        // The service starts the set before it sees AbortBackup.
                        self.set_started = true;
                    }
                    self.abandon();
                }
                // Otherwise a clean-up call or an asynchronous call's start is in flight: its
                // reply sees `deadline_passed`.
            }
            Feedback::Woke => {
                self.waiting = false;
                self.step = if self.deadline_passed {
                    Step::Done
                } else {
                    Step::NewObject
                };
            }
            Feedback::Reply { call, result, data } => {
                if self.abandoned_call == Some(call) {
                    // The call given up on at the deadline returned after all: too late.
                    self.abandoned_call = None;
                    return;
                }
                self.in_flight = None;
                if call == ApiCallKind::Cancel {
                    self.cancel_pending = false;
                    // The deadline does not wait for the operation to end (a Cancel after the
                    // release of held writes changes nothing, rule 25, and a hung provider
                    // may never end it): abort and release now, as restic does.
                    self.waiting = false;
                    self.abandoned_op = self.async_pending;
                    self.abandon();
                    return;
                }
                if !result.is_success() {
                    self.waiting = false;
                    return self.fail(result);
                }
                if call.is_async() {
                    // Wait(), then QueryStatus().
                    self.async_pending = true;
                    if self.deadline_passed {
                        // The deadline passed while this call was on its way: cancel it.
                        self.waiting = false;
                        self.step = Step::CancelAsync;
                    }
                    return;
                }
                self.waiting = false;
                match data {
                    ReplyData::Snapshot(id) => {
                        if let Step::AddToSnapshotSet(i) = self.step {
                            self.snapshots.push((self.volumes[i], id));
                        }
                    }
                    ReplyData::SnapshotSet(_) => self.set_started = true,
                    _ => {}
                }
                if self.deadline_passed {
                    // No new operation once the deadline has passed: abandon the backup.
                    return self.abandon();
                }
                self.advance();
            }
            Feedback::AsyncDone { result, data, .. } => {
                self.async_pending = false;
                if self.abandoned_op {
                    // Cancelled and no longer waited for: the clean-up goes on.
                    self.abandoned_op = false;
                    return;
                }
                if self.cancel_pending {
                    // Cancel has not returned yet: one call at a time, wait for its reply.
                    self.waiting = true;
                    return;
                }
                self.waiting = false;
                if self.deadline_passed {
                    return self.abandon();
                }
                if !result.is_success() || result == Hresult::AsyncCancelled {
                    if self.step == Step::DoSnapshotSet && self.flawed(Flaw::TrustsWait) {
                        // Wait returned: taken for success, QueryStatus never asked.
                        self.trusting = true;
                        self.advance();
                        return;
                    }
                    return self.fail(result);
                }
                match data {
                    ReplyData::WriterMetadata(ids) => {
                        self.to_add = self
                            .catalog
                            .iter()
                            .filter(|(w, _, vols)| {
                                ids.binary_search(w).is_ok()
                                    && !vols.is_empty()
                                    && vols.iter().all(|v| self.volumes.contains(v))
                            })
                            .map(|(w, i, _)| ComponentRef {
                                writer: *w,
                                idx: *i,
                            })
                            .collect();
                    }
                    ReplyData::WriterStatus(list) if self.note_status(&list) => return,
                    _ => {}
                }
                self.advance();
            }
            Feedback::ReadDone { .. } if self.flawed(Flaw::ReleasesWhileReading) => {
                // The background copy ended; nobody looks at how.
            }
            Feedback::ReadDone { volume, complete } => {
                self.waiting = false;
                if complete {
                    self.read_ok.push(volume);
                }
                if self.deadline_passed {
                    return self.abandon();
                }
                // A volume no selected component lies on (every volume of a writer-less
                // backup) has no component to mark not backed up: its copy is lost, so the
                // backup itself failed (its shadow copy went away under it).
                let covered = self.context.has_writers()
                    && self
                        .to_add
                        .iter()
                        .any(|c| self.catalog_entry(*c).2.contains(&volume));
                if !complete && !covered {
                    return self.fail(Hresult::ObjectNotFound);
                }
                self.advance();
            }
        }
    }

    /// Records failed writers; returns true when the policy abandons the attempt for them.
    fn note_status(&mut self, list: &[WriterStatus]) -> bool {
        if self.flawed(Flaw::IgnoresWriterStatus) {
            return false;
        }
        let mut newly_failed = None;
        for s in list {
            if s.state.is_failed() && !self.failed_writers.iter().any(|(w, _)| *w == s.writer) {
                self.failed_writers.push((s.writer, s.last_error));
                newly_failed.get_or_insert(s.last_error);
            }
        }
        let Some(code) = newly_failed else {
            return false;
        };
        // After BackupComplete the backup is over: a failure there changes nothing (rule 8).
        if self.step == Step::StatusAfterComplete {
            return false;
        }
        match self.policy.writer_failure {
            WriterFailurePolicy::Continue => false,
            WriterFailurePolicy::Abort | WriterFailurePolicy::Retry => {
                self.fail(code);
                true
            }
            WriterFailurePolicy::Stop => match self.selected_failure(list) {
                Some(code) => {
                    self.stop(code);
                    true
                }
                None => false,
            },
        }
    }

    /// The last error of the first writer in `list` that is in a failed state and has a
    /// component this backup added (VShadow ignores writers it did not select).
    fn selected_failure(&self, list: &[WriterStatus]) -> Option<Hresult> {
        list.iter()
            .find(|s| s.state.is_failed() && self.to_add.iter().any(|c| c.writer == s.writer))
            .map(|s| s.last_error)
    }

    /// Ends the attempt as VShadow does when it throws: no AbortBackup, no BackupComplete,
    /// straight to Release; no retry.
    fn stop(&mut self, code: Hresult) {
        if self.first_failure.is_none() && !self.cancelled {
            self.first_failure = Some(code);
        }
        self.attempt_failure.get_or_insert(code);
        self.step = Step::Release;
    }

    fn abandon(&mut self) {
        if self.flawed(Flaw::NeverReleases) {
            // No AbortBackup, no Release: the object and what it holds stay.
            self.step = Step::Done;
            return;
        }
        self.step = match self.step {
            Step::Release | Step::Done => Step::Done,
            Step::AbortBackup | Step::RetryWait | Step::NewObject => Step::Release,
            _ if self.set_started => Step::AbortBackup,
            _ => Step::Release,
        };
    }

    fn fail(&mut self, code: Hresult) {
        if self.trusting {
            // A requester that trusted Wait ignores what fails after it.
            self.advance();
            return;
        }
        if self.step == Step::DoSnapshotSet && self.flawed(Flaw::LiveFallback) {
            // No shadow copies: copy the live volumes instead, and say nothing.
            self.step = if self.volumes.is_empty() {
                self.finish()
            } else {
                Step::ReadLive(0)
            };
            return;
        }
        if self.first_failure.is_none() && !self.cancelled {
            self.first_failure = Some(code);
        }
        if matches!(self.step, Step::AbortBackup | Step::Release | Step::Done) {
            // A failing clean-up call: go on releasing.
            self.advance();
            return;
        }
        if self.attempt_failure.is_none() {
            self.attempt_failure = Some(code);
            let retryable = self.policy.retry_on.contains(&code)
                && (self.policy.writer_failure != WriterFailurePolicy::Abort
                    || !code.is_writer_failure());
            if retryable && self.retries_left > 0 && !self.deadline_passed {
                self.retries_left -= 1;
                self.retry_pending = true;
            }
        }
        self.abandon();
    }

    fn advance(&mut self) {
        let writers = self.context.has_writers();
        self.step = match self.step {
            Step::Initialize if self.context != SnapshotContext::Backup => Step::SetContext,
            Step::Initialize | Step::SetContext => Step::SetBackupState,
            Step::SetBackupState => Step::GatherWriterMetadata,
            Step::GatherWriterMetadata if writers && !self.to_add.is_empty() => {
                Step::AddComponent(0)
            }
            Step::GatherWriterMetadata => Step::StartSnapshotSet,
            Step::AddComponent(i) if i + 1 < self.to_add.len() => Step::AddComponent(i + 1),
            Step::AddComponent(_) => Step::StartSnapshotSet,
            Step::StartSnapshotSet if !self.volumes.is_empty() => Step::AddToSnapshotSet(0),
            Step::AddToSnapshotSet(i) if i + 1 < self.volumes.len() => {
                Step::AddToSnapshotSet(i + 1)
            }
            Step::StartSnapshotSet | Step::AddToSnapshotSet(_) if writers => Step::PrepareForBackup,
            Step::StartSnapshotSet | Step::AddToSnapshotSet(_) => Step::DoSnapshotSet,
            Step::PrepareForBackup => Step::StatusAfterPrepare,
            Step::StatusAfterPrepare => Step::DoSnapshotSet,
            Step::DoSnapshotSet => Step::StatusAfterSnapshot,
            Step::StatusAfterSnapshot => self.after_snapshot(),
            // The copy runs in the background: straight to Release, reported good.
            Step::Read(_) if self.flawed(Flaw::ReleasesWhileReading) => self.finish(),
            Step::Read(i) if i + 1 < self.snapshots.len() => Step::Read(i + 1),
            Step::Read(_) if writers && !self.to_add.is_empty() => Step::SetBackupSucceeded(0),
            Step::Read(_) if writers => Step::BackupComplete,
            Step::Read(_) => self.finish(),
            Step::ReadLive(i) if i + 1 < self.volumes.len() => Step::ReadLive(i + 1),
            Step::ReadLive(_) => self.finish(),
            Step::SetBackupSucceeded(i) if i + 1 < self.to_add.len() => {
                Step::SetBackupSucceeded(i + 1)
            }
            Step::SetBackupSucceeded(_) => Step::BackupComplete,
            Step::BackupComplete => Step::StatusAfterComplete,
            Step::StatusAfterComplete => self.finish(),
            Step::CancelAsync | Step::AbortBackup => Step::Release,
            Step::Release => self.after_release(),
            Step::RetryWait | Step::NewObject => Step::NewObject,
            Step::Done => Step::Done,
        };
    }

    fn after_release(&mut self) -> Step {
        if self.deadline_passed {
            return Step::Done;
        }
        if self.retry_pending {
            return Step::RetryWait;
        }
        if self.attempt_failure.is_none() && self.repeats_left > 0 {
            self.repeats_left -= 1;
            return Step::NewObject;
        }
        Step::Done
    }

    fn after_snapshot(&mut self) -> Step {
        if !self.snapshots.is_empty() {
            return Step::Read(0);
        }
        if self.context.has_writers() {
            if self.to_add.is_empty() {
                Step::BackupComplete
            } else {
                Step::SetBackupSucceeded(0)
            }
        } else {
            self.finish()
        }
    }

    fn finish(&mut self) -> Step {
        self.completed = true;
        Step::Release
    }
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use super::*;
    use crate::api::WriterStatus;
    use crate::machine::VolumeInfo;
    use crate::vss::WriterState;

    /// One writer with one component on the one volume.
    fn machine() -> Machine {
        Machine::one_writer_one_volume()
    }

    /// Runs the standard requester against a service where every call succeeds and the writer
    /// is `VSS_WS_FAILED_AT_FREEZE` from DoSnapshotSet on; returns the calls made, in order,
    /// and the verdict.
    fn calls_with(writer_failure: WriterFailurePolicy) -> (Vec<&'static str>, Option<Hresult>) {
        let policy = Policy {
            writer_failure,
            ..Policy::default()
        };
        let mut r = RequesterLogic::Standard(StandardRequester::new(
            &machine(),
            SnapshotContext::Backup,
            vec![VolumeId(0)],
            policy,
            0,
        ));
        let mut calls = Vec::new();
        let mut frozen_failed = false;
        for _ in 0..100 {
            match r.next_action(Instant::ZERO) {
                Action::Call(call) => {
                    let name = call.kind();
                    calls.push(name.name());
                    let data = match &call {
                        ApiCall::StartSnapshotSet { .. } => ReplyData::SnapshotSet(Guid(3)),
                        ApiCall::AddToSnapshotSet { .. } => ReplyData::Snapshot(Guid(4)),
                        _ => ReplyData::None,
                    };
                    r.feed(
                        Instant::ZERO,
                        Feedback::Reply {
                            call: name,
                            result: Hresult::Ok,
                            data,
                        },
                    );
                    if call.is_async() {
                        if call == ApiCall::DoSnapshotSet {
                            frozen_failed = true;
                        }
                        let data = match call {
                            ApiCall::GatherWriterMetadata => {
                                ReplyData::WriterMetadata(vec![WriterId(0)])
                            }
                            ApiCall::GatherWriterStatus => {
                                ReplyData::WriterStatus(vec![if frozen_failed {
                                    WriterStatus {
                                        writer: WriterId(0),
                                        state: WriterState::FailedAtFreeze,
                                        last_error: Hresult::WriterErrorNonRetryable,
                                    }
                                } else {
                                    WriterStatus {
                                        writer: WriterId(0),
                                        state: WriterState::Stable,
                                        last_error: Hresult::Ok,
                                    }
                                }])
                            }
                            _ => ReplyData::None,
                        };
                        r.feed(
                            Instant::ZERO,
                            Feedback::AsyncDone {
                                call: name,
                                result: Hresult::AsyncFinished,
                                data,
                            },
                        );
                    }
                }
                Action::ReadShadow { volume, .. } => {
                    calls.push("ReadShadow");
                    r.feed(
                        Instant::ZERO,
                        Feedback::ReadDone {
                            volume,
                            complete: true,
                        },
                    );
                }
                Action::Done => return (calls, r.verdict()),
                other => panic!("unexpected action {other:?}"),
            }
        }
        panic!("the requester did not finish: {calls:?}");
    }

    const UNTIL_STATUS_AFTER_SNAPSHOT: &[&str] = &[
        "InitializeForBackup",
        "SetBackupState",
        "GatherWriterMetadata",
        "AddComponent",
        "StartSnapshotSet",
        "AddToSnapshotSet",
        "PrepareForBackup",
        "GatherWriterStatus",
        "DoSnapshotSet",
        "GatherWriterStatus",
    ];

    #[test]
    fn stop_releases_without_backup_complete_or_abort_backup() {
        let (calls, verdict) = calls_with(WriterFailurePolicy::Stop);
        let mut want = UNTIL_STATUS_AFTER_SNAPSHOT.to_vec();
        want.push("Release");
        assert_eq!(calls, want);
        assert_eq!(verdict, Some(Hresult::WriterErrorNonRetryable));
    }

    #[test]
    fn abort_calls_abort_backup_then_releases() {
        let (calls, verdict) = calls_with(WriterFailurePolicy::Abort);
        let mut want = UNTIL_STATUS_AFTER_SNAPSHOT.to_vec();
        want.extend(["AbortBackup", "Release"]);
        assert_eq!(calls, want);
        assert_eq!(verdict, Some(Hresult::WriterErrorNonRetryable));
    }

    #[test]
    fn continue_completes_the_backup_without_the_failed_writer() {
        let (calls, verdict) = calls_with(WriterFailurePolicy::Continue);
        let mut want = UNTIL_STATUS_AFTER_SNAPSHOT.to_vec();
        want.extend([
            "ReadShadow",
            "SetBackupSucceeded",
            "BackupComplete",
            "GatherWriterStatus",
            "Release",
        ]);
        assert_eq!(calls, want);
        assert_eq!(verdict, Some(Hresult::Ok));
    }

    #[test]
    fn stop_ignores_a_failed_writer_it_did_not_select() {
        // The same failure on a writer whose component is not on the backed-up volume.
        let mut m = machine();
        m.volumes.push(VolumeInfo {
            name: "D:\\".into(),
            bytes: 1 << 30,
        });
        m.writers[0].components[0].volumes = vec![VolumeId(1)];
        let policy = Policy {
            writer_failure: WriterFailurePolicy::Stop,
            ..Policy::default()
        };
        let mut r =
            StandardRequester::new(&m, SnapshotContext::Backup, vec![VolumeId(0)], policy, 0);
        r.to_add.clear();
        let failed = [WriterStatus {
            writer: WriterId(0),
            state: WriterState::FailedAtFreeze,
            last_error: Hresult::WriterErrorNonRetryable,
        }];
        r.step = Step::StatusAfterSnapshot;
        assert!(
            !r.note_status(&failed),
            "an unselected writer does not stop the backup"
        );
        assert_eq!(r.step, Step::StatusAfterSnapshot);
    }
}

#[cfg(test)]
mod flaws {
    use super::super::*;
    use super::*;
    use crate::machine::Machine;

    /// Drives `r` against a service where every call returns `S_OK`, DoSnapshotSet ends with
    /// `snapshot`, every writer is stable and each read ends `complete` (a live copy always
    /// does); returns the actions taken, in order, and the verdict.
    fn drive(
        r: StandardRequester,
        snapshot: Hresult,
        complete: bool,
    ) -> (Vec<&'static str>, Option<Hresult>) {
        let mut r = RequesterLogic::Standard(r);
        let mut seen = Vec::new();
        for _ in 0..100 {
            match r.next_action(Instant::ZERO) {
                Action::Call(call) => {
                    let name = call.kind();
                    seen.push(name.name());
                    let data = match &call {
                        ApiCall::StartSnapshotSet { .. } => ReplyData::SnapshotSet(Guid(3)),
                        ApiCall::AddToSnapshotSet { .. } => ReplyData::Snapshot(Guid(4)),
                        _ => ReplyData::None,
                    };
                    let result = Hresult::Ok;
                    r.feed(
                        Instant::ZERO,
                        Feedback::Reply {
                            call: name,
                            result,
                            data,
                        },
                    );
                    if call.is_async() {
                        let (result, data) = match call {
                            ApiCall::DoSnapshotSet => (snapshot, ReplyData::None),
                            ApiCall::GatherWriterMetadata => (
                                Hresult::AsyncFinished,
                                ReplyData::WriterMetadata(vec![WriterId(0)]),
                            ),
                            _ => (Hresult::AsyncFinished, ReplyData::None),
                        };
                        r.feed(
                            Instant::ZERO,
                            Feedback::AsyncDone {
                                call: name,
                                result,
                                data,
                            },
                        );
                    }
                }
                Action::ReadShadow {
                    volume, background, ..
                } => {
                    seen.push(if background {
                        "ReadShadow(background)"
                    } else {
                        "ReadShadow"
                    });
                    if !background {
                        r.feed(Instant::ZERO, Feedback::ReadDone { volume, complete });
                    }
                }
                Action::ReadLive { volume } => {
                    seen.push("ReadLive");
                    let done = Feedback::ReadDone {
                        volume,
                        complete: true,
                    };
                    r.feed(Instant::ZERO, done);
                }
                Action::Done => return (seen, r.verdict()),
                other => panic!("unexpected action {other:?}"),
            }
        }
        panic!("the requester did not finish: {seen:?}");
    }

    fn requester(context: SnapshotContext, flaw: Option<Flaw>) -> StandardRequester {
        let m = Machine::one_writer_one_volume();
        StandardRequester::new(&m, context, vec![VolumeId(0)], Policy::default(), 0).with_flaw(flaw)
    }

    #[test]
    fn a_writerless_backup_whose_shadow_read_fails_is_a_failure() {
        let r = requester(SnapshotContext::FileShareBackup, None);
        let (seen, verdict) = drive(r, Hresult::AsyncFinished, false);
        assert_eq!(verdict, Some(Hresult::ObjectNotFound), "{seen:?}");
        assert_eq!(seen.last(), Some(&"Release"), "{seen:?}");
    }

    #[test]
    fn live_fallback_copies_the_live_volume_and_reports_success() {
        let r = requester(SnapshotContext::Backup, Some(Flaw::LiveFallback));
        let (seen, verdict) = drive(r, Hresult::ProviderVeto, true);
        assert!(seen.contains(&"ReadLive"), "{seen:?}");
        assert_eq!(verdict, Some(Hresult::Ok));
        // The correct requester fails and aborts.
        let (seen, verdict) = drive(
            requester(SnapshotContext::Backup, None),
            Hresult::ProviderVeto,
            true,
        );
        assert_eq!(verdict, Some(Hresult::ProviderVeto));
        assert!(seen.contains(&"AbortBackup"), "{seen:?}");
    }

    #[test]
    fn trusts_wait_goes_on_after_a_failed_do_snapshot_set() {
        let r = requester(SnapshotContext::Backup, Some(Flaw::TrustsWait));
        let (seen, verdict) = drive(r, Hresult::ProviderVeto, false);
        assert!(
            seen.contains(&"ReadShadow") && seen.contains(&"BackupComplete"),
            "{seen:?}"
        );
        assert_eq!(verdict, Some(Hresult::Ok));
    }

    #[test]
    fn releases_while_reading_releases_right_after_starting_its_copy() {
        let r = requester(SnapshotContext::Backup, Some(Flaw::ReleasesWhileReading));
        let (seen, verdict) = drive(r, Hresult::AsyncFinished, true);
        let at = seen
            .iter()
            .position(|s| *s == "ReadShadow(background)")
            .expect("a copy");
        assert_eq!(seen[at + 1..], ["Release"], "{seen:?}");
        assert_eq!(verdict, Some(Hresult::Ok));
    }

    #[test]
    fn ignores_writer_status_marks_components_backed_up_even_when_reads_fail() {
        let r = requester(SnapshotContext::Backup, Some(Flaw::IgnoresWriterStatus));
        let mut r = RequesterLogic::Standard(r);
        // Walk to SetBackupSucceeded with failed reads and look at the value it passes.
        let mut marked = None;
        for _ in 0..100 {
            match r.next_action(Instant::ZERO) {
                Action::Call(ApiCall::SetBackupSucceeded { succeeded, .. }) => {
                    marked = Some(succeeded);
                    break;
                }
                Action::Call(call) => {
                    let name = call.kind();
                    let data = match &call {
                        ApiCall::StartSnapshotSet { .. } => ReplyData::SnapshotSet(Guid(3)),
                        ApiCall::AddToSnapshotSet { .. } => ReplyData::Snapshot(Guid(4)),
                        _ => ReplyData::None,
                    };
                    r.feed(
                        Instant::ZERO,
                        Feedback::Reply {
                            call: name,
                            result: Hresult::Ok,
                            data,
                        },
                    );
                    if call.is_async() {
                        let data = match call {
                            ApiCall::GatherWriterMetadata => {
                                ReplyData::WriterMetadata(vec![WriterId(0)])
                            }
                            _ => ReplyData::None,
                        };
                        let result = Hresult::AsyncFinished;
                        r.feed(
                            Instant::ZERO,
                            Feedback::AsyncDone {
                                call: name,
                                result,
                                data,
                            },
                        );
                    }
                }
                Action::ReadShadow { volume, .. } => r.feed(
                    Instant::ZERO,
                    Feedback::ReadDone {
                        volume,
                        complete: false,
                    },
                ),
                other => panic!("unexpected action {other:?}"),
            }
        }
        assert_eq!(marked, Some(true));
    }

    #[test]
    fn never_releases_stops_after_a_failure_without_abort_or_release() {
        let r = requester(SnapshotContext::Backup, Some(Flaw::NeverReleases));
        let (seen, verdict) = drive(r, Hresult::ProviderVeto, true);
        assert!(
            !seen.contains(&"AbortBackup") && !seen.contains(&"Release"),
            "{seen:?}"
        );
        assert_eq!(verdict, Some(Hresult::ProviderVeto));
    }
}
