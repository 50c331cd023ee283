//! The emulator's round trip: a client on the same machine making a cheap call (`now`) in a
//! loop over the Unix socket, against the floor of a bare line echo over a Unix socket pair
//! measured in the same run.
//!
//! - `serve_round_trip_us_p50`, `_p99`: one request line out, its reply line back, through
//!   `vss-sim serve`'s reader thread, the world's thread and the service (required: p50 ≤
//!   100 µs);
//! - `unix_echo_round_trip_us_p50`: the same line echoed by a bare thread on a socket pair.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;

use crate::scenario::{DEFAULT_SCENARIO, parse};
use crate::serve::{Config, Listen, Service};

/// Required: the round trip's median at most this many microseconds.
pub const SERVE_P50_BOUND_US: f64 = 100.0;
/// Round trips timed (after as many again to warm up).
const ROUND_TRIPS: usize = 20_000;

/// What the round-trip measurement found.
pub(super) struct ServeFigures {
    pub(super) p50_us: f64,
    pub(super) p99_us: f64,
    pub(super) echo_p50_us: f64,
    pub(super) round_trips: u64,
}

const REQUEST: &[u8] = b"{\"v\":1,\"id\":1,\"op\":\"now\"}\n";

/// Times `n` round trips of [`REQUEST`] on `conn`: the sorted latencies in microseconds.
#[allow(clippy::disallowed_types, clippy::disallowed_methods)] // determinism-ok: the benchmark times wall-clock round trips; nothing it reads reaches a run.
fn time_round_trips(conn: UnixStream, n: usize) -> Vec<f64> {
    let mut w = conn.try_clone().expect("a socket clones");
    let mut r = BufReader::new(conn);
    let mut line = String::new();
    let mut once = |line: &mut String| {
        w.write_all(REQUEST).expect("the server reads");
        line.clear();
        r.read_line(line).expect("the server answers");
    };
    for _ in 0..n {
        once(&mut line);
    }
    let mut us = Vec::with_capacity(n);
    for _ in 0..n {
        let t = std::time::Instant::now(); // determinism-ok: the benchmark times wall-clock round trips
        once(&mut line);
        us.push(t.elapsed().as_secs_f64() * 1e6);
    }
    us.sort_by(f64::total_cmp);
    us
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    (sorted[i] * 10.0).round() / 10.0
}

/// Serves the default machine on a temporary socket and times [`ROUND_TRIPS`] calls; then the
/// echo floor.
#[allow(clippy::disallowed_methods)] // determinism-ok: the server and the echo run on their own threads, as `vss-sim serve` does.
pub(super) fn measure() -> ServeFigures {
    let dir = std::env::temp_dir().join(format!("vss-sim-bench-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let sock = dir.join("serve.sock");
    let (tx, rx) = std::sync::mpsc::channel();
    let path = sock.clone();
    // determinism-ok: the server runs on its own thread, as `vss-sim serve` runs it.
    let server = std::thread::spawn(move || {
        let mut scenario =
            parse("<default>", "default", DEFAULT_SCENARIO).expect("the default scenario parses");
        scenario.requesters.clear();
        let service = Service::new(scenario, 1, 1).expect("the default machine serves");
        let cfg = Config {
            service,
            listen: Listen::Unix(path),
            trace_out: None,
            nbd: None,
        };
        crate::serve::serve(cfg, |_, _| {
            let _ = tx.send(());
        })
    });
    rx.recv().expect("the server starts");
    let conn = UnixStream::connect(&sock).expect("the server listens");
    let served = time_round_trips(conn.try_clone().expect("a socket clones"), ROUND_TRIPS);
    let mut w = conn;
    let _ = w.write_all(b"{\"v\":1,\"id\":2,\"op\":\"shutdown\"}\n");
    let _ = server.join();
    let _ = std::fs::remove_dir_all(&dir);

    let (a, b) = UnixStream::pair().expect("a socket pair");
    // determinism-ok: the echo floor is a bare thread on a socket pair, outside any run.
    let echo = std::thread::spawn(move || {
        let mut w = b.try_clone().expect("a socket clones");
        let mut r = BufReader::new(b);
        let mut line = String::new();
        while r.read_line(&mut line).is_ok_and(|n| n > 0) {
            if w.write_all(line.as_bytes()).is_err() {
                break;
            }
            line.clear();
        }
    });
    let floor = time_round_trips(a, ROUND_TRIPS);
    let _ = echo.join();
    ServeFigures {
        p50_us: pct(&served, 0.5),
        p99_us: pct(&served, 0.99),
        echo_p50_us: pct(&floor, 0.5),
        round_trips: ROUND_TRIPS as u64,
    }
}
