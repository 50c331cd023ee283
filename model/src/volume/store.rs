//! The shadow store: every volume of the machine with its flush-and-hold state, its held writes,
//! a hardware provider's plex and the shadow copies of all three copy methods.
//!
//! It owns the VSS behaviour of the storage stack: the snapshot instant and the queue of writes
//! issued during a hold (rules 13, 15), their in-order release with none lost (rule 14), the
//! choice of copy method by provider kind, the diff-area minimum and what happens when the diff
//! area fills (rule 17), and reading a shadow back. The simulation feeds it writes and the
//! coordinator's storage effects; the store answers with facts ([`StoreNote`], [`Released`],
//! [`Created`]) that the simulation records and its oracles judge.
//!
//! Content is represented by write sequence numbers, as in [`Volume`]; an image is summarised
//! by its digest, the wrapping sum of [`image_term`] over its blocks, so a shadow's expected
//! image is the live digest at its instant, kept write by write.

use std::collections::BTreeMap;

#[cfg(test)]
use crate::ids::Guid;
use crate::ids::{SnapshotId, SnapshotSetId, VolumeId};
use crate::time::{Duration, Instant};
use crate::vss::{ProviderCall, ProviderType};

use super::{BlockMap, ImageSum, Protection, ShadowKey, Volume, WriteOutcome, WriteSeq};

/// Held writes a volume makes room for when a hold begins (see [`ShadowStore::hold`]).
const HELD_WRITES_RESERVE: usize = 256;

/// The term of one (block, sequence) pair in an image digest; the digest is the wrapping sum
/// over the image, so it is order-independent and updatable write by write. For a fixed block
/// the map from sequence to term is a bijection (xor, odd multiply, xorshift), so a block read
/// back with another sequence always changes its term.
#[inline]
pub fn image_term(block: u64, seq: WriteSeq) -> u64 {
    let z = (block.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ seq.rotate_left(29))
        .wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z ^ (z >> 31)
}

/// The SplitMix64 finaliser the block content is built from (docs/protocol.md, "Block content").
#[inline]
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The bytes of block `block` of volume index `volume` as write `seq` left them, so any reader
/// can check what it reads (docs/protocol.md, "Block content"): word `i` is
/// `mix(key ^ i)` with `key = mix(mix(mix(volume) ^ block) ^ seq)`, little-endian, words in
/// order. `out` is the block (its length the volume's block size, a multiple of 8; a shorter
/// tail gets the leading bytes of the next word). A block never written reads as zeros, which
/// is the caller's case: there is no `seq` for it.
pub fn block_content(volume: u64, block: u64, seq: WriteSeq, out: &mut [u8]) {
    block_content_at(volume, block, seq, 0, out);
}

/// Bytes `from .. from + out.len()` of the block [`block_content`] makes: a part of a block
/// without the whole of it (a read not aligned to blocks).
pub fn block_content_at(volume: u64, block: u64, seq: WriteSeq, from: u64, out: &mut [u8]) {
    let key = mix(mix(mix(volume) ^ block) ^ seq);
    let mut pos = from;
    let mut done = 0;
    while done < out.len() {
        let word = mix(key ^ (pos / 8)).to_le_bytes();
        let skip = (pos % 8) as usize;
        let n = (8 - skip).min(out.len() - done);
        out[done..done + n].copy_from_slice(&word[skip..skip + n]);
        done += n;
        pos += n as u64;
    }
}

/// How a provider keeps a shadow copy's image (Microsoft, "Shadow copy creation for providers":
/// complete copy, copy-on-write, redirect-on-write).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyMethod {
    /// System provider: a copy-on-write chain on the volume, with a diff area.
    CopyOnWrite,
    /// Software provider: the blocks stay in place, later writes are redirected.
    RedirectOnWrite,
    /// Hardware provider: the plex, a full copy that followed every write until the split.
    SplitMirror,
}

impl CopyMethod {
    /// The method a provider of this kind uses.
    pub fn for_provider(kind: ProviderType) -> CopyMethod {
        match kind {
            ProviderType::System => CopyMethod::CopyOnWrite,
            ProviderType::Hardware => CopyMethod::SplitMirror,
            _ => CopyMethod::RedirectOnWrite,
        }
    }

    /// The name the trace prints.
    pub fn name(self) -> &'static str {
        match self {
            CopyMethod::CopyOnWrite => "copy-on-write",
            CopyMethod::RedirectOnWrite => "redirect-on-write",
            CopyMethod::SplitMirror => "split mirror",
        }
    }
}

/// One write queued by flush-and-hold.
#[derive(Clone, Copy, Debug)]
struct HeldWrite {
    issued: Instant,
    block: u64,
    latency: Duration,
}

/// One volume and its storage-stack state.
#[derive(Debug)]
struct Disk {
    vol: Volume,
    held: bool,
    hold_started: Instant,
    /// The global write sequence at the hold request: the snapshot instant (rule 13).
    hold_seq: WriteSeq,
    held_writes: Vec<HeldWrite>,
    /// When the last accepted write completes (the flush waits for it).
    last_complete: Instant,
    /// Largest sequence applied on this volume.
    max_seq: WriteSeq,
    next_key: u32,
    /// Digest of the live image, kept write by write.
    live_digest: u64,
    /// Marked `VSS_PROTECTION_FAULT_DIFF_AREA_FULL` (protection level SNAPSHOT, rule 17).
    faulted: bool,
    /// Writes applied to this volume.
    accepted: u64,
    /// A hardware provider's plex, synced at EndPrepareSnapshots and following every accepted
    /// write until the split at CommitSnapshots.
    plex: Option<BlockMap>,
}

/// A shadow copy as the store keeps it.
#[derive(Debug)]
struct Image {
    id: SnapshotId,
    set_id: SnapshotSetId,
    volume: VolumeId,
    key: ShadowKey,
    /// The digest of the live image at its instant: what it must read back.
    digest: u64,
    live: bool,
    device: u32,
    method: CopyMethod,
    /// The split-off plex of a split-mirror shadow.
    plex: Option<BlockMap>,
}

/// What happened to a write the application issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteFate {
    /// Applied to the volume.
    Accepted,
    /// Queued by flush-and-hold (rule 13).
    Held,
    /// Failed: the diff area is full under protection level SNAPSHOT (rule 17).
    Failed,
}

/// Side effects of writes that the simulation must pass on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreNote {
    /// The diff area filled and this shadow was deleted, oldest first (rule 17).
    ShadowDeleted {
        /// The volume.
        volume: VolumeId,
        /// The shadow.
        snapshot: SnapshotId,
    },
    /// The volume was marked `VSS_PROTECTION_FAULT_DIFF_AREA_FULL` (rule 17).
    ProtectionFault {
        /// The volume.
        volume: VolumeId,
    },
}

/// What a release of held writes did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Released {
    /// Writes released.
    pub n: u64,
    /// Longest hold among the volumes released.
    pub longest: Duration,
    /// Largest latency a held write gained.
    pub max_added: Duration,
    /// Volumes whose held writes were not queued in issue order.
    pub out_of_order: Vec<VolumeId>,
}

/// What creating a shadow did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Created {
    /// The copy method used.
    pub method: CopyMethod,
    /// Whether the volume was held and nothing was accepted on it after the instant.
    pub instant_kept: bool,
    /// Blocks written on the volume so far.
    pub n_written: u64,
    /// The shadow's device number (`HarddiskVolumeShadowCopyN`).
    pub device: u32,
}

/// The store's write accounting: every issued write is accepted, failed or still held.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteCounts {
    /// Writes the workloads issued.
    pub issued: u64,
    /// Writes applied.
    pub accepted: u64,
    /// Writes that failed (rule 17, protection level SNAPSHOT).
    pub failed: u64,
    /// Writes queued by a hold now.
    pub held: u64,
}

/// A shadow copy as an administrator lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShadowInfo {
    /// Shadow id.
    pub id: SnapshotId,
    /// Its set.
    pub set_id: SnapshotSetId,
    /// The original volume.
    pub volume: VolumeId,
    /// `N` of `HarddiskVolumeShadowCopyN`, counting up from 1 per run.
    pub device: u32,
    /// How it is kept.
    pub method: CopyMethod,
}

/// Why a shadow read failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadError {
    /// The shadow does not exist (never, or deleted under the reader: rule 17).
    NotFound,
    /// The block range reaches past the end of the shadow's volume.
    OutOfRange,
}

/// One block range of a shadow, read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RangeRead {
    /// The digest of what was read: the sum of [`image_term`] over the blocks the shadow holds.
    pub digest: u64,
    /// Blocks of the range the shadow holds (written before its instant); the others read as
    /// zeros and cost nothing.
    pub held_blocks: u64,
}

/// Every volume of the machine and every shadow copy.
#[derive(Debug)]
pub struct ShadowStore {
    disks: Vec<Disk>,
    /// Every shadow ever created, in creation order.
    images: Vec<Image>,
    by_id: BTreeMap<SnapshotId, usize>,
    /// The next global write sequence.
    next_seq: WriteSeq,
    next_device: u32,
    counts: WriteCounts,
}

impl ShadowStore {
    /// A store over `volumes`, all never written.
    pub fn new(volumes: Vec<Volume>) -> ShadowStore {
        ShadowStore {
            disks: volumes
                .into_iter()
                .map(|vol| Disk {
                    vol,
                    held: false,
                    hold_started: Instant::ZERO,
                    hold_seq: 0,
                    held_writes: Vec::new(),
                    last_complete: Instant::ZERO,
                    max_seq: 0,
                    next_key: 0,
                    live_digest: 0,
                    faulted: false,
                    accepted: 0,
                    plex: None,
                })
                .collect(),
            images: Vec::new(),
            by_id: BTreeMap::new(),
            next_seq: 1,
            next_device: 1,
            counts: WriteCounts::default(),
        }
    }

    /// The volume `v`.
    pub fn volume(&self, v: VolumeId) -> &Volume {
        &self.disks[v.idx()].vol
    }

    /// Number of volumes.
    pub fn n_volumes(&self) -> usize {
        self.disks.len()
    }

    /// Reserves room for `n` live blocks on volume `v`.
    pub fn reserve_live(&mut self, v: VolumeId, n: usize) {
        self.disks[v.idx()].vol.reserve_live(n);
    }

    /// The write accounting.
    pub fn counts(&self) -> WriteCounts {
        self.counts
    }

    /// Whether volume `v` is marked `VSS_PROTECTION_FAULT_DIFF_AREA_FULL`.
    pub fn is_faulted(&self, v: VolumeId) -> bool {
        self.disks[v.idx()].faulted
    }

    /// Writes held on volume `v` now.
    pub fn held_on(&self, v: VolumeId) -> u64 {
        self.disks[v.idx()].held_writes.len() as u64
    }

    /// Writes applied to volume `v` so far.
    pub fn accepted_on(&self, v: VolumeId) -> u64 {
        self.disks[v.idx()].accepted
    }

    /// Writes held on every volume now (the sum of the queues).
    pub fn held_now(&self) -> u64 {
        self.disks.iter().map(|d| d.held_writes.len() as u64).sum()
    }

    // -------------------------------------------------------------------------------------
    // Writes and flush-and-hold
    // -------------------------------------------------------------------------------------

    /// The application issues a write of `block` on `v` at `now`, completing `latency` later.
    /// Writes issued while the volume is held are queued (rule 13).
    #[inline]
    pub fn write(
        &mut self,
        now: Instant,
        v: VolumeId,
        block: u64,
        latency: Duration,
        notes: &mut Vec<StoreNote>,
    ) -> WriteFate {
        self.counts.issued += 1;
        let d = &mut self.disks[v.idx()];
        if d.held {
            d.held_writes.push(HeldWrite {
                issued: now,
                block,
                latency,
            });
            self.counts.held += 1;
            return WriteFate::Held;
        }
        self.accept(v, block, now + latency, notes)
    }

    #[inline]
    fn accept(
        &mut self,
        v: VolumeId,
        block: u64,
        complete: Instant,
        notes: &mut Vec<StoreNote>,
    ) -> WriteFate {
        let seq = self.next_seq;
        let d = &mut self.disks[v.idx()];
        let (outcome, prev) = d.vol.write_returning_prev(block, seq);
        match outcome {
            WriteOutcome::Applied { .. } => {}
            WriteOutcome::AppliedAfterDeleting { deleted } => self.shadows_gone(v, deleted, notes),
            WriteOutcome::FailedDiffAreaFull => return self.write_failed(v, notes),
        }
        let d = &mut self.disks[v.idx()];
        if let Some(p) = prev {
            d.live_digest = d.live_digest.wrapping_sub(image_term(block, p));
        }
        d.live_digest = d.live_digest.wrapping_add(image_term(block, seq));
        if let Some(plex) = d.plex.as_mut() {
            plex.insert(block, seq);
        }
        self.next_seq += 1;
        d.max_seq = seq;
        d.accepted += 1;
        if complete > d.last_complete {
            d.last_complete = complete;
        }
        self.counts.accepted += 1;
        WriteFate::Accepted
    }

    /// The copy-on-write shadows the volume dropped to make room for a write.
    #[cold]
    #[inline(never)]
    fn shadows_gone(&mut self, v: VolumeId, deleted: Vec<ShadowKey>, notes: &mut Vec<StoreNote>) {
        for key in deleted {
            self.shadow_gone(v, key, notes);
        }
    }

    /// A write the full diff area failed (`Protection::Snapshot`): the volume is faulted.
    #[cold]
    #[inline(never)]
    fn write_failed(&mut self, v: VolumeId, notes: &mut Vec<StoreNote>) -> WriteFate {
        self.counts.failed += 1;
        let d = &mut self.disks[v.idx()];
        if !d.faulted {
            d.faulted = true;
            notes.push(StoreNote::ProtectionFault { volume: v });
        }
        WriteFate::Failed
    }

    /// A copy-on-write shadow the volume dropped to make room: mark it deleted.
    fn shadow_gone(&mut self, v: VolumeId, key: ShadowKey, notes: &mut Vec<StoreNote>) {
        if let Some(img) = self
            .images
            .iter_mut()
            .rev()
            .find(|i| i.live && i.volume == v && i.key == key)
        {
            img.live = false;
            notes.push(StoreNote::ShadowDeleted {
                volume: v,
                snapshot: img.id,
            });
        }
    }

    /// Flush-and-hold on `volumes` at `now`: the snapshot instant (rule 13). Returns when the
    /// writes in flight have drained.
    pub fn hold(&mut self, now: Instant, volumes: &[VolumeId]) -> Instant {
        let hold_seq = self.next_seq - 1;
        let mut drained = now;
        for v in volumes {
            let d = &mut self.disks[v.idx()];
            d.held = true;
            // A hold queues writes for up to 10 s: start with room for a busy second's worth
            // rather than growing from nothing by doubling.
            d.held_writes.reserve(HELD_WRITES_RESERVE);
            d.hold_started = now;
            d.hold_seq = hold_seq;
            drained = drained.max(d.last_complete);
        }
        drained
    }

    /// Releases the writes held on `volumes`, in their original order, none lost (rule 14);
    /// each gains the time it waited (rule 15).
    pub fn release(
        &mut self,
        now: Instant,
        volumes: &[VolumeId],
        notes: &mut Vec<StoreNote>,
    ) -> Released {
        let mut out = Released::default();
        for &v in volumes {
            let d = &mut self.disks[v.idx()];
            if !d.held {
                continue;
            }
            d.held = false;
            out.longest = out.longest.max(now - d.hold_started);
            let mut held = std::mem::take(&mut d.held_writes);
            let mut prev_issued = Instant::ZERO;
            let mut in_order = true;
            for hw in &held {
                in_order &= hw.issued >= prev_issued;
                prev_issued = hw.issued;
                out.max_added = out.max_added.max(now - hw.issued);
                self.counts.held -= 1;
                self.accept(v, hw.block, now + hw.latency, notes);
            }
            if !in_order {
                out.out_of_order.push(v);
            }
            out.n += held.len() as u64;
            // The emptied queue keeps its room for the volume's next hold.
            held.clear();
            self.disks[v.idx()].held_writes = held;
        }
        out
    }

    // -------------------------------------------------------------------------------------
    // Providers and shadows
    // -------------------------------------------------------------------------------------

    /// A provider of `kind` is called for `volumes`: a hardware provider syncs its plex at
    /// EndPrepareSnapshots, the rendezvous where it waits for its mirror, inside DoSnapshotSet
    /// (a set abandoned before that leaves no plex behind), and drops it at AbortSnapshots.
    pub fn provider_called(
        &mut self,
        kind: ProviderType,
        call: ProviderCall,
        volumes: &[VolumeId],
    ) {
        if CopyMethod::for_provider(kind) != CopyMethod::SplitMirror {
            return;
        }
        match call {
            ProviderCall::EndPrepareSnapshots => {
                for v in volumes {
                    let d = &mut self.disks[v.idx()];
                    d.plex = Some(plex_of(&d.vol));
                }
            }
            ProviderCall::AbortSnapshots => {
                for v in volumes {
                    self.disks[v.idx()].plex = None;
                }
            }
            _ => {}
        }
    }

    /// Rule 17 at creation, for the system provider: a volume whose diff-area capacity cannot
    /// hold the minimum fails the creation (`Err`). When the capacity can but the free space
    /// cannot, the oldest shadows of that volume are deleted until it can (as when the diff
    /// area fills later), reported in `notes`; under protection level SNAPSHOT no shadow is
    /// deleted and the creation fails.
    pub fn make_room(
        &mut self,
        volumes: &[VolumeId],
        min_bytes: impl Fn(u64) -> u64,
        notes: &mut Vec<StoreNote>,
    ) -> Result<(), VolumeId> {
        for &v in volumes {
            let vol = &self.disks[v.idx()].vol;
            let Some(cap) = vol.diff_area_capacity_bytes() else {
                continue;
            };
            let min = min_bytes(vol.n_blocks() * u64::from(vol.block_size()));
            if cap < min {
                return Err(v);
            }
            if cap.saturating_sub(vol.diff_area_used_bytes()) >= min {
                continue;
            }
            if vol.protection() == Protection::Snapshot {
                return Err(v);
            }
        }
        for &v in volumes {
            loop {
                let vol = &self.disks[v.idx()].vol;
                let Some(cap) = vol.diff_area_capacity_bytes() else {
                    break;
                };
                let min = min_bytes(vol.n_blocks() * u64::from(vol.block_size()));
                if cap.saturating_sub(vol.diff_area_used_bytes()) >= min {
                    break;
                }
                let Some(oldest) = vol.shadow_keys().next() else {
                    break;
                };
                self.disks[v.idx()].vol.delete_shadow(oldest);
                self.shadow_gone(v, oldest, notes);
            }
        }
        Ok(())
    }

    /// A provider of `kind` committed shadow `id` of `volume`: its image is the hold instant.
    pub fn create(
        &mut self,
        id: SnapshotId,
        set_id: SnapshotSetId,
        volume: VolumeId,
        kind: ProviderType,
    ) -> Created {
        let d = &mut self.disks[volume.idx()];
        let instant_kept = d.held && d.max_seq <= d.hold_seq;
        let key = ShadowKey(d.next_key);
        d.next_key += 1;
        let epoch = d.hold_seq.max(d.max_seq);
        let method = CopyMethod::for_provider(kind);
        let plex = match method {
            CopyMethod::CopyOnWrite => {
                d.vol.create_shadow(key, epoch);
                None
            }
            // The split: the plex stops following the volume and becomes the shadow. A plex
            // that was never synced (no EndPrepareSnapshots) is synced now.
            CopyMethod::SplitMirror => Some(d.plex.take().unwrap_or_else(|| plex_of(&d.vol))),
            CopyMethod::RedirectOnWrite => {
                d.vol.create_redirect_shadow(key);
                None
            }
        };
        let digest = d.live_digest;
        debug_assert_eq!(digest, live_digest_slow(&d.vol));
        let n_written = d.vol.n_written_blocks();
        let device = self.next_device;
        self.next_device += 1;
        self.by_id.insert(id, self.images.len());
        self.images.push(Image {
            id,
            set_id,
            volume,
            key,
            digest,
            live: true,
            device,
            method,
            plex,
        });
        Created {
            method,
            instant_kept,
            n_written,
            device,
        }
    }

    /// Deletes shadow `id`; returns its volume, or `None` if it was not live.
    pub fn delete(&mut self, id: SnapshotId) -> Option<VolumeId> {
        let i = *self.by_id.get(&id)?;
        let img = &mut self.images[i];
        if !img.live {
            return None;
        }
        img.live = false;
        img.plex = None;
        let vol = &mut self.disks[img.volume.idx()].vol;
        match img.method {
            CopyMethod::CopyOnWrite => vol.delete_shadow(img.key),
            CopyMethod::RedirectOnWrite => vol.delete_redirect_shadow(img.key),
            CopyMethod::SplitMirror => {}
        }
        Some(img.volume)
    }

    fn live_image(&self, id: SnapshotId) -> Option<&Image> {
        let img = &self.images[*self.by_id.get(&id)?];
        img.live.then_some(img)
    }

    /// The volume shadow `id` is a copy of, if it was ever created (deleted or not).
    pub fn volume_of(&self, id: SnapshotId) -> Option<VolumeId> {
        Some(self.images[*self.by_id.get(&id)?].volume)
    }

    /// Whether shadow `id` exists.
    pub fn is_live(&self, id: SnapshotId) -> bool {
        self.live_image(id).is_some()
    }

    /// The digest shadow `id` must read back: the live image's at its instant.
    pub fn expected_digest(&self, id: SnapshotId) -> Option<u64> {
        self.by_id.get(&id).map(|&i| self.images[i].digest)
    }

    /// Live shadows in creation order.
    pub fn live_shadows(&self) -> impl Iterator<Item = ShadowInfo> + '_ {
        self.images.iter().filter(|i| i.live).map(|i| ShadowInfo {
            id: i.id,
            set_id: i.set_id,
            volume: i.volume,
            device: i.device,
            method: i.method,
        })
    }

    /// Blocks ever written on volume `v`, ascending: what a backup reads of a shadow of it.
    pub fn written_blocks(&self, v: VolumeId) -> Vec<u64> {
        self.disks[v.idx()].vol.written_blocks_sorted()
    }

    /// Reads `blocks` of shadow `id`, whatever its copy method.
    pub fn read(&self, id: SnapshotId, blocks: &[u64]) -> Result<RangeRead, ReadError> {
        let img = self.live_image(id).ok_or(ReadError::NotFound)?;
        let mut out = RangeRead {
            digest: 0,
            held_blocks: 0,
        };
        self.each_block(img, blocks, |b, seq| {
            if let Some(s) = seq {
                out.digest = out.digest.wrapping_add(image_term(b, s));
                out.held_blocks += 1;
            }
        });
        Ok(out)
    }

    /// Each block's write sequence at shadow `id`'s instant, for blocks `first .. first + count`
    /// (`None`: never written before the instant, reads as zeros), whatever its copy method:
    /// the blocks [`Self::read`] sums. The caller bounds `count` (the vector has one entry per
    /// block); a range past the end of the volume is [`ReadError::OutOfRange`].
    pub fn block_seqs(
        &self,
        id: SnapshotId,
        first: u64,
        count: u64,
    ) -> Result<Vec<Option<WriteSeq>>, ReadError> {
        let img = self.live_image(id).ok_or(ReadError::NotFound)?;
        let n_blocks = self.disks[img.volume.idx()].vol.n_blocks();
        let end = first
            .checked_add(count)
            .filter(|&end| end <= n_blocks)
            .ok_or(ReadError::OutOfRange)?;
        let blocks: Vec<u64> = (first..end).collect();
        let mut out = Vec::with_capacity(blocks.len());
        self.each_block(img, &blocks, |_, seq| out.push(seq));
        Ok(out)
    }

    /// Hands `f` each of `blocks` with its sequence in `img`, by the image's copy method.
    fn each_block(&self, img: &Image, blocks: &[u64], mut f: impl FnMut(u64, Option<WriteSeq>)) {
        let vol = &self.disks[img.volume.idx()].vol;
        match img.method {
            CopyMethod::CopyOnWrite => vol.read_shadow_blocks(img.key, blocks, &mut f),
            CopyMethod::RedirectOnWrite => vol.read_redirect_blocks(img.key, blocks, &mut f),
            CopyMethod::SplitMirror => {
                let plex = img.plex.as_ref().expect("a split mirror keeps its plex");
                for &b in blocks {
                    f(b, plex.get(b));
                }
            }
        }
    }

    /// Every live shadow with whether it still reads back the image of its instant, in creation
    /// order. Each volume's copy-on-write chain and redirect layers are walked once for all
    /// their shadows together ([`Volume::shadow_digests`], [`Volume::redirect_digests`]).
    pub fn verify_live(&self) -> Vec<(ShadowInfo, bool)> {
        let mut sums: Vec<Option<(Sums, Sums)>> = vec![None; self.disks.len()];
        let mut out = Vec::new();
        for img in self.images.iter().filter(|i| i.live) {
            let v = img.volume.idx();
            let vol = &self.disks[v].vol;
            let (cow, row) = sums[v].get_or_insert_with(|| {
                (
                    vol.shadow_digests(image_term),
                    vol.redirect_digests(image_term),
                )
            });
            let got = image_sum(img, cow, row);
            let info = ShadowInfo {
                id: img.id,
                set_id: img.set_id,
                volume: img.volume,
                device: img.device,
                method: img.method,
            };
            out.push((info, got.map(|g| g.digest) == Some(img.digest)));
        }
        out
    }

    /// Reads the whole of shadow `id` (every block written on its volume), without sorting the
    /// blocks or walking the chain block by block: the same digest and count as [`Self::read`]
    /// over [`Self::written_blocks`]. Also gives the smallest and largest written block and how
    /// many there are.
    pub fn read_all(&self, id: SnapshotId) -> Result<(RangeRead, Option<Span>), ReadError> {
        let img = self.live_image(id).ok_or(ReadError::NotFound)?;
        let vol = &self.disks[img.volume.idx()].vol;
        let sum = match img.method {
            CopyMethod::CopyOnWrite => Some(vol.shadow_digest(img.key, image_term)),
            CopyMethod::RedirectOnWrite => image_sum(img, &[], &vol.redirect_digests(image_term)),
            CopyMethod::SplitMirror => image_sum(img, &[], &[]),
        }
        .expect("a live shadow has its image");
        Ok((
            RangeRead {
                digest: sum.digest,
                held_blocks: sum.blocks,
            },
            vol.written_span(),
        ))
    }

    /// Bytes of heap held by the volumes' maps.
    pub fn heap_bytes(&self) -> usize {
        self.disks.iter().map(|d| d.vol.heap_bytes()).sum()
    }

    /// Test support: applies a write to a held volume behind flush-and-hold's back, as a broken
    /// storage stack would (the oracles must notice).
    #[doc(hidden)]
    pub fn force_write(&mut self, v: VolumeId, block: u64) {
        self.counts.issued += 1;
        let mut notes = Vec::new();
        self.accept(v, block, Instant::ZERO, &mut notes);
    }
}

/// Image sums of a volume's shadows, oldest first.
type Sums = Vec<(ShadowKey, ImageSum)>;

/// The smallest and the largest written block of a volume, and how many are written.
pub type Span = (u64, u64, u64);

/// The image of `img`: from the volume's copy-on-write (`cow`) or redirect (`row`) sums, or
/// its plex.
fn image_sum(
    img: &Image,
    cow: &[(ShadowKey, ImageSum)],
    row: &[(ShadowKey, ImageSum)],
) -> Option<ImageSum> {
    let find =
        |sums: &[(ShadowKey, ImageSum)]| sums.iter().find(|(k, _)| *k == img.key).map(|(_, d)| *d);
    match img.method {
        CopyMethod::CopyOnWrite => find(cow),
        CopyMethod::RedirectOnWrite => find(row),
        CopyMethod::SplitMirror => img.plex.as_ref().map(|p| {
            let mut sum = ImageSum::default();
            for (b, s) in p.iter() {
                sum.digest = sum.digest.wrapping_add(image_term(b, s));
                sum.blocks += 1;
            }
            sum
        }),
    }
}

/// A plex synced with the volume's current content.
fn plex_of(vol: &Volume) -> BlockMap {
    let image = vol.snapshot_image();
    let mut plex = BlockMap::with_capacity(image.len());
    for (b, s) in image {
        plex.insert(b, s);
    }
    plex
}

/// The live image's digest, recomputed block by block (debug check of the incremental one).
fn live_digest_slow(vol: &Volume) -> u64 {
    vol.written_blocks_sorted()
        .into_iter()
        .filter_map(|b| vol.read_live(b).map(|s| image_term(b, s)))
        .fold(0u64, u64::wrapping_add)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator for the tests (the model owns no RNG).
    struct Lcg(u64);
    impl Lcg {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 33) % n
        }
    }

    /// The digest of a shadow read block by block, the slow way.
    fn read_through(vol: &Volume, key: ShadowKey, redirect: bool) -> (u64, u64) {
        let blocks = vol.written_blocks_sorted();
        let mut sum = (0u64, 0u64);
        let mut f = |b: u64, s: Option<WriteSeq>| {
            if let Some(s) = s {
                sum.0 = sum.0.wrapping_add(image_term(b, s));
                sum.1 += 1;
            }
        };
        if redirect {
            vol.read_redirect_blocks(key, &blocks, &mut f);
        } else {
            vol.read_shadow_blocks(key, &blocks, &mut f);
        }
        sum
    }

    #[test]
    fn all_shadow_digests_at_once_equal_reading_each_shadow() {
        for seed in 0..200u64 {
            let mut rng = Lcg(seed);
            let mut vol = Volume::new(64, 4096, None, Protection::OriginalVolume);
            let mut seq = 0;
            let mut keys = Vec::new();
            let redirect = seed % 2 == 1;
            for step in 0..300u32 {
                match rng.below(20) {
                    0 => {
                        let key = ShadowKey(step);
                        if redirect {
                            vol.create_redirect_shadow(key);
                        } else {
                            vol.create_shadow(key, seq);
                        }
                        keys.push(key);
                    }
                    1 if !keys.is_empty() => {
                        let key = keys.remove(rng.below(keys.len() as u64) as usize);
                        if redirect {
                            vol.delete_redirect_shadow(key);
                        } else {
                            vol.delete_shadow(key);
                        }
                    }
                    _ => {
                        seq += 1;
                        vol.write(rng.below(64), seq);
                    }
                }
            }
            let all = if redirect {
                vol.redirect_digests(image_term)
            } else {
                vol.shadow_digests(image_term)
            };
            assert_eq!(all.len(), keys.len(), "seed {seed}");
            for (key, sum) in all {
                let (digest, blocks) = read_through(&vol, key, redirect);
                assert_eq!(sum.digest, digest, "seed {seed} {key:?}");
                assert_eq!(sum.blocks, blocks, "seed {seed} {key:?}");
                if !redirect {
                    assert_eq!(
                        vol.shadow_digest(key, image_term),
                        sum,
                        "seed {seed} {key:?}"
                    );
                }
            }
        }
    }

    fn store() -> ShadowStore {
        ShadowStore::new(vec![Volume::new(
            1024,
            4096,
            None,
            Protection::OriginalVolume,
        )])
    }

    const C: VolumeId = VolumeId(0);

    #[test]
    fn writes_issued_during_a_hold_wait_and_are_released_in_order_none_lost() {
        let mut s = store();
        let mut notes = Vec::new();
        let t = Instant::from_us;
        assert_eq!(
            s.write(t(1), C, 5, Duration::ZERO, &mut notes),
            WriteFate::Accepted
        );
        s.hold(t(2), &[C]);
        assert_eq!(
            s.write(t(3), C, 5, Duration::ZERO, &mut notes),
            WriteFate::Held
        );
        assert_eq!(
            s.write(t(4), C, 6, Duration::ZERO, &mut notes),
            WriteFate::Held
        );
        let created = s.create(Guid(1), Guid(2), C, ProviderType::System);
        assert!(created.instant_kept);
        let r = s.release(t(10), &[C], &mut notes);
        assert_eq!(r.n, 2);
        assert!(r.out_of_order.is_empty());
        assert_eq!(r.max_added, Duration::from_us(7));
        let c = s.counts();
        assert_eq!((c.issued, c.accepted, c.held), (3, 3, 0));
        // The shadow holds the first write only; it reads back its instant.
        let read = s.read(Guid(1), &s.written_blocks(C)).unwrap();
        assert_eq!(read.held_blocks, 1);
        assert_eq!(Some(read.digest), s.expected_digest(Guid(1)));
        assert!(s.verify_live().iter().all(|(_, ok)| *ok));
    }

    #[test]
    fn a_write_behind_the_holds_back_breaks_the_instant() {
        let mut s = store();
        s.hold(Instant::from_us(1), &[C]);
        s.force_write(C, 3);
        let created = s.create(Guid(1), Guid(2), C, ProviderType::System);
        assert!(!created.instant_kept);
    }

    #[test]
    fn every_copy_method_keeps_its_instant() {
        for kind in [
            ProviderType::System,
            ProviderType::Software,
            ProviderType::Hardware,
        ] {
            let mut s = store();
            let mut notes = Vec::new();
            for b in 0..10 {
                s.write(Instant::ZERO, C, b, Duration::ZERO, &mut notes);
            }
            s.provider_called(kind, ProviderCall::EndPrepareSnapshots, &[C]);
            s.hold(Instant::ZERO, &[C]);
            s.create(Guid(1), Guid(2), C, kind);
            s.release(Instant::ZERO, &[C], &mut notes);
            for b in 5..20 {
                s.write(Instant::ZERO, C, b, Duration::ZERO, &mut notes);
            }
            let (info, ok) = s.verify_live()[0];
            assert!(ok, "{kind:?}");
            assert_eq!(info.method, CopyMethod::for_provider(kind));
            let read = s.read(Guid(1), &s.written_blocks(C)).unwrap();
            assert_eq!(
                read.held_blocks, 10,
                "{kind:?}: blocks written later read as zeros"
            );
        }
    }

    #[test]
    fn a_diff_area_that_can_hold_the_minimum_makes_room_by_deleting_the_oldest() {
        let min = |_| 4 * 4096;
        let mk = |protection| {
            let vol = Volume::new(1024, 4096, Some(8 * 4096), protection);
            ShadowStore::new(vec![vol])
        };
        for protection in [Protection::OriginalVolume, Protection::Snapshot] {
            let mut s = mk(protection);
            let mut notes = Vec::new();
            for b in 0..8 {
                s.write(Instant::ZERO, C, b, Duration::ZERO, &mut notes);
            }
            s.create(Guid(1), Guid(2), C, ProviderType::System);
            // Six copies on write: 2 blocks of room left, the minimum is 4.
            for b in 0..6 {
                s.write(Instant::ZERO, C, b, Duration::ZERO, &mut notes);
            }
            let got = s.make_room(&[C], min, &mut notes);
            match protection {
                Protection::OriginalVolume => {
                    assert_eq!(got, Ok(()));
                    assert_eq!(
                        notes,
                        [StoreNote::ShadowDeleted {
                            volume: C,
                            snapshot: Guid(1)
                        }]
                    );
                    assert!(!s.is_live(Guid(1)));
                }
                Protection::Snapshot => {
                    assert_eq!(got, Err(C));
                    assert!(s.is_live(Guid(1)));
                }
            }
        }
        // A capacity below the minimum fails whatever is stored.
        let mut s = mk(Protection::OriginalVolume);
        assert_eq!(s.make_room(&[C], |_| 9 * 4096, &mut Vec::new()), Err(C));
    }

    const D: VolumeId = VolumeId(1);

    fn two_volumes(capacity: Option<u64>, protection: Protection) -> ShadowStore {
        ShadowStore::new(vec![
            Volume::new(1024, 4096, capacity, protection),
            Volume::new(1024, 4096, capacity, protection),
        ])
    }

    #[test]
    fn a_block_read_back_with_another_sequence_changes_its_term() {
        for block in [0, 1, 7, 1 << 40] {
            let mut terms: Vec<u64> = (0..2000).map(|seq| image_term(block, seq)).collect();
            terms.sort_unstable();
            terms.dedup();
            assert_eq!(terms.len(), 2000, "block {block}");
        }
        assert_ne!(image_term(1, 1), image_term(2, 1));
    }

    #[test]
    fn each_provider_kind_has_its_copy_method_and_name() {
        let kinds = [
            (
                ProviderType::System,
                CopyMethod::CopyOnWrite,
                "copy-on-write",
            ),
            (
                ProviderType::Software,
                CopyMethod::RedirectOnWrite,
                "redirect-on-write",
            ),
            (
                ProviderType::Hardware,
                CopyMethod::SplitMirror,
                "split mirror",
            ),
        ];
        for (kind, method, name) in kinds {
            assert_eq!(CopyMethod::for_provider(kind), method);
            assert_eq!(method.name(), name);
        }
    }

    #[test]
    fn the_write_accounting_adds_up_per_volume_and_in_all() {
        let mut s = two_volumes(None, Protection::OriginalVolume);
        let mut notes = Vec::new();
        let t = Instant::from_us;
        let lat = Duration::from_us(5);
        assert_eq!(s.n_volumes(), 2);
        assert_eq!(s.write(t(1), C, 1, lat, &mut notes), WriteFate::Accepted);
        // The hold returns when the writes in flight have drained: C's completes at 6 µs.
        assert_eq!(s.hold(t(2), &[D]), t(2));
        assert_eq!(s.hold(t(3), &[C]), t(6));
        for (at, v, block) in [(4, C, 2), (5, D, 3), (6, D, 4)] {
            assert_eq!(s.write(t(at), v, block, lat, &mut notes), WriteFate::Held);
        }
        assert_eq!((s.held_on(C), s.held_on(D), s.held_now()), (1, 2, 3));
        let c = s.counts();
        assert_eq!((c.issued, c.accepted, c.held, c.failed), (4, 1, 3, 0));
        assert_eq!((s.accepted_on(C), s.accepted_on(D)), (1, 0));
        // D alone is released: it was held 98 µs; its oldest write waited 95.
        let r = s.release(t(100), &[D], &mut notes);
        assert_eq!(
            r,
            Released {
                n: 2,
                longest: Duration::from_us(98),
                max_added: Duration::from_us(95),
                out_of_order: vec![],
            }
        );
        assert_eq!((s.held_on(C), s.held_on(D), s.held_now()), (1, 0, 1));
        assert_eq!((s.accepted_on(C), s.accepted_on(D)), (1, 2));
        // Released again, D has nothing held: nothing happens.
        assert_eq!(s.release(t(101), &[D], &mut notes), Released::default());
        // A released write completes its own latency after the release.
        assert_eq!(s.hold(t(101), &[D]), t(105));
        let c = s.counts();
        assert_eq!((c.issued, c.accepted, c.held), (4, 3, 1));
        s.force_write(C, 9);
        assert_eq!(s.counts().issued, 5);
        assert!(notes.is_empty());
    }

    #[test]
    fn held_writes_not_queued_in_issue_order_are_reported() {
        let mut s = store();
        let mut notes = Vec::new();
        s.hold(Instant::ZERO, &[C]);
        for at in [5, 3] {
            s.write(Instant::from_us(at), C, at, Duration::ZERO, &mut notes);
        }
        let r = s.release(Instant::from_us(10), &[C], &mut notes);
        assert_eq!(r.out_of_order, vec![C]);
    }

    #[test]
    fn a_full_diff_area_under_protection_snapshot_fails_writes_and_faults_once() {
        let mut s = two_volumes(Some(2 * 4096), Protection::Snapshot);
        let mut notes = Vec::new();
        for b in 0..4 {
            s.write(Instant::ZERO, C, b, Duration::ZERO, &mut notes);
        }
        s.create(Guid(1), Guid(2), C, ProviderType::System);
        let fates: Vec<WriteFate> = (0..4)
            .map(|b| s.write(Instant::ZERO, C, b, Duration::ZERO, &mut notes))
            .collect();
        use WriteFate::{Accepted, Failed};
        assert_eq!(fates, [Accepted, Accepted, Failed, Failed]);
        assert_eq!(notes, [StoreNote::ProtectionFault { volume: C }]);
        assert!(s.is_faulted(C));
        assert!(!s.is_faulted(D));
        let c = s.counts();
        assert_eq!((c.issued, c.accepted, c.failed), (8, 6, 2));
        assert_eq!(s.accepted_on(C), 6);
        // The shadow kept its image.
        assert!(s.is_live(Guid(1)));
        assert!(s.verify_live().iter().all(|(_, ok)| *ok));
    }

    #[test]
    fn a_full_diff_area_deletes_the_shadow_of_its_own_volume_only() {
        let mut s = two_volumes(Some(2 * 4096), Protection::OriginalVolume);
        let mut notes = Vec::new();
        for v in [C, D] {
            for b in 0..4 {
                s.write(Instant::ZERO, v, b, Duration::ZERO, &mut notes);
            }
        }
        // Each volume's first shadow: the same key on two volumes; C's is the newer.
        s.create(Guid(2), Guid(9), D, ProviderType::System);
        s.create(Guid(1), Guid(9), C, ProviderType::System);
        for b in 0..3 {
            s.write(Instant::ZERO, D, b, Duration::ZERO, &mut notes);
        }
        assert_eq!(
            notes,
            [StoreNote::ShadowDeleted {
                volume: D,
                snapshot: Guid(2)
            }]
        );
        assert!(s.is_live(Guid(1)));
        assert!(!s.is_live(Guid(2)));
    }

    #[test]
    fn shadows_are_listed_read_whole_and_deleted() {
        let mut s = two_volumes(None, Protection::OriginalVolume);
        let mut notes = Vec::new();
        assert_eq!(s.heap_bytes(), 0);
        for b in [3, 9, 4] {
            s.write(Instant::ZERO, C, b, Duration::ZERO, &mut notes);
        }
        assert_eq!(s.written_blocks(C), vec![3, 4, 9]);
        assert!(s.heap_bytes() > 0);
        let kinds = [
            ProviderType::System,
            ProviderType::Software,
            ProviderType::Hardware,
            ProviderType::System,
        ];
        for (i, kind) in (1..).zip(kinds) {
            let made = s.create(Guid(i), Guid(100), C, kind);
            assert_eq!(made.device, i as u32, "devices count up from 1");
            assert_eq!(made.n_written, i as u64 + 2);
            assert!(!made.instant_kept, "no hold: no instant kept");
            s.write(Instant::ZERO, C, i as u64 * 10, Duration::ZERO, &mut notes);
        }
        let listed: Vec<(SnapshotId, u32, CopyMethod)> = s
            .live_shadows()
            .map(|i| {
                assert_eq!((i.set_id, i.volume), (Guid(100), C));
                (i.id, i.device, i.method)
            })
            .collect();
        use CopyMethod::{CopyOnWrite, RedirectOnWrite, SplitMirror};
        assert_eq!(
            listed,
            [
                (Guid(1), 1, CopyOnWrite),
                (Guid(2), 2, RedirectOnWrite),
                (Guid(3), 3, SplitMirror),
                (Guid(4), 4, CopyOnWrite),
            ]
        );
        // Each reads back its own instant, whole or block by block.
        let blocks = s.written_blocks(C);
        for (i, held) in [(1, 3), (2, 4), (3, 5), (4, 6)] {
            let id = Guid(i);
            let read = s.read(id, &blocks).unwrap();
            assert_eq!(read.held_blocks, held, "{id:?}");
            assert_eq!(Some(read.digest), s.expected_digest(id));
            let (whole, span) = s.read_all(id).unwrap();
            assert_eq!(whole, read);
            assert_eq!(span, Some((3, 40, 7)));
        }
        assert_ne!(s.expected_digest(Guid(1)), s.expected_digest(Guid(2)));
        assert!(s.verify_live().iter().all(|(_, ok)| *ok));
        assert_eq!(s.verify_live().len(), 4);
        // Deleted once; then gone.
        for i in 1..=3 {
            assert_eq!(s.delete(Guid(i)), Some(C));
            assert_eq!(s.delete(Guid(i)), None);
            assert!(!s.is_live(Guid(i)));
            assert_eq!(s.read(Guid(i), &blocks), Err(ReadError::NotFound));
            assert_eq!(s.read_all(Guid(i)), Err(ReadError::NotFound));
        }
        assert_eq!(s.delete(Guid(77)), None);
        assert_eq!(s.volume(C).n_shadows(), 1);
        assert_eq!(s.live_shadows().count(), 1);
        // The expected image of a deleted shadow is still known.
        assert!(s.expected_digest(Guid(1)).is_some());
        assert_eq!(s.expected_digest(Guid(77)), None);
    }

    #[test]
    fn make_room_asks_for_the_minimum_of_the_volume_size_and_a_capacity_at_it_is_enough() {
        let mut s = ShadowStore::new(vec![Volume::new(
            1000,
            4096,
            Some(8 * 4096),
            Protection::OriginalVolume,
        )]);
        let asked = std::cell::RefCell::new(Vec::new());
        let min = |size| {
            asked.borrow_mut().push(size);
            8 * 4096
        };
        assert_eq!(s.make_room(&[C], min, &mut Vec::new()), Ok(()));
        let asked = asked.into_inner();
        assert!(!asked.is_empty());
        assert!(asked.iter().all(|&size| size == 1000 * 4096), "{asked:?}");
    }

    #[test]
    fn block_seqs_are_the_blocks_read_sums_for_every_copy_method() {
        for kind in [
            ProviderType::System,
            ProviderType::Software,
            ProviderType::Hardware,
        ] {
            let mut s = store();
            let mut notes = Vec::new();
            for b in [1, 3, 4, 9, 3] {
                s.write(Instant::ZERO, C, b, Duration::ZERO, &mut notes);
            }
            s.provider_called(kind, ProviderCall::EndPrepareSnapshots, &[C]);
            s.create(Guid(1), Guid(2), C, kind);
            // Later writes: rewritten blocks and blocks first written after the instant.
            for b in [3, 4, 5, 1000] {
                s.write(Instant::ZERO, C, b, Duration::ZERO, &mut notes);
            }
            let seqs = s.block_seqs(Guid(1), 0, 1024).unwrap();
            assert_eq!(seqs.len(), 1024);
            let (mut digest, mut held) = (0u64, 0);
            for (b, seq) in (0..).zip(&seqs) {
                if let Some(q) = *seq {
                    digest = digest.wrapping_add(image_term(b, q));
                    held += 1;
                }
            }
            let read = s.read(Guid(1), &(0..1024).collect::<Vec<_>>()).unwrap();
            assert_eq!((digest, held), (read.digest, read.held_blocks), "{kind:?}");
            assert_eq!(Some(digest), s.expected_digest(Guid(1)), "{kind:?}");
            // Block 3 holds its second write (seq 5), block 5 was first written later.
            assert_eq!(&seqs[..6], &[None, Some(1), None, Some(5), Some(3), None]);
            assert_eq!(seqs[1000], None, "{kind:?}");
            assert_eq!(s.block_seqs(Guid(1), 3, 2).unwrap(), [Some(5), Some(3)]);
            assert_eq!(s.block_seqs(Guid(1), 1024, 0).unwrap(), []);
            for (first, count) in [(1020, 5), (1025, 0), (u64::MAX, 2)] {
                assert_eq!(
                    s.block_seqs(Guid(1), first, count),
                    Err(ReadError::OutOfRange)
                );
            }
            assert_eq!(s.block_seqs(Guid(9), 0, 1), Err(ReadError::NotFound));
        }
    }

    #[test]
    fn block_content_is_the_documented_function() {
        // Computed independently from docs/protocol.md "Block content" (Python, 64-bit masks):
        // volume 1, block 2, sequence 3, four words.
        let mut out = [0u8; 32];
        block_content(1, 2, 3, &mut out);
        let hex: String = out.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "a788ce9d808d58127dd2b7b649037fa69558e674faac0fa60f6fa6d04d362146"
        );
        let mut first = [0u8; 8];
        block_content(0, 0, 1, &mut first);
        assert_eq!(u64::from_le_bytes(first), 0xd9ee_f7f0_73d3_7c42);
        // Any part of a block, at any offset, is the same bytes as the whole block's.
        for from in 0..32 {
            for len in 0..=(32 - from) {
                let mut part = vec![0xAAu8; len];
                block_content_at(1, 2, 3, from as u64, &mut part);
                assert_eq!(part, out[from..from + len], "{from} {len}");
            }
        }
        // Another sequence, block or volume changes the content.
        for (v, b, q) in [(1, 2, 4), (1, 3, 3), (2, 2, 3)] {
            let mut other = [0u8; 32];
            block_content(v, b, q, &mut other);
            assert_ne!(other, out);
        }
    }

    #[test]
    fn reserving_live_room_before_the_first_write_sizes_the_map() {
        let mut s = store();
        let before = s.heap_bytes();
        s.reserve_live(C, 10_000);
        assert!(s.heap_bytes() > before);
    }
}
