//! The emulator's sockets: a Unix domain socket (or TCP on loopback), a reader thread per
//! connection, and the one thread that owns the world and carries out the lines in the order
//! they arrived. Outside the simulated path.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, channel};

use super::nbd::{NbdAnswer, NbdQuery, NbdRequest};
use super::service::{ConnId, MAX_LINE, Service};

/// Where to listen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listen {
    /// A Unix domain socket at this path.
    Unix(PathBuf),
    /// TCP on a loopback address (`127.0.0.1:PORT`; port 0 picks one).
    Tcp(String),
}

impl Listen {
    /// `PATH` or `127.0.0.1:PORT`: an address with a port on a loopback host is TCP.
    pub fn parse(s: &str) -> Result<Listen, String> {
        match s.parse::<std::net::SocketAddr>() {
            Ok(a) if a.ip().is_loopback() => Ok(Listen::Tcp(s.to_string())),
            Ok(a) => Err(format!(
                "{a}: the emulator listens on loopback only; use 127.0.0.1:PORT or a socket path"
            )),
            Err(_) => Ok(Listen::Unix(PathBuf::from(s))),
        }
    }
}

/// What `serve` runs.
pub struct Config {
    /// The emulator.
    pub service: Service,
    /// Its socket.
    pub listen: Listen,
    /// Where to write the trace when the server shuts down.
    pub trace_out: Option<PathBuf>,
    /// Where to export the shadow copies over NBD, if anywhere.
    pub nbd: Option<Listen>,
}

/// A connection's stream, either kind.
enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Stream {
    fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Unix(s) => Stream::Unix(s.try_clone()?),
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
        })
    }
    fn set_write_timeout(&self, d: Option<std::time::Duration>) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.set_write_timeout(d),
            Stream::Tcp(s) => s.set_write_timeout(d),
        }
    }
    fn shutdown(&self) {
        let _ = match self {
            Stream::Unix(s) => s.shutdown(std::net::Shutdown::Both),
            Stream::Tcp(s) => s.shutdown(std::net::Shutdown::Both),
        };
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(buf),
            Stream::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.write(buf),
            Stream::Tcp(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.flush(),
            Stream::Tcp(s) => s.flush(),
        }
    }
}

/// Starts a socket thread: an acceptor or a connection's reader, which reach the world only as
/// messages in arrival order.
#[allow(clippy::disallowed_methods)] // determinism-ok: socket threads never touch the world; its one thread takes their lines in arrival order.
fn spawn(f: impl FnOnce() + Send + 'static) {
    std::thread::spawn(f);
}

/// [`spawn`], keeping the handle.
#[allow(clippy::disallowed_methods)] // determinism-ok: a connection's writer thread only writes the lines the world's thread gives it.
fn spawn_joinable(f: impl FnOnce() + Send + 'static) -> std::thread::JoinHandle<()> {
    std::thread::spawn(f)
}

/// What reaches the world's thread.
enum Msg {
    Open(Stream),
    Line(ConnId, String),
    TooLarge(ConnId),
    Closed(ConnId),
    Nbd(NbdRequest),
}

/// Serves `cfg` until a `shutdown` request: binds, then calls `ready` with the NBD address and
/// the address it listens on (for the caller to print), then carries out requests. Returns the trace's
/// digest.
pub fn serve(cfg: Config, ready: impl FnOnce(Option<&str>, &str)) -> Result<String, String> {
    let Config {
        mut service,
        listen,
        trace_out,
        nbd,
    } = cfg;
    let (tx, rx) = channel::<Msg>();
    let nbd_listener = match &nbd {
        None => None,
        Some(addr) => {
            let addr = match addr {
                Listen::Unix(p) => p.display().to_string(),
                Listen::Tcp(a) => a.clone(),
            };
            let (ntx, nrx) = channel::<NbdRequest>();
            let l = super::nbd::listen(&addr, ntx)
                .map_err(|e| format!("--nbd {addr}: cannot listen there: {e}"))?;
            // NBD reads join the world's thread's one queue: answered between requests, in
            // arrival order, never moving virtual time.
            let tx = tx.clone();
            spawn(move || {
                for req in nrx {
                    if tx.send(Msg::Nbd(req)).is_err() {
                        return;
                    }
                }
            });
            Some(l)
        }
    };
    let nbd_shown = nbd_listener.as_ref().map(|l| l.address().to_string());
    let trace_target = match &trace_out {
        Some(p) => Some(crate::out::target(p, None)?),
        None => None,
    };
    let (shown, unix_path) = match &listen {
        Listen::Unix(path) => {
            remove_stale(path)?;
            let l = UnixListener::bind(path)
                .map_err(|e| format!("{}: cannot listen there: {e}", path.display()))?;
            let tx = tx.clone();
            spawn(move || {
                for s in l.incoming() {
                    let Ok(s) = s else { continue };
                    if tx.send(Msg::Open(Stream::Unix(s))).is_err() {
                        return;
                    }
                }
            });
            (path.display().to_string(), Some(path.clone()))
        }
        Listen::Tcp(addr) => {
            let l =
                TcpListener::bind(addr).map_err(|e| format!("{addr}: cannot listen there: {e}"))?;
            let shown = l.local_addr().map_or(addr.clone(), |a| a.to_string());
            let tx = tx.clone();
            spawn(move || {
                for s in l.incoming() {
                    let Ok(s) = s else { continue };
                    let _ = s.set_nodelay(true);
                    if tx.send(Msg::Open(Stream::Tcp(s))).is_err() {
                        return;
                    }
                }
            });
            (shown, None)
        }
    };
    ready(nbd_shown.as_deref(), &shown);
    let digest = run_world(&mut service, &tx, &rx);
    if let Some(l) = nbd_listener {
        let _ = l.stop();
    }
    if let Some(p) = unix_path {
        let _ = std::fs::remove_file(p);
    }
    if let (Some(t), Some((_, bytes, _))) = (trace_target, service.trace()) {
        t.write(bytes)?;
    }
    Ok(digest)
}

/// A socket file left by an earlier server is replaced; anything else at the path is not.
fn remove_stale(path: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => std::fs::remove_file(path)
            .map_err(|e| format!("{}: cannot replace the old socket: {e}", path.display())),
        Ok(_) => Err(format!(
            "{}: something that is not a socket is there; pick another --socket path",
            path.display()
        )),
        Err(_) => Ok(()),
    }
}

/// How long the world's thread waits on one socket write before it hands the connection's
/// replies to a thread of their own.
const DIRECT_WRITE_WAIT: std::time::Duration = std::time::Duration::from_millis(20);

/// Where a connection's replies go. The world's thread writes them itself (the fast path: one
/// thread hop less per round trip); once a write would wait past [`DIRECT_WRITE_WAIT`] (a
/// client that sends and does not read), the rest go, in order, through a writer thread of the
/// connection's own, so that client holds up only its own replies.
struct Writer {
    stream: Stream,
    behind: Option<(Sender<Vec<u8>>, std::thread::JoinHandle<()>)>,
}

impl Writer {
    fn new(stream: Stream) -> io::Result<Writer> {
        stream.set_write_timeout(Some(DIRECT_WRITE_WAIT))?;
        Ok(Writer {
            stream,
            behind: None,
        })
    }

    /// Sends one line; an error is a connection that broke.
    fn send(&mut self, bytes: Vec<u8>) -> io::Result<()> {
        if let Some((lines, _)) = &self.behind {
            // A writer thread that ended has a connection the reader reports closed.
            let _ = lines.send(bytes);
            return Ok(());
        }
        let mut off = 0;
        while off < bytes.len() {
            match self.stream.write(&bytes[off..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => off += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    let mut out = self.stream.try_clone()?;
                    // Only the writer thread writes from now on: it may wait.
                    out.set_write_timeout(None)?;
                    let (lines, rx) = channel::<Vec<u8>>();
                    let _ = lines.send(bytes[off..].to_vec());
                    let thread = spawn_joinable(move || {
                        for line in rx {
                            if out.write_all(&line).is_err() {
                                // The reader sees the connection end and tells the world's
                                // thread.
                                out.shutdown();
                                return;
                            }
                        }
                    });
                    self.behind = Some((lines, thread));
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// The world's thread: every message in arrival order, until shutdown.
fn run_world(service: &mut Service, tx: &Sender<Msg>, rx: &Receiver<Msg>) -> String {
    let mut writers: std::collections::BTreeMap<ConnId, Writer> = Default::default();
    while let Ok(msg) = rx.recv() {
        match msg {
            Msg::Open(stream) => {
                let conn = service.connect();
                match (stream.try_clone(), Writer::new(stream)) {
                    (Ok(reader), Ok(w)) => {
                        writers.insert(conn, w);
                        let tx = tx.clone();
                        spawn(move || read_lines(conn, reader, &tx));
                    }
                    _ => service.disconnect(conn),
                }
            }
            Msg::Line(conn, line) => service.receive(conn, &line),
            Msg::TooLarge(conn) => service.too_large(conn),
            Msg::Closed(conn) => {
                if let Some(w) = writers.remove(&conn) {
                    w.stream.shutdown();
                }
                service.disconnect(conn);
            }
            Msg::Nbd((q, reply)) => {
                // A reader that went away meanwhile no longer wants its answer.
                let _ = reply.send(nbd_answer(service, &q));
            }
        }
        loop {
            let out = service.take_output();
            if out.is_empty() {
                break;
            }
            let mut broken = Vec::new();
            for (conn, line) in out {
                if let Some(w) = writers.get_mut(&conn) {
                    let mut bytes = line.into_bytes();
                    bytes.push(b'\n');
                    if w.send(bytes).is_err() {
                        broken.push(conn);
                    }
                }
            }
            for conn in broken {
                if let Some(w) = writers.remove(&conn) {
                    w.stream.shutdown();
                }
                service.disconnect(conn);
            }
        }
        if service.is_shut_down() {
            close_all(writers);
            break;
        }
    }
    service
        .trace()
        .map(|(d, _, _)| d.to_string())
        .unwrap_or_default()
}

/// At shutdown: every writer sends what it has (the last replies), for at most a second, then
/// every connection closes.
#[allow(clippy::disallowed_methods)] // determinism-ok: the server waits for its last replies to go out; no run is left.
fn close_all(writers: std::collections::BTreeMap<ConnId, Writer>) {
    let mut open: Vec<(Stream, Option<std::thread::JoinHandle<()>>)> = writers
        .into_values()
        .map(|w| {
            (
                w.stream,
                w.behind.map(|(lines, thread)| {
                    drop(lines);
                    thread
                }),
            )
        })
        .collect();
    for _ in 0..100 {
        if open
            .iter()
            .all(|(_, t)| t.as_ref().is_none_or(|t| t.is_finished()))
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    for (stream, thread) in open.drain(..) {
        stream.shutdown();
        if let Some(t) = thread {
            let _ = t.join();
        }
    }
}

/// An NBD question answered from the world as it stands; before the service has started there
/// is no shadow copy to export.
fn nbd_answer(service: &Service, q: &NbdQuery) -> NbdAnswer {
    match service.world() {
        Some(w) => super::nbd::answer(w, q),
        None => match q {
            NbdQuery::List => NbdAnswer::List(Vec::new()),
            NbdQuery::Info { .. } => NbdAnswer::Info(None),
            NbdQuery::Read { .. } => NbdAnswer::Read(Err(super::nbd::NBD_EIO)),
            NbdQuery::Status { .. } => NbdAnswer::Status(Err(super::nbd::NBD_EIO)),
        },
    }
}

/// A connection's reader: each line to the world's thread; a line over [`MAX_LINE`] is
/// refused and skipped to its end.
fn read_lines(conn: ConnId, stream: Stream, tx: &Sender<Msg>) {
    let mut r = BufReader::with_capacity(64 << 10, stream);
    let mut line: Vec<u8> = Vec::new();
    let mut skipping = false;
    loop {
        let (used, done) = match r.fill_buf() {
            Ok([]) | Err(_) => break,
            Ok(buf) => match buf.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    if !skipping {
                        line.extend_from_slice(&buf[..i]);
                    }
                    (i + 1, true)
                }
                None => {
                    if !skipping {
                        line.extend_from_slice(buf);
                    }
                    (buf.len(), false)
                }
            },
        };
        r.consume(used);
        if !skipping && line.len() > MAX_LINE {
            skipping = true;
            line.clear();
        }
        if done {
            let msg = if skipping {
                Msg::TooLarge(conn)
            } else {
                let text = String::from_utf8_lossy(&line).into_owned();
                Msg::Line(conn, text.trim_end_matches('\r').to_string())
            };
            skipping = false;
            line.clear();
            if tx.send(msg).is_err() {
                return;
            }
        }
    }
    let _ = tx.send(Msg::Closed(conn));
}
