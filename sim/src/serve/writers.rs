//! Writers implemented by clients (registration, their events, their answers) and faults
//! injected from outside.

use model::ids::{ProviderId, RequesterId, WriterId};
use model::provider::ProviderFault;
use model::time::Duration;
use model::vss::{ApplicationLevel, Hresult, ProviderCall, UsageType, WriterEvent};
use model::writer::{FaultAction, WriterFault};
use serde_json::{Value, json};

use super::args::{Args, Refusal};
use super::ops::{machine, names, now_us, same_volume, started, writer_named};
use super::service::{ConnId, Service};
use crate::api::{Metadata, Registration};
use crate::guest::mailbox::{Delivery, Out};

pub(crate) fn register_writer(
    s: &mut Service,
    conn: ConnId,
    a: &mut Args<'_>,
) -> Result<Value, Refusal> {
    let name = a.str("name")?.to_string();
    let usage = match a.opt_str("usage")? {
        None => UsageType::UserData,
        Some(n) => UsageType::from_name(n).ok_or_else(|| {
            Refusal::field("usage", format!("one of {}", UsageType::NAMES.join(", ")))
        })?,
    };
    let level = match a.opt_str("level")? {
        None => ApplicationLevel::BackEnd,
        Some(n) => ApplicationLevel::from_name(n).ok_or_else(|| {
            Refusal::field(
                "level",
                format!("one of {}", ApplicationLevel::NAMES.join(", ")),
            )
        })?,
    };
    let class_id = match a.opt_str("class_id")? {
        None => None,
        Some(g) => Some(model::ids::Guid::parse(g).ok_or_else(|| {
            Refusal::field(
                "class_id",
                format!("register_writer: {g:?} is not a GUID like {{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}}"),
            )
        })?),
    };
    let timeout = a.opt_u64("timeout_freeze_us")?;
    if let Some(us) = timeout.filter(|us| *us > crate::units::MAX_DURATION_US) {
        return Err(Refusal::field(
            "timeout_freeze_us",
            format!(
                "register_writer: timeout_freeze_us {us} is more than the longest duration, \
                 {} us",
                crate::units::MAX_DURATION_US
            ),
        ));
    }
    let comps = a.opt_array("components")?;
    a.finish()?;
    if s.world().is_some() {
        return Err(Refusal::new(
            "state",
            "writers subscribe when the service starts, and it has: register every writer \
             before the first request that moves the world (any call, advance, list, …)",
        ));
    }
    let volume_names: Vec<String> = s.scenario.volumes.iter().map(|v| v.name.clone()).collect();
    let mut md = Metadata {
        volume_names: volume_names.clone(),
        ..Metadata::default()
    };
    for c in comps.into_iter().flatten() {
        let bad = || {
            Refusal::field(
                "components",
                "components: [{\"name\": …, \"volumes\": […]}]",
            )
        };
        let cname = c.get("name").and_then(Value::as_str).ok_or_else(bad)?;
        let path = c.get("logical_path").and_then(Value::as_str).unwrap_or("");
        let vols = c.get("volumes").and_then(Value::as_array).ok_or_else(bad)?;
        let mut vs = Vec::new();
        for v in vols {
            let v = v.as_str().ok_or_else(bad)?;
            let known = volume_names.iter().find(|n| same_volume(n, v));
            match known {
                Some(n) => vs.push(n.clone()),
                None => {
                    return Err(Refusal::field(
                        "components",
                        format!(
                            "component {cname:?}: no volume {v:?} on this machine; it has {}",
                            volume_names.join(", ")
                        ),
                    ));
                }
            }
        }
        let refs: Vec<&str> = vs.iter().map(String::as_str).collect();
        md.add_component(cname, path, &refs);
    }
    let mut reg = Registration::new(&name).usage(usage).level(level);
    if let Some(us) = timeout {
        reg = reg.timeout_freeze(Duration::from_us(us));
    }
    let taken = s.scenario.writers.iter().position(|w| w.name == name);
    if taken.is_some_and(|i| s.client_writers.contains_key(&i)) {
        return Err(Refusal::new(
            "state",
            format!("writer {name:?} is registered already; give each writer its own name"),
        ));
    }
    // Bound on a copy: a writer that does not fit leaves the machine as it was.
    let mut scenario = s.scenario.clone();
    let idx = crate::harness::bind_writer(&mut scenario, &reg, &md);
    // A writer's class id is its kind's, the same on every machine (`CVssWriter::Initialize`
    // is given it): the one registered, else the scenario writer's, else one named after it.
    let spec = &mut scenario.writers[idx];
    spec.class_id = class_id.or(spec.class_id).or_else(|| Some(class_of(&name)));
    s.scenario = scenario.check().map_err(|e| {
        Refusal::field(
            "name",
            format!("register_writer: the writer does not fit the machine: {e}"),
        )
    })?;
    s.client_writers.insert(idx, Some(conn));
    if let Some(c) = s.conns.get_mut(&conn) {
        c.writers.push(WriterId::from_index(idx));
    }
    let m = machine(s);
    let info = &m.writers[idx];
    Ok(json!({
        "writer": info.name,
        "instance_id": info.instance_id.to_string(),
        "class_id": info.class_id.to_string(),
    }))
}

/// A class id of its own for a writer named `name`: the first 16 bytes of SHA-256 over the name,
/// as a version-4-shaped GUID, so one writer name is one class on every run and seed.
fn class_of(name: &str) -> model::ids::Guid {
    use sha2::Digest;
    let h = sha2::Sha256::digest(format!("vss-sim writer class {name}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    model::ids::Guid::from_random_bytes(b)
}

/// The message that hands a client writer its event.
pub(crate) fn event_message(s: &Service, writer: WriterId, d: &Delivery) -> Value {
    let m = machine(s);
    let info = &m.writers[writer.idx()];
    json!({
        "v": 1,
        "event": "writer_event",
        "writer": info.name,
        "token": d.token,
        "name": d.event.name(),
        "now_us": now_us(s),
        "volumes": d.set_volumes.iter().map(|v| m.volumes[v.idx()].name.clone()).collect::<Vec<_>>(),
        "components": d.selected.iter().filter_map(|&i| info.components.get(usize::from(i)).map(|c| c.name.clone())).collect::<Vec<_>>(),
    })
}

pub(crate) fn answer(s: &mut Service, conn: ConnId, a: &mut Args<'_>) -> Result<Value, Refusal> {
    let wname = a.str("writer")?;
    let token = a.u64("token")?;
    let result = match a.opt_str("result")? {
        None => Hresult::Ok,
        Some(n) => Hresult::from_name(n)
            .ok_or_else(|| Refusal::field("result", format!("{n:?} is not an HRESULT name")))?,
    };
    let after_us = a.opt_u64("after_us")?;
    let hang = a.bool_or("hang", false)?;
    let app = a.opt_str("application")?;
    a.finish()?;
    if after_us.is_some_and(|us| us > 3_600_000_000) {
        return Err(Refusal::field(
            "after_us",
            "answer: a handler takes at most a virtual hour here; one that never returns \
             answers hang: true",
        ));
    }
    if hang && after_us.is_some() {
        return Err(Refusal::field(
            "hang",
            "answer: a handler either takes after_us or hangs (hang: true); give one",
        ));
    }
    let after = after_us.unwrap_or(0);
    let frozen = match app {
        None => None,
        Some("freeze") => Some(true),
        Some("thaw") => Some(false),
        Some(x) => {
            return Err(Refusal::field(
                "application",
                format!("application: \"freeze\" or \"thaw\", not {x:?}"),
            ));
        }
    };
    let m = machine(s);
    let w = writer_named(&m, wname, "writer")?;
    if s.client_writers.get(&w.idx()) != Some(&Some(conn)) {
        return Err(Refusal::new(
            "state",
            format!("writer {wname:?} is not implemented by this connection"),
        ));
    }
    if s.awaiting.get(&token) != Some(&w) {
        return Err(Refusal::new(
            "state",
            format!("no event with token {token} waits for writer {wname:?}'s answer"),
        ));
    }
    s.awaiting.remove(&token);
    let world = s.world_mut();
    let at = world.now() + Duration::from_us(after);
    if let Some(frozen) = frozen {
        world.outside_at(
            at,
            Out::App {
                writer: w,
                token,
                frozen,
            },
        );
    }
    if !hang {
        world.outside_at(
            at,
            Out::Answer {
                writer: w,
                token,
                result,
            },
        );
    }
    Ok(json!({}))
}

fn action(f: &Value, what: &str) -> Result<FaultAction, Refusal> {
    let bad = |m: String| Refusal::field("fault", m);
    if let Some(n) = f.get("fail").and_then(Value::as_str) {
        let h =
            Hresult::from_name(n).ok_or_else(|| bad(format!("{n:?} is not an HRESULT name")))?;
        return Ok(FaultAction::Fail(h));
    }
    if f.get("hang").and_then(Value::as_bool) == Some(true) {
        return Ok(FaultAction::Hang);
    }
    if let Some(d) = f.get("delay").and_then(Value::as_str) {
        let d = crate::units::parse_duration(d).map_err(|e| bad(format!("delay: {e}")))?;
        return Ok(FaultAction::Delay(d));
    }
    Err(bad(format!(
        "a {what} fault says what happens: \"fail\": HRESULT, \"hang\": true or \"delay\": \"2s\""
    )))
}

pub(crate) fn inject(s: &mut Service, a: &mut Args<'_>) -> Result<Value, Refusal> {
    let f = a.value("fault")?.clone();
    a.finish()?;
    let bad = |m: String| Refusal::field("fault", m);
    if !f.is_object() {
        return Err(bad("fault: an object, as a scenario's fault entry".into()));
    }
    let limit = |key: &str| -> Result<Option<u32>, Refusal> {
        match f.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| Refusal::field("fault", format!("{key}: a count"))),
        }
    };
    started(s)?;
    let m = machine(s);
    if let Some(wname) = f.get("writer").and_then(Value::as_str) {
        let w = writer_named(&m, wname, "fault")?;
        let e = f.get("event").and_then(Value::as_str).unwrap_or("");
        let event = WriterEvent::from_name(e)
            .ok_or_else(|| bad(format!("event: one of {}", WriterEvent::NAMES.join(", "))))?;
        let fault = WriterFault {
            event,
            action: action(&f, "writer")?,
            sessions: limit("sessions")?,
        };
        if s.client_writers.contains_key(&w.idx()) {
            return Err(bad(format!(
                "writer {wname:?} is a client's: its client answers for it (answer with a \
                 failure, or hang: true)"
            )));
        }
        s.world_mut().inject_writer_fault(w, fault);
        return Ok(json!({}));
    }
    if let Some(pname) = f.get("provider").and_then(Value::as_str) {
        let p = if pname.eq_ignore_ascii_case("system") {
            Some(0)
        } else {
            m.providers.iter().position(|p| p.name == pname)
        }
        .ok_or_else(|| {
            bad(format!(
                "no provider {pname:?}; it has system, {}",
                names(m.providers.iter().skip(1).map(|p| &p.name))
            ))
        })?;
        let c = f.get("call").and_then(Value::as_str).unwrap_or("");
        let call = ProviderCall::from_name(c)
            .ok_or_else(|| bad(format!("call: one of {}", ProviderCall::NAMES.join(", "))))?;
        let fault = ProviderFault {
            call,
            action: action(&f, "provider")?,
            times: limit("times")?,
        };
        s.world_mut()
            .inject_provider_fault(ProviderId::from_index(p), fault);
        return Ok(json!({}));
    }
    if let Some(rname) = f.get("go_away").and_then(Value::as_str) {
        let i = s
            .scenario
            .requesters
            .iter()
            .position(|r| r.name == rname)
            .ok_or_else(|| {
                bad(format!(
                    "no requester {rname:?}; it has {}",
                    names(s.scenario.requesters.iter().map(|r| &r.name))
                ))
            })?;
        s.world_mut().outside_go_away(RequesterId::from_index(i));
        return Ok(json!({}));
    }
    Err(bad(
        "fault: name a \"writer\", a \"provider\" or a \"go_away\" requester".into(),
    ))
}
