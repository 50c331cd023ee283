//! The exports as the world thread sees them: the questions a connection asks ([`NbdQuery`]),
//! the answers computed from the shadow store ([`NbdAnswer`]), and the channel between them.

use std::sync::mpsc::{self, Receiver, Sender};

use model::volume::WriteSeq;
use model::volume::store::{ReadError, ShadowInfo, ShadowStore, block_content_at};

use super::{
    EXPORT_PREFIX, MAX_PAYLOAD, MAX_STATUS_BLOCKS, NBD_EINVAL, NBD_EIO, NBD_EOVERFLOW,
    NBD_STATE_HOLE, NBD_STATE_ZERO,
};
use crate::world::World;

/// A question an NBD connection asks the world thread.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NbdQuery {
    /// The exports: every live shadow copy.
    List,
    /// One export, by name.
    Info {
        /// `HarddiskVolumeShadowCopyN`.
        name: String,
    },
    /// `len` bytes of an export from byte `offset`.
    Read {
        /// The export.
        name: String,
        /// The first byte.
        offset: u64,
        /// How many bytes (at most [`MAX_PAYLOAD`]).
        len: u32,
    },
    /// The allocation of `len` bytes of an export from byte `offset` (`base:allocation`).
    Status {
        /// The export.
        name: String,
        /// The first byte.
        offset: u64,
        /// How many bytes.
        len: u32,
    },
}

/// An export as a client sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportInfo {
    /// `HarddiskVolumeShadowCopyN`.
    pub name: String,
    /// Its size in bytes: the volume's blocks times its block size.
    pub size: u64,
    /// The volume's block size in bytes.
    pub block_size: u32,
}

/// One extent of a block-status reply: `length` bytes with the `base:allocation` `flags`
/// ([`NBD_STATE_HOLE`], [`NBD_STATE_ZERO`]; 0 for written data).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extent {
    /// Bytes it covers (never 0).
    pub length: u32,
    /// Its `base:allocation` flags.
    pub flags: u32,
}

/// The world thread's answer to an [`NbdQuery`], the variant of the same name; a failure is an
/// NBD error number ([`NBD_EIO`], [`NBD_EINVAL`], [`NBD_EOVERFLOW`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NbdAnswer {
    /// Every export, in creation order.
    List(Vec<ExportInfo>),
    /// The export, or `None` when no live shadow copy has that name.
    Info(Option<ExportInfo>),
    /// The bytes read, exactly as many as asked.
    Read(Result<Vec<u8>, u32>),
    /// Consecutive extents from the offset asked, covering at most the length asked.
    Status(Result<Vec<Extent>, u32>),
}

/// What a connection sends the world thread: the question and where the answer goes.
pub type NbdRequest = (NbdQuery, Sender<NbdAnswer>);

/// The export name of the shadow copy with device number `device`.
pub fn export_name(device: u32) -> String {
    format!("{EXPORT_PREFIX}{device}")
}

/// Answers `q` from the world as it stands (virtual time does not move).
pub fn answer(world: &World, q: &NbdQuery) -> NbdAnswer {
    answer_store(world.store(), q)
}

/// Answers every request waiting on `requests` from the world as it stands, without blocking;
/// returns how many. A world thread calls it between its other work.
pub fn answer_waiting(world: &World, requests: &Receiver<NbdRequest>) -> usize {
    let mut n = 0;
    while let Ok((q, reply)) = requests.try_recv() {
        // A connection that went away meanwhile no longer wants its answer.
        let _ = reply.send(answer(world, &q));
        n += 1;
    }
    n
}

/// Sends `q` to the world thread and waits for its answer; `None` when the world thread is
/// gone (it dropped its receiver or the reply sender).
pub fn ask_world(world: &Sender<NbdRequest>, q: NbdQuery) -> Option<NbdAnswer> {
    let (tx, rx) = mpsc::channel();
    world.send((q, tx)).ok()?;
    rx.recv().ok()
}

/// [`answer`] over the store itself.
pub(super) fn answer_store(store: &ShadowStore, q: &NbdQuery) -> NbdAnswer {
    match q {
        NbdQuery::List => NbdAnswer::List(
            store
                .live_shadows()
                .map(|s| export_info(store, &s))
                .collect(),
        ),
        NbdQuery::Info { name } => {
            NbdAnswer::Info(find(store, name).map(|s| export_info(store, &s)))
        }
        NbdQuery::Read { name, offset, len } => {
            NbdAnswer::Read(read_range(store, name, *offset, *len))
        }
        NbdQuery::Status { name, offset, len } => {
            NbdAnswer::Status(status_range(store, name, *offset, *len))
        }
    }
}

/// The live shadow copy exported as `name`.
fn find(store: &ShadowStore, name: &str) -> Option<ShadowInfo> {
    let device: u32 = name.strip_prefix(EXPORT_PREFIX)?.parse().ok()?;
    // One spelling per export: `…Copy01` or `…Copy+1` name none.
    if export_name(device) != name {
        return None;
    }
    store.live_shadows().find(|s| s.device == device)
}

fn export_info(store: &ShadowStore, s: &ShadowInfo) -> ExportInfo {
    let vol = store.volume(s.volume);
    ExportInfo {
        name: export_name(s.device),
        size: vol.n_blocks().saturating_mul(u64::from(vol.block_size())),
        block_size: vol.block_size(),
    }
}

/// The shadow exported as `name`, its block size, and the end of the byte range asked.
fn locate(
    store: &ShadowStore,
    name: &str,
    offset: u64,
    len: u32,
) -> Result<(ShadowInfo, u64, u64), u32> {
    let s = find(store, name).ok_or(NBD_EIO)?;
    let info = export_info(store, &s);
    let end = offset
        .checked_add(u64::from(len))
        .filter(|&end| end <= info.size)
        .ok_or(NBD_EINVAL)?;
    Ok((s, u64::from(info.block_size), end))
}

fn errno(e: ReadError) -> u32 {
    match e {
        ReadError::NotFound => NBD_EIO,
        ReadError::OutOfRange => NBD_EINVAL,
    }
}

/// A block in a byte range: its number, its sequence at the instant, and the bytes
/// `start .. stop` of it the range covers.
struct InRange {
    block: u64,
    seq: Option<WriteSeq>,
    start: u64,
    stop: u64,
}

/// Each block of bytes `offset .. end` (at most `max_blocks` of them).
fn blocks_in(
    store: &ShadowStore,
    s: &ShadowInfo,
    bs: u64,
    offset: u64,
    end: u64,
    max_blocks: u64,
) -> Result<Vec<InRange>, u32> {
    let first = offset / bs;
    let last = ((end - 1) / bs).min(first.saturating_add(max_blocks - 1));
    let seqs = store
        .block_seqs(s.id, first, last - first + 1)
        .map_err(errno)?;
    Ok((first..)
        .zip(seqs)
        .map(|(block, seq)| InRange {
            block,
            seq,
            start: (block * bs).max(offset),
            stop: ((block + 1) * bs).min(end),
        })
        .collect())
}

fn read_range(store: &ShadowStore, name: &str, offset: u64, len: u32) -> Result<Vec<u8>, u32> {
    if len > MAX_PAYLOAD {
        return Err(NBD_EOVERFLOW);
    }
    let (s, bs, end) = locate(store, name, offset, len)?;
    let mut out = vec![0u8; len as usize];
    if len == 0 {
        return Ok(out);
    }
    let volume = s.volume.idx() as u64;
    for b in blocks_in(store, &s, bs, offset, end, u64::MAX)? {
        if let Some(seq) = b.seq {
            let dst = &mut out[(b.start - offset) as usize..(b.stop - offset) as usize];
            block_content_at(volume, b.block, seq, b.start - b.block * bs, dst);
        }
    }
    Ok(out)
}

fn status_range(
    store: &ShadowStore,
    name: &str,
    offset: u64,
    len: u32,
) -> Result<Vec<Extent>, u32> {
    if len == 0 {
        return Err(NBD_EINVAL);
    }
    let (s, bs, end) = locate(store, name, offset, len)?;
    let mut out: Vec<Extent> = Vec::new();
    for b in blocks_in(store, &s, bs, offset, end, MAX_STATUS_BLOCKS)? {
        let flags = if b.seq.is_none() {
            NBD_STATE_HOLE | NBD_STATE_ZERO
        } else {
            0
        };
        // Within the request's length, so within u32.
        let n = (b.stop - b.start) as u32;
        match out.last_mut() {
            Some(e) if e.flags == flags => e.length += n,
            _ => out.push(Extent { length: n, flags }),
        }
    }
    Ok(out)
}
