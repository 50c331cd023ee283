//! `vss-sim serve` under random clients: seeded sequences of requests over two or three
//! connections, drawn from every request kind with plausible and implausible arguments (names
//! the service handed out, stale ones, wrong types, huge and negative numbers, nested junk),
//! answers to writer events (pending or not), disconnects and raw garbage. Every reply must keep
//! the documented shape, every request must get its reply once the writers answer, the server
//! must still greet a new connection and shut down, and the same sequence twice must give the
//! same bytes.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use sim::scenario::{DEFAULT_SCENARIO, Scenario, parse};
use sim::serve::{ConnId, OPS, Service};

/// The default machine without its requesters, as `vss-sim serve` serves it.
fn default_machine() -> Scenario {
    let mut s = parse("<default>", "default", DEFAULT_SCENARIO).expect("the default parses");
    s.requesters.clear();
    s
}

/// splitmix64: a small seeded generator, so a failing seed replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<T: Clone>(&mut self, from: &[T]) -> Option<T> {
        if from.is_empty() {
            None
        } else {
            Some(from[self.below(from.len())].clone())
        }
    }
}

/// What the clients learned from the service, to send back (valid, stale or foreign).
#[derive(Default)]
struct Known {
    objects: Vec<String>,
    asyncs: Vec<String>,
    guids: Vec<String>,
    writers: Vec<String>,
    components: Vec<String>,
    requesters: Vec<String>,
    /// Writer events not answered yet: (connection, writer, token).
    events: Vec<(ConnId, String, u64)>,
}

impl Known {
    fn learn(&mut self, v: &Value) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    if let Some(s) = x.as_str() {
                        match k.as_str() {
                            "object" => self.objects.push(s.to_string()),
                            "async" => self.asyncs.push(s.to_string()),
                            _ if s.starts_with('{') && s.len() == 38 => {
                                self.guids.push(s.to_string());
                            }
                            _ => {}
                        }
                    }
                    self.learn(x);
                }
                if let (Some(n), Some(_)) =
                    (m.get("name").and_then(Value::as_str), m.get("volumes"))
                {
                    self.components.push(n.to_string());
                }
            }
            Value::Array(a) => a.iter().for_each(|x| self.learn(x)),
            _ => {}
        }
        for list in [&mut self.objects, &mut self.asyncs, &mut self.guids] {
            list.sort();
            list.dedup();
        }
        self.components.sort();
        self.components.dedup();
    }
}

/// Junk of any JSON type, nested up to `depth`.
fn junk(g: &mut Rng, depth: u32) -> Value {
    match g.below(if depth == 0 { 9 } else { 11 }) {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(-1),
        3 => json!(u64::MAX),
        4 => json!(i64::MIN),
        5 => json!(1.5),
        6 => json!(""),
        7 => json!("\u{0}\u{7f}é\\\""),
        8 => json!(1e300),
        9 => Value::Array((0..g.below(3)).map(|_| junk(g, depth - 1)).collect()),
        _ => {
            let mut m = serde_json::Map::new();
            for i in 0..g.below(3) {
                m.insert(format!("k{i}"), junk(g, depth - 1));
            }
            Value::Object(m)
        }
    }
}

/// A number for a time or count: small, large, the largest, negative, fractional, a string.
fn number(g: &mut Rng) -> Value {
    match g.below(9) {
        0 => json!(0),
        1 => json!(g.next() % 1_000),
        2 | 3 => json!(g.next() % 5_000_000),
        4 => json!(3_600_000_001u64),
        5 => json!(u64::MAX),
        6 => json!(-5),
        7 => json!(2.5),
        _ => json!("1s"),
    }
}

fn guid(g: &mut Rng, k: &Known) -> Value {
    match g.below(5) {
        0..=2 => k
            .guids
            .get(g.below(k.guids.len()))
            .map_or(json!("{00000000-0000-0000-0000-000000000000}"), |s| {
                json!(s)
            }),
        3 => json!("{12345678-1234-1234-1234-123456789abc}"),
        _ => junk(g, 1),
    }
}

fn from(g: &mut Rng, valid: &[&str], known: &[String]) -> Value {
    match g.below(8) {
        0 => junk(g, 2),
        1 => json!("nonesuch"),
        2 | 3 if !known.is_empty() => json!(known[g.below(known.len())]),
        _ => json!(valid[g.below(valid.len())]),
    }
}

/// A value for argument `field`: usually plausible, sometimes not.
fn arg(g: &mut Rng, k: &Known, field: &str) -> Value {
    if g.chance(8) {
        return junk(g, 3);
    }
    match field {
        "object" => match g.below(6) {
            0 => json!("bc-999"),
            1 => junk(g, 1),
            _ => g.pick(&k.objects).map_or(json!("bc-1"), Value::from),
        },
        "async" => match g.below(6) {
            0 => json!("async-999"),
            1 => junk(g, 1),
            _ => g.pick(&k.asyncs).map_or(json!("async-1"), Value::from),
        },
        "context" => match g.below(6) {
            0 => json!(0),
            1 => json!(u64::MAX),
            2 => json!(-1),
            _ => from(
                g,
                &[
                    "VSS_CTX_BACKUP",
                    "VSS_CTX_FILE_SHARE_BACKUP",
                    "VSS_CTX_ALL",
                    "VSS_CTX_NAS_ROLLBACK",
                ],
                &[],
            ),
        },
        "select_components"
        | "bootable_system_state"
        | "partial_file_support"
        | "succeeded"
        | "force"
        | "hang" => match g.below(5) {
            0 => junk(g, 1),
            1 => Value::Null,
            _ => json!(g.chance(50)),
        },
        "backup_type" => from(
            g,
            &["VSS_BT_FULL", "VSS_BT_COPY", "VSS_BT_INCREMENTAL"],
            &[],
        ),
        "writer" => from(
            g,
            &["System Writer", "SqlServerWriter", "FuzzWriter"],
            &k.writers,
        ),
        "component" => from(g, &["db", "System Files"], &k.components),
        "volume" => from(g, &["C:", "C:\\", "d:", "E:\\", "Z:", ""], &[]),
        "provider" => match g.below(3) {
            0 => Value::Null,
            _ => guid(g, k),
        },
        "snapshot_id" | "source" => guid(g, k),
        "object_type" => from(g, &["VSS_OBJECT_SNAPSHOT", "VSS_OBJECT_SNAPSHOT_SET"], &[]),
        "classes" => match g.below(3) {
            0 => junk(g, 2),
            _ => Value::Array((0..g.below(3)).map(|_| guid(g, k)).collect()),
        },
        "first" | "count" => match g.below(7) {
            0 => json!(0),
            1 => json!(1),
            2 => json!(16_384),
            3 => json!(16_385),
            4 => json!(u64::MAX),
            5 => json!(-1),
            _ => json!(g.next() % 200_000),
        },
        "timeout_us" | "us" | "max_us" | "after_us" | "timeout_freeze_us" => number(g),
        "token" => match g.below(4) {
            0 => json!(u64::MAX),
            1 => json!(g.next() % 50),
            _ => g.pick(&k.events).map_or(json!(1), |e| json!(e.2)),
        },
        "result" => from(
            g,
            &[
                "S_OK",
                "VSS_E_WRITERERROR_RETRYABLE",
                "VSS_E_WRITERERROR_TIMEOUT",
                "E_FAIL",
            ],
            &[],
        ),
        "application" => from(g, &["freeze", "thaw"], &[]),
        "client" => from(g, &["fuzz"], &[]),
        "what" => from(
            g,
            &["shadows", "writers", "providers", "shadowstorage"],
            &[],
        ),
        "command" => from(
            g,
            &[
                "list shadows",
                "list writers",
                "list providers",
                "list shadowstorage",
            ],
            &[],
        ),
        "name" => from(g, &["FuzzWriter", "FuzzWriter2", "SqlServerWriter"], &[]),
        "usage" => from(g, &["VSS_UT_USERDATA", "VSS_UT_SYSTEMSERVICE"], &[]),
        "level" => from(g, &["VSS_APP_BACK_END", "VSS_APP_FRONT_END"], &[]),
        "components" => match g.below(5) {
            0 => json!([]),
            1 => json!([{"name": 1, "volumes": "C:"}]),
            2 => json!([{"name": "db", "volumes": ["Q:"]}]),
            _ => json!([{"name": "db", "logical_path": "x", "volumes": ["C:"]}]),
        },
        "fault" => fault(g, k),
        _ => junk(g, 2),
    }
}

fn fault(g: &mut Rng, k: &Known) -> Value {
    let action = |g: &mut Rng| match g.below(5) {
        0 => json!({"fail": "VSS_E_WRITERERROR_RETRYABLE"}),
        1 => json!({"hang": true}),
        2 => json!({"delay": "2s"}),
        3 => json!({"delay": "forever"}),
        _ => json!({"fail": 7}),
    };
    let mut f = match g.below(6) {
        0 => {
            json!({"writer": arg(g, k, "writer"), "event": from(g, &["OnFreeze", "OnThaw", "OnPrepareBackup"], &[])})
        }
        1 => {
            json!({"provider": from(g, &["system", "Nope"], &[]), "call": from(g, &["CommitSnapshots", "PreCommitSnapshots"], &[])})
        }
        2 => json!({"go_away": from(g, &["client-1", "client-2", "client-3"], &k.requesters)}),
        3 => return junk(g, 3),
        _ => json!({"writer": "System Writer", "event": "OnFreeze"}),
    };
    if let (Value::Object(m), Value::Object(a)) = (&mut f, action(g)) {
        m.extend(a);
        if g.chance(30) {
            m.insert("sessions".into(), number(g));
        }
        if g.chance(30) {
            m.insert("times".into(), number(g));
        }
    }
    f
}

/// The arguments each request kind takes (docs/protocol.md).
fn fields(op: &str) -> &'static [&'static str] {
    match op {
        "release"
        | "initialize_for_backup"
        | "gather_writer_metadata"
        | "writer_metadata"
        | "start_snapshot_set"
        | "prepare_for_backup"
        | "do_snapshot_set"
        | "gather_writer_status"
        | "writer_status"
        | "backup_complete"
        | "abort_backup"
        | "query" => &["object"],
        "set_context" => &["object", "context"],
        "set_backup_state" => &[
            "object",
            "select_components",
            "bootable_system_state",
            "backup_type",
            "partial_file_support",
        ],
        "add_component" => &["object", "writer", "component"],
        "add_to_snapshot_set" | "is_volume_supported" => &["object", "volume", "provider"],
        "set_backup_succeeded" => &["object", "writer", "component", "succeeded"],
        "get_snapshot_properties" => &["object", "snapshot_id"],
        "delete_snapshots" => &["object", "source", "object_type", "force"],
        "disable_writer_classes" | "enable_writer_classes" => &["object", "classes"],
        "read_shadow" => &["object", "snapshot_id", "volume"],
        "read_blocks" => &["object", "snapshot_id", "volume", "first", "count"],
        "wait" => &["async", "timeout_us"],
        "query_status" | "cancel" => &["async"],
        "register_writer" => &["name", "usage", "level", "timeout_freeze_us", "components"],
        "answer" => &[
            "writer",
            "token",
            "result",
            "after_us",
            "hang",
            "application",
        ],
        "hello" => &["client"],
        "advance" => &["us"],
        "run_until_idle" => &["max_us"],
        "inject" => &["fault"],
        "list" => &["what"],
        "vssadmin" => &["command"],
        _ => &[],
    }
}

/// One fuzzing session: its connections, what it learned, the requests still unanswered.
struct Session {
    svc: Service,
    g: Rng,
    known: Known,
    conns: Vec<ConnId>,
    next_id: u64,
    /// Requests sent and not yet answered, by connection: their ids.
    waiting: BTreeMap<ConnId, BTreeSet<u64>>,
    /// Every line the server sent, in order, with its connection.
    log: Vec<(ConnId, String)>,
    /// Replies by request id.
    replies: BTreeMap<u64, Value>,
    /// Each connection's own object and operation, and how far along a backup it is.
    own: BTreeMap<ConnId, (Value, Value, usize)>,
}

/// A backup in order, so random sessions also reach the deep states (snapshots, held writes,
/// writer events); `wait` follows each asynchronous call.
const SCRIPT: &[&str] = &[
    "create_backup_components",
    "initialize_for_backup",
    "set_backup_state",
    "gather_writer_metadata",
    "wait",
    "writer_metadata",
    "start_snapshot_set",
    "add_to_snapshot_set",
    "prepare_for_backup",
    "wait",
    "do_snapshot_set",
    "wait",
    "query",
    "read_blocks",
    "gather_writer_status",
    "wait",
    "backup_complete",
    "wait",
];

impl Session {
    fn new(seed: u64) -> Session {
        let svc = Service::new(default_machine(), seed, 3).expect("the machine serves");
        let mut s = Session {
            svc,
            g: Rng(seed),
            known: Known::default(),
            conns: Vec::new(),
            next_id: 1,
            waiting: BTreeMap::new(),
            log: Vec::new(),
            replies: BTreeMap::new(),
            own: BTreeMap::new(),
        };
        for _ in 0..2 + s.g.below(2) {
            let c = s.svc.connect();
            s.conns.push(c);
        }
        s.known.requesters = (1..=3).map(|i| format!("client-{i}")).collect();
        s
    }

    /// Checks and learns from every line the server sent.
    fn collect(&mut self) {
        for (c, line) in self.svc.take_output() {
            let v: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("output line is not JSON ({e}): {line}"));
            assert_eq!(v["v"], 1, "every message says its version: {line}");
            assert!(v["now_us"].is_u64(), "every message says the time: {line}");
            if v.get("event").is_some() {
                assert_eq!(v["event"], "writer_event", "{line}");
                let w = v["writer"].as_str().expect("an event names its writer");
                let t = v["token"].as_u64().expect("an event has a token");
                assert!(v["name"].is_string() && v["volumes"].is_array(), "{line}");
                self.known.events.push((c, w.to_string(), t));
            } else {
                match v["ok"].as_bool() {
                    Some(true) => {
                        assert!(v["result"].is_object(), "a success has a result: {line}");
                        assert!(v.get("error").is_none(), "{line}");
                        self.known.learn(&v["result"]);
                        let own = self.own.entry(c).or_insert((Value::Null, Value::Null, 0));
                        if let Some(o) = v["result"].get("object") {
                            own.0 = o.clone();
                        }
                        if let Some(a) = v["result"].get("async") {
                            own.1 = a.clone();
                        }
                    }
                    Some(false) => {
                        let e = &v["error"];
                        assert!(e["kind"].is_string(), "an error has a kind: {line}");
                        assert!(
                            e["message"].as_str().is_some_and(|m| m.len() > 10),
                            "an error says what was wrong: {line}"
                        );
                        assert!(v.get("result").is_none(), "{line}");
                        if e["kind"] == "hresult" {
                            assert!(e["hresult"].is_string() && e["code"].is_string(), "{line}");
                        }
                        if e["kind"] == "bad_request" {
                            assert!(e["field"].is_string(), "{line}");
                        }
                    }
                    None => panic!("a reply says ok true or false: {line}"),
                }
                if let Some(id) = v["id"].as_u64() {
                    let was = self.waiting.get_mut(&c).is_some_and(|w| w.remove(&id));
                    assert!(
                        was,
                        "reply {id} on connection {c} answers no request, or twice: {line}"
                    );
                    self.replies.insert(id, v.clone());
                }
            }
            self.log.push((c, line));
        }
    }

    fn send(&mut self, conn: ConnId, op: &str, args: serde_json::Map<String, Value>) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let mut m = json!({"v": 1, "id": id, "op": op});
        m.as_object_mut().unwrap().extend(args);
        self.waiting.entry(conn).or_default().insert(id);
        self.svc.receive(conn, &m.to_string());
        self.collect();
        id
    }

    fn answer_pending(&mut self, g_answers: bool) {
        if self.known.events.is_empty() {
            return;
        }
        let i = self.g.below(self.known.events.len());
        let (c, w, t) = self.known.events.remove(i);
        let mut a = serde_json::Map::new();
        a.insert("writer".into(), json!(w));
        a.insert("token".into(), json!(t));
        if g_answers {
            for f in ["result", "after_us", "hang", "application"] {
                if self.g.chance(25) {
                    a.insert(f.into(), arg(&mut self.g, &self.known, f));
                }
            }
        }
        if self.conns.contains(&c) {
            let id = self.send(c, "answer", a);
            // An answer refused for its arguments leaves the event pending.
            let refused = self
                .replies
                .get(&id)
                .is_some_and(|r| r["ok"] == false && r["error"]["kind"] != "state");
            if refused {
                self.known.events.push((c, w, t));
            }
        }
    }

    fn step(&mut self) {
        let conn = self.conns[self.g.below(self.conns.len())];
        match self.g.below(100) {
            0..=3 => {
                // A disconnect, and a new connection in its place.
                let i = self.conns.iter().position(|c| *c == conn).unwrap();
                self.svc.disconnect(conn);
                self.waiting.remove(&conn);
                self.known.events.retain(|e| e.0 != conn);
                self.collect();
                self.conns[i] = self.svc.connect();
            }
            4..=7 => {
                let lines = [
                    "garbage".to_string(),
                    "[1, 2]".to_string(),
                    "{\"v\": 1".to_string(),
                    "{\"v\": 1, \"id\": 1.5, \"op\": \"now\"}".to_string(),
                    "{\"v\": \"1\", \"op\": \"now\"}".to_string(),
                    "{\"v\": 1, \"op\": 7}".to_string(),
                    "{\"v\": 1, \"id\": -3}".to_string(),
                    "\u{feff}{}".to_string(),
                    "null".to_string(),
                    json!({"v": 1, "op": "answer", "writer": 1, "token": "x"}).to_string(),
                ];
                let line = self.g.pick(&lines).unwrap();
                self.svc.receive(conn, &line);
                self.collect();
            }
            8..=9 => {
                self.svc.too_large(conn);
                self.collect();
            }
            10..=34 => self.answer_pending(true),
            35..=69 => {
                // The first connection's next backup step, with its own names, so sessions
                // reach the deep states too.
                let conn = self.conns[0];
                let (o, a, phase) =
                    self.own
                        .get(&conn)
                        .cloned()
                        .unwrap_or((Value::Null, Value::Null, 0));
                let op = SCRIPT[phase % SCRIPT.len()];
                self.own
                    .entry(conn)
                    .or_insert((Value::Null, Value::Null, 0))
                    .2 = phase + 1;
                let mut args = serde_json::Map::new();
                for f in fields(op) {
                    let v = match *f {
                        "object" => o.clone(),
                        "async" => a.clone(),
                        "select_components" => json!(false),
                        "bootable_system_state" | "partial_file_support" => continue,
                        "backup_type" => json!("VSS_BT_FULL"),
                        "volume" => json!(["C:", "D:", "E:"][self.g.below(3)]),
                        "snapshot_id" => self
                            .g
                            .pick(&self.known.guids)
                            .map_or(Value::Null, Value::from),
                        "first" => json!(self.g.next() % 100),
                        "count" => json!(1 + self.g.next() % 64),
                        "timeout_us" if self.g.chance(70) => continue,
                        "provider" => continue,
                        _ => arg(&mut self.g, &self.known, f),
                    };
                    args.insert((*f).into(), v);
                }
                self.send(conn, op, args);
            }
            _ => {
                let op = loop {
                    let op = OPS[self.g.below(OPS.len())];
                    if op != "shutdown" {
                        break op;
                    }
                };
                let mut a = serde_json::Map::new();
                for f in fields(op) {
                    if !self.g.chance(10) {
                        a.insert((*f).into(), arg(&mut self.g, &self.known, f));
                    }
                }
                if self.g.chance(5) {
                    a.insert("bogus".into(), junk(&mut self.g, 2));
                }
                self.send(conn, op, a);
            }
        }
    }

    /// Answers every writer event until nothing is pending; then every request on an open
    /// connection has had its reply.
    fn drain(&mut self) {
        for _ in 0..500 {
            if self.known.events.is_empty() {
                break;
            }
            self.answer_pending(false);
        }
        assert!(self.known.events.is_empty(), "writer events keep coming");
        for c in &self.conns {
            let left = self.waiting.get(c).cloned().unwrap_or_default();
            assert!(
                left.is_empty(),
                "requests {left:?} on connection {c} never got a reply"
            );
        }
    }

    /// A new connection is greeted and a shutdown completes.
    fn finish(&mut self) {
        let c = self.svc.connect();
        self.conns.push(c);
        self.send(c, "hello", serde_json::Map::new());
        let hello = self.log.last().expect("a reply").1.clone();
        assert!(hello.contains("\"ok\":true"), "{hello}");
        self.send(c, "shutdown", serde_json::Map::new());
        assert!(self.svc.is_shut_down(), "shutdown completes");
        assert!(self.svc.trace().is_some());
    }
}

fn session(seed: u64, steps: usize) -> Vec<(ConnId, String)> {
    let mut s = Session::new(seed);
    // Some sessions implement a writer first.
    if s.g.chance(60) {
        let c = s.conns[0];
        let mut a = serde_json::Map::new();
        a.insert("name".into(), json!("FuzzWriter"));
        a.insert(
            "components".into(),
            json!([{"name": "db", "volumes": ["C:"]}]),
        );
        s.send(c, "register_writer", a);
        s.known.writers.push("FuzzWriter".into());
    }
    for _ in 0..steps {
        s.step();
    }
    s.drain();
    s.finish();
    s.log
}

#[test]
fn random_clients_get_well_formed_replies_and_the_server_stays_usable_and_deterministic() {
    for seed in 0..6u64 {
        let a = session(seed, 200);
        if seed == 0 {
            let b = session(seed, 200);
            assert_eq!(a, b, "seed {seed}: the same requests give the same bytes");
        }
    }
}
