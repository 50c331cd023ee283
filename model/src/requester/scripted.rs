//! Scripted requesters: exactly the calls a scenario lists, in any order.

use crate::api::{ApiCall, ApiCallKind, ReplyData};
use crate::ids::{Guid, SnapshotId, SnapshotSetId, VolumeId, WriterId};
use crate::machine::Machine;
use crate::time::Duration;
use crate::vss::Hresult;

use super::{Action, Feedback};

/// One step of a scripted requester.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScriptStep {
    /// Make a call. With `wait`, an asynchronous call is waited for (`Wait` + `QueryStatus`)
    /// before the next step; without, the next step follows the call's return at once.
    Call {
        /// The call (GUIDs are drawn by the simulation).
        call: ApiCall,
        /// Wait for an asynchronous call to finish.
        wait: bool,
    },
    /// A call on a shadow copy this requester asked for, named by the volume it copies, or
    /// (`volume` `None`) on its last snapshot set: `GetSnapshotProperties` or
    /// `DeleteSnapshots`, whose id argument is filled in when the step runs (`GUID_NULL` when
    /// there is no such shadow copy or set).
    OnShadow {
        /// The call, its id argument `GUID_NULL`.
        call: ApiCall,
        /// The volume whose shadow copy it names; `None` names the set.
        volume: Option<VolumeId>,
    },
    /// `DisableWriterClasses` (`enable` false) or `EnableWriterClasses` of the class of
    /// `writer`: the class id is the machine's, known once it is built
    /// ([`ScriptedRequester::on_machine`]).
    WriterClass {
        /// `EnableWriterClasses` rather than `DisableWriterClasses`.
        enable: bool,
        /// The writer whose class it names.
        writer: WriterId,
    },
    /// Read the shadow this requester's set made of `volume`.
    Read(VolumeId),
    /// Do nothing for this long.
    Sleep(Duration),
    /// The process goes away without releasing (rule 27).
    GoAway,
}

/// A requester that makes exactly the calls its script lists, whatever they return.
/// At the end of the script the process exits: if it had not released its object, the service
/// sees it go away (rule 27).
#[derive(Clone, Debug)]
pub struct ScriptedRequester {
    steps: Vec<ScriptStep>,
    pos: usize,
    waiting: bool,
    /// The asynchronous call the script waits for (`Wait` + `QueryStatus`).
    awaited: Option<ApiCallKind>,
    /// The shadows the set will hold, from `AddToSnapshotSet`'s answers.
    snapshots: Vec<(VolumeId, SnapshotId)>,
    /// The last set `StartSnapshotSet` gave.
    set: Option<SnapshotSetId>,
    /// The set's `DoSnapshotSet` finished with `VSS_S_ASYNC_FINISHED`: its shadows exist.
    made: bool,
    released: bool,
    done: bool,
}

impl ScriptedRequester {
    /// A requester running `steps`.
    pub fn new(steps: Vec<ScriptStep>) -> ScriptedRequester {
        ScriptedRequester {
            steps,
            pos: 0,
            waiting: false,
            awaited: None,
            snapshots: Vec::new(),
            set: None,
            made: false,
            released: false,
            done: false,
        }
    }

    /// A requester running `steps` on `machine`: each [`ScriptStep::WriterClass`] becomes its
    /// call with the writer's class id.
    pub fn on_machine(steps: &[ScriptStep], machine: &Machine) -> ScriptedRequester {
        let steps = steps
            .iter()
            .map(|st| match *st {
                ScriptStep::WriterClass { enable, writer } => {
                    let classes = vec![machine.writers[writer.idx()].class_id];
                    ScriptStep::Call {
                        call: if enable {
                            ApiCall::EnableWriterClasses(classes)
                        } else {
                            ApiCall::DisableWriterClasses(classes)
                        },
                        wait: true,
                    }
                }
                ref other => other.clone(),
            })
            .collect();
        ScriptedRequester::new(steps)
    }

    /// Whether the script has ended.
    pub(super) fn is_done(&self) -> bool {
        self.done
    }

    pub(super) fn next_action(&mut self) -> Action {
        if self.waiting || self.awaited.is_some() {
            return Action::Wait;
        }
        if self.done {
            return Action::Done;
        }
        let Some(step) = self.steps.get(self.pos).cloned() else {
            self.done = true;
            return if self.released {
                Action::Done
            } else {
                Action::GoAway
            };
        };
        self.pos += 1;
        match step {
            ScriptStep::Call { call, wait } => {
                if call == ApiCall::Release {
                    self.released = true;
                }
                if call.is_async() && wait {
                    self.awaited = Some(call.kind());
                }
                self.waiting = true;
                Action::Call(call)
            }
            ScriptStep::OnShadow { mut call, volume } => {
                let id = match volume {
                    Some(v) => self
                        .snapshots
                        .iter()
                        .rev()
                        .find(|(x, _)| *x == v)
                        .map(|&(_, id)| id),
                    None => self.set,
                }
                .unwrap_or(Guid::NULL);
                match &mut call {
                    ApiCall::GetSnapshotProperties(g)
                    | ApiCall::DeleteSnapshots { source: g, .. } => *g = id,
                    _ => {}
                }
                self.waiting = true;
                Action::Call(call)
            }
            ScriptStep::WriterClass { .. } => {
                // A script runs on a machine (`on_machine`); without one, the class is unknown.
                self.next_action()
            }
            ScriptStep::Read(volume) => match self
                .snapshots
                .iter()
                .find(|(v, _)| *v == volume)
                .filter(|_| self.made)
            {
                Some(&(volume, snapshot)) => {
                    self.waiting = true;
                    Action::ReadShadow {
                        volume,
                        snapshot,
                        background: false,
                    }
                }
                // No shadow of that volume, or not yet (its DoSnapshotSet has not finished):
                // nothing to read; go on.
                None => self.next_action(),
            },
            ScriptStep::Sleep(d) => {
                self.waiting = true;
                Action::Sleep(d)
            }
            ScriptStep::GoAway => {
                self.done = true;
                Action::GoAway
            }
        }
    }

    pub(super) fn feed(&mut self, feedback: Feedback) {
        match feedback {
            Feedback::Reply { call, result, data } => {
                self.waiting = false;
                if let ReplyData::SnapshotSet(id) = data {
                    self.set = Some(id);
                }
                if let ReplyData::Snapshot(id) = data {
                    if let Some(ScriptStep::Call {
                        call:
                            ApiCall::AddToSnapshotSet {
                                volume: Some(v), ..
                            },
                        ..
                    }) = self.steps.get(self.pos - 1)
                    {
                        self.snapshots.push((*v, id));
                    }
                }
                // An asynchronous call that failed at once has nothing to wait for.
                if call.is_async() && !result.is_success() && self.awaited == Some(call) {
                    self.awaited = None;
                }
            }
            Feedback::AsyncDone { call, result, .. } => {
                if call == ApiCallKind::DoSnapshotSet && result == Hresult::AsyncFinished {
                    self.made = true;
                }
                // Only the operation waited for ends the wait: an earlier `wait = false`
                // operation finishing now does not.
                if self.awaited == Some(call) {
                    self.awaited = None;
                }
            }
            Feedback::ReadDone { .. } | Feedback::Woke => self.waiting = false,
            Feedback::Deadline => {}
        }
    }
}
