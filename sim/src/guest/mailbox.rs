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
    /// The call whose answer it waits for (replies of other calls are not its own).
    pub(crate) expect: Option<ApiCallKind>,
    value: Option<T>,
    waker: Option<Waker>,
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Slot {
            expect: None,
            value: None,
            waker: None,
        }
    }
}

impl<T> Slot<T> {
    /// Waits for `call`'s answer from now on.
    pub(crate) fn arm(&mut self, call: Option<ApiCallKind>) {
        self.expect = call;
        self.value = None;
    }

    /// The world's answer.
    pub(crate) fn fill(&mut self, v: T) {
        self.value = Some(v);
        self.expect = None;
        if let Some(w) = self.waker.take() {
            w.wake();
        }
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
    /// The call that started it.
    pub(crate) call: ApiCallKind,
    /// Its end, once the service reports it.
    pub(crate) end: Option<Answer>,
    /// A `Wait` on it.
    pub(crate) waker: Option<Waker>,
}

/// One guest requester's waiting answers.
#[derive(Debug, Default)]
pub(crate) struct ReqBox {
    /// The synchronous reply (or the `IVssAsync` an asynchronous call returns).
    pub(crate) reply: Slot<Answer>,
    /// The end of a shadow read: whether every range was read and verified.
    pub(crate) read: Slot<bool>,
    /// The end of a block range read: its result, the digest of what it read, the blocks the
    /// shadow copy held.
    pub(crate) blocks: Slot<(Hresult, u64, u64)>,
    /// The asynchronous operations started, oldest first.
    pub(crate) ops: Vec<Op>,
    /// The number of the last operation started.
    pub(crate) last_op: u64,
    /// The writers the last finished `GatherWriterMetadata` heard from.
    pub(crate) metadata: Vec<WriterId>,
    /// What the last finished `GatherWriterStatus` reported.
    pub(crate) status: Vec<WriterStatus>,
    /// The requester has made its first object (the service gives every requester one at the
    /// start; later ones are `NewObject`).
    pub(crate) has_object: bool,
    /// The generation of the requester's current object.
    pub(crate) object: u32,
}

impl ReqBox {
    /// What the world feeds back: a reply wakes the waiting call (an accepted asynchronous
    /// call starts an operation first), an operation's end its `Wait`s, a read's end the read.
    pub(crate) fn feed(&mut self, fb: Feedback) {
        match fb {
            Feedback::Reply { call, result, data } => {
                if self.reply.expect != Some(call) {
                    // Nobody waits for it (a release on drop).
                    return;
                }
                if call.is_async() && result.is_success() {
                    self.last_op += 1;
                    self.ops.push(Op {
                        number: self.last_op,
                        call,
                        end: None,
                        waker: None,
                    });
                }
                self.reply.fill((call, result, data));
            }
            Feedback::AsyncDone { call, result, data } => {
                match &data {
                    ReplyData::WriterMetadata(list) => self.metadata = list.clone(),
                    ReplyData::WriterStatus(list) => self.status = list.clone(),
                    _ => {}
                }
                if let Some(op) = self
                    .ops
                    .iter_mut()
                    .find(|o| o.call == call && o.end.is_none())
                {
                    op.end = Some((call, result, data));
                    if let Some(w) = op.waker.take() {
                        w.wake();
                    }
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
