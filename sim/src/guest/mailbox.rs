//! What passes between the guest's handles and the world: the actions the guest takes, and the
//! answers, events and reads waiting for the guest to pick them up.

use std::collections::VecDeque;
use std::task::{Context, Poll, Waker};

use model::api::{ApiCall, ApiCallKind, ReplyData, Volumes, WriterStatus};
use model::ids::{RequesterId, SnapshotId, VolumeId, WriterId};
use model::requester::Feedback;
use model::vss::{Hresult, WriterEvent};

/// One thing the guest did, for the world to carry out at the instant it was done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Out {
    /// A requester calls the API (new ids are drawn by the world).
    Call {
        /// The caller.
        requester: RequesterId,
        /// The call.
        call: ApiCall,
    },
    /// A requester creates a new `IVssBackupComponents` object.
    NewObject {
        /// The requester.
        requester: RequesterId,
    },
    /// A requester reads a shadow copy of `volume` in full.
    Read {
        /// The reader.
        requester: RequesterId,
        /// The original volume.
        volume: VolumeId,
        /// The shadow copy.
        snapshot: SnapshotId,
    },
    /// A requester reads `count` blocks from `first` of a shadow copy.
    ReadBlocks {
        /// The reader.
        requester: RequesterId,
        /// The original volume.
        volume: VolumeId,
        /// The shadow copy.
        snapshot: SnapshotId,
        /// The first block.
        first: u64,
        /// How many.
        count: u64,
    },
    /// A requester's code finished, reporting its backup's outcome.
    Done {
        /// The requester.
        requester: RequesterId,
        /// What it reported: `S_OK` or its failure.
        verdict: Hresult,
    },
    /// A writer's handler returned.
    Answer {
        /// The writer.
        writer: WriterId,
        /// The event's token.
        token: u64,
        /// `S_OK`, or the failure it set.
        result: Hresult,
    },
    /// A writer's application is frozen (the unit in progress finished, then no more writes)
    /// or thawed.
    App {
        /// The writer.
        writer: WriterId,
        /// The token of the event being handled (its session's freeze).
        token: u64,
        /// Frozen (`true`) or writing again.
        frozen: bool,
    },
}

/// A value the world will hand to a waiting guest future.
#[derive(Debug)]
pub(crate) struct Slot<T> {
    value: Option<T>,
    waker: Option<Waker>,
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Slot {
            value: None,
            waker: None,
        }
    }
}

impl<T> Slot<T> {
    /// Waits for a new answer from now on (an old one, never taken, is dropped).
    pub(crate) fn arm(&mut self) {
        self.value = None;
    }

    /// The world's answer.
    pub(crate) fn fill(&mut self, v: T) {
        self.value = Some(v);
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    /// The answer, if it is there (for a caller that does not wait on a future).
    pub(crate) fn take(&mut self) -> Option<T> {
        self.value.take()
    }

    /// The answer, once it is there.
    pub(crate) fn poll_take(&mut self, cx: &Context<'_>) -> Poll<T> {
        match self.value.take() {
            Some(v) => {
                self.waker = None;
                Poll::Ready(v)
            }
            None => {
                self.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// A reply or a finished asynchronous operation: the call, its HRESULT, its data.
pub(crate) type Answer = (ApiCallKind, Hresult, ReplyData);

/// An asynchronous operation a guest requester started.
#[derive(Debug)]
pub(crate) struct Op {
    /// Its number on the requester (each asynchronous call that is accepted gets the next).
    pub(crate) number: u64,
    /// The object generation that started it.
    pub(crate) object: u32,
    /// The call that started it.
    pub(crate) call: ApiCallKind,
    /// Its end, once the service reports it (or its object went away: cancelled).
    pub(crate) end: Option<Answer>,
    /// A `Wait` on it.
    pub(crate) waker: Option<Waker>,
}

/// A call in flight, waiting for its reply. The service answers one requester's calls in the
/// order they were made, so replies are matched to calls in that order.
#[derive(Debug)]
pub(crate) struct CallSlot {
    /// The call's number on the requester.
    pub(crate) seq: u64,
    /// Its reply, once there (for an accepted asynchronous call, with the operation's number).
    pub(crate) answer: Option<(Answer, Option<u64>)>,
    /// Nobody waits for the reply any more (the call's future was dropped, or it is a release
    /// on drop): it is taken and dropped.
    pub(crate) discarded: bool,
    pub(crate) waker: Option<Waker>,
}

/// One guest requester's waiting answers.
#[derive(Debug, Default)]
pub(crate) struct ReqBox {
    /// Calls in flight, in the order they were made.
    pub(crate) calls: VecDeque<CallSlot>,
    /// The number of the last call made.
    pub(crate) last_call: u64,
    /// The end of a shadow read: whether every range was read and verified.
    pub(crate) read: Slot<bool>,
    /// The end of a block range read: its result, the digest of what it read, the blocks the
    /// shadow copy held.
    pub(crate) blocks: Slot<(Hresult, u64, u64)>,
    /// The asynchronous operations started, oldest first.
    pub(crate) ops: Vec<Op>,
    /// The number of the last operation started.
    pub(crate) last_op: u64,
    /// The writers the current object's last finished `GatherWriterMetadata` heard from.
    pub(crate) metadata: Vec<WriterId>,
    /// What the current object's last finished `GatherWriterStatus` reported.
    pub(crate) status: Vec<WriterStatus>,
    /// The requester has made its first object (the service gives every requester one at the
    /// start; later ones are `NewObject`).
    pub(crate) has_object: bool,
    /// The generation of the requester's current object.
    pub(crate) object: u32,
}

impl ReqBox {
    /// A call is made: its slot, in call order; its number.
    pub(crate) fn call_made(&mut self, discarded: bool) -> u64 {
        self.last_call += 1;
        self.calls.push_back(CallSlot {
            seq: self.last_call,
            answer: None,
            discarded,
            waker: None,
        });
        self.last_call
    }

    /// The reply of call `seq`, once it is there (the slot is then gone).
    pub(crate) fn poll_reply(&mut self, seq: u64, cx: &Context<'_>) -> Poll<(Answer, Option<u64>)> {
        let Some(i) = self.calls.iter().position(|c| c.seq == seq) else {
            // The run is over, or the requester went away: no reply will come.
            return Poll::Pending;
        };
        match self.calls[i].answer.take() {
            Some(a) => {
                self.calls.remove(i);
                Poll::Ready(a)
            }
            None => {
                self.calls[i].waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    /// The reply of call `seq`, if it is there (the slot is then gone).
    pub(crate) fn take_reply(&mut self, seq: u64) -> Option<(Answer, Option<u64>)> {
        let i = self.calls.iter().position(|c| c.seq == seq)?;
        let a = self.calls[i].answer.take()?;
        self.calls.remove(i);
        Some(a)
    }

    /// Call `seq`'s future was dropped before its reply: the reply is dropped when it comes.
    pub(crate) fn abandon(&mut self, seq: u64) {
        if let Some(i) = self.calls.iter().position(|c| c.seq == seq) {
            if self.calls[i].answer.is_some() {
                self.calls.remove(i);
            } else {
                self.calls[i].discarded = true;
            }
        }
    }

    /// The current object goes away (released, dropped, or replaced): its operations still
    /// running end cancelled (rule 27: the service cancels them and reports nothing more),
    /// and what it gathered is forgotten.
    pub(crate) fn object_gone(&mut self) {
        let object = self.object;
        for op in self.ops.iter_mut().filter(|o| o.object == object) {
            if op.end.is_none() {
                op.end = Some((op.call, Hresult::AsyncCancelled, ReplyData::None));
                if let Some(w) = op.waker.take() {
                    w.wake();
                }
            }
        }
        // Ended operations nobody can ask about any more (their objects are gone) are let go
        // of; a handle asking later finds it cancelled.
        self.ops.retain(|o| o.object == object);
        self.metadata.clear();
        self.status.clear();
    }

    /// What the world feeds back: a reply goes to the oldest call still waiting for one (an
    /// accepted asynchronous call starts an operation first), an operation's end to the
    /// current object's running operation of that call, a read's end to the read.
    pub(crate) fn feed(&mut self, fb: Feedback) {
        match fb {
            Feedback::Reply { call, result, data } => {
                let op = (call.is_async() && result.is_success()).then(|| {
                    self.last_op += 1;
                    self.ops.push(Op {
                        number: self.last_op,
                        object: self.object,
                        call,
                        end: None,
                        waker: None,
                    });
                    self.last_op
                });
                let Some(i) = self.calls.iter().position(|c| c.answer.is_none()) else {
                    return;
                };
                if self.calls[i].discarded {
                    self.calls.remove(i);
                    return;
                }
                let slot = &mut self.calls[i];
                slot.answer = Some(((call, result, data), op));
                if let Some(w) = slot.waker.take() {
                    w.wake();
                }
            }
            Feedback::AsyncDone { call, result, data } => {
                let object = self.object;
                let Some(op) = self
                    .ops
                    .iter_mut()
                    .rev()
                    .find(|o| o.call == call && o.object == object && o.end.is_none())
                else {
                    return;
                };
                match &data {
                    ReplyData::WriterMetadata(list) => self.metadata = list.clone(),
                    ReplyData::WriterStatus(list) => self.status = list.clone(),
                    _ => {}
                }
                op.end = Some((call, result, data));
                if let Some(w) = op.waker.take() {
                    w.wake();
                }
            }
            Feedback::ReadDone { complete, .. } => self.read.fill(complete),
            Feedback::Woke | Feedback::Deadline => {}
        }
    }
}

/// An event handed to a guest writer.
#[derive(Clone, Debug)]
pub(crate) struct Delivery {
    /// The event.
    pub(crate) event: WriterEvent,
    /// Its token.
    pub(crate) token: u64,
    /// For PrepareForSnapshot: the volumes of the set.
    pub(crate) set_volumes: Volumes,
    /// For PrepareForSnapshot: the writer's selected components.
    pub(crate) selected: Vec<u16>,
}

/// One guest writer's events waiting for its handler loop.
#[derive(Debug, Default)]
pub(crate) struct WriterBox {
    pub(crate) events: VecDeque<Delivery>,
    pub(crate) waker: Option<Waker>,
}

/// Everything shared between a world and its guest's handles.
#[derive(Debug, Default)]
pub(crate) struct Mailbox {
    /// What the guest did, in order, since the world last looked.
    pub(crate) out: Vec<Out>,
    /// By requester index; `None` for a requester the guest does not run.
    pub(crate) reqs: Vec<Option<ReqBox>>,
    /// By writer index; `None` for a writer the guest does not run.
    pub(crate) writers: Vec<Option<WriterBox>>,
    /// A guest task's panic message.
    pub(crate) panicked: Option<String>,
    /// The world's run is over: handles do nothing more.
    pub(crate) closed: bool,
}

impl Mailbox {
    /// Requester `r`'s box (it must be a guest requester).
    pub(crate) fn req(&mut self, r: RequesterId) -> &mut ReqBox {
        self.reqs[r.idx()]
            .as_mut()
            .expect("a guest handle names a guest requester")
    }

    /// Whether the guest runs writer `w`.
    pub(crate) fn runs_writer(&self, w: WriterId) -> bool {
        self.writers.get(w.idx()).is_some_and(Option::is_some)
    }

    /// Hands `event` to guest writer `w`.
    pub(crate) fn deliver(&mut self, w: WriterId, d: Delivery) {
        let b = self.writers[w.idx()]
            .as_mut()
            .expect("only a guest writer's events are delivered here");
        b.events.push_back(d);
        if let Some(waker) = b.waker.take() {
            waker.wake();
        }
    }

    /// Notes an action.
    pub(crate) fn act(&mut self, o: Out) {
        if !self.closed {
            self.out.push(o);
        }
    }
}
