//! The standard requester: what VShadow does (vss-spec.md §14.3), correct under failure.
//!
//! A sans-IO state machine: the simulation asks [`StandardRequester::next_action`] for the next action
//! and feeds back every reply, finished asynchronous operation and finished shadow read. The
//! sequence: InitializeForBackup, SetContext (if not `VSS_CTX_BACKUP`), SetBackupState
//! (component mode, `VSS_BT_FULL`), GatherWriterMetadata, AddComponent for every component whose
//! files lie on the volumes it adds, StartSnapshotSet, AddToSnapshotSet per volume,
//! PrepareForBackup + GatherWriterStatus, DoSnapshotSet + GatherWriterStatus, read each shadow,
//! SetBackupSucceeded, BackupComplete, GatherWriterStatus, Release. In writer-less contexts it
//! skips AddComponent, PrepareForBackup and BackupComplete (decisions rule 24). After a failed
//! `DoSnapshotSet` it calls AbortBackup, skips BackupComplete and releases (spec §16.2).

use crate::api::{ApiCall, ComponentRef, ProviderArg, ReplyData, WriterStatus};
use crate::ids::{Guid, SnapshotId, VolumeId, WriterId};
use crate::machine::Machine;
use crate::vss::{BackupType, Hresult, SnapshotContext};

/// What the requester does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Call the API. GUIDs in the call (`new_id`) are drawn by the simulation.
    Call(ApiCall),
    /// Read a shadow copy of `volume` in full and verify it.
    ReadShadow {
        /// The original volume.
        volume: VolumeId,
        /// The shadow.
        snapshot: SnapshotId,
    },
    /// Wait for the outstanding asynchronous operation or read.
    Wait,
    /// Nothing more to do: the object has been released.
    Done,
}

/// What the requester hears back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Feedback {
    /// A call returned.
    Reply {
        /// The call.
        call: &'static str,
        /// Its return value.
        result: Hresult,
        /// Data returned.
        data: ReplyData,
    },
    /// An asynchronous operation finished (`Wait` returned; `QueryStatus` gives `result`).
    AsyncDone {
        /// The call that started it.
        call: &'static str,
        /// `QueryStatus`'s answer.
        result: Hresult,
        /// Data returned.
        data: ReplyData,
    },
    /// A shadow read finished; `complete` is false if any range failed.
    ReadDone {
        /// The volume read.
        volume: VolumeId,
        /// Whether every range was read and verified.
        complete: bool,
    },
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
    SetBackupSucceeded(usize),
    BackupComplete,
    StatusAfterComplete,
    AbortBackup,
    Release,
    Done,
}

/// The standard requester's configuration and progress.
#[derive(Clone, Debug)]
pub struct StandardRequester {
    context: SnapshotContext,
    volumes: Vec<VolumeId>,
    /// Components of every writer: (writer, component index, volumes).
    catalog: Vec<(WriterId, u16, Vec<VolumeId>)>,
    step: Step,
    waiting: bool,
    to_add: Vec<ComponentRef>,
    snapshots: Vec<(VolumeId, SnapshotId)>,
    read_ok: Vec<VolumeId>,
    failed_writers: Vec<WriterId>,
    set_started: bool,
    completed: bool,
}

impl StandardRequester {
    /// A requester that backs up `volumes` in `context` on `machine`.
    pub fn new(
        machine: &Machine,
        context: SnapshotContext,
        volumes: Vec<VolumeId>,
    ) -> StandardRequester {
        let catalog = machine
            .writers
            .iter()
            .enumerate()
            .flat_map(|(w, info)| {
                info.components
                    .iter()
                    .enumerate()
                    .map(move |(c, comp)| (WriterId(w as u16), c as u16, comp.volumes.clone()))
            })
            .collect();
        StandardRequester {
            context,
            volumes,
            catalog,
            step: Step::Initialize,
            waiting: false,
            to_add: Vec::new(),
            snapshots: Vec::new(),
            read_ok: Vec::new(),
            failed_writers: Vec::new(),
            set_started: false,
            completed: false,
        }
    }

    /// Whether the backup ran to its end without a failure.
    pub fn completed(&self) -> bool {
        self.completed
    }

    /// Whether the requester has released its object.
    pub fn is_done(&self) -> bool {
        self.step == Step::Done
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
                Action::ReadShadow { volume, snapshot }
            }
            Step::SetBackupSucceeded(i) => {
                let c = self.to_add[i];
                let vols = &self.catalog_entry(c).2;
                // True only for components whose writer is not failed and whose volumes were
                // read in full.
                let succeeded = !self.failed_writers.contains(&c.writer)
                    && vols.iter().all(|v| self.read_ok.contains(v));
                Action::Call(ApiCall::SetBackupSucceeded {
                    component: c,
                    succeeded,
                })
            }
            Step::BackupComplete => Action::Call(ApiCall::BackupComplete),
            Step::AbortBackup => Action::Call(ApiCall::AbortBackup),
            Step::Release => Action::Call(ApiCall::Release),
            Step::Done => return Action::Done,
        };
        self.waiting = true;
        action
    }

    fn catalog_entry(&self, c: ComponentRef) -> &(WriterId, u16, Vec<VolumeId>) {
        self.catalog
            .iter()
            .find(|(w, i, _)| *w == c.writer && *i == c.idx)
            .expect("components come from the catalog")
    }

    /// Feeds what came back from the last action.
    pub fn feed(&mut self, feedback: Feedback) {
        match feedback {
            Feedback::Reply { call, result, data } => {
                if !result.is_success() {
                    self.waiting = false;
                    return self.fail();
                }
                let is_async = matches!(
                    call,
                    "GatherWriterMetadata"
                        | "PrepareForBackup"
                        | "DoSnapshotSet"
                        | "GatherWriterStatus"
                        | "BackupComplete"
                );
                if is_async {
                    // Wait(), then QueryStatus().
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
                self.advance();
            }
            Feedback::AsyncDone { result, data, .. } => {
                self.waiting = false;
                if !result.is_success() || result == Hresult::AsyncCancelled {
                    return self.fail();
                }
                match data {
                    ReplyData::WriterMetadata(ids) => {
                        self.to_add = self
                            .catalog
                            .iter()
                            .filter(|(w, _, vols)| {
                                ids.contains(w)
                                    && !vols.is_empty()
                                    && vols.iter().all(|v| self.volumes.contains(v))
                            })
                            .map(|(w, i, _)| ComponentRef {
                                writer: *w,
                                idx: *i,
                            })
                            .collect();
                    }
                    ReplyData::WriterStatus(list) => self.note_status(&list),
                    _ => {}
                }
                self.advance();
            }
            Feedback::ReadDone { volume, complete } => {
                self.waiting = false;
                if complete {
                    self.read_ok.push(volume);
                }
                self.advance();
            }
        }
    }

    fn note_status(&mut self, list: &[WriterStatus]) {
        for s in list {
            if s.state.is_failed() && !self.failed_writers.contains(&s.writer) {
                self.failed_writers.push(s.writer);
            }
        }
    }

    fn fail(&mut self) {
        self.step = match self.step {
            // After a failed call inside the backup, abandon it with AbortBackup (spec §16.2).
            Step::AbortBackup | Step::Release | Step::Done => Step::Done,
            _ if self.set_started => Step::AbortBackup,
            _ => Step::Release,
        };
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
            Step::DoSnapshotSet if writers => Step::StatusAfterSnapshot,
            Step::DoSnapshotSet | Step::StatusAfterSnapshot => self.after_snapshot(),
            Step::Read(i) if i + 1 < self.snapshots.len() => Step::Read(i + 1),
            Step::Read(_) if writers && !self.to_add.is_empty() => Step::SetBackupSucceeded(0),
            Step::Read(_) if writers => Step::BackupComplete,
            Step::Read(_) => self.finish(),
            Step::SetBackupSucceeded(i) if i + 1 < self.to_add.len() => {
                Step::SetBackupSucceeded(i + 1)
            }
            Step::SetBackupSucceeded(_) => Step::BackupComplete,
            Step::BackupComplete => Step::StatusAfterComplete,
            Step::StatusAfterComplete => self.finish(),
            Step::AbortBackup => Step::Release,
            Step::Release | Step::Done => Step::Done,
        };
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
