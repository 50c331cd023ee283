//! Requester processes: what they call, when they go away, and how they read a shadow copy
//! back, range by range, at their read bandwidth.

use model::api::{ApiCall, Input};
use model::ids::{Guid, RequesterId, SnapshotId, VolumeId};
use model::requester::{Action, Feedback, RequesterLogic};
use model::time::Duration;
use model::volume::store::RangeRead;
use model::vss::Hresult;

use super::{Payload, World};
use crate::record::Fact;

/// Bytes per `ReadShadow` range: 64 MiB.
const READ_RANGE_BYTES: u64 = 64 << 20;

/// A shadow being read back in full.
pub(super) struct ReadJob {
    volume: VolumeId,
    snapshot: SnapshotId,
    /// Every written block, ascending, when the image spans several ranges; empty when it fits
    /// in one, which is then read whole without sorting.
    blocks: Vec<u64>,
    /// Blocks to read in all.
    total: usize,
    pos: usize,
    digest: u64,
    /// The range in flight.
    range: Option<Range>,
}

/// A block range of a shadow copy being read for guest code (`BackupComponents::read_blocks`).
#[derive(Clone, Copy, Debug)]
pub(super) struct BlockRead {
    volume: VolumeId,
    snapshot: SnapshotId,
    first: u64,
    count: u64,
    /// What the range held at the snapshot instant, read when the read started (`None`: the
    /// shadow copy did not exist).
    read: Option<RangeRead>,
}

/// One range of a shadow read.
struct Range {
    n: usize,
    first: u64,
    last: u64,
    read: Option<RangeRead>,
}

/// One requester process.
pub(super) struct Req {
    pub(super) logic: RequesterLogic,
    pub(super) bandwidth: u64,
    pub(super) read: Option<ReadJob>,
    /// The process went away (rule 27): nothing more reaches it.
    pub(super) gone: bool,
    /// Run by guest code (`logic` is then unused): `None` for a model requester, else what the
    /// code reported once it finished (`None` while it runs).
    pub(super) guest: Option<Option<Hresult>>,
}

impl Req {
    /// Whether the requester has nothing more to do.
    pub(super) fn is_done(&self) -> bool {
        self.gone
            || (self.read.is_none()
                && match self.guest {
                    None => self.logic.is_done(),
                    Some(verdict) => verdict.is_some(),
                })
    }

    /// Its own verdict: the standard sequence's, or what guest code reported.
    pub(super) fn verdict(&self) -> Option<Hresult> {
        match self.guest {
            None => self.logic.verdict(),
            Some(verdict) => verdict,
        }
    }
}

impl World {
    /// Requester `r` calls the API; the ids of a new set or shadow copy are drawn here.
    pub(super) fn call_api(&mut self, r: RequesterId, mut call: ApiCall) {
        match &mut call {
            ApiCall::StartSnapshotSet { new_id } | ApiCall::AddToSnapshotSet { new_id, .. } => {
                *new_id = Guid::from_random_bytes(self.guids.guid_bytes());
            }
            _ => {}
        }
        self.note(Fact::Call {
            requester: r,
            call: call.clone(),
        });
        self.coord_input(Input::Call { requester: r, call });
    }

    /// Requester `r` creates a new object (the last one goes away first, rule 27).
    pub(super) fn new_object(&mut self, r: RequesterId) {
        self.note(Fact::NewObject { requester: r });
        self.coord_input(Input::NewObject { requester: r });
    }

    /// What happened reaches requester `r`: a model requester takes it and acts; guest code
    /// picks it up when it next runs.
    pub(super) fn feed_requester(&mut self, r: RequesterId, fb: Feedback) {
        if self.reqs[r.idx()].guest.is_some() {
            if let Some(m) = &self.mail
                && let Some(b) = m.borrow_mut().reqs[r.idx()].as_mut()
            {
                b.feed(fb);
            }
            self.wake_guest();
            return;
        }
        self.reqs[r.idx()].logic.feed(self.kernel.now(), fb);
        self.requester_act(r);
    }

    pub(super) fn requester_act(&mut self, r: RequesterId) {
        if self.reqs[r.idx()].guest.is_some() {
            // Guest code acts on its own.
            return;
        }
        let action = self.reqs[r.idx()].logic.next_action(self.kernel.now());
        match action {
            Action::Call(call) => self.call_api(r, call),
            Action::ReadShadow {
                volume,
                snapshot,
                background,
            } => {
                self.start_read(r, volume, snapshot);
                if background {
                    // The copy goes on by itself; the requester acts again at once.
                    self.requester_act(r);
                }
            }
            Action::ReadLive { volume } => self.read_live(r, volume),
            Action::Sleep(d) => {
                let at = self.kernel.now() + d;
                self.schedule(at, Payload::Feed(r, Feedback::Woke));
            }
            Action::NewObject => {
                self.new_object(r);
                self.requester_act(r);
            }
            Action::GoAway if self.healed => {
                // Healed: a script's go-away is a fault and fires no more; the script goes on
                // with its next step (rule 31).
                self.requester_act(r);
            }
            Action::GoAway => self.go_away(r),
            Action::Wait | Action::Done => {}
        }
    }

    /// The requester process dies: the service sees its object released (rule 27).
    pub(super) fn go_away(&mut self, r: RequesterId) {
        let req = &mut self.reqs[r.idx()];
        if req.gone {
            return;
        }
        req.gone = true;
        req.read = None;
        self.note(Fact::GoAway { requester: r });
        if !self.coord.is_released(r) {
            self.coord_input(Input::Call {
                requester: r,
                call: ApiCall::Release,
            });
        }
    }

    pub(super) fn start_read(&mut self, r: RequesterId, volume: VolumeId, snapshot: SnapshotId) {
        let total = self.store.volume(volume).n_written_blocks() as usize;
        let blocks = if total > self.range_len(volume) {
            self.store.written_blocks(volume)
        } else {
            Vec::new()
        };
        self.note(Fact::ReadStarted {
            requester: r,
            volume,
            snapshot,
            n: total as u64,
        });
        self.reqs[r.idx()].read = Some(ReadJob {
            volume,
            snapshot,
            blocks,
            total,
            pos: 0,
            digest: 0,
            range: None,
        });
        self.schedule_next_range(r);
    }

    /// A flawed requester copies the live volume: every written block at its bandwidth, the
    /// volume changing under it all the while.
    fn read_live(&mut self, r: RequesterId, volume: VolumeId) {
        let vol = self.store.volume(volume);
        let bytes = vol.n_written_blocks() * u64::from(vol.block_size());
        self.note(Fact::LiveRead {
            requester: r,
            volume,
            n: vol.n_written_blocks(),
        });
        let bw = self.reqs[r.idx()].bandwidth;
        let us = (u128::from(bytes) * 1_000_000).div_ceil(u128::from(bw)) as u64;
        let at = self.kernel.now() + Duration::from_us(us);
        self.schedule(
            at,
            Payload::Feed(
                r,
                Feedback::ReadDone {
                    volume,
                    complete: true,
                },
            ),
        );
    }

    /// Guest code reads `count` blocks from `first` of shadow copy `snapshot` of `volume`: one
    /// range, taking the time the blocks the shadow holds need at the requester's bandwidth (as
    /// a whole read's ranges do). A range past the volume's end is refused at once with
    /// `E_INVALIDARG`.
    pub(super) fn read_blocks(
        &mut self,
        r: RequesterId,
        volume: VolumeId,
        snapshot: SnapshotId,
        first: u64,
        count: u64,
    ) {
        let (n_blocks, block_size) = {
            let vol = self.store.volume(volume);
            (vol.n_blocks(), vol.block_size())
        };
        if first.checked_add(count).is_none_or(|end| end > n_blocks) {
            self.blocks_to_guest(r, (Hresult::InvalidArg, 0, 0));
            return;
        }
        self.note(Fact::ReadStarted {
            requester: r,
            volume,
            snapshot,
            n: count,
        });
        let blocks: Vec<u64> = (first..first + count).collect();
        let read = self.store.read(snapshot, &blocks).ok();
        let held = read.map_or(0, |x| x.held_blocks);
        let bytes = held * u64::from(block_size);
        let bw = self.reqs[r.idx()].bandwidth;
        let us = (u128::from(bytes) * 1_000_000).div_ceil(u128::from(bw)) as u64;
        let at = self.kernel.now() + Duration::from_us(us);
        let job = BlockRead {
            volume,
            snapshot,
            first,
            count,
            read,
        };
        self.schedule(at, Payload::BlocksRead(r, job));
    }

    /// A block range read for guest code is done: a shadow copy deleted meanwhile (rule 17) is
    /// gone, and its range with it.
    pub(super) fn blocks_read(&mut self, r: RequesterId, job: BlockRead) {
        let read = job.read.filter(|_| self.store.is_live(job.snapshot));
        let result = if read.is_some() {
            Hresult::Ok
        } else {
            Hresult::ObjectNotFound
        };
        self.note(Fact::Read {
            requester: r,
            volume: job.volume,
            snapshot: job.snapshot,
            first: job.first,
            last: job.first + job.count - 1,
            n: job.count,
            result,
        });
        self.note(Fact::ReadEnded {
            requester: r,
            volume: job.volume,
            snapshot: job.snapshot,
            result,
            // A range is no read to the end: nothing to compare with the whole image.
            matches: None,
        });
        let (digest, held) = read.map_or((0, 0), |x| (x.digest, x.held_blocks));
        self.blocks_to_guest(r, (result, digest, held));
    }

    pub(super) fn blocks_to_guest(&mut self, r: RequesterId, answer: (Hresult, u64, u64)) {
        if let Some(m) = &self.mail
            && let Some(b) = m.borrow_mut().reqs[r.idx()].as_mut()
        {
            b.blocks.fill(answer);
        }
        self.wake_guest();
    }

    fn range_len(&self, v: VolumeId) -> usize {
        let bs = u64::from(self.store.volume(v).block_size());
        (READ_RANGE_BYTES / bs).max(1) as usize
    }

    /// Starts reading the next range: it takes the time the bytes the shadow holds need at the
    /// requester's bandwidth.
    fn schedule_next_range(&mut self, r: RequesterId) {
        let job = self.reqs[r.idx()].read.as_ref().expect("read in progress");
        let range = if job.blocks.is_empty() {
            // The whole image in one range.
            match self.store.read_all(job.snapshot) {
                Ok((read, span)) => {
                    let (first, last, n) = span.unwrap_or((0, 0, 0));
                    Range {
                        n: n as usize,
                        first,
                        last,
                        read: Some(read),
                    }
                }
                // No such shadow (not made yet, or deleted): the read fails at once and reads
                // nothing, least of all the live volume.
                Err(_) => Range {
                    n: 0,
                    first: 0,
                    last: 0,
                    read: None,
                },
            }
        } else {
            let n = (job.total - job.pos).min(self.range_len(job.volume));
            let blocks = &job.blocks[job.pos..job.pos + n];
            Range {
                n,
                first: blocks[0],
                last: blocks[n - 1],
                read: self.store.read(job.snapshot, blocks).ok(),
            }
        };
        // A read costs time for the blocks the shadow holds (written before its instant);
        // blocks first written on the live volume after it read as zeros, at no cost. A read
        // of a shadow that does not exist fails at once.
        let held = range.read.map_or(0, |r| r.held_blocks);
        let bytes = held * u64::from(self.store.volume(job.volume).block_size());
        let bw = self.reqs[r.idx()].bandwidth;
        let us = (u128::from(bytes) * 1_000_000).div_ceil(u128::from(bw)) as u64;
        self.reqs[r.idx()]
            .read
            .as_mut()
            .expect("read in progress")
            .range = Some(range);
        let at = self.kernel.now() + Duration::from_us(us);
        self.schedule(at, Payload::ReadRange(r));
    }

    pub(super) fn read_range_done(&mut self, r: RequesterId) {
        let mut job = self.reqs[r.idx()].read.take().expect("read in progress");
        let Range {
            n,
            first,
            last,
            read,
        } = job.range.take().expect("a range in flight");
        // The range was read when it started; a shadow deleted since (rule 17) is gone.
        let read = read.filter(|_| self.store.is_live(job.snapshot));
        let result = match read {
            Some(got) => {
                job.digest = job.digest.wrapping_add(got.digest);
                Hresult::Ok
            }
            None => Hresult::ObjectNotFound,
        };
        self.note(Fact::Read {
            requester: r,
            volume: job.volume,
            snapshot: job.snapshot,
            first,
            last,
            n: n as u64,
            result,
        });
        job.pos += n;
        let ok = result == Hresult::Ok;
        if ok && job.pos < job.total {
            self.reqs[r.idx()].read = Some(job);
            self.schedule_next_range(r);
            return;
        }
        let matches = ok.then(|| self.store.expected_digest(job.snapshot) == Some(job.digest));
        self.note(Fact::ReadEnded {
            requester: r,
            volume: job.volume,
            snapshot: job.snapshot,
            result,
            matches,
        });
        let fb = Feedback::ReadDone {
            volume: job.volume,
            complete: ok,
        };
        self.feed_requester(r, fb);
    }
}
