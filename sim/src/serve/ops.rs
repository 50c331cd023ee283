//! Every request kind of the protocol (docs/protocol.md): its arguments, what it does to the
//! world, and its result.

use model::api::{ApiCall, ApiCallKind, ComponentRef, ProviderArg, ReplyData};
use model::ids::{Guid, ProviderId, RequesterId, SnapshotId, VolumeId, WriterId};
use model::machine::Machine;
use model::time::Duration;
use model::vss::{BackupType, Hresult, ObjectType, SnapshotContext};
use serde_json::{Value, json};

use super::args::{Args, Refusal};
use super::service::{ConnId, Goal, Service};
use super::views::{
    hello, list, snapshot_json, violations, vssadmin_text, writer_metadata, writer_status,
};
use super::writers::{answer, inject, register_writer};
use crate::guest::mailbox::Out;

/// Every request kind, in the order docs/protocol.md lists them.
pub const OPS: &[&str] = &[
    "create_backup_components",
    "release",
    "initialize_for_backup",
    "set_context",
    "set_backup_state",
    "gather_writer_metadata",
    "writer_metadata",
    "add_component",
    "start_snapshot_set",
    "add_to_snapshot_set",
    "prepare_for_backup",
    "do_snapshot_set",
    "gather_writer_status",
    "writer_status",
    "set_backup_succeeded",
    "backup_complete",
    "abort_backup",
    "is_volume_supported",
    "get_snapshot_properties",
    "query",
    "delete_snapshots",
    "disable_writer_classes",
    "enable_writer_classes",
    "read_shadow",
    "read_blocks",
    "wait",
    "query_status",
    "cancel",
    "register_writer",
    "answer",
    "hello",
    "now",
    "advance",
    "run_until_idle",
    "inject",
    "violations",
    "list",
    "vssadmin",
    "trace_digest",
    "shutdown",
];

/// The most blocks one `read_blocks` reads.
pub(crate) const MAX_READ_BLOCKS: u64 = crate::api::MAX_READ_BLOCKS;

/// Virtual time a call or an operation without a timeout may take before the server gives up
/// waiting for it: one hour.
const WAIT_CAP: Duration = Duration::from_secs(3600);

/// The most virtual time one `advance`, `run_until_idle` or `wait` may ask for: a busy world
/// takes wall time for every virtual second, so a request for years would hold the server for
/// as long as it took.
const MAX_RUN_US: u64 = WAIT_CAP.as_us();

/// A virtual-time argument, at most [`MAX_RUN_US`].
fn run_us(a: &mut Args<'_>, field: &'static str, op: &str) -> Result<Option<u64>, Refusal> {
    match a.opt_u64(field)? {
        Some(us) if us > MAX_RUN_US => Err(Refusal::field(
            field,
            format!(
                "{op}: {field} {us} is more than one virtual hour ({MAX_RUN_US} us); ask for \
                 at most that and repeat the request to go further"
            ),
        )),
        other => Ok(other),
    }
}

/// What a call's reply becomes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Post {
    /// Its HRESULT.
    Plain,
    /// An accepted asynchronous call: its operation.
    Async,
    /// `StartSnapshotSet`.
    SnapshotSet,
    /// `AddToSnapshotSet`.
    Snapshot,
    /// `IsVolumeSupported`.
    Supported,
    /// `GetSnapshotProperties` (one) or `Query` (a list).
    Props { one: bool },
    /// `DeleteSnapshots`.
    Deleted,
    /// `Release`: nothing.
    Release,
    /// `IVssAsync::Cancel`: its HRESULT, failure or not.
    Cancel,
}

type Handled = Result<Option<Value>, Refusal>;

/// Carries out request `op`: `Some` is the result to reply with now, `None` a request that
/// runs the world and replies when its goal is met.
pub(crate) fn dispatch(
    s: &mut Service,
    conn: ConnId,
    id: &Value,
    op: &str,
    a: &mut Args<'_>,
) -> Handled {
    let call = |c: ApiCall| (c, Post::Plain);
    match op {
        "hello" => {
            a.opt_str("client")?;
            a.finish()?;
            Ok(Some(hello(s)))
        }
        "register_writer" => register_writer(s, conn, a).map(Some),
        "now" => {
            a.finish()?;
            Ok(Some(json!({"now_us": now_us(s)})))
        }
        "advance" => {
            let us = run_us(a, "us", "advance")?.ok_or_else(|| {
                Refusal::field("us", "advance: argument \"us\" (an integer) is missing")
            })?;
            a.finish()?;
            let w = started(s)?;
            let t = w.now() + Duration::from_us(us);
            s.run_to(conn, id.clone(), Goal::Until(t));
            Ok(None)
        }
        "run_until_idle" => {
            let max = run_us(a, "max_us", "run_until_idle")?;
            a.finish()?;
            let w = started(s)?;
            let t = w.now() + max.map_or(WAIT_CAP, Duration::from_us);
            s.run_to(conn, id.clone(), Goal::Quiet(t));
            Ok(None)
        }
        "inject" => inject(s, a).map(Some),
        "violations" => {
            a.finish()?;
            Ok(Some(violations(s)))
        }
        "list" => list(s, a).map(Some),
        "vssadmin" => vssadmin_text(s, a).map(Some),
        "trace_digest" => {
            a.finish()?;
            let w = s.world_mut();
            Ok(Some(json!({
                "sha256": w.rec.trace.digest_so_far().unwrap_or_default(),
                "records": w.rec.trace.len(),
            })))
        }
        "shutdown" => {
            a.finish()?;
            s.shutdown(conn, id.clone());
            Ok(None)
        }
        "create_backup_components" => {
            a.finish()?;
            create(s, conn).map(Some)
        }
        "release" => {
            let r = object(s, conn, a)?;
            a.finish()?;
            if let Some(c) = s.conns.get_mut(&conn) {
                c.object = None;
            }
            s.mail().req(r).object_gone();
            start_call(s, conn, id, r, ApiCall::Release, Post::Release)
        }
        "initialize_for_backup" => simple(s, conn, id, a, call(ApiCall::InitializeForBackup)),
        "set_context" => {
            let r = object(s, conn, a)?;
            let ctx = match a.value("context")? {
                Value::String(n) => SnapshotContext::from_name(n),
                v => v
                    .as_u64()
                    .and_then(|c| u32::try_from(c).ok())
                    .and_then(SnapshotContext::from_code),
            }
            .ok_or_else(|| {
                Refusal::field(
                    "context",
                    format!(
                        "set_context: not a context; one of {}",
                        SnapshotContext::NAMES.join(", ")
                    ),
                )
            })?;
            a.finish()?;
            start_call(s, conn, id, r, ApiCall::SetContext(ctx), Post::Plain)
        }
        "set_backup_state" => {
            let r = object(s, conn, a)?;
            let select_components = a.bool_or("select_components", true)?;
            let bootable_system_state = a.bool_or("bootable_system_state", false)?;
            let backup_type = match a.opt_str("backup_type")? {
                None => BackupType::Full,
                Some(n) => BackupType::from_name(n).ok_or_else(|| {
                    Refusal::field(
                        "backup_type",
                        format!("not a backup type; one of {}", BackupType::NAMES.join(", ")),
                    )
                })?,
            };
            let partial_file_support = a.bool_or("partial_file_support", false)?;
            a.finish()?;
            let c = ApiCall::SetBackupState {
                select_components,
                bootable_system_state,
                backup_type,
                partial_file_support,
            };
            start_call(s, conn, id, r, c, Post::Plain)
        }
        "gather_writer_metadata" => {
            simple(s, conn, id, a, (ApiCall::GatherWriterMetadata, Post::Async))
        }
        "prepare_for_backup" => simple(s, conn, id, a, (ApiCall::PrepareForBackup, Post::Async)),
        "do_snapshot_set" => simple(s, conn, id, a, (ApiCall::DoSnapshotSet, Post::Async)),
        "gather_writer_status" => {
            simple(s, conn, id, a, (ApiCall::GatherWriterStatus, Post::Async))
        }
        "backup_complete" => simple(s, conn, id, a, (ApiCall::BackupComplete, Post::Async)),
        "abort_backup" => simple(s, conn, id, a, call(ApiCall::AbortBackup)),
        "query" => simple(s, conn, id, a, (ApiCall::Query, Post::Props { one: false })),
        "start_snapshot_set" => simple(
            s,
            conn,
            id,
            a,
            (
                ApiCall::StartSnapshotSet { new_id: Guid(0) },
                Post::SnapshotSet,
            ),
        ),
        "writer_metadata" => {
            let r = object(s, conn, a)?;
            a.finish()?;
            Ok(Some(writer_metadata(s, r)))
        }
        "writer_status" => {
            let r = object(s, conn, a)?;
            a.finish()?;
            Ok(Some(writer_status(s, r)))
        }
        "add_component" | "set_backup_succeeded" => {
            let r = object(s, conn, a)?;
            let m = machine(s);
            let wname = a.str("writer")?;
            let cname = a.str("component")?;
            let succeeded = if op == "set_backup_succeeded" {
                Some(a.bool("succeeded")?)
            } else {
                None
            };
            a.finish()?;
            // A writer or component the machine does not have is the service's to refuse,
            // as VSS does (`VSS_E_OBJECT_NOT_FOUND`).
            let component = m.writers.iter().enumerate().find_map(|(w, info)| {
                let i = info.components.iter().position(|c| c.name == cname)?;
                (info.name == wname).then(|| ComponentRef {
                    writer: WriterId::from_index(w),
                    idx: u16::try_from(i).unwrap_or(u16::MAX),
                })
            });
            let c = match (succeeded, component) {
                (None, component) => ApiCall::AddComponent(component),
                (Some(succeeded), Some(component)) => ApiCall::SetBackupSucceeded {
                    component,
                    succeeded,
                },
                (Some(_), None) => {
                    return Err(Refusal::hresult(
                        "SetBackupSucceeded",
                        Hresult::ObjectNotFound,
                    ));
                }
            };
            start_call(s, conn, id, r, c, Post::Plain)
        }
        "add_to_snapshot_set" | "is_volume_supported" => {
            let r = object(s, conn, a)?;
            let m = machine(s);
            let volume = volume_named(&m, a.str("volume")?);
            let provider = provider_arg(&m, a.opt_str("provider")?)?;
            a.finish()?;
            let (c, post) = if op == "add_to_snapshot_set" {
                let c = ApiCall::AddToSnapshotSet {
                    volume,
                    provider,
                    new_id: Guid(0),
                };
                (c, Post::Snapshot)
            } else {
                (
                    ApiCall::IsVolumeSupported { provider, volume },
                    Post::Supported,
                )
            };
            start_call(s, conn, id, r, c, post)
        }
        "get_snapshot_properties" => {
            let r = object(s, conn, a)?;
            let snap = guid(a.str("snapshot_id")?, "snapshot_id")?;
            a.finish()?;
            let c = ApiCall::GetSnapshotProperties(snap);
            start_call(s, conn, id, r, c, Post::Props { one: true })
        }
        "delete_snapshots" => {
            let r = object(s, conn, a)?;
            let source = guid(a.str("source")?, "source")?;
            let object = match a.opt_str("object_type")? {
                None => ObjectType::Snapshot,
                Some(n) => ObjectType::from_name(n).ok_or_else(|| {
                    Refusal::field(
                        "object_type",
                        "object_type: VSS_OBJECT_SNAPSHOT or VSS_OBJECT_SNAPSHOT_SET",
                    )
                })?,
            };
            let force = a.bool_or("force", false)?;
            a.finish()?;
            let c = ApiCall::DeleteSnapshots {
                source,
                object,
                force,
            };
            start_call(s, conn, id, r, c, Post::Deleted)
        }
        "disable_writer_classes" | "enable_writer_classes" => {
            let r = object(s, conn, a)?;
            let list = a.array("classes")?;
            let mut classes = Vec::new();
            for v in list {
                let g = v
                    .as_str()
                    .and_then(Guid::parse)
                    .ok_or_else(|| Refusal::field("classes", "classes: a list of GUID strings"))?;
                classes.push(g);
            }
            a.finish()?;
            let c = if op == "disable_writer_classes" {
                ApiCall::DisableWriterClasses(classes)
            } else {
                ApiCall::EnableWriterClasses(classes)
            };
            start_call(s, conn, id, r, c, Post::Plain)
        }
        "read_shadow" | "read_blocks" => read(s, conn, id, op, a),
        "wait" => {
            let (r, op_n, _) = async_named(s, conn, a)?;
            let timeout = run_us(a, "timeout_us", "wait")?;
            a.finish()?;
            let w = started(s)?;
            let deadline = w.now() + timeout.map_or(WAIT_CAP, Duration::from_us);
            let goal = Goal::OpEnd {
                requester: r,
                op: op_n,
                deadline,
            };
            s.run_to(conn, id.clone(), goal);
            Ok(None)
        }
        "query_status" => {
            let (r, op_n, _) = async_named(s, conn, a)?;
            a.finish()?;
            Ok(Some(json!({"hresult": op_status(s, r, op_n).name()})))
        }
        "cancel" => {
            let (r, op_n, generation) = async_named(s, conn, a)?;
            a.finish()?;
            let running = {
                let mut m = s.mail();
                let b = m.req(r);
                let newest_open = b
                    .ops
                    .iter()
                    .rev()
                    .find(|o| o.object == generation && o.end.is_none())
                    .map(|o| o.number);
                match b.ops.iter().find(|o| o.number == op_n) {
                    None => Err(Hresult::AsyncCancelled),
                    Some(o) => match &o.end {
                        Some((_, h, _)) => Err(*h),
                        None => Ok(b.object == generation && newest_open == Some(op_n)),
                    },
                }
            };
            match running {
                Err(h) => Ok(Some(json!({"hresult": h.name()}))),
                Ok(false) => Ok(Some(json!({"hresult": Hresult::AsyncCancelled.name()}))),
                Ok(true) => start_call(s, conn, id, r, ApiCall::Cancel, Post::Cancel),
            }
        }
        "answer" => answer(s, conn, a).map(Some),
        other => Err(Refusal::new(
            "unknown_op",
            match crate::scenario::suggest::closest(other, OPS.iter().copied()).first() {
                Some(near) => format!("no request {other:?}; did you mean {near:?}?"),
                None => format!("no request {other:?}; see docs/protocol.md for the list"),
            },
        )),
    }
}

pub(crate) fn now_us(s: &Service) -> u64 {
    s.world().map_or(0, |w| w.now().as_us())
}

/// The world, started; refused once the run has ended.
pub(crate) fn started(s: &mut Service) -> Result<&mut crate::world::World, Refusal> {
    let w = s.world_mut();
    match w.ended() {
        Some(e) => Err(Refusal::new(
            "ended",
            format!("the simulation has ended ({e:?}); start a new server to go on"),
        )),
        None => Ok(w),
    }
}

/// The machine as the service describes it (before the world starts, as it will be).
pub(crate) fn machine(s: &Service) -> Machine {
    match s.world() {
        Some(w) => w.coordinator().machine().clone(),
        None => crate::world::machine_of(&s.scenario, s.seed),
    }
}

pub(crate) fn names<'a>(it: impl Iterator<Item = &'a String>) -> String {
    let v: Vec<&str> = it.map(String::as_str).collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// `C:\` and `C:` name the same volume; case does not matter.
pub(crate) fn same_volume(a: &str, b: &str) -> bool {
    a.trim_end_matches('\\')
        .eq_ignore_ascii_case(b.trim_end_matches('\\'))
}

/// The volume called `name`; `None` is a volume the machine does not have (the service answers
/// for it, as it would for a wrong name on Windows).
fn volume_named(m: &Machine, name: &str) -> Option<VolumeId> {
    m.volumes
        .iter()
        .position(|v| same_volume(&v.name, name))
        .map(VolumeId::from_index)
}

pub(crate) fn writer_named(m: &Machine, name: &str, field: &str) -> Result<WriterId, Refusal> {
    m.writers
        .iter()
        .position(|w| w.name == name)
        .map(WriterId::from_index)
        .ok_or_else(|| {
            Refusal::field(
                field,
                format!(
                    "no writer {name:?} on this machine; it has {}",
                    names(m.writers.iter().map(|w| &w.name))
                ),
            )
        })
}

fn guid(s: &str, field: &str) -> Result<Guid, Refusal> {
    Guid::parse(s).ok_or_else(|| {
        Refusal::field(
            field,
            format!("{field}: {s:?} is not a GUID; write {{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}}"),
        )
    })
}

fn provider_arg(m: &Machine, p: Option<&str>) -> Result<ProviderArg, Refusal> {
    let Some(p) = p else {
        return Ok(ProviderArg::Any);
    };
    let g = guid(p, "provider")?;
    if g == Guid::NULL {
        return Ok(ProviderArg::Any);
    }
    Ok(match m.providers.iter().position(|x| x.id == g) {
        Some(i) => ProviderArg::Registered(ProviderId::from_index(i)),
        None => ProviderArg::Unregistered(g),
    })
}

/// The connection's requester, if `object` names its current object.
fn object(s: &mut Service, conn: ConnId, a: &mut Args<'_>) -> Result<RequesterId, Refusal> {
    let name = a.str("object")?;
    let c = s.conns.get(&conn).expect("a live connection");
    match (&c.object, c.requester) {
        (Some((n, _)), Some(r)) if n == name => {
            if s.world().is_some_and(|w| w.requester_gone(r)) {
                return Err(Refusal::new(
                    "no_object",
                    format!(
                        "{name} is gone: its requester process went away (rule 27); call \
                         create_backup_components for a new object"
                    ),
                ));
            }
            Ok(r)
        }
        (Some((n, _)), _) => Err(Refusal::new(
            "no_object",
            format!("{name:?} is not this connection's object; its current object is {n:?}"),
        )),
        (None, _) => Err(Refusal::new(
            "no_object",
            format!(
                "{name:?} is not an object of this connection (released, or never made); call \
                 create_backup_components first"
            ),
        )),
    }
}

/// A call that takes only `object`.
fn simple(
    s: &mut Service,
    conn: ConnId,
    id: &Value,
    a: &mut Args<'_>,
    (c, post): (ApiCall, Post),
) -> Handled {
    let r = object(s, conn, a)?;
    a.finish()?;
    start_call(s, conn, id, r, c, post)
}

/// Makes call `c` for requester `r` now; the reply comes when the service answers.
fn start_call(
    s: &mut Service,
    conn: ConnId,
    id: &Value,
    r: RequesterId,
    c: ApiCall,
    post: Post,
) -> Handled {
    started(s)?;
    let seq = s.mail().req(r).call_made(false);
    let w = s.world_mut();
    if let Some(e) = w.outside_now(Out::Call {
        requester: r,
        call: c,
    }) {
        return Err(Refusal::new(
            "ended",
            format!("the simulation has ended ({e:?})"),
        ));
    }
    s.run_to(
        conn,
        id.clone(),
        Goal::Reply {
            requester: r,
            seq,
            post,
        },
    );
    Ok(None)
}

fn create(s: &mut Service, conn: ConnId) -> Result<Value, Refusal> {
    started(s)?;
    let gone = |s: &Service, r: RequesterId| s.world().is_some_and(|w| w.requester_gone(r));
    let r = match s.conns[&conn].requester {
        Some(r) if !gone(s, r) => r,
        // A requester whose process went away (an injected go_away) is never back: the
        // connection is a new process, with the next slot.
        _ => {
            if s.slots_taken >= s.n_slots {
                return Err(Refusal::new(
                    "state",
                    format!(
                        "every requester slot is taken ({} in all); start the server with \
                         --clients N for more",
                        s.n_slots
                    ),
                ));
            }
            let r = RequesterId::from_index(s.first_slot + s.slots_taken);
            s.slots_taken += 1;
            let c = s.conns.get_mut(&conn).expect("live");
            c.requester = Some(r);
            // Operation numbers are the old requester's: its asyncs name nothing of this one.
            c.asyncs.clear();
            r
        }
    };
    let (first, generation) = {
        let mut m = s.mail();
        let b = m.req(r);
        let first = !b.has_object;
        if !first {
            // The earlier object goes away (rule 27).
            b.object_gone();
        }
        b.has_object = true;
        b.object += 1;
        (first, b.object)
    };
    if !first {
        s.world_mut().outside_now(Out::NewObject { requester: r });
    }
    let name = format!("bc-{}", s.next_object);
    s.next_object += 1;
    s.conns.get_mut(&conn).expect("live").object = Some((name.clone(), generation));
    Ok(json!({"object": name}))
}

/// The asynchronous operation `async` names: requester, operation number, object generation.
fn async_named(
    s: &mut Service,
    conn: ConnId,
    a: &mut Args<'_>,
) -> Result<(RequesterId, u64, u32), Refusal> {
    let name = a.str("async")?;
    let c = &s.conns[&conn];
    match (c.asyncs.get(name), c.requester) {
        (Some(&(op, generation)), Some(r)) => Ok((r, op, generation)),
        _ => Err(Refusal::new(
            "no_async",
            format!("{name:?} is not an asynchronous operation of this connection"),
        )),
    }
}

fn op_status(s: &Service, r: RequesterId, op: u64) -> Hresult {
    let mut m = s.mail();
    match m.req(r).ops.iter().find(|o| o.number == op) {
        Some(o) => o.end.as_ref().map_or(Hresult::AsyncPending, |(_, h, _)| *h),
        None => Hresult::AsyncCancelled,
    }
}

fn read(s: &mut Service, conn: ConnId, id: &Value, op: &str, a: &mut Args<'_>) -> Handled {
    let r = object(s, conn, a)?;
    let snapshot = guid(a.str("snapshot_id")?, "snapshot_id")?;
    let m = machine(s);
    let vname = a.str("volume")?;
    let (first, count) = if op == "read_blocks" {
        (a.u64("first")?, a.u64("count")?)
    } else {
        (0, 0)
    };
    a.finish()?;
    let Some(volume) = volume_named(&m, vname) else {
        return Err(Refusal::hresult(op, Hresult::ObjectNotFound));
    };
    started(s)?;
    if op == "read_shadow" {
        s.mail().req(r).read.arm();
        s.world_mut().outside_now(Out::Read {
            requester: r,
            volume,
            snapshot,
        });
        s.run_to(conn, id.clone(), Goal::Read(r));
    } else {
        if count == 0 || count > MAX_READ_BLOCKS {
            return Err(Refusal::hresult(op, Hresult::InvalidArg));
        }
        s.mail().req(r).blocks.arm();
        s.world_mut().outside_now(Out::ReadBlocks {
            requester: r,
            volume,
            snapshot,
            first,
            count,
        });
        let goal = Goal::Blocks {
            requester: r,
            snapshot,
            first,
            count,
        };
        s.run_to(conn, id.clone(), goal);
    }
    Ok(None)
}

/// Whether `goal` is met: its reply (`Ok(Null)`: built by [`goal_result`]).
pub(crate) fn goal_met(
    s: &mut Service,
    conn: ConnId,
    goal: &Goal,
) -> Option<Result<Value, Refusal>> {
    match goal {
        Goal::Reply {
            requester,
            seq,
            post,
        } => {
            let ((kind, h, data), op) = s.mail().req(*requester).take_reply(*seq)?;
            Some(call_result(s, conn, kind, h, data, op, *post))
        }
        Goal::OpEnd { requester, op, .. } => {
            let h = op_status(s, *requester, *op);
            (h != Hresult::AsyncPending).then(|| Ok(json!({"hresult": h.name()})))
        }
        Goal::Until(_) => None,
        Goal::Quiet(_) | Goal::Shutdown(_) => s
            .world()
            .is_some_and(|w| w.is_quiet())
            .then_some(Ok(Value::Null)),
        Goal::Read(r) => {
            let complete = s.mail().req(*r).read.take()?;
            Some(Ok(json!({"complete": complete})))
        }
        Goal::Blocks {
            requester,
            snapshot,
            first,
            count,
        } => {
            let (h, digest, held) = s.mail().req(*requester).blocks.take()?;
            if !h.is_success() {
                return Some(Err(Refusal::hresult("read_blocks", h)));
            }
            let seqs = block_seqs(s, *snapshot, *first, *count);
            Some(Ok(json!({
                "hresult": h.name(),
                "digest": format!("{digest:016x}"),
                "held": held,
                "seqs": seqs,
            })))
        }
    }
}

/// Each block's write sequence at the snapshot instant (`null`: never written).
fn block_seqs(s: &Service, snapshot: SnapshotId, first: u64, count: u64) -> Vec<Value> {
    let Some(w) = s.world() else {
        return Vec::new();
    };
    match w.store().block_seqs(snapshot, first, count) {
        Ok(v) => v
            .into_iter()
            .map(|x| x.map_or(Value::Null, |q| json!(q)))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// The result of a goal met by time passing rather than by a reply.
pub(crate) fn goal_result(s: &Service, goal: &Goal) -> Value {
    let now = now_us(s);
    match goal {
        Goal::OpEnd { requester, op, .. } => {
            json!({"hresult": op_status(s, *requester, *op).name()})
        }
        Goal::Quiet(_) => json!({"now_us": now, "idle": s.world().is_some_and(|w| w.is_quiet())}),
        _ => json!({"now_us": now}),
    }
}

fn call_result(
    s: &mut Service,
    conn: ConnId,
    kind: ApiCallKind,
    h: Hresult,
    data: ReplyData,
    op: Option<u64>,
    post: Post,
) -> Result<Value, Refusal> {
    if let Post::Cancel = post {
        return Ok(json!({"hresult": h.name()}));
    }
    if !h.is_success() {
        if let (Post::Deleted, ReplyData::Deleted { count, .. }) = (post, &data) {
            let mut r = Refusal::hresult(kind.name(), h);
            r.message = format!("{} ({count} deleted before it)", r.message);
            return Err(r);
        }
        return Err(Refusal::hresult(kind.name(), h));
    }
    let hr = h.name();
    Ok(match (post, data) {
        (Post::Release, _) => json!({}),
        (Post::Async, _) => {
            let n = op.unwrap_or(0);
            let name = format!("async-{}", s.next_async);
            s.next_async += 1;
            if let Some(c) = s.conns.get_mut(&conn) {
                let generation = c.object.as_ref().map_or(0, |(_, g)| *g);
                c.asyncs.insert(name.clone(), (n, generation));
            }
            json!({"hresult": hr, "async": name})
        }
        (Post::SnapshotSet, ReplyData::SnapshotSet(id)) => {
            json!({"hresult": hr, "snapshot_set_id": id.to_string()})
        }
        (Post::Snapshot, ReplyData::Snapshot(id)) => {
            json!({"hresult": hr, "snapshot_id": id.to_string()})
        }
        (Post::Supported, ReplyData::Supported(b)) => json!({"hresult": hr, "supported": b}),
        (Post::Props { one }, ReplyData::SnapshotProps(list)) => {
            let m = machine(s);
            let props: Vec<Value> = list.iter().map(|p| snapshot_json(&m, p)).collect();
            if one {
                json!({"hresult": hr, "snapshot": props.into_iter().next().unwrap_or(Value::Null)})
            } else {
                json!({"hresult": hr, "snapshots": props})
            }
        }
        (
            Post::Deleted,
            ReplyData::Deleted {
                count,
                first_not_deleted,
            },
        ) => json!({
            "hresult": hr,
            "deleted": count,
            "nondeleted_id": first_not_deleted.to_string(),
        }),
        _ => json!({"hresult": hr}),
    })
}
