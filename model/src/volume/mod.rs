//! The virtual block device: a volume of numbered blocks and its copy-on-write shadow copies
//! (system provider, rule S18; diff-area limits and protection levels, rule 17).
//!
//! A block's content is represented by the global sequence number ([`WriteSeq`]) of the write that
//! last stored it; `None` means the block was never written (free space, reads as zeros). Data
//! oracles compare sequence numbers, never bytes.
//!
//! # Shadow chain (volsnap style)
//!
//! Shadows are kept oldest → newest, with epochs `e_1 <= e_2 <= … <= e_n` (the epoch is the
//! largest write sequence accepted on any volume when the shadow was created; every later write
//! has a larger sequence). Shadow `i`'s diff area holds, for blocks written after `e_i` while `i`
//! was the newest shadow, the sequence the block held before that write.
//!
//! **Reading** block `b` from shadow `i`: look in `diff_i`, `diff_{i+1}`, …, `diff_n`, then the live
//! map; take the **first** hit `s`; if `s <= e_i` the shadow holds `Some(s)`, otherwise (or if
//! nothing was found) `None`: the block was unwritten at `e_i`.
//!
//! Why this is right. Write `V(t)` for the block's content at time `t` (the last write with
//! sequence `<= t`). The chain keeps this invariant for every pair of neighbours `(j, j+1)`, the
//! newest shadow's neighbour being the live volume (`e_{n+1} = ∞`):
//!
//! - (a) if `b` was written in `(e_j, e_{j+1}]` and `V(e_j)` is not `None`, `diff_j` has `b`;
//! - (b) if `diff_j` has `b`, its value is `V(e_j)` (so it is `<= e_j`) and `b` was written in
//!   `(e_j, e_{j+1}]`.
//!
//! For shadow `i`, let `j` be the first shadow `>= i` whose diff has `b` (or the live map). If no
//! pair before `j` saw a write, `V(e_j) = V(e_i)` and the hit is exactly that (the live map when
//! no write at all happened after `e_i`). If some pair `m` saw a write while `diff_m` has no
//! entry, (a) says `V(e_m)` is `None`, hence `V(e_i)` is `None`; every write of `b` is then after
//! `e_i`, so the hit (a real write) is `> e_i` and the read gives `None`.
//!
//! **Writing** needs no diff lookup: copy-on-write into the newest shadow happens iff the block's
//! current sequence `c` is present and `c <= e_n`. Indeed a write after `e_n` raised `c` above
//! `e_n` for good, so `c <= e_n` means no write since `e_n`, hence by (b) `diff_n` has no entry
//! for `b`, and (a) now requires one: the copy `(b, c)` is inserted without a lookup. If `c > e_n`
//! the block was already written since `e_n` and (a) already holds. A never-written block is
//! never copied (volsnap does not preserve free clusters).
//!
//! **Deleting** shadow `k`: the oldest is simply dropped. Otherwise its entries that the older
//! neighbour `k-1` now needs move down: each `(b, s)` of `diff_k`, in insertion order, with
//! `s <= e_{k-1}` goes into `diff_{k-1}` unless that one already has `b`. (If `s <= e_{k-1}`, the
//! block did not change over `(e_{k-1}, e_k]` so `V(e_{k-1}) = s`; if `s > e_{k-1}`, it changed
//! there and `diff_{k-1}` already holds `V(e_{k-1})` or that is `None`.) This also applies when
//! `k` is the newest shadow. The diff-area usage is recomputed: it never grows on deletion.
//!
//! Cost: a write is one probe sequence in the live map plus, on copy-on-write, one insert into the
//! newest diff map. A shadow read walks at most `n - i + 1` diff maps plus the live map.
//!
//! # Redirect-on-write layers (software providers, rule S18)
//!
//! A redirect-on-write shadow takes no copy: at its instant the blocks written so far stay where
//! they are and become the shadow's own (its *base*), and every later write is redirected to a
//! new area, the live *overlay*. With redirect shadows `r_1 … r_m` (oldest first), the live
//! volume reads the overlay, then `base_m`, …, `base_1` (first hit); shadow `r_k` reads
//! `base_k`, …, `base_1`. Creating one is O(1) (the overlay becomes the newest base); reading
//! the live volume costs one probe per layer; deleting `r_k` hands each of its entries to the
//! layer above it (`base_{k+1}` or the overlay) unless that layer has the block already.
//! The copy-on-write chain above sees the layered live volume as "the live map".
//!
//! # Split mirror (hardware providers)
//!
//! A plex is a full, independent copy kept by the caller: [`Volume::snapshot_image`] gives the
//! mirror's starting content; the caller applies every later write to it until the split.
//!
//! Reading a redirect-on-write shadow probes its base and every older one, so the cost grows
//! with the number of redirect shadows on the volume (like the copy-on-write chain's).

mod block_map;
pub mod store;
#[cfg(test)]
mod tests;

pub use block_map::{BlockMap, CHUNK_LEN, Vacant};

/// The most diff-area entries a new copy-on-write shadow makes room for before its first copy
/// (a short run copies fewer; a longer one grows the map from there).
const DIFF_RESERVE_MAX: usize = 1 << 10;

/// Global write sequence number: 1, 2, 3 … assigned by the caller in acceptance order across all
/// volumes. 0 is never used.
pub type WriteSeq = u64;

/// A shadow copy on this volume, named by the caller (unique per volume).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ShadowKey(pub u32);

/// What the volume does when a copy-on-write does not fit in the diff area (rule 17).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Protection {
    /// `VSS_PROTECTION_LEVEL_ORIGINAL_VOLUME` (default): delete shadows, oldest first, until the
    /// copy fits; the application's write always succeeds.
    #[default]
    OriginalVolume,
    /// `VSS_PROTECTION_LEVEL_SNAPSHOT`: keep the shadows, fail the application's write and mark
    /// the volume `VSS_PROTECTION_FAULT_DIFF_AREA_FULL`.
    Snapshot,
}

/// Result of [`Volume::write`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The write was applied; `copied` says whether the old content went to the diff area first
    /// (the copy-on-write cost: one extra read and one extra write).
    Applied { copied: bool },
    /// The diff area was full: these shadows (oldest first) were deleted to make room, then the
    /// write was applied. The old content was copied iff a shadow remains on the volume.
    AppliedAfterDeleting { deleted: Vec<ShadowKey> },
    /// `Protection::Snapshot` and the copy did not fit: the block is unchanged, the shadows are
    /// intact and [`Volume::diff_area_full_fault`] is set.
    FailedDiffAreaFull,
}

/// A summary of an image: the wrapping sum of a per-block term over the blocks it holds, and
/// how many blocks it holds (written before its instant; the others read as zeros).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImageSum {
    /// Wrapping sum of the terms.
    pub digest: u64,
    /// Blocks counted.
    pub blocks: u64,
}

impl ImageSum {
    #[inline]
    fn add(&mut self, term: u64) {
        self.digest = self.digest.wrapping_add(term);
        self.blocks = self.blocks.wrapping_add(1);
    }
    #[inline]
    fn sub(&mut self, term: u64) {
        self.digest = self.digest.wrapping_sub(term);
        self.blocks = self.blocks.wrapping_sub(1);
    }
    #[inline]
    fn merge(&mut self, other: ImageSum) {
        self.digest = self.digest.wrapping_add(other.digest);
        self.blocks = self.blocks.wrapping_add(other.blocks);
    }
}

/// A redirect-on-write shadow: the blocks as they were at its instant, left in place.
#[derive(Clone, Debug)]
struct RedirectShadow {
    key: ShadowKey,
    base: BlockMap,
}

#[derive(Clone, Debug)]
struct Shadow {
    key: ShadowKey,
    epoch: WriteSeq,
    diff: BlockMap,
}

/// A virtual volume: live content plus a chain of copy-on-write shadows (see the module docs).
#[derive(Clone, Debug)]
pub struct Volume {
    n_blocks: u64,
    block_size: u32,
    diff_area_capacity_bytes: Option<u64>,
    protection: Protection,
    live: BlockMap,
    /// Oldest first.
    shadows: Vec<Shadow>,
    /// Redirect-on-write shadows, oldest first (see the module docs).
    redirects: Vec<RedirectShadow>,
    /// Sum of the diff maps' lengths.
    diff_blocks: u64,
    /// Largest sequence applied here or epoch of a shadow created here (every later write must be
    /// larger).
    high_water: WriteSeq,
    diff_area_full_fault: bool,
}

impl Volume {
    /// A volume of `n_blocks` blocks of `block_size` bytes, all never written. `None` capacity is
    /// an unbounded diff area.
    pub fn new(
        n_blocks: u64,
        block_size: u32,
        diff_area_capacity_bytes: Option<u64>,
        protection: Protection,
    ) -> Volume {
        assert!(block_size > 0, "block size must be positive");
        Volume {
            n_blocks,
            block_size,
            diff_area_capacity_bytes,
            protection,
            live: BlockMap::new(),
            shadows: Vec::new(),
            redirects: Vec::new(),
            diff_blocks: 0,
            high_water: 0,
            diff_area_full_fault: false,
        }
    }

    pub fn n_blocks(&self) -> u64 {
        self.n_blocks
    }

    pub fn block_size(&self) -> u32 {
        self.block_size
    }

    pub fn protection(&self) -> Protection {
        self.protection
    }

    /// Sizes the live block map for `n` written blocks before the first write (memory then
    /// grows only past `n`). Does nothing once a block has been written.
    pub fn reserve_live(&mut self, n: usize) {
        if self.live.is_empty() {
            self.live = BlockMap::with_capacity(n);
        }
    }

    /// Change the protection level (a profile knob; applies to later writes).
    pub fn set_protection(&mut self, protection: Protection) {
        self.protection = protection;
    }

    /// Apply an accepted write of `block` stamped `seq` (strictly larger than every sequence
    /// applied here and every epoch of a shadow created here; panics otherwise).
    ///
    /// Copy-on-write: if a shadow exists and the block's current content was written at or before
    /// the newest shadow's epoch, the old sequence is first copied into that shadow's diff area. A
    /// never-written block is not copied. If the copy does not fit in the diff-area capacity,
    /// `Protection::OriginalVolume` deletes shadows oldest first until it fits (or no shadow is
    /// left to need it) and reports their keys; `Protection::Snapshot` fails the write (nothing
    /// changes) and sets the sticky [`diff_area_full_fault`](Self::diff_area_full_fault).
    #[inline]
    pub fn write(&mut self, block: u64, seq: WriteSeq) -> WriteOutcome {
        self.write_returning_prev(block, seq).0
    }

    /// [`Volume::write`], also returning the sequence the block held before (`None`: never
    /// written), so a caller can keep an incremental digest of the live image. When the write
    /// fails (`FailedDiffAreaFull`) the block still holds the returned sequence.
    #[inline]
    pub fn write_returning_prev(
        &mut self,
        block: u64,
        seq: WriteSeq,
    ) -> (WriteOutcome, Option<WriteSeq>) {
        assert!(
            block < self.n_blocks,
            "write past the end: block {block} of {}",
            self.n_blocks
        );
        assert!(
            seq > self.high_water,
            "write seq {seq} not above {}",
            self.high_water
        );
        let slot = self.live.find(block);
        let current = match slot {
            Ok(i) => self.live.value_at(i),
            // Not in the overlay: it may sit in a redirect-on-write base below.
            Err(vacant) => match self.redirected(block) {
                Some(c) => c,
                None => {
                    // Never written: nothing to preserve.
                    self.live.insert_vacant(vacant, block, seq);
                    self.high_water = seq;
                    return (WriteOutcome::Applied { copied: false }, None);
                }
            },
        };
        let needs_copy = self.shadows.last().is_some_and(|s| current <= s.epoch);
        if !needs_copy {
            self.store(slot, block, seq);
            return (WriteOutcome::Applied { copied: false }, Some(current));
        }
        if !self.copy_fits() {
            return self.write_making_room(slot, block, seq, current);
        }
        // The common copy-on-write: the copy fits in the newest shadow's diff area.
        let newest = self.shadows.last_mut().expect("a copy needs a shadow");
        newest.diff.insert_absent(block, current);
        self.diff_blocks += 1;
        self.store(slot, block, seq);
        (WriteOutcome::Applied { copied: true }, Some(current))
    }

    /// The rest of [`Volume::write_returning_prev`] when the copy of `current` does not fit in
    /// the diff area (rule 17): shadows are deleted, or the write fails, by the protection
    /// level. Kept out of line so that the common write stays small.
    #[cold]
    #[inline(never)]
    fn write_making_room(
        &mut self,
        slot: Result<usize, Vacant>,
        block: u64,
        seq: WriteSeq,
        current: WriteSeq,
    ) -> (WriteOutcome, Option<WriteSeq>) {
        let mut deleted = Vec::new();
        while !self.copy_fits() {
            match self.protection {
                Protection::Snapshot => {
                    self.diff_area_full_fault = true;
                    return (WriteOutcome::FailedDiffAreaFull, Some(current));
                }
                Protection::OriginalVolume => {
                    let oldest = self.shadows.remove(0);
                    self.diff_blocks -= oldest.diff.len() as u64;
                    deleted.push(oldest.key);
                    if self.shadows.is_empty() {
                        break;
                    }
                }
            }
        }
        let copied = if let Some(newest) = self.shadows.last_mut() {
            newest.diff.insert_absent(block, current);
            self.diff_blocks += 1;
            true
        } else {
            false
        };
        self.store(slot, block, seq);
        let outcome = if deleted.is_empty() {
            WriteOutcome::Applied { copied }
        } else {
            WriteOutcome::AppliedAfterDeleting { deleted }
        };
        (outcome, Some(current))
    }

    /// Stores `seq` for `block` in the live overlay at the slot `find` gave.
    #[inline]
    fn store(&mut self, slot: Result<usize, Vacant>, block: u64, seq: WriteSeq) {
        match slot {
            Ok(i) => self.live.set_value_at(i, seq),
            Err(vacant) => self.live.insert_vacant(vacant, block, seq),
        }
        self.high_water = seq;
    }

    /// The block's content in the redirect-on-write bases, newest first.
    #[inline]
    fn redirected(&self, block: u64) -> Option<WriteSeq> {
        self.redirects.iter().rev().find_map(|r| r.base.get(block))
    }

    /// The live content of `block`: the overlay, then the redirect bases.
    #[inline]
    fn live_get(&self, block: u64) -> Option<WriteSeq> {
        self.live.get(block).or_else(|| self.redirected(block))
    }

    /// Create a redirect-on-write shadow (software provider): the blocks written so far stay in
    /// place as its image and later writes go to a new overlay. O(1). Panics if `key` exists.
    pub fn create_redirect_shadow(&mut self, key: ShadowKey) {
        assert!(
            !self.has_redirect_shadow(key),
            "shadow {key:?} exists already"
        );
        let base = std::mem::take(&mut self.live);
        self.redirects.push(RedirectShadow { key, base });
    }

    /// Whether `key` is a redirect-on-write shadow of this volume.
    pub fn has_redirect_shadow(&self, key: ShadowKey) -> bool {
        self.redirects.iter().any(|r| r.key == key)
    }

    /// Reads `blocks` of redirect shadow `key`, calling `f(block, seq)` for each.
    pub fn read_redirect_blocks(
        &self,
        key: ShadowKey,
        blocks: &[u64],
        mut f: impl FnMut(u64, Option<WriteSeq>),
    ) {
        let k = self
            .redirects
            .iter()
            .position(|r| r.key == key)
            .unwrap_or_else(|| panic!("no redirect shadow {key:?}"));
        let layers = &self.redirects[..=k];
        for &block in blocks {
            f(block, layers.iter().rev().find_map(|r| r.base.get(block)));
        }
    }

    /// Delete redirect shadow `key`: its blocks that no newer layer overrides move up into the
    /// layer above it, in insertion order. Panics if it does not exist.
    pub fn delete_redirect_shadow(&mut self, key: ShadowKey) {
        let k = self
            .redirects
            .iter()
            .position(|r| r.key == key)
            .unwrap_or_else(|| panic!("no redirect shadow {key:?}"));
        let gone = self.redirects.remove(k);
        let above = if k < self.redirects.len() {
            &mut self.redirects[k].base
        } else {
            &mut self.live
        };
        for (block, seq) in gone.base.iter() {
            if let Err(vacant) = above.find(block) {
                above.insert_vacant(vacant, block, seq);
            }
        }
    }

    /// The live image, every written block with its sequence, by ascending block: a split
    /// mirror's starting content.
    pub fn snapshot_image(&self) -> Vec<(u64, WriteSeq)> {
        self.written_blocks_sorted()
            .into_iter()
            .filter_map(|b| self.live_get(b).map(|s| (b, s)))
            .collect()
    }

    #[inline]
    fn copy_fits(&self) -> bool {
        match self.diff_area_capacity_bytes {
            None => true,
            Some(cap) => (self.diff_blocks + 1).saturating_mul(u64::from(self.block_size)) <= cap,
        }
    }

    /// Create a shadow whose image is the volume's current content. `epoch` is the largest
    /// sequence accepted so far on any volume (so at least every sequence applied here and every
    /// earlier shadow's epoch). Panics if `key` is already a shadow of this volume.
    pub fn create_shadow(&mut self, key: ShadowKey, epoch: WriteSeq) {
        assert!(!self.has_shadow(key), "shadow {key:?} exists already");
        assert!(
            epoch >= self.high_water,
            "shadow epoch {epoch} below {}",
            self.high_water
        );
        self.high_water = epoch;
        // Only a block written before the shadow is ever copied into its diff area, so the
        // blocks written now bound what the map can hold: sized for that (capped), it is
        // filled by the copies that follow without growing by doubling from nothing.
        let room = self.live.len().min(DIFF_RESERVE_MAX);
        self.shadows.push(Shadow {
            key,
            epoch,
            diff: BlockMap::with_capacity(room),
        });
    }

    /// Delete a shadow (oldest, middle or newest); older shadows keep reading correctly (see the
    /// module docs). Panics if the shadow does not exist.
    pub fn delete_shadow(&mut self, key: ShadowKey) {
        let k = self.position(key);
        let gone = self.shadows.remove(k);
        self.diff_blocks -= gone.diff.len() as u64;
        if k == 0 {
            return;
        }
        let older = &mut self.shadows[k - 1];
        let before = older.diff.len();
        for (block, seq) in gone.diff.iter() {
            if seq <= older.epoch
                && let Err(vacant) = older.diff.find(block)
            {
                older.diff.insert_vacant(vacant, block, seq);
            }
        }
        self.diff_blocks += (older.diff.len() - before) as u64;
    }

    /// Delete every shadow (e.g. clearing a protection fault); returns their keys, oldest first.
    pub fn delete_all_shadows(&mut self) -> Vec<ShadowKey> {
        self.diff_blocks = 0;
        self.shadows.drain(..).map(|s| s.key).collect()
    }

    /// The sequence shadow `key` holds for `block`: `None` when the block was never written at the
    /// shadow's epoch (reads as zeros). Panics if the shadow does not exist.
    pub fn read_shadow(&self, key: ShadowKey, block: u64) -> Option<WriteSeq> {
        assert!(
            block < self.n_blocks,
            "read past the end: block {block} of {}",
            self.n_blocks
        );
        let i = self.position(key);
        let epoch = self.shadows[i].epoch;
        let hit = self.shadows[i..]
            .iter()
            .find_map(|s| s.diff.get(block))
            .or_else(|| self.live_get(block));
        hit.filter(|&s| s <= epoch)
    }

    /// Reads `blocks` of shadow `key` in order, calling `f(block, seq)` for each, as
    /// [`Volume::read_shadow`] would answer; finds the shadow once for the whole range.
    pub fn read_shadow_blocks(
        &self,
        key: ShadowKey,
        blocks: &[u64],
        mut f: impl FnMut(u64, Option<WriteSeq>),
    ) {
        let i = self.position(key);
        let epoch = self.shadows[i].epoch;
        let chain = &self.shadows[i..];
        for &block in blocks {
            assert!(
                block < self.n_blocks,
                "read past the end: block {block} of {}",
                self.n_blocks
            );
            let hit = chain
                .iter()
                .find_map(|s| s.diff.get(block))
                .or_else(|| self.live_get(block));
            f(block, hit.filter(|&s| s <= epoch));
        }
    }

    /// The sequence the live volume holds for `block` (`None`: never written).
    pub fn read_live(&self, block: u64) -> Option<WriteSeq> {
        self.live_get(block)
    }

    pub fn has_shadow(&self, key: ShadowKey) -> bool {
        self.shadows.iter().any(|s| s.key == key)
    }

    /// Epoch of shadow `key`, if it exists.
    pub fn shadow_epoch(&self, key: ShadowKey) -> Option<WriteSeq> {
        self.shadows.iter().find(|s| s.key == key).map(|s| s.epoch)
    }

    /// Number of live shadows on this volume.
    pub fn n_shadows(&self) -> usize {
        self.shadows.len()
    }

    /// Shadow keys, oldest first.
    pub fn shadow_keys(&self) -> impl Iterator<Item = ShadowKey> + '_ {
        self.shadows.iter().map(|s| s.key)
    }

    /// Blocks ever written on this volume, in no particular order, with no sort: the smallest,
    /// the largest and how many (`None` when none was written).
    pub fn written_span(&self) -> Option<(u64, u64, u64)> {
        if !self.redirects.is_empty() {
            let v = self.written_blocks_sorted();
            return Some((*v.first()?, *v.last()?, v.len() as u64));
        }
        if self.live.is_empty() {
            return None;
        }
        let (lo, hi) = self
            .live
            .keys()
            .fold((u64::MAX, 0), |(lo, hi), b| (lo.min(b), hi.max(b)));
        Some((lo, hi, self.live.len() as u64))
    }

    /// Blocks ever written on this volume, ascending (allocates).
    pub fn written_blocks_sorted(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self.live.keys().collect();
        for r in &self.redirects {
            v.extend(r.base.keys());
        }
        v.sort_unstable();
        if !self.redirects.is_empty() {
            v.dedup();
        }
        v
    }

    /// Number of blocks ever written on this volume.
    pub fn n_written_blocks(&self) -> u64 {
        if self.redirects.is_empty() {
            self.live.len() as u64
        } else {
            self.written_blocks_sorted().len() as u64
        }
    }

    /// Diff-area bytes in use: blocks copied into live shadows × block size.
    pub fn diff_area_used_bytes(&self) -> u64 {
        self.diff_blocks * u64::from(self.block_size)
    }

    /// Diff-area bytes held by one shadow (after merges from deleted newer shadows); `None` if
    /// the shadow does not exist.
    pub fn shadow_diff_area_used_bytes(&self, key: ShadowKey) -> Option<u64> {
        self.shadows
            .iter()
            .find(|s| s.key == key)
            .map(|s| s.diff.len() as u64 * u64::from(self.block_size))
    }

    /// `None`: unbounded.
    pub fn diff_area_capacity_bytes(&self) -> Option<u64> {
        self.diff_area_capacity_bytes
    }

    /// Change the diff-area capacity (vssadmin resize shadowstorage). Shadows already stored are
    /// kept even if they exceed the new capacity; the limit applies to later copies.
    pub fn set_diff_area_capacity_bytes(&mut self, capacity: Option<u64>) {
        self.diff_area_capacity_bytes = capacity;
    }

    /// Sticky `VSS_PROTECTION_FAULT_DIFF_AREA_FULL`: set when a write failed under
    /// `Protection::Snapshot`. Whether later writes are refused while it is set is the caller's
    /// policy.
    pub fn diff_area_full_fault(&self) -> bool {
        self.diff_area_full_fault
    }

    /// Clear the protection fault (`ClearVolumeProtectFault`); shadows are not touched.
    pub fn clear_diff_area_full_fault(&mut self) {
        self.diff_area_full_fault = false;
    }

    /// Bytes of heap held by the volume: allocated capacity of every map and of the shadow table.
    pub fn heap_bytes(&self) -> usize {
        self.live.heap_bytes()
            + self
                .redirects
                .iter()
                .map(|r| r.base.heap_bytes())
                .sum::<usize>()
            + self.shadows.capacity() * size_of::<Shadow>()
            + self
                .shadows
                .iter()
                .map(|s| s.diff.heap_bytes())
                .sum::<usize>()
    }

    /// The digest of every copy-on-write shadow's image at once, oldest first: for shadow `i`,
    /// the wrapping sum of `term(block, seq)` over the blocks it holds (and their number),
    /// exactly what reading every written block through [`Volume::read_shadow_blocks`] would
    /// give, but walking each block's versions once for all shadows together.
    ///
    /// Each version `(b, s)` of a block, its live content or a diff entry of shadow `i`, is what
    /// the shadows `k ..= i` read (the live content: `k ..= n-1`), `k` the first whose epoch is at
    /// least `s`. Shadows above `i` find a newer version first; shadows below `k` held `b`
    /// unwritten or older. Why no older diff entry of `b` stands in between: an entry of shadow
    /// `j` means `b` was written in `(e_j, e_{j+1}]` (invariant (b) of the module docs), by a write
    /// `w > e_j`; `s` is the content at `e_i >= e_{j+1}`, so `s >= w > e_j`, and every shadow at or
    /// below `j` has an epoch below `s`. Epochs grow with the shadow index, so `k` is a binary
    /// search, and a difference array over shadows collects the terms: O((B + V) log S) for B
    /// written blocks and V diff entries, with no map lookup.
    pub fn shadow_digests(
        &self,
        term: impl Fn(u64, WriteSeq) -> u64,
    ) -> Vec<(ShadowKey, ImageSum)> {
        let n = self.shadows.len();
        if n == 0 {
            return Vec::new();
        }
        let epochs: Vec<WriteSeq> = self.shadows.iter().map(|s| s.epoch).collect();
        let mut acc = vec![ImageSum::default(); n + 1];
        let mut add = |block: u64, seq: WriteSeq, hi: usize| {
            let start = if n == 1 {
                usize::from(epochs[0] < seq)
            } else {
                epochs.partition_point(|&e| e < seq)
            };
            if start <= hi {
                let t = term(block, seq);
                acc[start].add(t);
                acc[hi + 1].sub(t);
            }
        };
        for (i, shadow) in self.shadows.iter().enumerate() {
            for (block, s) in shadow.diff.iter() {
                add(block, s, i);
            }
        }
        if self.redirects.is_empty() {
            for (block, live) in self.live.iter() {
                add(block, live, n - 1);
            }
        } else {
            for block in self.written_blocks_sorted() {
                if let Some(live) = self.live_get(block) {
                    add(block, live, n - 1);
                }
            }
        }
        let mut out = Vec::with_capacity(n);
        let mut run = ImageSum::default();
        for (i, s) in self.shadows.iter().enumerate() {
            run.merge(acc[i]);
            out.push((s.key, run));
        }
        out
    }

    /// The digest of one copy-on-write shadow's image, as [`Volume::shadow_digests`] gives it
    /// for that shadow: shadow `i` holds exactly the versions `(b, s)` of its own and newer
    /// levels (diff entries of shadows `i..`, and the live content) with `s` at most its epoch
    /// (at most one per block, by the argument of [`Volume::shadow_digests`]). Cost O(B + V_i)
    /// for V_i the diff entries of shadow `i` and newer: reading the newest shadow costs one
    /// pass over the live map. Panics if the shadow does not exist.
    pub fn shadow_digest(&self, key: ShadowKey, term: impl Fn(u64, WriteSeq) -> u64) -> ImageSum {
        let i = self.position(key);
        let epoch = self.shadows[i].epoch;
        let mut sum = ImageSum::default();
        // `for_each`, not a `for` loop: the maps' chunked iterators run as plain nested loops
        // when driven from inside.
        let mut add = |(block, s): (u64, WriteSeq)| {
            if s <= epoch {
                sum.add(term(block, s));
            }
        };
        for shadow in &self.shadows[i..] {
            shadow.diff.iter().for_each(&mut add);
        }
        if self.redirects.is_empty() {
            self.live.iter().for_each(&mut add);
        } else {
            for block in self.written_blocks_sorted() {
                if let Some(live) = self.live_get(block) {
                    add((block, live));
                }
            }
        }
        sum
    }

    /// The digest of every redirect-on-write shadow's image at once, oldest first, as
    /// [`Volume::read_redirect_blocks`] over every written block would sum it: base entry
    /// `(b, s)` of layer `j` is read by shadows `j..k`, `k` the next newer layer holding `b`.
    /// Cost O(V) for V base entries.
    pub fn redirect_digests(
        &self,
        term: impl Fn(u64, WriteSeq) -> u64,
    ) -> Vec<(ShadowKey, ImageSum)> {
        let m = self.redirects.len();
        if m == 0 {
            return Vec::new();
        }
        let mut acc = vec![ImageSum::default(); m + 1];
        // Newest layer first: `above[b]` is the lowest layer above holding `b`.
        let mut above = BlockMap::new();
        for j in (0..m).rev() {
            for (block, s) in self.redirects[j].base.iter() {
                let hi = match above.find(block) {
                    Ok(e) => {
                        let hi = above.value_at(e) as usize;
                        above.set_value_at(e, j as u64);
                        hi
                    }
                    Err(vacant) => {
                        above.insert_vacant(vacant, block, j as u64);
                        m
                    }
                };
                let t = term(block, s);
                acc[j].add(t);
                acc[hi].sub(t);
            }
        }
        let mut out = Vec::with_capacity(m);
        let mut run = ImageSum::default();
        for (j, r) in self.redirects.iter().enumerate() {
            run.merge(acc[j]);
            out.push((r.key, run));
        }
        out
    }

    fn position(&self, key: ShadowKey) -> usize {
        match self.shadows.iter().position(|s| s.key == key) {
            Some(i) => i,
            None => panic!("no shadow {key:?} on this volume"),
        }
    }
}
