//! `BlockMap`: a small, deterministic open-addressing hash table from block number to write
//! sequence number.
//!
//! Layout:
//! - **entries** `(block, seq)` in insertion order, stored in chunks. The first chunk grows by
//!   doubling up to [`CHUNK_LEN`] entries; every later chunk is allocated full-size once and never
//!   moves. So growth never copies more than one chunk, the slack is at most one chunk, and
//!   iteration is a plain walk in insertion order (deterministic, cache-friendly).
//! - **index** `Vec<u32>`, a power-of-two table with linear probing and a maximum load of 3/4,
//!   addressed by a fixed Fibonacci (multiplicative) hash of the block number: no randomly seeded hasher,
//!   no per-process seed. A cell is `0` when empty; otherwise its low `bits` bits hold
//!   `entry index + 1` and its high `32 - bits` bits hold a tag taken from the hash, so a probe
//!   only touches an entry when the tag matches (an unsuccessful lookup, the first write of a
//!   block, normally reads the index alone).
//!
//! There is no `remove`: a whole map is dropped when its shadow is deleted. The index is rebuilt
//! from the entries when it grows (the old index is freed first, so growth never holds two
//! indexes at once).
//!
//! Memory: 16 bytes per entry (plus at most one partly filled chunk) and 4 bytes per index cell,
//! i.e. about 5.3 to 10.7 index bytes per entry depending on where the load sits between 3/8 and
//! 3/4. An empty map owns no heap.

/// Entries per chunk once the map outgrows its first chunk (16384 entries = 256 KiB).
pub const CHUNK_LEN: usize = 1 << CHUNK_BITS;
const CHUNK_BITS: u32 = 14;
const CHUNK_MASK: usize = CHUNK_LEN - 1;

/// 2^64 / golden ratio, odd: the multiplier of Fibonacci hashing.
const FIB: u64 = 0x9E37_79B9_7F4A_7C15;
/// Smallest non-empty index: 8 cells.
const MIN_BITS: u32 = 3;
/// Largest index: 2^32 cells (the cell keeps `entry index + 1` in `bits` bits).
const MAX_BITS: u32 = 32;

/// Where a key would go: the first empty cell of its probe sequence, with its tag.
#[derive(Clone, Copy, Debug)]
pub struct Vacant {
    pos: usize,
    tag: u32,
}

/// Deterministic hash map `u64 block -> u64 seq`, insertion-ordered, with no removal.
#[derive(Clone, Debug, Default)]
pub struct BlockMap {
    chunks: Vec<Vec<(u64, u64)>>,
    index: Vec<u32>,
    len: usize,
    /// The length at which the next insert grows the index: 3/4 of its cells (0 while the
    /// index is not allocated), kept so that an insert compares one field.
    grow_at: usize,
    /// log2(index.len()); 0 while the index is not allocated.
    bits: u32,
}

impl BlockMap {
    /// An empty map; allocates nothing until the first insert.
    pub const fn new() -> BlockMap {
        BlockMap {
            chunks: Vec::new(),
            index: Vec::new(),
            len: 0,
            grow_at: 0,
            bits: 0,
        }
    }

    /// An empty map with room for `n` entries before its index grows (or its first chunk,
    /// up to one chunk), for callers that know the working set in advance.
    pub fn with_capacity(n: usize) -> BlockMap {
        let mut m = BlockMap::new();
        if n == 0 {
            return m;
        }
        let mut bits = MIN_BITS;
        while max_load(1usize << bits) < n && bits < MAX_BITS {
            bits += 1;
        }
        m.bits = bits;
        m.index = vec![0u32; 1 << bits];
        m.grow_at = max_load(1 << bits);
        m.chunks.reserve_exact(1);
        m.chunks.push(Vec::with_capacity(n.min(CHUNK_LEN)));
        m
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the map has no entry.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The value stored for `key`.
    #[inline]
    pub fn get(&self, key: u64) -> Option<u64> {
        self.find(key).ok().map(|i| self.entry(i).1)
    }

    /// True when `key` has an entry.
    #[inline]
    pub fn contains_key(&self, key: u64) -> bool {
        self.find(key).is_ok()
    }

    /// Insert or update; returns the previous value.
    #[inline]
    pub fn insert(&mut self, key: u64, value: u64) -> Option<u64> {
        match self.find(key) {
            Ok(i) => Some(std::mem::replace(&mut self.entry_mut(i).1, value)),
            Err(vacant) => {
                self.insert_vacant(vacant, key, value);
                None
            }
        }
    }

    /// Insert `key`, which the caller knows is absent (checked in debug builds only). Cheaper than
    /// [`insert`](Self::insert): the probe looks for an empty cell and never compares keys.
    #[inline]
    pub fn insert_absent(&mut self, key: u64, value: u64) {
        debug_assert!(
            !self.contains_key(key),
            "insert_absent: key {key} is present"
        );
        self.reserve_one();
        let (mut pos, tag) = self.home(key);
        let mask = self.index.len() - 1;
        while self.index[pos] != 0 {
            pos = (pos + 1) & mask;
        }
        self.place(Vacant { pos, tag }, key, value);
    }

    /// One probe sequence: `Ok(entry index)` when `key` is present, otherwise the empty cell where
    /// it would be inserted. Pair with [`value_at`](Self::value_at),
    /// [`set_value_at`](Self::set_value_at) and [`insert_vacant`](Self::insert_vacant) to do a
    /// read-decide-write with a single lookup.
    #[inline]
    pub fn find(&self, key: u64) -> Result<usize, Vacant> {
        if self.index.is_empty() {
            return Err(Vacant { pos: 0, tag: 0 });
        }
        let (mut pos, tag) = self.home(key);
        let mask = self.index.len() - 1;
        let idx_mask = self.idx_mask();
        loop {
            let cell = self.index[pos];
            if cell == 0 {
                return Err(Vacant { pos, tag });
            }
            if cell & !idx_mask == tag {
                let i = (cell & idx_mask) as usize - 1;
                if self.entry(i).0 == key {
                    return Ok(i);
                }
            }
            pos = (pos + 1) & mask;
        }
    }

    /// Value of entry `i` (an index returned by [`find`](Self::find)).
    #[inline]
    pub fn value_at(&self, i: usize) -> u64 {
        self.entry(i).1
    }

    /// Overwrite the value of entry `i` (an index returned by [`find`](Self::find)).
    #[inline]
    pub fn set_value_at(&mut self, i: usize, value: u64) {
        self.entry_mut(i).1 = value;
    }

    /// Insert `key` at the cell `vacant` returned by [`find`](Self::find) for the same key, with no
    /// change to the map in between.
    #[inline]
    pub fn insert_vacant(&mut self, vacant: Vacant, key: u64, value: u64) {
        if self.needs_growth() {
            self.grow_and_insert(key, value);
        } else {
            debug_assert_eq!(self.index[vacant.pos], 0);
            self.place(vacant, key, value);
        }
    }

    /// [`insert_vacant`](Self::insert_vacant) when the index is full: it grows, and the probe,
    /// void after the rebuild, is made again. Out of line, so that the common insert is small.
    #[cold]
    #[inline(never)]
    fn grow_and_insert(&mut self, key: u64, value: u64) {
        self.grow_index();
        let (mut pos, tag) = self.home(key);
        let mask = self.index.len() - 1;
        while self.index[pos] != 0 {
            pos = (pos + 1) & mask;
        }
        self.place(Vacant { pos, tag }, key, value);
    }

    /// Entries in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.chunks.iter().flatten().copied()
    }

    /// Keys in insertion order.
    pub fn keys(&self) -> impl Iterator<Item = u64> + '_ {
        self.iter().map(|(k, _)| k)
    }

    /// Bytes of heap this map holds (allocated capacity, not just the used part).
    pub fn heap_bytes(&self) -> usize {
        self.chunks.capacity() * size_of::<Vec<(u64, u64)>>()
            + self
                .chunks
                .iter()
                .map(|c| c.capacity() * size_of::<(u64, u64)>())
                .sum::<usize>()
            + self.index.capacity() * size_of::<u32>()
    }

    /// Number of index cells (0 for a map that never held an entry).
    pub fn index_cells(&self) -> usize {
        self.index.len()
    }

    // ---- internals ----

    #[inline]
    fn idx_mask(&self) -> u32 {
        ((1u64 << self.bits) - 1) as u32
    }

    /// First cell of `key`'s probe sequence (the top `bits` bits of the hash) and its tag (the
    /// next `32 - bits` bits, moved to the top of a cell).
    #[inline]
    fn home(&self, key: u64) -> (usize, u32) {
        let h = key.wrapping_mul(FIB);
        let pos = (h >> (64 - self.bits)) as usize;
        let tag = ((h >> 32) << self.bits) as u32;
        (pos, tag)
    }

    #[inline]
    fn entry(&self, i: usize) -> &(u64, u64) {
        &self.chunks[i >> CHUNK_BITS][i & CHUNK_MASK]
    }

    #[inline]
    fn entry_mut(&mut self, i: usize) -> &mut (u64, u64) {
        &mut self.chunks[i >> CHUNK_BITS][i & CHUNK_MASK]
    }

    #[inline]
    fn needs_growth(&self) -> bool {
        self.len >= self.grow_at
    }

    #[inline]
    fn reserve_one(&mut self) {
        if self.needs_growth() {
            self.grow_index();
        }
    }

    /// Write the cell and append the entry. The index has room (`needs_growth` is false).
    #[inline]
    fn place(&mut self, vacant: Vacant, key: u64, value: u64) {
        let i = self.len;
        self.index[vacant.pos] = vacant.tag | (i as u32 + 1);
        self.push_entry(key, value);
    }

    /// Appends an entry: in place when the last chunk has room (the common case, inlined),
    /// else through [`push_entry_slow`](Self::push_entry_slow).
    #[inline]
    fn push_entry(&mut self, key: u64, value: u64) {
        match self.chunks.last_mut() {
            // A chunk never holds more than CHUNK_LEN entries, whatever its capacity.
            Some(last) if last.len() < last.capacity() && last.len() < CHUNK_LEN => {
                last.push((key, value));
                self.len += 1;
            }
            _ => self.push_entry_slow(key, value),
        }
    }

    /// Appends an entry when the last chunk is full or there is none: the first chunk doubles
    /// (up to one chunk), later chunks are allocated full-size.
    #[cold]
    #[inline(never)]
    fn push_entry_slow(&mut self, key: u64, value: u64) {
        match self.chunks.last_mut() {
            Some(last) if last.len() < CHUNK_LEN => {
                // Only the first chunk ever grows: double it, capped at one chunk.
                let add = last.len().clamp(4, CHUNK_LEN - last.len());
                last.reserve_exact(add);
                last.push((key, value));
            }
            _ => {
                let cap = if self.chunks.is_empty() {
                    // Most maps (diff areas) stay in one chunk: no spare pointer slots.
                    self.chunks.reserve_exact(1);
                    4
                } else {
                    CHUNK_LEN
                };
                let mut chunk = Vec::with_capacity(cap);
                chunk.push((key, value));
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
    }

    /// Double the index (or allocate the first one) and rebuild it from the entries.
    #[cold]
    fn grow_index(&mut self) {
        let bits = if self.bits == 0 {
            MIN_BITS
        } else {
            self.bits + 1
        };
        assert!(bits <= MAX_BITS, "BlockMap: more than 3 * 2^30 entries");
        // Free the old index before allocating the new one: peak = entries + new index.
        self.index = Vec::new();
        self.bits = bits;
        let cells = 1usize << bits;
        let mut index = vec![0u32; cells];
        let mask = cells - 1;
        for (i, (key, _)) in self.chunks.iter().flatten().enumerate() {
            let (mut pos, tag) = self.home(*key);
            while index[pos] != 0 {
                pos = (pos + 1) & mask;
            }
            index[pos] = tag | (i as u32 + 1);
        }
        self.index = index;
        self.grow_at = max_load(cells);
    }
}

/// The most entries an index of `cells` cells holds: a load of 3/4.
#[inline]
fn max_load(cells: usize) -> usize {
    cells - cells / 4
}
