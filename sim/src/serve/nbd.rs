//! Shadow copies over NBD (docs/protocol.md, "Shadow copies over NBD"): every live shadow copy
//! is a read-only export named by its device, `HarddiskVolumeShadowCopyN`, of its volume's size,
//! whose bytes are the documented block content
//! ([`block_content`](model::volume::store::block_content)) of each block's write
//! sequence at the shadow's instant, zeros for a block never written by then.
//!
//! The world is not `Send` and lives on one thread; each connection runs on its own thread and
//! asks the world thread questions ([`NbdQuery`]) over a channel of [`NbdRequest`]s, which the
//! world thread answers with [`answer`] between its other work ([`answer_waiting`]). Reads never
//! move virtual time. [`listen`] binds a Unix socket or a loopback TCP port and starts the
//! acceptor; [`serve_connection`] is one connection's protocol over any byte stream.
//!
//! Supported, from the NBD protocol (`doc/proto.md` of the NBD project):
//!
//! - fixed newstyle negotiation only (`NBD_FLAG_FIXED_NEWSTYLE`, `NBD_FLAG_NO_ZEROES`); a client
//!   flag the server did not offer closes the connection;
//! - options `NBD_OPT_EXPORT_NAME`, `NBD_OPT_ABORT`, `NBD_OPT_LIST`, `NBD_OPT_INFO` and
//!   `NBD_OPT_GO` (replying `NBD_INFO_EXPORT`, `NBD_INFO_BLOCK_SIZE` and, when asked,
//!   `NBD_INFO_NAME`), `NBD_OPT_STRUCTURED_REPLY`, `NBD_OPT_LIST_META_CONTEXT` and
//!   `NBD_OPT_SET_META_CONTEXT` with the one context `base:allocation`; any other option
//!   (TLS, extended headers, …) gets `NBD_REP_ERR_UNSUP`; option data over 64 KiB is skipped
//!   and refused with `NBD_REP_ERR_TOO_BIG`;
//! - transmission flags `NBD_FLAG_HAS_FLAGS`, `NBD_FLAG_READ_ONLY`, `NBD_FLAG_CAN_MULTI_CONN`
//!   (an image never changes under a reader), and `NBD_FLAG_SEND_DF` once structured replies
//!   are negotiated (a read is always one chunk);
//! - size constraints: minimum block 1 (any offset and length), preferred block the volume's
//!   block size (at least 512), maximum payload 32 MiB; a longer read is `NBD_EOVERFLOW`, one
//!   past the end `NBD_EINVAL`;
//! - `NBD_CMD_READ` (simple or structured replies), `NBD_CMD_BLOCK_STATUS` (structured, with
//!   `NBD_CMD_FLAG_REQ_ONE`; a block never written at the instant is
//!   `NBD_STATE_HOLE | NBD_STATE_ZERO`, at most 131072 blocks described per request),
//!   `NBD_CMD_DISC`, `NBD_CMD_FLUSH` (nothing to flush: success); `NBD_CMD_WRITE` (its payload
//!   read and dropped), `NBD_CMD_TRIM` and `NBD_CMD_WRITE_ZEROES` fail with `NBD_EPERM`; any
//!   other command or flag with `NBD_EINVAL`;
//! - a shadow deleted while an export is open makes its reads fail with `NBD_EIO`; once the
//!   world thread is gone, the next request gets `NBD_ESHUTDOWN` (`NBD_REP_ERR_SHUTDOWN` while
//!   negotiating) and the connection closes.
//!
//! A malformed client (a wrong magic, a truncated message, a flag it may not send) gets an
//! error reply where the protocol has one and a closed connection where it has none; nothing it
//! sends panics the server.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;

mod exports;

pub use exports::{
    ExportInfo, Extent, NbdAnswer, NbdQuery, NbdRequest, answer, answer_waiting, ask_world,
    export_name,
};

/// The prefix of every export's name; the shadow's device number follows.
pub const EXPORT_PREFIX: &str = "HarddiskVolumeShadowCopy";

/// The largest read (and write payload) a request may carry: 32 MiB.
pub const MAX_PAYLOAD: u32 = 32 << 20;

/// The most blocks one block-status reply describes; a longer range gets a shorter reply, which
/// the client continues from where it ends.
pub const MAX_STATUS_BLOCKS: u64 = 1 << 17;

/// Option data longer than this is skipped and refused (`NBD_REP_ERR_TOO_BIG`).
const MAX_OPTION_DATA: u32 = 64 << 10;

/// `NBD_EPERM`: a write to the read-only export.
pub const NBD_EPERM: u32 = 1;
/// `NBD_EIO`: the shadow copy is gone.
pub const NBD_EIO: u32 = 5;
/// `NBD_EINVAL`: a range past the end, an unknown command or flag.
pub const NBD_EINVAL: u32 = 22;
/// `NBD_EOVERFLOW`: a read longer than [`MAX_PAYLOAD`].
pub const NBD_EOVERFLOW: u32 = 75;
/// `NBD_ESHUTDOWN`: the world thread is gone.
pub const NBD_ESHUTDOWN: u32 = 108;

/// `base:allocation`: a hole, never written at the instant.
pub const NBD_STATE_HOLE: u32 = 1;
/// `base:allocation`: reads as zeros.
pub const NBD_STATE_ZERO: u32 = 2;

const NBDMAGIC: u64 = 0x4e42_444d_4147_4943;
const IHAVEOPT: u64 = 0x4948_4156_454f_5054;
const OPTION_REPLY_MAGIC: u64 = 0x0003_e889_0455_65a9;
const REQUEST_MAGIC: u32 = 0x2560_9513;
const SIMPLE_REPLY_MAGIC: u32 = 0x6744_6698;
const STRUCTURED_REPLY_MAGIC: u32 = 0x668e_33ef;

const FLAG_FIXED_NEWSTYLE: u16 = 1 << 0;
const FLAG_NO_ZEROES: u16 = 1 << 1;
const FLAG_C_FIXED_NEWSTYLE: u32 = 1 << 0;
const FLAG_C_NO_ZEROES: u32 = 1 << 1;

const FLAG_HAS_FLAGS: u16 = 1 << 0;
const FLAG_READ_ONLY: u16 = 1 << 1;
const FLAG_SEND_DF: u16 = 1 << 7;
const FLAG_CAN_MULTI_CONN: u16 = 1 << 8;

const OPT_EXPORT_NAME: u32 = 1;
const OPT_ABORT: u32 = 2;
const OPT_LIST: u32 = 3;
const OPT_INFO: u32 = 6;
const OPT_GO: u32 = 7;
const OPT_STRUCTURED_REPLY: u32 = 8;
const OPT_LIST_META_CONTEXT: u32 = 9;
const OPT_SET_META_CONTEXT: u32 = 10;

const REP_ACK: u32 = 1;
const REP_SERVER: u32 = 2;
const REP_INFO: u32 = 3;
const REP_META_CONTEXT: u32 = 4;
const REP_ERR_UNSUP: u32 = (1 << 31) + 1;
const REP_ERR_INVALID: u32 = (1 << 31) + 3;
const REP_ERR_UNKNOWN: u32 = (1 << 31) + 6;
const REP_ERR_SHUTDOWN: u32 = (1 << 31) + 7;
const REP_ERR_TOO_BIG: u32 = (1 << 31) + 9;

const INFO_EXPORT: u16 = 0;
const INFO_NAME: u16 = 1;
const INFO_BLOCK_SIZE: u16 = 3;

const CMD_READ: u16 = 0;
const CMD_WRITE: u16 = 1;
const CMD_DISC: u16 = 2;
const CMD_FLUSH: u16 = 3;
const CMD_TRIM: u16 = 4;
const CMD_WRITE_ZEROES: u16 = 6;
const CMD_BLOCK_STATUS: u16 = 7;

const CMD_FLAG_FUA: u16 = 1 << 0;
const CMD_FLAG_DF: u16 = 1 << 2;
const CMD_FLAG_REQ_ONE: u16 = 1 << 3;

const REPLY_FLAG_DONE: u16 = 1 << 0;
const REPLY_TYPE_NONE: u16 = 0;
const REPLY_TYPE_OFFSET_DATA: u16 = 1;
const REPLY_TYPE_BLOCK_STATUS: u16 = 5;
const REPLY_TYPE_ERROR: u16 = (1 << 15) + 1;

/// The one metadata context, and the id it is selected under.
const BASE_ALLOCATION: &str = "base:allocation";
const BASE_ALLOCATION_ID: u32 = 1;

// -----------------------------------------------------------------------------------------
// The listener
// -----------------------------------------------------------------------------------------

/// A bound NBD listener: its acceptor thread serves connections until [`NbdListener::stop`]
/// (or the process ends).
#[derive(Debug)]
pub struct NbdListener {
    address: String,
    unix: bool,
    stopping: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl NbdListener {
    /// Where it listens: the socket path, or `127.0.0.1:PORT` with the port bound (port 0 in
    /// the address asked picks one).
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Stops accepting: when it returns the listening socket is closed (and a Unix socket's
    /// file removed). Connections already open go on until their clients leave or the world
    /// thread drops its receiver.
    pub fn stop(mut self) -> io::Result<()> {
        self.stopping.store(true, Ordering::SeqCst);
        // Wake the acceptor with a connection of our own; it sees the flag and ends.
        let _ = self.connect();
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        if self.unix {
            std::fs::remove_file(&self.address)?;
        }
        Ok(())
    }

    fn connect(&self) -> io::Result<()> {
        if !self.unix {
            return std::net::TcpStream::connect(&self.address).map(drop);
        }
        #[cfg(unix)]
        return std::os::unix::net::UnixStream::connect(&self.address).map(drop);
        #[cfg(not(unix))]
        Ok(())
    }
}

/// Listens on `addr` — a loopback `IP:PORT`, or else a Unix socket path (a stale socket file
/// there is replaced) — and serves each connection on its own thread, asking the world thread
/// through `world`. Fails when the address cannot be bound (or is a TCP address not on
/// loopback, or a path on a system without Unix sockets).
pub fn listen(addr: &str, world: Sender<NbdRequest>) -> io::Result<NbdListener> {
    let stopping = Arc::new(AtomicBool::new(false));
    let stop = Arc::clone(&stopping);
    if let Ok(sa) = addr.parse::<std::net::SocketAddr>() {
        if !sa.ip().is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{addr}: NBD listens on loopback only (127.0.0.1:PORT)"),
            ));
        }
        let listener = std::net::TcpListener::bind(sa)?;
        let address = listener.local_addr()?.to_string();
        let acceptor = spawn("nbd-accept", move || {
            accept_loop(listener.incoming(), world, &stop, |s| {
                // Small replies go out at once; a failure only costs speed.
                let _ = s.set_nodelay(true);
            })
        })?;
        return Ok(NbdListener {
            address,
            unix: false,
            stopping,
            acceptor: Some(acceptor),
        });
    }
    let acceptor = listen_unix(addr, world, stop)?;
    Ok(NbdListener {
        address: addr.to_string(),
        unix: true,
        stopping,
        acceptor: Some(acceptor),
    })
}

#[cfg(unix)]
fn listen_unix(
    path: &str,
    world: Sender<NbdRequest>,
    stop: Arc<AtomicBool>,
) -> io::Result<JoinHandle<()>> {
    use std::os::unix::fs::FileTypeExt;
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_socket() {
            std::fs::remove_file(path)?;
        }
    }
    let listener = std::os::unix::net::UnixListener::bind(path)?;
    spawn("nbd-accept", move || {
        accept_loop(listener.incoming(), world, &stop, |_| {})
    })
}

#[cfg(not(unix))]
fn listen_unix(
    path: &str,
    _world: Sender<NbdRequest>,
    _stop: Arc<AtomicBool>,
) -> io::Result<JoinHandle<()>> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        format!("{path}: no Unix sockets here; use 127.0.0.1:PORT"),
    ))
}

/// Starts a named thread. (Outside the simulated path: connections only read the world through
/// the world thread's answers.)
fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name(name.to_string()).spawn(f)
}

fn accept_loop<S: Read + Write + Send + 'static>(
    incoming: impl Iterator<Item = io::Result<S>>,
    world: Sender<NbdRequest>,
    stop: &AtomicBool,
    prepare: impl Fn(&S),
) {
    for conn in incoming {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = conn else {
            // Out of descriptors, say: let connections end before accepting again.
            pause_after_accept_error();
            continue;
        };
        prepare(&stream);
        let world = world.clone();
        // A thread that cannot start drops its connection: the client sees it closed.
        let _ = spawn("nbd-conn", move || {
            let _ = serve_connection(stream, &|q| ask_world(&world, q));
        });
    }
}

#[allow(clippy::disallowed_methods)] // determinism-ok: the acceptor's back-off touches no run.
fn pause_after_accept_error() {
    std::thread::sleep(std::time::Duration::from_millis(10));
}

// -----------------------------------------------------------------------------------------
// One connection
// -----------------------------------------------------------------------------------------

/// Big-endian fields of option data, read without running past its end.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// A string of `len` bytes, UTF-8 (NBD's strings are).
    fn string(&mut self, len: u32) -> Option<&'a str> {
        std::str::from_utf8(self.take(usize::try_from(len).ok()?)?).ok()
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A connection's stream with the protocol's integer reads.
struct Conn<S> {
    s: S,
}

impl<S: Read + Write> Conn<S> {
    fn array<const N: usize>(&mut self) -> io::Result<[u8; N]> {
        let mut b = [0u8; N];
        self.s.read_exact(&mut b)?;
        Ok(b)
    }
    fn u32(&mut self) -> io::Result<u32> {
        self.array().map(u32::from_be_bytes)
    }
    fn u64(&mut self) -> io::Result<u64> {
        self.array().map(u64::from_be_bytes)
    }
    /// Reads and drops `n` bytes.
    fn skip(&mut self, n: u64) -> io::Result<()> {
        let copied = io::copy(&mut (&mut self.s).take(n), &mut io::sink())?;
        if copied < n {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }
    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.send_parts(&[bytes])
    }
    /// Sends `parts` one after the other, then flushes (a header and the data it precedes,
    /// without copying the data behind the header).
    fn send_parts(&mut self, parts: &[&[u8]]) -> io::Result<()> {
        for p in parts {
            self.s.write_all(p)?;
        }
        self.s.flush()
    }
    /// An option reply.
    fn reply(&mut self, opt: u32, kind: u32, data: &[u8]) -> io::Result<()> {
        let mut m = Vec::with_capacity(20 + data.len());
        m.extend_from_slice(&OPTION_REPLY_MAGIC.to_be_bytes());
        m.extend_from_slice(&opt.to_be_bytes());
        m.extend_from_slice(&kind.to_be_bytes());
        m.extend_from_slice(&(data.len() as u32).to_be_bytes());
        m.extend_from_slice(data);
        self.send(&m)
    }
}

/// What option haggling has settled so far.
#[derive(Default)]
struct Haggled {
    no_zeroes: bool,
    structured: bool,
    /// The export `base:allocation` was selected for.
    meta: Option<String>,
}

impl Haggled {
    fn transmission_flags(&self) -> u16 {
        let df = if self.structured { FLAG_SEND_DF } else { 0 };
        FLAG_HAS_FLAGS | FLAG_READ_ONLY | FLAG_CAN_MULTI_CONN | df
    }
}

/// The chosen export and how to talk about it.
struct Session {
    export: ExportInfo,
    structured: bool,
    meta: bool,
}

/// Serves one NBD connection over `stream`: the fixed newstyle handshake, option haggling,
/// then transmission, until the client disconnects (`Ok`), breaks the protocol or the stream
/// fails (`Err`), or `ask` answers `None` (the world thread is gone: `Ok`, closed).
pub fn serve_connection<S: Read + Write>(
    stream: S,
    ask: &dyn Fn(NbdQuery) -> Option<NbdAnswer>,
) -> io::Result<()> {
    let mut c = Conn { s: stream };
    let mut hello = Vec::with_capacity(18);
    hello.extend_from_slice(&NBDMAGIC.to_be_bytes());
    hello.extend_from_slice(&IHAVEOPT.to_be_bytes());
    hello.extend_from_slice(&(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES).to_be_bytes());
    c.send(&hello)?;
    let client_flags = c.u32()?;
    if client_flags & !(FLAG_C_FIXED_NEWSTYLE | FLAG_C_NO_ZEROES) != 0 {
        return Err(invalid(format!("unknown client flags {client_flags:#x}")));
    }
    let mut h = Haggled {
        no_zeroes: client_flags & FLAG_C_NO_ZEROES != 0,
        ..Haggled::default()
    };
    match haggle(&mut c, &mut h, ask)? {
        Some(session) => transmit(&mut c, &session, ask),
        None => Ok(()),
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Option haggling: `Some` session once the client goes into transmission, `None` when the
/// connection is to close.
fn haggle<S: Read + Write>(
    c: &mut Conn<S>,
    h: &mut Haggled,
    ask: &dyn Fn(NbdQuery) -> Option<NbdAnswer>,
) -> io::Result<Option<Session>> {
    loop {
        let magic = c.u64()?;
        if magic != IHAVEOPT {
            return Err(invalid(format!("option magic {magic:#x}")));
        }
        let opt = c.u32()?;
        let len = c.u32()?;
        if len > MAX_OPTION_DATA {
            c.skip(u64::from(len))?;
            c.reply(opt, REP_ERR_TOO_BIG, b"option data too long")?;
            continue;
        }
        let mut data = vec![0u8; len as usize];
        c.s.read_exact(&mut data)?;
        let step = match opt {
            OPT_EXPORT_NAME => return export_name_option(c, h, &data, ask),
            OPT_ABORT => {
                c.reply(opt, REP_ACK, &[])?;
                return Ok(None);
            }
            OPT_LIST => list_option(c, &data, ask)?,
            OPT_INFO | OPT_GO => info_option(c, h, opt, &data, ask)?,
            OPT_STRUCTURED_REPLY => {
                if !data.is_empty() {
                    c.reply(opt, REP_ERR_INVALID, b"no data expected")?;
                } else {
                    h.structured = true;
                    c.reply(opt, REP_ACK, &[])?;
                }
                Step::Next
            }
            OPT_LIST_META_CONTEXT | OPT_SET_META_CONTEXT => meta_option(c, h, opt, &data, ask)?,
            _ => {
                c.reply(opt, REP_ERR_UNSUP, b"option not supported")?;
                Step::Next
            }
        };
        match step {
            Step::Next => {}
            Step::Go(export) => {
                return Ok(Some(Session {
                    meta: h.meta.as_deref() == Some(export.name.as_str()),
                    export,
                    structured: h.structured,
                }));
            }
            Step::Close => return Ok(None),
        }
    }
}

/// What an option leads to.
enum Step {
    /// More options.
    Next,
    /// Transmission, with this export.
    Go(ExportInfo),
    /// The world thread is gone: close.
    Close,
}

/// Asks the world; `None` when it is gone (after telling the client, during haggling).
fn ask_or_shutdown<S: Read + Write>(
    c: &mut Conn<S>,
    opt: u32,
    ask: &dyn Fn(NbdQuery) -> Option<NbdAnswer>,
    q: NbdQuery,
) -> io::Result<Option<NbdAnswer>> {
    let a = ask(q);
    if a.is_none() {
        c.reply(opt, REP_ERR_SHUTDOWN, b"the simulation has ended")?;
    }
    Ok(a)
}

fn export_name_option<S: Read + Write>(
    c: &mut Conn<S>,
    h: &Haggled,
    data: &[u8],
    ask: &dyn Fn(NbdQuery) -> Option<NbdAnswer>,
) -> io::Result<Option<Session>> {
    // No way to answer an error here: an unknown export closes the connection.
    let Ok(name) = std::str::from_utf8(data) else {
        return Ok(None);
    };
    let Some(NbdAnswer::Info(Some(export))) = ask(NbdQuery::Info { name: name.into() }) else {
        return Ok(None);
    };
    let mut m = Vec::with_capacity(134);
    m.extend_from_slice(&export.size.to_be_bytes());
    m.extend_from_slice(&h.transmission_flags().to_be_bytes());
    if !h.no_zeroes {
        m.extend_from_slice(&[0u8; 124]);
    }
    c.send(&m)?;
    Ok(Some(Session {
        meta: h.meta.as_deref() == Some(name),
        export,
        structured: h.structured,
    }))
}

fn list_option<S: Read + Write>(
    c: &mut Conn<S>,
    data: &[u8],
    ask: &dyn Fn(NbdQuery) -> Option<NbdAnswer>,
) -> io::Result<Step> {
    if !data.is_empty() {
        c.reply(OPT_LIST, REP_ERR_INVALID, b"no data expected")?;
        return Ok(Step::Next);
    }
    let Some(NbdAnswer::List(exports)) = ask_or_shutdown(c, OPT_LIST, ask, NbdQuery::List)? else {
        return Ok(Step::Close);
    };
    for e in exports {
        let mut m = Vec::with_capacity(4 + e.name.len());
        m.extend_from_slice(&(e.name.len() as u32).to_be_bytes());
        m.extend_from_slice(e.name.as_bytes());
        c.reply(OPT_LIST, REP_SERVER, &m)?;
    }
    c.reply(OPT_LIST, REP_ACK, &[])?;
    Ok(Step::Next)
}

fn info_option<S: Read + Write>(
    c: &mut Conn<S>,
    h: &Haggled,
    opt: u32,
    data: &[u8],
    ask: &dyn Fn(NbdQuery) -> Option<NbdAnswer>,
) -> io::Result<Step> {
    let mut f = Fields(data);
    let parsed = (|| {
        let name_len = f.u32()?;
        let name = f.string(name_len)?;
        let n = f.u16()?;
        let infos: Option<Vec<u16>> = (0..n).map(|_| f.u16()).collect();
        f.is_empty().then_some((name, infos?))
    })();
    let Some((name, infos)) = parsed else {
        c.reply(opt, REP_ERR_INVALID, b"malformed request")?;
        return Ok(Step::Next);
    };
    let q = NbdQuery::Info { name: name.into() };
    let export = match ask_or_shutdown(c, opt, ask, q)? {
        Some(NbdAnswer::Info(Some(export))) => export,
        Some(_) => {
            let msg = format!("no shadow copy exported as {name:?}");
            c.reply(opt, REP_ERR_UNKNOWN, msg.as_bytes())?;
            return Ok(Step::Next);
        }
        None => return Ok(Step::Close),
    };
    let mut m = Vec::with_capacity(12);
    m.extend_from_slice(&INFO_EXPORT.to_be_bytes());
    m.extend_from_slice(&export.size.to_be_bytes());
    m.extend_from_slice(&h.transmission_flags().to_be_bytes());
    c.reply(opt, REP_INFO, &m)?;
    // The defaults' minimum (any alignment), so sending it unasked binds no client.
    let preferred = export.block_size.clamp(512, MAX_PAYLOAD);
    let mut m = Vec::with_capacity(14);
    m.extend_from_slice(&INFO_BLOCK_SIZE.to_be_bytes());
    for v in [1, preferred, MAX_PAYLOAD] {
        m.extend_from_slice(&v.to_be_bytes());
    }
    c.reply(opt, REP_INFO, &m)?;
    if infos.contains(&INFO_NAME) {
        let mut m = INFO_NAME.to_be_bytes().to_vec();
        m.extend_from_slice(export.name.as_bytes());
        c.reply(opt, REP_INFO, &m)?;
    }
    c.reply(opt, REP_ACK, &[])?;
    Ok(if opt == OPT_GO {
        Step::Go(export)
    } else {
        Step::Next
    })
}

fn meta_option<S: Read + Write>(
    c: &mut Conn<S>,
    h: &mut Haggled,
    opt: u32,
    data: &[u8],
    ask: &dyn Fn(NbdQuery) -> Option<NbdAnswer>,
) -> io::Result<Step> {
    let set = opt == OPT_SET_META_CONTEXT;
    if set {
        // Every SET replaces the selection, even one that fails.
        h.meta = None;
    }
    if !h.structured {
        c.reply(opt, REP_ERR_INVALID, b"negotiate structured replies first")?;
        return Ok(Step::Next);
    }
    let mut f = Fields(data);
    let parsed = (|| {
        let name_len = f.u32()?;
        let name = f.string(name_len)?;
        let n = f.u32()?;
        let mut queries = Vec::new();
        for _ in 0..n {
            let len = f.u32()?;
            queries.push(f.string(len)?);
        }
        f.is_empty().then_some((name, queries))
    })();
    let Some((name, queries)) = parsed else {
        c.reply(opt, REP_ERR_INVALID, b"malformed request")?;
        return Ok(Step::Next);
    };
    let q = NbdQuery::Info { name: name.into() };
    match ask_or_shutdown(c, opt, ask, q)? {
        Some(NbdAnswer::Info(Some(_))) => {}
        Some(_) => {
            let msg = format!("no shadow copy exported as {name:?}");
            c.reply(opt, REP_ERR_UNKNOWN, msg.as_bytes())?;
            return Ok(Step::Next);
        }
        None => return Ok(Step::Close),
    }
    // `base:` lists the namespace's contexts; it selects none.
    let matches = queries
        .iter()
        .any(|&q| q == BASE_ALLOCATION || (!set && q == "base:"));
    if matches || (!set && queries.is_empty()) {
        let id = if set { BASE_ALLOCATION_ID } else { 0 };
        let mut m = id.to_be_bytes().to_vec();
        m.extend_from_slice(BASE_ALLOCATION.as_bytes());
        c.reply(opt, REP_META_CONTEXT, &m)?;
        if set {
            h.meta = Some(name.to_string());
        }
    }
    c.reply(opt, REP_ACK, &[])?;
    Ok(Step::Next)
}

/// One transmission request's header.
struct Request {
    flags: u16,
    kind: u16,
    cookie: u64,
    offset: u64,
    len: u32,
}

/// The transmission phase, until the client disconnects.
fn transmit<S: Read + Write>(
    c: &mut Conn<S>,
    session: &Session,
    ask: &dyn Fn(NbdQuery) -> Option<NbdAnswer>,
) -> io::Result<()> {
    loop {
        let mut head = [0u8; 28];
        // A client that closes between requests has simply gone.
        let first = loop {
            match c.s.read(&mut head) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                got => break got?,
            }
        };
        if first == 0 {
            return Ok(());
        }
        c.s.read_exact(&mut head[first..])?;
        let be = |from: usize, to: usize| {
            head[from..to]
                .iter()
                .fold(0u64, |acc, &b| acc << 8 | u64::from(b))
        };
        let magic = be(0, 4) as u32;
        let r = Request {
            flags: be(4, 6) as u16,
            kind: be(6, 8) as u16,
            cookie: be(8, 16),
            offset: be(16, 24),
            len: be(24, 28) as u32,
        };
        if magic != REQUEST_MAGIC {
            return Err(invalid(format!("request magic {magic:#x}")));
        }
        let name = session.export.name.clone();
        let result = match r.kind {
            CMD_READ if r.flags & !(CMD_FLAG_FUA | CMD_FLAG_DF) != 0 => Err(NBD_EINVAL),
            CMD_READ => match ask(NbdQuery::Read {
                name,
                offset: r.offset,
                len: r.len,
            }) {
                None => return shut_down(c, session, &r),
                Some(NbdAnswer::Read(Ok(data))) if data.len() == r.len as usize => {
                    send_data(c, session, &r, &data)?;
                    continue;
                }
                Some(NbdAnswer::Read(Err(e))) => Err(e),
                Some(_) => Err(NBD_EIO),
            },
            CMD_BLOCK_STATUS if !session.meta => Err(NBD_EINVAL),
            CMD_BLOCK_STATUS if r.flags & !(CMD_FLAG_FUA | CMD_FLAG_REQ_ONE) != 0 => {
                Err(NBD_EINVAL)
            }
            CMD_BLOCK_STATUS => match ask(NbdQuery::Status {
                name,
                offset: r.offset,
                len: r.len,
            }) {
                None => return shut_down(c, session, &r),
                Some(NbdAnswer::Status(Ok(extents))) if !extents.is_empty() => {
                    send_status(c, &r, &extents)?;
                    continue;
                }
                Some(NbdAnswer::Status(Err(e))) => Err(e),
                Some(_) => Err(NBD_EIO),
            },
            CMD_DISC => return Ok(()),
            CMD_FLUSH => Ok(()),
            CMD_WRITE => {
                // Its payload follows; read past it to stay in step with the client.
                c.skip(u64::from(r.len))?;
                Err(NBD_EPERM)
            }
            CMD_TRIM | CMD_WRITE_ZEROES => Err(NBD_EPERM),
            _ => Err(NBD_EINVAL),
        };
        match result {
            Ok(()) => send_done(c, session, &r)?,
            Err(e) => send_error(c, session, &r, e)?,
        }
    }
}

/// The world thread is gone: the request fails with `NBD_ESHUTDOWN` and the connection closes.
fn shut_down<S: Read + Write>(c: &mut Conn<S>, session: &Session, r: &Request) -> io::Result<()> {
    send_error(c, session, r, NBD_ESHUTDOWN)
}

fn simple_reply(error: u32, cookie: u64) -> Vec<u8> {
    let mut m = Vec::with_capacity(16);
    m.extend_from_slice(&SIMPLE_REPLY_MAGIC.to_be_bytes());
    m.extend_from_slice(&error.to_be_bytes());
    m.extend_from_slice(&cookie.to_be_bytes());
    m
}

/// A structured reply chunk's header, the last of its reply, for a payload of `len` bytes.
fn chunk_header(kind: u16, cookie: u64, len: usize) -> Vec<u8> {
    // Room for a data chunk's offset; the data itself is sent behind it.
    let mut m = Vec::with_capacity(28);
    m.extend_from_slice(&STRUCTURED_REPLY_MAGIC.to_be_bytes());
    m.extend_from_slice(&REPLY_FLAG_DONE.to_be_bytes());
    m.extend_from_slice(&kind.to_be_bytes());
    m.extend_from_slice(&cookie.to_be_bytes());
    m.extend_from_slice(&(len as u32).to_be_bytes());
    m
}

fn send_done<S: Read + Write>(c: &mut Conn<S>, session: &Session, r: &Request) -> io::Result<()> {
    if session.structured {
        c.send(&chunk_header(REPLY_TYPE_NONE, r.cookie, 0))
    } else {
        c.send(&simple_reply(0, r.cookie))
    }
}

fn send_error<S: Read + Write>(
    c: &mut Conn<S>,
    session: &Session,
    r: &Request,
    error: u32,
) -> io::Result<()> {
    if !session.structured {
        return c.send(&simple_reply(error, r.cookie));
    }
    let msg = match error {
        NBD_EPERM => "the export is read-only",
        NBD_EIO => "the shadow copy is gone",
        NBD_EOVERFLOW => "request longer than 32 MiB",
        NBD_ESHUTDOWN => "the simulation has ended",
        _ => "invalid request",
    };
    let mut m = chunk_header(REPLY_TYPE_ERROR, r.cookie, 6 + msg.len());
    m.extend_from_slice(&error.to_be_bytes());
    m.extend_from_slice(&(msg.len() as u16).to_be_bytes());
    m.extend_from_slice(msg.as_bytes());
    c.send(&m)
}

fn send_data<S: Read + Write>(
    c: &mut Conn<S>,
    session: &Session,
    r: &Request,
    data: &[u8],
) -> io::Result<()> {
    if !session.structured {
        return c.send_parts(&[&simple_reply(0, r.cookie), data]);
    }
    if data.is_empty() {
        // A data chunk carries at least one byte.
        return send_done(c, session, r);
    }
    let mut head = chunk_header(REPLY_TYPE_OFFSET_DATA, r.cookie, 8 + data.len());
    head.extend_from_slice(&r.offset.to_be_bytes());
    c.send_parts(&[&head, data])
}

fn send_status<S: Read + Write>(
    c: &mut Conn<S>,
    r: &Request,
    extents: &[Extent],
) -> io::Result<()> {
    let extents = if r.flags & CMD_FLAG_REQ_ONE != 0 {
        &extents[..1]
    } else {
        extents
    };
    let mut m = chunk_header(REPLY_TYPE_BLOCK_STATUS, r.cookie, 4 + 8 * extents.len());
    m.extend_from_slice(&BASE_ALLOCATION_ID.to_be_bytes());
    for e in extents {
        m.extend_from_slice(&e.length.to_be_bytes());
        m.extend_from_slice(&e.flags.to_be_bytes());
    }
    c.send(&m)
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use model::ids::{Guid, VolumeId};
    use model::time::{Duration, Instant};
    use model::volume::store::ShadowStore;
    use model::volume::store::block_content;
    use model::volume::{Protection, Volume};
    use model::vss::ProviderType;

    use super::exports::answer_store;
    use super::*;
    use std::sync::mpsc;

    const BS: u64 = 4096;
    const C: VolumeId = VolumeId(0);
    const D: VolumeId = VolumeId(1);
    const ONE: &str = "HarddiskVolumeShadowCopy1";
    const TWO: &str = "HarddiskVolumeShadowCopy2";

    /// Two volumes of 64 blocks. Shadow 1 of C holds blocks 1, 2 and 5 (block 2 rewritten
    /// after it, block 7 first written after it); shadow 2 of D holds block 0.
    fn machine() -> ShadowStore {
        let vol = || Volume::new(64, BS as u32, None, Protection::OriginalVolume);
        let mut s = ShadowStore::new(vec![vol(), vol()]);
        let mut notes = Vec::new();
        let mut write = |s: &mut ShadowStore, v, b| {
            s.write(Instant::ZERO, v, b, Duration::ZERO, &mut notes);
        };
        for b in [1, 2, 5] {
            write(&mut s, C, b);
        }
        write(&mut s, D, 0);
        s.create(Guid(1), Guid(10), C, ProviderType::System);
        s.create(Guid(2), Guid(10), D, ProviderType::System);
        for b in [2, 7] {
            write(&mut s, C, b);
        }
        write(&mut s, D, 0);
        s
    }

    /// What shadow 1 must read at bytes `offset .. offset + len`, block by block.
    fn expected(s: &ShadowStore, offset: u64, len: u64) -> Vec<u8> {
        let seqs = s.block_seqs(Guid(1), 0, 64).unwrap();
        let mut image = vec![0u8; (64 * BS) as usize];
        for (b, seq) in (0..).zip(seqs) {
            if let Some(q) = seq {
                let at = (b * BS) as usize;
                block_content(0, b, q, &mut image[at..at + BS as usize]);
            }
        }
        image[offset as usize..(offset + len) as usize].to_vec()
    }

    /// A stream reading a client's script and keeping what the server writes.
    struct Script {
        input: io::Cursor<Vec<u8>>,
        output: Vec<u8>,
    }

    impl Read for Script {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.input.read(buf)
        }
    }

    impl Write for Script {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.output.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn serve(
        script: Vec<u8>,
        ask: &dyn Fn(NbdQuery) -> Option<NbdAnswer>,
    ) -> (io::Result<()>, Vec<u8>) {
        let mut s = Script {
            input: io::Cursor::new(script),
            output: Vec::new(),
        };
        let r = serve_connection(&mut s, ask);
        (r, s.output)
    }

    fn serve_store(store: &ShadowStore, script: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
        serve(script, &|q| Some(answer_store(store, &q)))
    }

    fn opt(code: u32, data: &[u8]) -> Vec<u8> {
        let mut m = IHAVEOPT.to_be_bytes().to_vec();
        m.extend_from_slice(&code.to_be_bytes());
        m.extend_from_slice(&(data.len() as u32).to_be_bytes());
        m.extend_from_slice(data);
        m
    }

    fn info_data(name: &str, infos: &[u16]) -> Vec<u8> {
        let mut m = (name.len() as u32).to_be_bytes().to_vec();
        m.extend_from_slice(name.as_bytes());
        m.extend_from_slice(&(infos.len() as u16).to_be_bytes());
        for i in infos {
            m.extend_from_slice(&i.to_be_bytes());
        }
        m
    }

    fn meta_data(name: &str, queries: &[&str]) -> Vec<u8> {
        let mut m = (name.len() as u32).to_be_bytes().to_vec();
        m.extend_from_slice(name.as_bytes());
        m.extend_from_slice(&(queries.len() as u32).to_be_bytes());
        for q in queries {
            m.extend_from_slice(&(q.len() as u32).to_be_bytes());
            m.extend_from_slice(q.as_bytes());
        }
        m
    }

    fn cmd(kind: u16, flags: u16, cookie: u64, offset: u64, len: u32) -> Vec<u8> {
        let mut m = REQUEST_MAGIC.to_be_bytes().to_vec();
        m.extend_from_slice(&flags.to_be_bytes());
        m.extend_from_slice(&kind.to_be_bytes());
        m.extend_from_slice(&cookie.to_be_bytes());
        m.extend_from_slice(&offset.to_be_bytes());
        m.extend_from_slice(&len.to_be_bytes());
        m
    }

    /// The server's bytes, read back as the protocol's messages.
    struct Out<'a>(Fields<'a>);

    impl<'a> Out<'a> {
        fn new(b: &'a [u8]) -> Out<'a> {
            Out(Fields(b))
        }
        fn u16(&mut self) -> u16 {
            self.0.u16().expect("a u16")
        }
        fn u32(&mut self) -> u32 {
            self.0.u32().expect("a u32")
        }
        fn u64(&mut self) -> u64 {
            let b = self.take(8);
            u64::from_be_bytes(b.try_into().unwrap())
        }
        fn take(&mut self, n: usize) -> &'a [u8] {
            self.0.take(n).expect("enough bytes")
        }
        fn hello(&mut self) {
            assert_eq!((self.u64(), self.u64()), (NBDMAGIC, IHAVEOPT));
            assert_eq!(self.u16(), FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES);
        }
        /// An option reply: its option, type and data.
        fn reply(&mut self) -> (u32, u32, &'a [u8]) {
            assert_eq!(self.u64(), OPTION_REPLY_MAGIC);
            let (o, k, n) = (self.u32(), self.u32(), self.u32());
            (o, k, self.take(n as usize))
        }
        /// A simple reply: its error and cookie.
        fn simple(&mut self) -> (u32, u64) {
            assert_eq!(self.u32(), SIMPLE_REPLY_MAGIC);
            (self.u32(), self.u64())
        }
        /// A structured chunk: flags, type, cookie, payload.
        fn chunk(&mut self) -> (u16, u16, u64, &'a [u8]) {
            assert_eq!(self.u32(), STRUCTURED_REPLY_MAGIC);
            let (f, k, c, n) = (self.u16(), self.u16(), self.u64(), self.u32());
            (f, k, c, self.take(n as usize))
        }
        fn done(&self) -> bool {
            self.0.is_empty()
        }
    }

    fn be32(b: &[u8]) -> u32 {
        u32::from_be_bytes(b.try_into().unwrap())
    }

    /// The session of a client like qemu: list, structured replies, `base:allocation`, go,
    /// reads aligned and not, block status, a refused write, disconnect.
    fn full_session() -> Vec<u8> {
        let mut c = (FLAG_C_FIXED_NEWSTYLE | FLAG_C_NO_ZEROES)
            .to_be_bytes()
            .to_vec();
        c.extend(opt(OPT_LIST, &[]));
        c.extend(opt(OPT_STRUCTURED_REPLY, &[]));
        c.extend(opt(OPT_LIST_META_CONTEXT, &meta_data(ONE, &[])));
        c.extend(opt(
            OPT_SET_META_CONTEXT,
            &meta_data(ONE, &["qemu:dirty-bitmap:x", BASE_ALLOCATION]),
        ));
        c.extend(opt(OPT_GO, &info_data(ONE, &[INFO_BLOCK_SIZE, INFO_NAME])));
        c.extend(cmd(CMD_READ, 0, 1, BS, 2 * BS as u32));
        c.extend(cmd(CMD_READ, CMD_FLAG_DF, 2, BS + 100, 5000));
        c.extend(cmd(CMD_BLOCK_STATUS, 0, 3, 0, 8 * BS as u32));
        c.extend(cmd(
            CMD_BLOCK_STATUS,
            CMD_FLAG_REQ_ONE,
            4,
            100,
            8 * BS as u32,
        ));
        c.extend(cmd(CMD_WRITE, 0, 5, 0, 512));
        c.extend([0xEE; 512]);
        c.extend(cmd(CMD_READ, 0, 6, 63 * BS, 2 * BS as u32));
        c.extend(cmd(CMD_DISC, 0, 7, 0, 0));
        c
    }

    #[test]
    fn a_client_lists_negotiates_reads_the_shadow_and_its_holes_and_disconnects() {
        let store = machine();
        let (r, out) = serve_store(&store, full_session());
        r.unwrap();
        let mut o = Out::new(&out);
        o.hello();
        for name in [ONE, TWO] {
            let (opt, kind, data) = o.reply();
            assert_eq!((opt, kind), (OPT_LIST, REP_SERVER));
            assert_eq!(be32(&data[..4]) as usize, name.len());
            assert_eq!(&data[4..], name.as_bytes());
        }
        assert_eq!(o.reply(), (OPT_LIST, REP_ACK, &[][..]));
        assert_eq!(o.reply(), (OPT_STRUCTURED_REPLY, REP_ACK, &[][..]));
        // Listing with no query lists the context (id 0); setting it gives it its id.
        let (_, kind, data) = o.reply();
        assert_eq!(
            (kind, be32(&data[..4]), &data[4..]),
            (REP_META_CONTEXT, 0, &b"base:allocation"[..])
        );
        assert_eq!(o.reply().1, REP_ACK);
        let (_, kind, data) = o.reply();
        assert_eq!(
            (kind, be32(&data[..4]), &data[4..]),
            (
                REP_META_CONTEXT,
                BASE_ALLOCATION_ID,
                &b"base:allocation"[..]
            )
        );
        assert_eq!(o.reply().1, REP_ACK);
        // GO: the export (64 blocks, read-only), its block sizes, its name.
        let (_, kind, data) = o.reply();
        let mut f = Out::new(data);
        assert_eq!((kind, f.u16(), f.u64()), (REP_INFO, INFO_EXPORT, 64 * BS));
        assert_eq!(
            f.u16(),
            FLAG_HAS_FLAGS | FLAG_READ_ONLY | FLAG_CAN_MULTI_CONN | FLAG_SEND_DF
        );
        let (_, _, data) = o.reply();
        let mut f = Out::new(data);
        assert_eq!(f.u16(), INFO_BLOCK_SIZE);
        assert_eq!((f.u32(), f.u32(), f.u32()), (1, 4096, MAX_PAYLOAD));
        let (_, _, data) = o.reply();
        assert_eq!(&data[2..], ONE.as_bytes());
        assert_eq!(o.reply(), (OPT_GO, REP_ACK, &[][..]));
        // Reads: one data chunk each, the shadow's instant (block 2's first write).
        for (cookie, offset, len) in [(1, BS, 2 * BS), (2, BS + 100, 5000)] {
            let (flags, kind, c, data) = o.chunk();
            assert_eq!(
                (flags, kind, c),
                (REPLY_FLAG_DONE, REPLY_TYPE_OFFSET_DATA, cookie)
            );
            assert_eq!(u64::from_be_bytes(data[..8].try_into().unwrap()), offset);
            assert_eq!(&data[8..], &expected(&store, offset, len)[..]);
        }
        assert_ne!(expected(&store, BS, BS), vec![0u8; BS as usize]);
        // Block status: hole, data (1-2), hole, data (5), hole (7 was written later).
        let (flags, kind, c, data) = o.chunk();
        assert_eq!(
            (flags, kind, c),
            (REPLY_FLAG_DONE, REPLY_TYPE_BLOCK_STATUS, 3)
        );
        let mut f = Out::new(data);
        assert_eq!(f.u32(), BASE_ALLOCATION_ID);
        let hole = NBD_STATE_HOLE | NBD_STATE_ZERO;
        let want = [(1, hole), (2, 0), (2, hole), (1, 0), (2, hole)];
        for (blocks, flags) in want {
            assert_eq!((f.u32(), f.u32()), (blocks * BS as u32, flags));
        }
        assert!(f.done());
        let (_, _, c, data) = o.chunk();
        assert_eq!((c, data.len()), (4, 12), "one extent");
        assert_eq!(
            (be32(&data[4..8]), be32(&data[8..])),
            (BS as u32 - 100, hole)
        );
        // The write is refused; its payload skipped, the next request read in step.
        let (_, kind, c, data) = o.chunk();
        assert_eq!(
            (kind, c, be32(&data[..4])),
            (REPLY_TYPE_ERROR, 5, NBD_EPERM)
        );
        let (_, kind, c, data) = o.chunk();
        assert_eq!(
            (kind, c, be32(&data[..4])),
            (REPLY_TYPE_ERROR, 6, NBD_EINVAL),
            "past the end"
        );
        assert!(o.done(), "no reply to the disconnect");
    }

    #[test]
    fn export_name_and_simple_replies_serve_the_old_way() {
        let store = machine();
        let mut c = FLAG_C_FIXED_NEWSTYLE.to_be_bytes().to_vec();
        c.extend(opt(OPT_EXPORT_NAME, TWO.as_bytes()));
        c.extend(cmd(CMD_READ, 0, 9, 10, 100));
        c.extend(cmd(CMD_BLOCK_STATUS, 0, 10, 0, 100));
        c.extend(cmd(CMD_READ, 0, 11, 0, MAX_PAYLOAD + 1));
        c.extend(cmd(CMD_FLUSH, 0, 12, 0, 0));
        c.extend(cmd(CMD_TRIM, 0, 13, 0, 10));
        c.extend(cmd(99, 0, 14, 0, 0));
        c.extend(cmd(CMD_READ, 0, 15, 0, 0));
        // Then the client goes without a disconnect request.
        let (r, out) = serve_store(&store, c);
        r.unwrap();
        let mut o = Out::new(&out);
        o.hello();
        assert_eq!(o.u64(), 64 * BS);
        assert_eq!(
            o.u16(),
            FLAG_HAS_FLAGS | FLAG_READ_ONLY | FLAG_CAN_MULTI_CONN
        );
        assert_eq!(o.take(124), &[0u8; 124][..], "zeroes without NO_ZEROES");
        assert_eq!(o.simple(), (0, 9));
        let mut block = vec![0u8; BS as usize];
        let seq = store.block_seqs(Guid(2), 0, 1).unwrap()[0].unwrap();
        block_content(1, 0, seq, &mut block);
        assert_eq!(o.take(100), &block[10..110], "volume index 1");
        assert_eq!(o.simple(), (NBD_EINVAL, 10), "no metadata context selected");
        assert_eq!(o.simple(), (NBD_EOVERFLOW, 11));
        assert_eq!(o.simple(), (0, 12));
        assert_eq!(o.simple(), (NBD_EPERM, 13));
        assert_eq!(o.simple(), (NBD_EINVAL, 14));
        assert_eq!(o.simple(), (0, 15));
        assert!(o.done());
        // An unknown export ends the session: the old option has no error reply.
        let mut c = (FLAG_C_FIXED_NEWSTYLE | FLAG_C_NO_ZEROES)
            .to_be_bytes()
            .to_vec();
        c.extend(opt(OPT_EXPORT_NAME, b"HarddiskVolumeShadowCopy3"));
        let (r, out) = serve_store(&store, c);
        r.unwrap();
        assert_eq!(out.len(), 18, "the greeting only");
    }

    #[test]
    fn options_it_cannot_honour_get_errors_and_the_session_goes_on() {
        let store = machine();
        let mut c = FLAG_C_FIXED_NEWSTYLE.to_be_bytes().to_vec();
        c.extend(opt(5, &[])); // STARTTLS
        c.extend(opt(OPT_LIST, b"x"));
        c.extend(opt(
            OPT_SET_META_CONTEXT,
            &meta_data(ONE, &[BASE_ALLOCATION]),
        ));
        c.extend(opt(OPT_INFO, &info_data("C:", &[])));
        c.extend(opt(OPT_INFO, &info_data("HarddiskVolumeShadowCopy01", &[])));
        let mut bad = info_data(ONE, &[]);
        bad[3] = 200; // a name longer than the data
        c.extend(opt(OPT_GO, &bad));
        c.extend(opt(OPT_GO, &[0xff; 3]));
        c.extend(opt(OPT_STRUCTURED_REPLY, b"x"));
        c.extend(opt(OPT_STRUCTURED_REPLY, &[]));
        c.extend(opt(
            OPT_SET_META_CONTEXT,
            &meta_data("nope", &[BASE_ALLOCATION]),
        ));
        c.extend(opt(OPT_SET_META_CONTEXT, &meta_data(ONE, &["base:"])));
        c.extend(opt(OPT_LIST_META_CONTEXT, &meta_data(ONE, &["qemu:"])));
        c.extend(opt(77, &vec![1; MAX_OPTION_DATA as usize + 1]));
        c.extend(opt(OPT_INFO, &info_data(ONE, &[])));
        c.extend(opt(OPT_ABORT, &[]));
        c.extend(opt(OPT_LIST, &[])); // never read: the server closed
        let (r, out) = serve_store(&store, c);
        r.unwrap();
        let mut o = Out::new(&out);
        o.hello();
        let kinds = [
            (5, REP_ERR_UNSUP),
            (OPT_LIST, REP_ERR_INVALID),
            (OPT_SET_META_CONTEXT, REP_ERR_INVALID),
            (OPT_INFO, REP_ERR_UNKNOWN),
            (OPT_INFO, REP_ERR_UNKNOWN),
            (OPT_GO, REP_ERR_INVALID),
            (OPT_GO, REP_ERR_INVALID),
            (OPT_STRUCTURED_REPLY, REP_ERR_INVALID),
            (OPT_STRUCTURED_REPLY, REP_ACK),
            (OPT_SET_META_CONTEXT, REP_ERR_UNKNOWN),
            // `base:` selects nothing; an unknown namespace lists nothing.
            (OPT_SET_META_CONTEXT, REP_ACK),
            (OPT_LIST_META_CONTEXT, REP_ACK),
            (77, REP_ERR_TOO_BIG),
        ];
        for want in kinds {
            let (opt, kind, _) = o.reply();
            assert_eq!((opt, kind), want);
        }
        let (_, kind, data) = o.reply();
        assert_eq!((kind, data.len()), (REP_INFO, 12));
        assert_eq!(o.reply().1, REP_INFO);
        assert_eq!(o.reply(), (OPT_INFO, REP_ACK, &[][..]));
        assert_eq!(o.reply(), (OPT_ABORT, REP_ACK, &[][..]));
        assert!(o.done());
    }

    #[test]
    fn a_malformed_client_gets_an_error_or_a_closed_connection_never_a_panic() {
        let store = machine();
        let bad_flags = 4u32.to_be_bytes().to_vec();
        assert!(serve_store(&store, bad_flags).0.is_err());
        let mut bad_magic = 1u32.to_be_bytes().to_vec();
        bad_magic.extend([0u8; 16]);
        assert!(serve_store(&store, bad_magic).0.is_err());
        let mut go = 1u32.to_be_bytes().to_vec();
        go.extend(opt(OPT_GO, &info_data(ONE, &[])));
        let mut bad_request = go.clone();
        bad_request.extend([0xAB; 28]);
        assert!(serve_store(&store, bad_request).0.is_err());
        // Cut anywhere, or with any byte changed, the session ends in Ok or Err.
        let full = full_session();
        for cut in 0..full.len() {
            let _ = serve_store(&store, full[..cut].to_vec());
        }
        for i in 0..full.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut s = full.clone();
                s[i] ^= flip;
                let _ = serve_store(&store, s);
            }
        }
        // Garbage from a fixed generator, after the greeting and after GO.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for prefix in [vec![0, 0, 0, 3], go] {
            for _ in 0..200 {
                let mut s = prefix.clone();
                for _ in 0..64 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    s.push(x as u8);
                }
                let _ = serve_store(&store, s);
            }
        }
    }

    #[test]
    fn a_world_thread_gone_ends_the_session_with_shutdown_errors() {
        let store = machine();
        let mut c = 1u32.to_be_bytes().to_vec();
        c.extend(opt(OPT_LIST, &[]));
        let (r, out) = serve(c, &|_| None);
        r.unwrap();
        let mut o = Out::new(&out);
        o.hello();
        assert_eq!(o.reply().1, REP_ERR_SHUTDOWN);
        assert!(o.done());
        // Gone after GO: the next read fails and the connection closes.
        let asked = Cell::new(0);
        let ask = |q: NbdQuery| {
            asked.set(asked.get() + 1);
            (asked.get() == 1).then(|| answer_store(&store, &q))
        };
        let mut c = 1u32.to_be_bytes().to_vec();
        c.extend(opt(OPT_GO, &info_data(ONE, &[])));
        c.extend(cmd(CMD_READ, 0, 3, 0, 512));
        c.extend(cmd(CMD_READ, 0, 4, 0, 512));
        let (r, out) = serve(c, &ask);
        r.unwrap();
        let mut o = Out::new(&out);
        o.hello();
        while o.reply().1 != REP_ACK {}
        assert_eq!(o.simple(), (NBD_ESHUTDOWN, 3));
        assert!(o.done());
    }

    #[test]
    fn answers_name_live_shadows_and_bound_every_range() {
        let mut store = machine();
        let read = |s: &ShadowStore, name: &str, offset, len| {
            answer_store(
                s,
                &NbdQuery::Read {
                    name: name.into(),
                    offset,
                    len,
                },
            )
        };
        let status = |s: &ShadowStore, offset, len| {
            answer_store(
                s,
                &NbdQuery::Status {
                    name: ONE.into(),
                    offset,
                    len,
                },
            )
        };
        let info =
            |s: &ShadowStore, name: &str| answer_store(s, &NbdQuery::Info { name: name.into() });
        let one = ExportInfo {
            name: ONE.into(),
            size: 64 * BS,
            block_size: BS as u32,
        };
        assert_eq!(info(&store, ONE), NbdAnswer::Info(Some(one)));
        for name in [
            "HarddiskVolumeShadowCopy+1",
            "HarddiskVolumeShadowCopy01",
            "HarddiskVolumeShadowCopy",
            "C:",
        ] {
            assert_eq!(info(&store, name), NbdAnswer::Info(None), "{name}");
        }
        assert_eq!(read(&store, ONE, 0, 0), NbdAnswer::Read(Ok(vec![])));
        assert_eq!(
            read(&store, ONE, 63 * BS, BS as u32),
            NbdAnswer::Read(Ok(vec![0; BS as usize]))
        );
        assert_eq!(
            read(&store, ONE, 63 * BS + 1, BS as u32),
            NbdAnswer::Read(Err(NBD_EINVAL))
        );
        assert_eq!(
            read(&store, ONE, u64::MAX, 1),
            NbdAnswer::Read(Err(NBD_EINVAL))
        );
        assert_eq!(
            read(&store, ONE, 0, MAX_PAYLOAD + 1),
            NbdAnswer::Read(Err(NBD_EOVERFLOW))
        );
        assert_eq!(status(&store, 0, 0), NbdAnswer::Status(Err(NBD_EINVAL)));
        assert_eq!(
            status(&store, 64 * BS, 1),
            NbdAnswer::Status(Err(NBD_EINVAL))
        );
        let NbdAnswer::Status(Ok(all)) = status(&store, 0, (64 * BS) as u32) else {
            panic!("a status")
        };
        assert_eq!(
            all.iter().map(|e| u64::from(e.length)).sum::<u64>(),
            64 * BS
        );
        // Deleted under its reader: reads fail with EIO, the export is no longer listed.
        store.delete(Guid(1));
        assert_eq!(read(&store, ONE, 0, 1), NbdAnswer::Read(Err(NBD_EIO)));
        assert_eq!(status(&store, 0, 1), NbdAnswer::Status(Err(NBD_EIO)));
        let NbdAnswer::List(exports) = answer_store(&store, &NbdQuery::List) else {
            panic!("a list")
        };
        assert_eq!(
            exports.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
            [TWO]
        );
        // A long status range is described up to its cap.
        let big = ShadowStore::new(vec![Volume::new(
            1 << 18,
            512,
            None,
            Protection::OriginalVolume,
        )]);
        let mut big = big;
        big.create(Guid(1), Guid(10), C, ProviderType::System);
        let NbdAnswer::Status(Ok(extents)) = status(&big, 0, 1 << 27) else {
            panic!("a status")
        };
        assert_eq!(
            extents,
            [Extent {
                length: (MAX_STATUS_BLOCKS * 512) as u32,
                flags: NBD_STATE_HOLE | NBD_STATE_ZERO
            }]
        );
    }

    #[test]
    fn a_tcp_listener_on_loopback_serves_connections_from_the_world_thread() {
        assert!(listen("192.0.2.1:10809", mpsc::channel().0).is_err());
        let (tx, rx) = mpsc::channel::<NbdRequest>();
        let l = listen("127.0.0.1:0", tx).unwrap();
        let port = l.address().strip_prefix("127.0.0.1:").unwrap();
        assert_ne!(port, "0");
        let world = std::thread::Builder::new().spawn(move || {
            let store = machine();
            // Two connections' LIST, then the thread ends.
            for _ in 0..2 {
                let (q, reply) = rx.recv().unwrap();
                reply.send(answer_store(&store, &q)).unwrap();
            }
        });
        let world = world.unwrap();
        for _ in 0..2 {
            let mut s = std::net::TcpStream::connect(l.address()).unwrap();
            let mut c = 1u32.to_be_bytes().to_vec();
            c.extend(opt(OPT_LIST, &[]));
            c.extend(opt(OPT_ABORT, &[]));
            s.write_all(&c).unwrap();
            let mut out = Vec::new();
            s.read_to_end(&mut out).unwrap();
            let mut o = Out::new(&out);
            o.hello();
            assert_eq!(o.reply().1, REP_SERVER);
            assert_eq!(o.reply().1, REP_SERVER);
            assert_eq!(o.reply().1, REP_ACK);
            assert_eq!(o.reply().1, REP_ACK);
            assert!(o.done());
        }
        world.join().unwrap();
        // The world thread is gone: a new connection is told so.
        let mut s = std::net::TcpStream::connect(l.address()).unwrap();
        let mut c = 1u32.to_be_bytes().to_vec();
        c.extend(opt(OPT_LIST, &[]));
        s.write_all(&c).unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        let mut o = Out::new(&out);
        o.hello();
        assert_eq!(o.reply().1, REP_ERR_SHUTDOWN);
        // Stopped, it accepts no more.
        let address = l.address().to_string();
        l.stop().unwrap();
        assert!(std::net::TcpStream::connect(&address).is_err());
    }
}
