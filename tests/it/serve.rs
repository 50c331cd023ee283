//! `vss-sim serve`: the emulator driven the way a socket client drives it, through the sans-IO
//! `Service` (lines in, replies and events out) and once over a real Unix socket.

use serde_json::{Value, json};
use sim::scenario::{DEFAULT_SCENARIO, Scenario, parse};
use sim::serve::{ConnId, OPS, Service};

/// The default machine without its requesters, as `vss-sim serve` serves it.
fn default_machine() -> Scenario {
    let mut s = parse("<default>", "default", DEFAULT_SCENARIO).expect("the default parses");
    s.requesters.clear();
    s
}

/// A test client: one service, requests by connection, replies matched by id, writer events
/// collected.
struct Client {
    svc: Service,
    next_id: u64,
    events: Vec<(ConnId, Value)>,
}

impl Client {
    fn new(scenario: Scenario, seed: u64) -> Client {
        Client {
            svc: Service::new(scenario, seed, 4).expect("the machine serves"),
            next_id: 1,
            events: Vec::new(),
        }
    }

    fn take(&mut self, conn: ConnId, id: u64) -> Option<Value> {
        let mut reply = None;
        for (c, line) in self.svc.take_output() {
            let v: Value = serde_json::from_str(&line).expect("every output line is JSON");
            assert_eq!(v["v"], 1, "every message says its version: {line}");
            if v.get("event").is_some() {
                self.events.push((c, v));
            } else if c == conn && v["id"] == id {
                reply = Some(v);
            }
        }
        reply
    }

    /// Sends `op` with `args` on `conn`; the reply (the request must be answered at once).
    fn req(&mut self, conn: ConnId, op: &str, args: Value) -> Value {
        let id = self.send(conn, op, args);
        self.take(conn, id)
            .unwrap_or_else(|| panic!("{op}: no reply (events: {:?})", self.events))
    }

    fn send(&mut self, conn: ConnId, op: &str, args: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let mut m = json!({"v": 1, "id": id, "op": op});
        if let Value::Object(a) = args {
            for (k, v) in a {
                m[k] = v;
            }
        }
        self.svc.receive(conn, &m.to_string());
        id
    }

    /// A successful request's result.
    fn ok(&mut self, conn: ConnId, op: &str, args: Value) -> Value {
        let r = self.req(conn, op, args);
        assert_eq!(r["ok"], true, "{op} failed: {r}");
        r["result"].clone()
    }

    /// An asynchronous call, then `wait`: the operation's end.
    fn run_async(&mut self, conn: ConnId, op: &str, object: &str) -> String {
        let a = self.ok(conn, op, json!({ "object": object }));
        let name = a["async"].as_str().expect("an async name").to_string();
        let end = self.ok(conn, "wait", json!({ "async": name }));
        end["hresult"].as_str().expect("an hresult").to_string()
    }

    /// A whole backup of every volume of the default machine on `conn`: the writers' states
    /// after DoSnapshotSet and at the end.
    fn backup(&mut self, conn: ConnId) -> (States, States) {
        let o = self.ok(conn, "create_backup_components", json!({}))["object"]
            .as_str()
            .expect("an object")
            .to_string();
        let obj = json!({ "object": o });
        self.ok(conn, "initialize_for_backup", obj.clone());
        // Not in component mode: every writer takes part.
        let state = json!({"object": o, "select_components": false});
        self.ok(conn, "set_backup_state", state);
        assert_eq!(
            self.run_async(conn, "gather_writer_metadata", &o),
            "VSS_S_ASYNC_FINISHED"
        );
        self.ok(conn, "start_snapshot_set", obj.clone());
        for v in ["C:", "D:\\", "e:"] {
            let r = self.ok(
                conn,
                "add_to_snapshot_set",
                json!({"object": o, "volume": v}),
            );
            assert!(
                r["snapshot_id"]
                    .as_str()
                    .is_some_and(|s| s.starts_with('{'))
            );
        }
        assert_eq!(
            self.run_async(conn, "prepare_for_backup", &o),
            "VSS_S_ASYNC_FINISHED"
        );
        assert_eq!(
            self.run_async(conn, "do_snapshot_set", &o),
            "VSS_S_ASYNC_FINISHED"
        );
        assert_eq!(
            self.run_async(conn, "gather_writer_status", &o),
            "VSS_S_ASYNC_FINISHED"
        );
        let before = states(&self.ok(conn, "writer_status", obj.clone())["writers"]);
        assert_eq!(
            self.run_async(conn, "backup_complete", &o),
            "VSS_S_ASYNC_FINISHED"
        );
        assert_eq!(
            self.run_async(conn, "gather_writer_status", &o),
            "VSS_S_ASYNC_FINISHED"
        );
        let st = self.ok(conn, "writer_status", obj.clone());
        self.ok(conn, "release", obj);
        (before, states(&st["writers"]))
    }
}

type States = Vec<(String, String)>;

fn states(list: &Value) -> States {
    list.as_array()
        .expect("a list of writers")
        .iter()
        .map(|w| {
            (
                w["name"].as_str().unwrap_or_default().to_string(),
                w["state"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_full_backup_over_the_protocol_leaves_every_writer_stable() {
    let mut c = Client::new(default_machine(), 7);
    let conn = c.svc.connect();
    let (before, st) = c.backup(conn);
    assert!(
        before
            .iter()
            .all(|(_, s)| s == "VSS_WS_WAITING_FOR_BACKUP_COMPLETE"),
        "{before:?}"
    );
    assert_eq!(st.len(), 6, "the default machine's six writers: {st:?}");
    assert!(st.iter().all(|(_, s)| s == "VSS_WS_STABLE"), "{st:?}");
    // The auto-release shadows went with the object (rule 27).
    assert_eq!(
        c.ok(conn, "list", json!({"what": "shadows"}))["items"],
        json!([])
    );
    let v = c.ok(conn, "violations", json!({}));
    assert_eq!(v["violations"], json!([]), "{v}");
    // Virtual time moved only inside requests: every call cost the service's 200 us.
    let now = c.ok(conn, "now", json!({}))["now_us"].as_u64().unwrap();
    assert!(now > 0);
    assert_eq!(
        c.ok(conn, "now", json!({}))["now_us"].as_u64().unwrap(),
        now
    );
}

#[test]
fn the_same_session_twice_gives_the_same_trace_digest() {
    let digest = |seed: u64| {
        let mut c = Client::new(default_machine(), seed);
        let conn = c.svc.connect();
        c.backup(conn);
        c.ok(conn, "advance", json!({"us": 1_500_000}));
        let shut = c.ok(conn, "shutdown", json!({}));
        assert!(c.svc.is_shut_down());
        shut["sha256"].as_str().unwrap().to_string()
    };
    let a = digest(3);
    assert_eq!(a.len(), 64);
    assert_eq!(a, digest(3), "same requests, same seed: same trace");
    assert_ne!(a, digest(4), "another seed draws other ids: another trace");
}

/// The requests of a backup, in order; a client is killed after each prefix of them.
const PHASES: &[&str] = &[
    "create_backup_components",
    "initialize_for_backup",
    "set_backup_state",
    "gather_writer_metadata",
    "wait",
    "start_snapshot_set",
    "add_to_snapshot_set",
    "prepare_for_backup",
    "wait",
    "do_snapshot_set",
    "hold",
    "wait",
    "gather_writer_status",
    "wait",
    "backup_complete",
];

#[test]
fn a_client_killed_at_every_phase_loses_nothing_and_frees_the_service() {
    for cut in 0..=PHASES.len() {
        let mut c = Client::new(default_machine(), 11);
        let a = c.svc.connect();
        let b = c.svc.connect();
        let mut object = String::new();
        let mut last_async = String::new();
        let mut saw_hold = false;
        for step in &PHASES[..cut] {
            match *step {
                "create_backup_components" => {
                    object = c.ok(a, step, json!({}))["object"]
                        .as_str()
                        .unwrap()
                        .to_string();
                }
                "wait" => {
                    c.ok(a, "wait", json!({ "async": last_async }));
                }
                "add_to_snapshot_set" => {
                    for v in ["C:", "D:", "E:"] {
                        c.ok(a, step, json!({"object": object, "volume": v}));
                    }
                }
                "hold" => {
                    // Into the flush-and-hold: writes are being held when the client dies.
                    for _ in 0..2000 {
                        if c.svc.world().unwrap().held_writes_now() > 0 {
                            saw_hold = true;
                            break;
                        }
                        c.ok(a, "advance", json!({"us": 200}));
                    }
                    assert!(saw_hold, "the backup reached its hold");
                }
                op => {
                    let r = c.ok(a, op, json!({ "object": object }));
                    if let Some(n) = r["async"].as_str() {
                        last_async = n.to_string();
                    }
                }
            }
        }
        c.svc.disconnect(a);
        // Nothing moved for the death itself; the other client lets the world settle.
        c.ok(b, "run_until_idle", json!({}));
        let w = c.svc.world().unwrap();
        assert_eq!(w.held_writes_now(), 0, "cut {cut}: held writes released");
        assert_eq!(
            w.coordinator().creation_lock(),
            None,
            "cut {cut}: lock freed"
        );
        let writers = c.ok(b, "list", json!({"what": "writers"}));
        let frozen: Vec<&Value> = writers["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["state"] == "VSS_WS_WAITING_FOR_THAW")
            .collect();
        assert!(
            frozen.is_empty(),
            "cut {cut}: a writer is still frozen: {frozen:?}"
        );
        let shadows = c.ok(b, "list", json!({"what": "shadows"}));
        assert_eq!(
            shadows["items"],
            json!([]),
            "cut {cut}: auto-release shadows gone"
        );
        // The other client's backup goes through: the service is free.
        let (_, st) = c.backup(b);
        assert!(
            st.iter().all(|(_, s)| s == "VSS_WS_STABLE"),
            "cut {cut}: {st:?}"
        );
        c.ok(b, "shutdown", json!({}));
        let w = c.svc.world().unwrap();
        assert!(w.violations().is_empty(), "cut {cut}: {:?}", w.violations());
    }
}

/// The error of a refused request: its kind.
fn kind(r: &Value) -> &str {
    assert_eq!(r["ok"], false, "expected a refusal: {r}");
    assert!(
        r["error"]["message"].as_str().is_some_and(|m| m.len() > 10),
        "every refusal says what was wrong: {r}"
    );
    r["error"]["kind"].as_str().unwrap()
}

#[test]
fn bad_input_gets_an_error_reply_naming_what_was_wrong_and_the_connection_goes_on() {
    let mut c = Client::new(default_machine(), 1);
    let conn = c.svc.connect();
    let raw = |c: &mut Client, line: &str| {
        c.svc.receive(conn, line);
        let out = c.svc.take_output();
        assert_eq!(out.len(), 1, "{line:?} gets one reply: {out:?}");
        serde_json::from_str::<Value>(&out[0].1).unwrap()
    };
    assert_eq!(kind(&raw(&mut c, "garbage")), "parse");
    assert_eq!(kind(&raw(&mut c, "[1, 2]")), "parse");
    assert_eq!(kind(&raw(&mut c, r#"{"id": 1, "op": "now"}"#)), "version");
    assert_eq!(
        kind(&raw(&mut c, r#"{"v": 2, "id": 1, "op": "now"}"#)),
        "version"
    );
    let r = raw(&mut c, r#"{"v": 1, "id": 9, "op": "hello_world"}"#);
    assert_eq!(kind(&r), "unknown_op");
    assert_eq!(r["id"], 9, "the reply names the request");
    let r = raw(
        &mut c,
        r#"{"v": 1, "id": 2, "op": "advance", "us": "soon"}"#,
    );
    assert_eq!(kind(&r), "bad_request");
    assert_eq!(r["error"]["field"], "us");
    let r = raw(&mut c, r#"{"v": 1, "id": 3, "op": "now", "extra": true}"#);
    assert_eq!(r["error"]["field"], "extra");
    c.svc.too_large(conn);
    let out = c.svc.take_output();
    assert!(out[0].1.contains("too_large"), "{out:?}");
    // Out of order: the service's own answer.
    let o = c.ok(conn, "create_backup_components", json!({}))["object"].clone();
    let r = c.req(conn, "do_snapshot_set", json!({ "object": o }));
    assert_eq!(kind(&r), "hresult");
    assert_eq!(r["error"]["hresult"], "VSS_E_BAD_STATE");
    assert_eq!(r["error"]["code"], "0x80042301");
    // Objects and operations are the connection's own.
    let other = c.svc.connect();
    let r = c.req(other, "initialize_for_backup", json!({ "object": o }));
    assert_eq!(kind(&r), "no_object");
    let r = c.req(conn, "wait", json!({"async": "async-99"}));
    assert_eq!(kind(&r), "no_async");
    let r = c.req(conn, "answer", json!({"writer": "WMI Writer", "token": 5}));
    assert_eq!(kind(&r), "state");
    let r = c.req(
        conn,
        "register_writer",
        json!({"name": "Late", "components": []}),
    );
    assert_eq!(
        kind(&r),
        "state",
        "writers subscribe when the service starts"
    );
    // And it still works.
    c.ok(conn, "hello", json!({}));
}

#[test]
fn every_request_kind_is_handled() {
    let mut c = Client::new(default_machine(), 1);
    let conn = c.svc.connect();
    for op in OPS.iter().filter(|o| **o != "shutdown") {
        let r = c.req(conn, op, json!({}));
        if r["ok"] == false {
            assert_ne!(r["error"]["kind"], "unknown_op", "{op}: {r}");
        }
    }
    c.ok(conn, "shutdown", json!({}));
    // docs/protocol.md names every request kind the server handles.
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/protocol.md"),
    )
    .unwrap();
    for op in OPS {
        assert!(
            doc.contains(&format!("`{op}`")),
            "docs/protocol.md lacks {op}"
        );
    }
}

impl Client {
    /// Sends `op` on `conn` and answers each writer event for `writer` on connection `w` with
    /// `answer(event name)` (its `after_us`) until the reply comes; the events seen, in order.
    fn drive(
        &mut self,
        conn: ConnId,
        op: &str,
        args: Value,
        w: ConnId,
        answer: impl Fn(&str) -> u64,
    ) -> (Value, Vec<String>) {
        let id = self.send(conn, op, args);
        let mut seen = Vec::new();
        for _ in 0..100 {
            let out = self.svc.take_output();
            let mut reply = None;
            let mut events = Vec::new();
            for (c, line) in out {
                let v: Value = serde_json::from_str(&line).unwrap();
                if v.get("event").is_some() {
                    assert_eq!(c, w, "a writer's events go to its connection");
                    events.push(v);
                } else if c == conn && v["id"] == id {
                    reply = Some(v);
                }
            }
            for ev in events {
                let name = ev["name"].as_str().unwrap().to_string();
                let after = answer(&name);
                seen.push(name);
                let args = json!({"writer": ev["writer"], "token": ev["token"], "after_us": after});
                self.send(w, "answer", args);
            }
            if let Some(r) = reply {
                return (r, seen);
            }
        }
        panic!("{op}: no reply; events {seen:?}");
    }
}

/// A writer the client implements gets its events, and its answers' virtual durations count.
#[test]
fn a_client_writer_answers_in_virtual_time_and_its_freeze_window_holds() {
    let mut c = Client::new(default_machine(), 5);
    let w = c.svc.connect();
    let reg = c.ok(
        w,
        "register_writer",
        json!({"name": "PyWriter", "components": [{"name": "db", "volumes": ["C:"]}]}),
    );
    assert!(
        reg["instance_id"]
            .as_str()
            .is_some_and(|s| s.starts_with('{'))
    );
    let r = c.svc.connect();
    let o = c.ok(r, "create_backup_components", json!({}))["object"]
        .as_str()
        .unwrap()
        .to_string();
    let obj = json!({ "object": o });
    c.ok(r, "initialize_for_backup", obj.clone());
    c.ok(r, "set_backup_state", obj.clone());
    c.run_async(r, "gather_writer_metadata", &o);
    let md = c.ok(r, "writer_metadata", obj.clone());
    assert!(
        md["writers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["name"] == "PyWriter")
    );
    c.ok(
        r,
        "add_component",
        json!({"object": o, "writer": "PyWriter", "component": "db"}),
    );
    c.ok(r, "start_snapshot_set", obj.clone());
    c.ok(
        r,
        "add_to_snapshot_set",
        json!({"object": o, "volume": "C:"}),
    );
    let t0 = c.ok(r, "now", json!({}))["now_us"].as_u64().unwrap();
    // The world stops at the writer's event until it answers, so even the call's own reply
    // (200 us later) waits for it.
    let (p, seen) = c.drive(r, "prepare_for_backup", obj.clone(), w, |_| 5_000);
    assert_eq!(seen, ["OnPrepareBackup"]);
    let a = p["result"]["async"].clone();
    let (end, _) = c.drive(r, "wait", json!({ "async": a }), w, |_| 5_000);
    assert_eq!(end["result"]["hresult"], "VSS_S_ASYNC_FINISHED", "{end}");
    // The handler's 5 ms of virtual time passed, and no more than the call's own cost.
    let t1 = end["now_us"].as_u64().unwrap();
    assert!(t1 >= t0 + 5_000, "{t0} -> {t1}");
    // DoSnapshotSet: OnFreeze answers after 61 s, past its 60 s window.
    let slow_freeze = |e: &str| if e == "OnFreeze" { 61_000_000 } else { 1_000 };
    let (d, mut seen) = c.drive(r, "do_snapshot_set", obj.clone(), w, slow_freeze);
    let a = d["result"]["async"].clone();
    let (end, more) = c.drive(r, "wait", json!({ "async": a }), w, slow_freeze);
    seen.extend(more);
    assert_eq!(end["ok"], true, "{end}");
    assert_eq!(&seen[..2], ["OnPrepareSnapshot", "OnFreeze"], "{seen:?}");
    let (g, _) = c.drive(r, "gather_writer_status", obj.clone(), w, |_| 0);
    let a = g["result"]["async"].clone();
    c.drive(r, "wait", json!({ "async": a }), w, |_| 0);
    let st = c.ok(r, "writer_status", obj);
    let py = st["writers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "PyWriter")
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(py["state"], "VSS_WS_FAILED_AT_FREEZE", "{st}");
    assert_eq!(py["failure"], "VSS_E_WRITERERROR_TIMEOUT", "{st}");
}

#[test]
fn an_injected_writer_fault_fails_its_event() {
    let mut c = Client::new(default_machine(), 2);
    let conn = c.svc.connect();
    let r = c.req(conn, "inject", json!({"fault": {"writer": "SqlServerWriter", "event": "OnFreeze", "fail": "VSS_E_WRITERERROR_RETRYABLE"}}));
    assert_eq!(r["ok"], true, "{r}");
    let r = c.req(
        conn,
        "inject",
        json!({"fault": {"writer": "Nobody", "event": "OnFreeze", "hang": true}}),
    );
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("SqlServerWriter"),
        "{r}"
    );
    let (st, _) = c.backup(conn);
    assert!(
        st.contains(&("SqlServerWriter".into(), "VSS_WS_FAILED_AT_FREEZE".into())),
        "{st:?}"
    );
}

/// The real socket: `serve` on a thread, a client over a Unix socket, the trace written at
/// shutdown.
#[test]
#[allow(clippy::disallowed_methods)] // The server runs on its own thread, as in `vss-sim serve`.
fn the_socket_server_answers_lines_and_writes_its_trace() {
    use std::io::{BufRead, BufReader, Write};
    let dir = std::env::temp_dir().join(format!("vss-serve-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("s.sock");
    let trace = dir.join("t.jsonl");
    let (sock2, trace2) = (sock.clone(), trace.clone());
    let (tx, rx) = std::sync::mpsc::channel();
    let server = std::thread::spawn(move || {
        let service = Service::new(default_machine(), 1, 2)
            .unwrap()
            .keep_trace(true);
        let cfg = sim::serve::Config {
            service,
            listen: sim::serve::Listen::Unix(sock2),
            trace_out: Some(trace2),
            nbd: None,
        };
        sim::serve::serve(cfg, |_, addr| tx.send(addr.to_string()).unwrap())
    });
    let addr = rx.recv().unwrap();
    assert_eq!(addr, sock.display().to_string());
    let s = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    let mut ask = |req: &str| -> Value {
        w.write_all(req.as_bytes()).unwrap();
        w.write_all(b"\n").unwrap();
        line.clear();
        r.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap()
    };
    assert_eq!(
        ask(r#"{"v":1,"id":1,"op":"hello"}"#)["result"]["server"],
        "vss-sim"
    );
    assert_eq!(ask("not json")["error"]["kind"], "parse");
    let big = format!(
        r#"{{"v":1,"id":2,"op":"now","pad":"{}"}}"#,
        "x".repeat(sim::serve::MAX_LINE + 10)
    );
    assert_eq!(ask(&big)["error"]["kind"], "too_large");
    assert_eq!(
        ask(r#"{"v":1,"id":3,"op":"advance","us":1000}"#)["now_us"],
        1000
    );
    let shut = ask(r#"{"v":1,"id":4,"op":"shutdown"}"#);
    let digest = server.join().unwrap().unwrap();
    assert_eq!(shut["result"]["sha256"], digest);
    let bytes = std::fs::read(&trace).unwrap();
    assert!(bytes.starts_with(b"{\"kind\":\"header\""));
    assert!(!sock.exists(), "the socket file is removed at shutdown");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `vss-sim serve --nbd`: the binary serves a machine whose scripted requester leaves a
/// client-accessible shadow copy; `qemu-img` copies the export, and the copy is what
/// `read_blocks` says the shadow held at its instant, however long the volume goes on changing,
/// and reading it moves no virtual time.
#[test]
fn serve_exports_each_shadow_copy_over_nbd_and_qemu_img_reads_its_instant() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};
    let qemu = "qemu-img";
    assert!(
        Command::new(qemu)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success()),
        "qemu-img is not installed: install Debian's qemu-utils (.ci/run does)"
    );
    let dir = std::env::temp_dir().join(format!("vss-serve-nbd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = dir.join("m.toml");
    std::fs::write(
        &scenario,
        "[[volume]]\nname = \"F:\"\nsize = \"32MiB\"\n\n[[workload]]\nname = \"smb\"\n\
         volumes = [\"F:\"]\nrate = 2000\n\n[[requester]]\nname = \"previous-versions\"\n\
         context = \"VSS_CTX_CLIENT_ACCESSIBLE\"\n",
    )
    .unwrap();
    let (sock, nbd) = (dir.join("s.sock"), dir.join("n.sock"));
    let mut child = Command::new(vss_sim_tests::vss_sim_bin())
        .arg("serve")
        .arg(&scenario)
        .arg("--socket")
        .arg(&sock)
        .arg("--nbd")
        .arg(&nbd)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    out.read_line(&mut banner).unwrap();
    assert_eq!(banner.trim(), format!("listening on {}", sock.display()));
    banner.clear();
    out.read_line(&mut banner).unwrap();
    assert_eq!(banner.trim(), format!("nbd on {}", nbd.display()));
    let s = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let mut n = 0;
    let mut ask = |op: &str, args: Value| -> Value {
        n += 1;
        let mut m = json!({"v": 1, "id": n, "op": op});
        for (k, v) in args.as_object().unwrap() {
            m[k] = v.clone();
        }
        w.write_all(format!("{m}\n").as_bytes()).unwrap();
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["ok"], true, "{op}: {v}");
        v
    };
    // The scenario's own requester makes its backup while the world runs.
    ask("run_until_idle", json!({}));
    let shadows = ask("list", json!({"what": "shadows"}))["result"]["items"].clone();
    let [shadow] = shadows.as_array().unwrap().as_slice() else {
        panic!("one shadow copy: {shadows}");
    };
    let device = shadow["device"].as_str().unwrap().to_string();
    let o = ask("create_backup_components", json!({}))["result"]["object"].clone();
    let volume_bytes = 32u64 << 20;
    let url = format!("nbd+unix:///{device}?socket={}", nbd.display());
    let copy = |name: &str| {
        let path = dir.join(name);
        let st = Command::new(qemu)
            .args(["convert", "-O", "raw", &url])
            .arg(&path)
            .status();
        assert!(st.unwrap().success(), "qemu-img convert {url}");
        std::fs::read(&path).unwrap()
    };
    let t0 = ask("now", json!({}))["now_us"].clone();
    let image = copy("a.img");
    assert_eq!(
        ask("now", json!({}))["now_us"],
        t0,
        "NBD reads move no virtual time"
    );
    assert_eq!(image.len() as u64, volume_bytes);
    let hello = ask("hello", json!({}));
    let bs = hello["result"]["volumes"][0]["block_size"]
        .as_u64()
        .unwrap() as usize;
    let read = ask(
        "read_blocks",
        json!({"object": o, "snapshot_id": shadow["snapshot_id"], "volume": "F:", "first": 0, "count": volume_bytes / bs as u64}),
    );
    let seqs = read["result"]["seqs"].as_array().unwrap().clone();
    assert_eq!(seqs.len() * bs, image.len(), "one block size, {bs} bytes");
    let mut written = 0;
    for (b, seq) in seqs.iter().enumerate() {
        let mut want = vec![0u8; bs];
        if let Some(s) = seq.as_u64() {
            model::volume::store::block_content(0, b as u64, s, &mut want);
            written += 1;
        }
        assert!(
            image[b * bs..(b + 1) * bs] == want[..],
            "block {b} is the shadow's instant"
        );
    }
    assert!(written > 0, "the shadow holds written blocks");
    // The volume goes on changing; the shadow copy does not.
    ask("advance", json!({"us": 2_000_000}));
    assert!(
        copy("b.img") == image,
        "the export is the instant, whatever happens after"
    );
    let shut = ask("shutdown", json!({}));
    assert!(shut["result"]["sha256"].as_str().is_some());
    assert!(child.wait().unwrap().success());
    assert!(!nbd.exists() && !sock.exists(), "both socket files removed");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two backup products on one machine: while the first builds and takes its snapshot set, the
/// second's `StartSnapshotSet` is refused as VSS refuses it (one set at a time, rule 20); once
/// the first's creation is over the second goes through.
#[test]
fn two_clients_colliding_get_one_creation_at_a_time() {
    let mut c = Client::new(default_machine(), 9);
    let (a, b) = (c.svc.connect(), c.svc.connect());
    let mut objs = Vec::new();
    for conn in [a, b] {
        let o = c.ok(conn, "create_backup_components", json!({}))["object"]
            .as_str()
            .unwrap()
            .to_string();
        c.ok(conn, "initialize_for_backup", json!({ "object": o }));
        c.ok(
            conn,
            "set_backup_state",
            json!({"object": o, "select_components": false}),
        );
        c.run_async(conn, "gather_writer_metadata", &o);
        objs.push(o);
    }
    assert_ne!(objs[0], objs[1], "each connection its own object");
    let (oa, ob) = (objs[0].clone(), objs[1].clone());
    c.ok(a, "start_snapshot_set", json!({ "object": oa }));
    c.ok(
        a,
        "add_to_snapshot_set",
        json!({"object": oa, "volume": "C:"}),
    );
    c.run_async(a, "prepare_for_backup", &oa);
    let r = c.req(b, "start_snapshot_set", json!({ "object": ob }));
    assert_eq!(
        r["error"]["hresult"], "VSS_E_SNAPSHOT_SET_IN_PROGRESS",
        "{r}"
    );
    assert_eq!(
        c.run_async(a, "do_snapshot_set", &oa),
        "VSS_S_ASYNC_FINISHED"
    );
    c.ok(b, "start_snapshot_set", json!({ "object": ob }));
    c.ok(
        b,
        "add_to_snapshot_set",
        json!({"object": ob, "volume": "D:"}),
    );
    c.run_async(b, "prepare_for_backup", &ob);
    assert_eq!(
        c.run_async(b, "do_snapshot_set", &ob),
        "VSS_S_ASYNC_FINISHED"
    );
    assert_eq!(
        c.ok(b, "list", json!({"what": "shadows"}))["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

/// A request for more virtual time than an hour is refused: a busy world takes wall time for
/// every virtual second, and `u64::MAX` microseconds would hold the server for ever.
#[test]
fn a_huge_time_request_is_refused_naming_its_field_not_run_for_ever() {
    let mut c = Client::new(default_machine(), 1);
    let conn = c.svc.connect();
    for (op, field) in [("advance", "us"), ("run_until_idle", "max_us")] {
        let r = c.req(conn, op, json!({ field: u64::MAX }));
        assert_eq!(kind(&r), "bad_request", "{r}");
        assert_eq!(r["error"]["field"], field, "{r}");
    }
    let o = c.ok(conn, "create_backup_components", json!({}))["object"].clone();
    c.ok(conn, "initialize_for_backup", json!({ "object": o }));
    let a = c.ok(conn, "gather_writer_metadata", json!({ "object": o }))["async"].clone();
    let r = c.req(
        conn,
        "wait",
        json!({"async": a, "timeout_us": 3_600_000_001u64}),
    );
    assert_eq!(r["error"]["field"], "timeout_us", "{r}");
    // An hour is still taken.
    let r = c.ok(conn, "advance", json!({"us": 1_000}));
    assert!(r["now_us"].as_u64().is_some());
}

/// Requests after a shutdown get an `ended` reply rather than silence.
#[test]
fn requests_after_shutdown_are_refused_not_dropped() {
    let mut c = Client::new(default_machine(), 1);
    let conn = c.svc.connect();
    c.ok(conn, "shutdown", json!({}));
    let r = c.req(conn, "hello", json!({}));
    assert_eq!(kind(&r), "ended", "{r}");
    let other = c.svc.connect();
    let r = c.req(other, "advance", json!({"us": 5}));
    assert_eq!(kind(&r), "ended", "{r}");
}

/// A connection whose requester process was made to go away starts over as a new process:
/// its next object is a live one in the next slot, not one whose every call is refused.
#[test]
fn after_an_injected_go_away_a_new_object_works() {
    let mut c = Client::new(default_machine(), 1);
    let conn = c.svc.connect();
    let o = c.ok(conn, "create_backup_components", json!({}))["object"].clone();
    c.ok(conn, "initialize_for_backup", json!({ "object": o }));
    let a = c.ok(conn, "gather_writer_metadata", json!({ "object": o }))["async"].clone();
    c.ok(conn, "inject", json!({"fault": {"go_away": "client-1"}}));
    let r = c.req(conn, "initialize_for_backup", json!({ "object": o }));
    assert_eq!(kind(&r), "no_object", "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("create_backup_components"),
        "the refusal says how to go on: {r}"
    );
    let o = c.ok(conn, "create_backup_components", json!({}))["object"].clone();
    let r = c.ok(conn, "initialize_for_backup", json!({ "object": o }));
    assert_eq!(r["hresult"], "S_OK", "{r}");
    // The dead process's operation is not the new one's.
    let r = c.req(conn, "query_status", json!({ "async": a }));
    assert_eq!(kind(&r), "no_async", "{r}");
}

/// A client writer whose connection closes while the world waits for its OnFreeze answer: the
/// event never returns (rule 32), the service's limits fire, the backup's wait ends, and no
/// write stays held.
#[test]
fn a_client_writer_gone_while_its_answer_is_awaited_frees_the_world() {
    let mut c = Client::new(default_machine(), 3);
    let w = c.svc.connect();
    c.ok(
        w,
        "register_writer",
        json!({"name": "PyWriter", "components": [{"name": "db", "volumes": ["C:"]}]}),
    );
    let r = c.svc.connect();
    let o = c.ok(r, "create_backup_components", json!({}))["object"].clone();
    let obj = json!({ "object": o });
    c.ok(r, "initialize_for_backup", obj.clone());
    c.ok(
        r,
        "set_backup_state",
        json!({"object": o, "select_components": false}),
    );
    let (g, _) = c.drive(r, "gather_writer_metadata", obj.clone(), w, |_| 0);
    let a = g["result"]["async"].clone();
    c.drive(r, "wait", json!({ "async": a }), w, |_| 0);
    c.ok(r, "start_snapshot_set", obj.clone());
    c.ok(
        r,
        "add_to_snapshot_set",
        json!({"object": o, "volume": "C:"}),
    );
    let (p, _) = c.drive(r, "prepare_for_backup", obj.clone(), w, |_| 0);
    let a = p["result"]["async"].clone();
    c.drive(r, "wait", json!({ "async": a }), w, |_| 0);
    // DoSnapshotSet, then wait on it: answer OnPrepareSnapshot, go away at OnFreeze.
    let (d, _) = c.drive(r, "do_snapshot_set", obj.clone(), w, |_| 0);
    let a = d["result"]["async"].clone();
    let id = c.send(r, "wait", json!({ "async": a }));
    let mut reply = None;
    let mut frozen = false;
    for _ in 0..20 {
        for (conn, line) in c.svc.take_output() {
            let v: Value = serde_json::from_str(&line).unwrap();
            if v.get("event").is_some() {
                if v["name"] == "OnFreeze" {
                    frozen = true;
                } else if !frozen {
                    let args = json!({"writer": v["writer"], "token": v["token"]});
                    c.send(w, "answer", args);
                }
            } else if conn == r && v["id"] == id {
                reply = Some(v);
            }
        }
        if frozen {
            break;
        }
    }
    assert!(frozen, "the writer got OnFreeze");
    assert!(reply.is_none(), "the world waits for the answer");
    c.svc.disconnect(w);
    let end = c
        .take(r, id)
        .expect("the wait ends once the writer is gone");
    assert_eq!(end["ok"], true, "{end}");
    assert!(end["result"]["hresult"].is_string(), "{end}");
    c.ok(r, "run_until_idle", json!({}));
    let world = c.svc.world().expect("built");
    assert_eq!(world.held_writes_now(), 0, "no write stays held");
    c.ok(r, "shutdown", json!({}));
}
/// A writer refused because it does not fit the machine leaves the machine as it was: it was
/// bound into the scenario before the check, so a refused writer still joined the world.
#[test]
fn a_refused_writer_leaves_the_machine_as_it_was() {
    let mut c = Client::new(default_machine(), 1);
    let conn = c.svc.connect();
    let before = c.ok(conn, "hello", json!({}))["writers"].clone();
    let r = c.req(
        conn,
        "register_writer",
        json!({"name": "W", "timeout_freeze_us": u64::MAX}),
    );
    assert_eq!(kind(&r), "bad_request", "{r}");
    assert_eq!(r["error"]["field"], "timeout_freeze_us", "{r}");
    assert_eq!(c.ok(conn, "hello", json!({}))["writers"], before);
    // The name is free, and the machine still serves.
    c.ok(
        conn,
        "register_writer",
        json!({"name": "W", "timeout_freeze_us": 1_000_000}),
    );
    c.ok(conn, "create_backup_components", json!({}));
}

/// A client writer's class id is its kind's: the one it registers, else the same for its name
/// on every run and seed, and another name's is another.
#[test]
fn a_client_writers_class_id_is_its_own() {
    let class = |seed: u64, name: &str, class_id: Option<&str>| {
        let mut c = Client::new(default_machine(), seed);
        let w = c.svc.connect();
        let mut args = json!({"name": name, "components": [{"name": "db", "volumes": ["C:"]}]});
        if let Some(g) = class_id {
            args["class_id"] = json!(g);
        }
        let reg = c.ok(w, "register_writer", args);
        let hello = c.ok(w, "hello", json!({}));
        let listed = hello["writers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == name)
            .unwrap()["class_id"]
            .clone();
        assert_eq!(
            reg["class_id"], listed,
            "hello lists what registration said"
        );
        reg["class_id"].as_str().unwrap().to_string()
    };
    let a = class(1, "PyWriter", None);
    assert_eq!(
        a,
        class(2, "PyWriter", None),
        "one name, one class, whatever the seed"
    );
    assert_ne!(a, class(1, "OtherWriter", None));
    let mine = "{11111111-2222-4333-8444-555555555555}";
    assert_eq!(class(1, "PyWriter", Some(mine)), mine);
}

/// A client that sends and never reads holds up only its own replies: another client is still
/// answered at once.
#[test]
#[allow(clippy::disallowed_methods)] // The server runs on its own thread, as in `vss-sim serve`.
fn a_client_that_never_reads_does_not_stall_the_others() {
    use std::io::{BufRead, BufReader, Write};
    let dir = std::env::temp_dir().join(format!("vss-serve-slow-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("s.sock");
    let path = sock.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let server = std::thread::spawn(move || {
        let cfg = sim::serve::Config {
            service: Service::new(default_machine(), 1, 2).unwrap(),
            listen: sim::serve::Listen::Unix(path),
            trace_out: None,
            nbd: None,
        };
        sim::serve::serve(cfg, |_, _| tx.send(()).unwrap())
    });
    rx.recv().unwrap();
    let mut greedy = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    // Replies to these fill the greedy client's socket many times over.
    let burst = "{\"v\":1,\"id\":1,\"op\":\"hello\"}\n".repeat(20_000);
    greedy.write_all(burst.as_bytes()).unwrap();
    let other = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    other
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let mut w = other.try_clone().unwrap();
    let mut r = BufReader::new(other);
    w.write_all(b"{\"v\":1,\"id\":7,\"op\":\"now\"}\n").unwrap();
    let mut line = String::new();
    r.read_line(&mut line)
        .expect("the other client is answered");
    assert!(line.contains("\"id\":7"), "{line}");
    w.write_all(b"{\"v\":1,\"id\":8,\"op\":\"shutdown\"}\n")
        .unwrap();
    line.clear();
    r.read_line(&mut line).unwrap();
    assert!(line.contains("sha256"), "{line}");
    drop(greedy);
    server.join().unwrap().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
