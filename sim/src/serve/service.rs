//! The emulator's core, with no I/O: requests in, replies and writer events out, one world
//! moved only by the requests (docs/protocol.md). The socket layer (`net.rs`) feeds it lines in
//! arrival order; the tests feed it directly.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

use model::ids::{RequesterId, WriterId};
use model::time::{Duration, Instant};
use model::vss::{Hresult, WriterEvent};
use serde_json::{Map, Value, json};

use super::args::{Args, Refusal};
use super::ops::{self, Post};
use crate::guest::Mailbox;
use crate::guest::mailbox::Out;
use crate::scenario::{RequesterSpec, Scenario};
use crate::trace::Trace;
use crate::world::{EndReason, World};

/// The protocol version this server speaks.
pub const PROTOCOL_VERSION: u64 = 1;

/// The longest request line taken, in bytes.
pub const MAX_LINE: usize = 1 << 20;

/// A connection, numbered from 1 in the order they opened.
pub type ConnId = u64;

/// What one connection holds.
#[derive(Debug, Default)]
pub(crate) struct Conn {
    /// The requester slot it took (index of the requester on the machine).
    pub(crate) requester: Option<RequesterId>,
    /// Its current `IVssBackupComponents`: the name given out and the object generation.
    pub(crate) object: Option<(String, u32)>,
    /// Its asynchronous operations by name: operation number on the requester.
    pub(crate) asyncs: BTreeMap<String, (u64, u32)>,
    /// The writers it implements.
    pub(crate) writers: Vec<WriterId>,
}

/// A request that runs the world until something happens.
#[derive(Debug)]
pub(crate) enum Goal {
    /// A call's reply.
    Reply {
        requester: RequesterId,
        seq: u64,
        post: Post,
    },
    /// An asynchronous operation's end, or the deadline.
    OpEnd {
        requester: RequesterId,
        op: u64,
        deadline: Instant,
    },
    /// A virtual time.
    Until(Instant),
    /// Nothing left but workload writes, or the limit.
    Quiet(Instant),
    /// A whole shadow read.
    Read(RequesterId),
    /// A block range read.
    Blocks {
        requester: RequesterId,
        snapshot: model::ids::SnapshotId,
        first: u64,
        count: u64,
    },
    /// Shutting down: every session gone, the world quiet (or the limit).
    Shutdown(Instant),
}

/// The request in progress and who waits for its reply.
#[derive(Debug)]
struct Running {
    conn: ConnId,
    id: Value,
    goal: Goal,
    /// The world runs no further than this for it.
    until: Instant,
}

/// One queued line, or an error to send in its place.
#[derive(Debug)]
enum Item {
    Request(Map<String, Value>),
    Refused(Value, Refusal),
}

/// The emulator: one machine, its world built at the first request that moves it, and every
/// connection's state.
pub struct Service {
    pub(crate) scenario: Scenario,
    pub(crate) seed: u64,
    /// The first requester slot's index (after the scenario's own requesters).
    pub(crate) first_slot: usize,
    pub(crate) n_slots: usize,
    pub(crate) world: Option<World>,
    pub(crate) mail: Option<Rc<RefCell<Mailbox>>>,
    pub(crate) conns: BTreeMap<ConnId, Conn>,
    next_conn: ConnId,
    /// Slots taken so far (they are never given out twice).
    pub(crate) slots_taken: usize,
    /// Writers implemented by clients: writer index → its connection (`None` once it closed).
    pub(crate) client_writers: BTreeMap<usize, Option<ConnId>>,
    /// Events sent to client writers and not yet answered: token → writer.
    pub(crate) awaiting: BTreeMap<u64, WriterId>,
    queue: VecDeque<(ConnId, Item)>,
    running: Option<Running>,
    out: Vec<(ConnId, String)>,
    pub(crate) next_object: u64,
    pub(crate) next_async: u64,
    shut: bool,
    /// The trace's bytes and digest, once shut down.
    finished: Option<(String, Vec<u8>, u64)>,
    keep_trace: bool,
}

impl Service {
    /// A server for `scenario`'s machine with `clients` requester slots.
    pub fn new(scenario: Scenario, seed: u64, clients: usize) -> Result<Service, String> {
        if clients == 0 || clients > 64 {
            return Err(format!(
                "--clients {clients}: give between 1 and 64 requester slots"
            ));
        }
        let mut scenario = scenario;
        let first_slot = scenario.requesters.len();
        for i in 0..clients {
            scenario.requesters.push(slot_spec(&scenario, i + 1));
        }
        let scenario = scenario.check().map_err(|e| e.to_string())?;
        Ok(Service {
            scenario,
            seed,
            first_slot,
            n_slots: clients,
            world: None,
            mail: None,
            conns: BTreeMap::new(),
            next_conn: 1,
            slots_taken: 0,
            client_writers: BTreeMap::new(),
            awaiting: BTreeMap::new(),
            queue: VecDeque::new(),
            running: None,
            out: Vec::new(),
            next_object: 1,
            next_async: 1,
            shut: false,
            finished: None,
            keep_trace: false,
        })
    }

    /// Keeps the trace's bytes for [`Service::trace`] (for `--trace-out`); without it only the
    /// digest is kept, so a long session does not grow.
    pub fn keep_trace(mut self, on: bool) -> Service {
        self.keep_trace = on;
        self
    }

    /// A new connection.
    pub fn connect(&mut self) -> ConnId {
        let c = self.next_conn;
        self.next_conn += 1;
        self.conns.insert(c, Conn::default());
        c
    }

    /// One request line from `conn` (without its newline).
    pub fn receive(&mut self, conn: ConnId, line: &str) {
        if !self.conns.contains_key(&conn) || line.trim().is_empty() {
            return;
        }
        let item = parse_line(line);
        let is_answer = matches!(&item, Item::Request(m) if m.get("op") == Some(&json!("answer")));
        if is_answer && (self.running.is_some() || !self.awaiting.is_empty()) {
            // A writer's answer is what the world waits for: carried out at once.
            self.handle(conn, item);
        } else {
            self.queue.push_back((conn, item));
        }
        self.pump();
    }

    /// A line from `conn` longer than [`MAX_LINE`]: refused, the connection goes on.
    pub fn too_large(&mut self, conn: ConnId) {
        let r = Refusal::new(
            "too_large",
            format!("the request line is longer than {MAX_LINE} bytes; send less per request"),
        );
        self.queue.push_back((conn, Item::Refused(Value::Null, r)));
        self.pump();
    }

    /// `conn` closed: its requester goes away (rule 27), its writers stop answering (rule 32).
    pub fn disconnect(&mut self, conn: ConnId) {
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        self.queue.retain(|(q, _)| *q != conn);
        if self.running.as_ref().is_some_and(|r| r.conn == conn) {
            // Nobody waits for that reply any more; the world stays where it is.
            self.running = None;
        }
        for w in &c.writers {
            self.client_writers.insert(w.idx(), None);
            self.awaiting.retain(|_, aw| aw != w);
        }
        if let (Some(r), Some(world)) = (c.requester, self.world.as_mut()) {
            world.outside_go_away(r);
        }
        self.pump();
    }

    /// Replies and events to send, in order, with their connection.
    pub fn take_output(&mut self) -> Vec<(ConnId, String)> {
        std::mem::take(&mut self.out)
    }

    /// Whether a `shutdown` request was carried out.
    pub fn is_shut_down(&self) -> bool {
        self.shut
    }

    /// After shutdown: the trace's digest, its bytes and its record count.
    pub fn trace(&self) -> Option<(&str, &[u8], u64)> {
        self.finished
            .as_ref()
            .map(|(d, b, n)| (d.as_str(), b.as_slice(), *n))
    }

    /// The world, once built (a request that moves it builds it).
    pub fn world(&self) -> Option<&World> {
        self.world.as_ref()
    }

    /// The world, built now if it is not yet: every registration is in, the service starts.
    pub(crate) fn world_mut(&mut self) -> &mut World {
        if self.world.is_none() {
            let trace = Trace::on(self.keep_trace, false);
            let mut served = self.scenario.clone();
            lift_limits(&mut served);
            let mut world = World::new(&served, self.seed, trace);
            let reqs: Vec<usize> = (self.first_slot..self.first_slot + self.n_slots).collect();
            let writers: Vec<usize> = self.client_writers.keys().copied().collect();
            self.mail = Some(world.serve_outside(&reqs, &writers));
            self.world = Some(world);
        }
        self.world.as_mut().expect("built above")
    }

    /// The mailbox (the world is built).
    pub(crate) fn mail(&self) -> std::cell::RefMut<'_, Mailbox> {
        self.mail.as_ref().expect("the world is built").borrow_mut()
    }

    /// Sends `value` to `conn`.
    pub(crate) fn send(&mut self, conn: ConnId, value: &Value) {
        if self.conns.contains_key(&conn) {
            self.out.push((conn, value.to_string()));
        }
    }

    fn now_us(&self) -> u64 {
        self.world.as_ref().map_or(0, |w| w.now().as_us())
    }

    /// Replies to request `id` of `conn`.
    pub(crate) fn reply(&mut self, conn: ConnId, id: &Value, result: Result<Value, Refusal>) {
        let now_us = self.now_us();
        let v = match result {
            Ok(result) => json!({"v": 1, "id": id, "ok": true, "now_us": now_us, "result": result}),
            Err(r) => {
                let mut e = json!({"kind": r.kind, "message": r.message});
                if let Some(f) = r.field {
                    e["field"] = json!(f);
                }
                if let Some(h) = r.hresult {
                    e["hresult"] = json!(h.name());
                    e["code"] = json!(format!("0x{:08X}", h.code()));
                }
                json!({"v": 1, "id": id, "ok": false, "now_us": now_us, "error": e})
            }
        };
        self.send(conn, &v);
    }

    /// Runs the world for the request in progress, then the queued requests, until one waits
    /// for a client writer's answer or nothing is left.
    fn pump(&mut self) {
        loop {
            self.forward_events();
            if !self.awaiting.is_empty() {
                return;
            }
            if self.running.is_some() {
                self.advance_goal();
                continue;
            }
            if self.shut {
                // The run is over: what comes after the shutdown is refused, not dropped, so
                // no client waits for a reply that never comes.
                while let Some((conn, item)) = self.queue.pop_front() {
                    let id = match item {
                        Item::Request(m) => m.get("id").cloned().unwrap_or(Value::Null),
                        Item::Refused(id, _) => id,
                    };
                    let r = Refusal::new(
                        "ended",
                        "the server has shut down (a shutdown request came first); start a new \
                         server to go on",
                    );
                    self.reply(conn, &id, Err(r));
                }
                return;
            }
            match self.queue.pop_front() {
                Some((conn, item)) => self.handle(conn, item),
                None => return,
            }
        }
    }

    /// One step toward the running request's goal, or its reply.
    fn advance_goal(&mut self) {
        let Some(run) = self.running.take() else {
            return;
        };
        let until = run.until;
        if let Some(done) = ops::goal_met(self, run.conn, &run.goal) {
            self.finish_goal(run, done);
            return;
        }
        let world = self.world.as_mut().expect("a goal runs a built world");
        match world.served_step(until) {
            crate::world::Served::Stepped => self.running = Some(run),
            crate::world::Served::Idle => {
                let done = ops::goal_met(self, run.conn, &run.goal).or_else(|| match run.goal {
                    Goal::Until(_) | Goal::Quiet(_) | Goal::Shutdown(_) | Goal::OpEnd { .. } => {
                        Some(Ok(Value::Null))
                    }
                    _ => Some(Err(Refusal::new(
                        "state",
                        "the service did not answer within its time (an hour of virtual time \
                         for a call, a day for a read): the requester's process went away, or \
                         the simulation has nothing left that would answer",
                    ))),
                });
                if let Some(done) = done {
                    self.finish_goal(run, done);
                }
            }
            crate::world::Served::Ended(e) => {
                let r = Refusal::new("ended", ended_message(e));
                self.finish_goal(run, Err(r));
            }
        }
    }

    fn finish_goal(&mut self, run: Running, done: Result<Value, Refusal>) {
        let done = match done {
            Ok(Value::Null) => Ok(ops::goal_result(self, &run.goal)),
            other => other,
        };
        if let Goal::Shutdown(_) = run.goal {
            let (digest, n) = self.end_trace();
            self.reply(
                run.conn,
                &run.id,
                Ok(json!({"sha256": digest, "records": n})),
            );
            self.shut = true;
            return;
        }
        self.reply(run.conn, &run.id, done);
    }

    /// Ends the run and keeps its trace.
    fn end_trace(&mut self) -> (String, u64) {
        let world = self.world_mut();
        world.end_served();
        let n = world.rec.trace.len();
        let (digest, bytes, _) = world.rec.trace.finish();
        let digest = digest.unwrap_or_default();
        self.finished = Some((digest.clone(), bytes.unwrap_or_default(), n));
        (digest, n)
    }

    /// Starts the world toward `goal` for request `id` of `conn`.
    pub(crate) fn run_to(&mut self, conn: ConnId, id: Value, goal: Goal) {
        let now = self.world_mut().now();
        let until = match &goal {
            Goal::OpEnd { deadline, .. } => *deadline,
            Goal::Until(t) | Goal::Quiet(t) | Goal::Shutdown(t) => *t,
            Goal::Reply { .. } => now + Duration::from_secs(3600),
            Goal::Read(_) | Goal::Blocks { .. } => now + Duration::from_secs(24 * 3600),
        };
        self.running = Some(Running {
            conn,
            id,
            goal,
            until,
        });
    }

    /// Sends each client writer the events the world handed it; OnIdentify is answered from
    /// its registration.
    fn forward_events(&mut self) {
        if self.mail.is_none() {
            return;
        }
        let writers: Vec<(usize, Option<ConnId>)> =
            self.client_writers.iter().map(|(w, c)| (*w, *c)).collect();
        for (w, conn) in writers {
            loop {
                let d = match self.mail().writers[w].as_mut() {
                    Some(b) => b.events.pop_front(),
                    None => None,
                };
                let Some(d) = d else { break };
                let writer = WriterId::from_index(w);
                let Some(conn) = conn else {
                    // Its client is gone: the handler never returns (rule 32).
                    continue;
                };
                if d.event == WriterEvent::Identify {
                    let world = self.world.as_mut().expect("built");
                    world.outside_at(
                        world.now(),
                        Out::Answer {
                            writer,
                            token: d.token,
                            result: Hresult::Ok,
                        },
                    );
                    continue;
                }
                let msg = super::writers::event_message(self, writer, &d);
                self.awaiting.insert(d.token, writer);
                self.send(conn, &msg);
            }
        }
    }

    /// Carries out one request (or sends its refusal).
    fn handle(&mut self, conn: ConnId, item: Item) {
        let map = match item {
            Item::Refused(id, r) => {
                self.reply(conn, &id, Err(r));
                return;
            }
            Item::Request(m) => m,
        };
        let id = map.get("id").cloned().unwrap_or(Value::Null);
        let op = match map.get("op") {
            Some(Value::String(s)) => s.clone(),
            Some(_) => {
                let r = Refusal::field("op", "\"op\" must be a string naming the request");
                self.reply(conn, &id, Err(r));
                return;
            }
            None => {
                let r = Refusal::field("op", "the request has no \"op\"; see docs/protocol.md");
                self.reply(conn, &id, Err(r));
                return;
            }
        };
        let mut args = Args::new(&op, &map);
        match ops::dispatch(self, conn, &id, &op, &mut args) {
            Ok(Some(result)) => self.reply(conn, &id, Ok(result)),
            Ok(None) => {}
            Err(r) => self.reply(conn, &id, Err(r)),
        }
    }

    /// Starts shutting down for request `id` of `conn`: every session goes away.
    pub(crate) fn shutdown(&mut self, conn: ConnId, id: Value) {
        let reqs: Vec<RequesterId> = self.conns.values().filter_map(|c| c.requester).collect();
        let world = self.world_mut();
        for r in reqs {
            world.outside_go_away(r);
        }
        for c in self.conns.values_mut() {
            c.requester = None;
        }
        // Client writers stop answering too: a client that waits on nothing would never read
        // its events, and the server must end.
        for conn in self.client_writers.values_mut() {
            *conn = None;
        }
        self.awaiting.clear();
        let limit = self.world_mut().now() + Duration::from_secs(60);
        self.run_to(conn, id, Goal::Shutdown(limit));
    }
}

/// A served run has no time or step limit of its own: it goes on while clients drive it.
fn lift_limits(scenario: &mut Scenario) {
    scenario.max_virtual_time = Duration::from_secs(100 * 365 * 24 * 3600);
    scenario.max_steps = u64::MAX;
}

/// A client requester slot: a requester that does nothing by itself.
fn slot_spec(scenario: &Scenario, n: usize) -> RequesterSpec {
    RequesterSpec {
        name: format!("client-{n}"),
        context: model::vss::SnapshotContext::Backup,
        volumes: (0..scenario.volumes.len()).collect(),
        start: Duration::ZERO,
        read_bandwidth: 200_000_000,
        go_away_at: None,
        repeat: 0,
        policy: Default::default(),
        script: None,
        script_names: Vec::new(),
        flaw: None,
    }
}

fn ended_message(e: EndReason) -> String {
    format!("the simulation has ended ({e:?}); start a new server to go on")
}

/// A line as a request, or the refusal to send for it.
fn parse_line(line: &str) -> Item {
    let value: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => {
            return Item::Refused(
                Value::Null,
                Refusal::new(
                    "parse",
                    format!("the line is not JSON ({e}); send one JSON object per line"),
                ),
            );
        }
    };
    let Value::Object(map) = value else {
        return Item::Refused(
            Value::Null,
            Refusal::new(
                "parse",
                "the line is JSON but not an object; send {\"v\": 1, ...}",
            ),
        );
    };
    let id = map.get("id").cloned().unwrap_or(Value::Null);
    if !(id.is_null() || id.is_string() || id.is_u64() || id.is_i64()) {
        return Item::Refused(
            Value::Null,
            Refusal::field("id", "\"id\" must be an integer or a string"),
        );
    }
    match map.get("v") {
        Some(v) if v.as_u64() == Some(PROTOCOL_VERSION) => Item::Request(map),
        Some(v) => Item::Refused(
            id,
            Refusal::new(
                "version",
                format!("protocol version {v} is not spoken here; this server speaks \"v\": 1"),
            ),
        ),
        None => Item::Refused(
            id,
            Refusal::new("version", "the request has no \"v\"; send \"v\": 1"),
        ),
    }
}
