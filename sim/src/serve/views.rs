//! The requests that read the machine without moving it: the writers' metadata and status a
//! requester gathered, `hello`, the oracles' verdicts, and the administrator's views (as data
//! and as vssadmin's bytes).

use model::api::SnapshotProp;
use model::ids::{Guid, RequesterId, WriterId};
use model::machine::Machine;
use serde_json::{Value, json};

use super::args::{Args, Refusal};
use super::ops::machine;
use super::service::Service;
use crate::report::vssadmin;

pub(crate) fn snapshot_json(m: &Machine, p: &SnapshotProp) -> Value {
    json!({
        "snapshot_id": p.id.to_string(),
        "snapshot_set_id": p.set_id.to_string(),
        "set_count": p.set_count,
        "volume": m.volumes.get(p.volume.idx()).map_or("", |v| v.name.as_str()),
        "device": p.device_object(),
        "provider_id": m.providers.get(p.provider.idx()).map_or(Guid::NULL, |x| x.id).to_string(),
        "context": p.context.name(),
        "attributes": p.attributes,
        "created_us": p.created_at.as_us(),
        "state": p.state.name(),
    })
}

pub(crate) fn writer_metadata(s: &Service, r: RequesterId) -> Value {
    let m = machine(s);
    let ids = s.mail().req(r).metadata.clone();
    let writers: Vec<Value> = ids
        .iter()
        .map(|w| {
            let info = &m.writers[w.idx()];
            json!({
                "name": info.name,
                "instance_id": info.instance_id.to_string(),
                "class_id": info.class_id.to_string(),
                "components": info.components.iter().map(|c| json!({
                    "name": c.name,
                    "logical_path": c.logical_path,
                    "volumes": c.volumes.iter().map(|v| m.volumes[v.idx()].name.clone()).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({ "writers": writers })
}

pub(crate) fn writer_status(s: &Service, r: RequesterId) -> Value {
    let m = machine(s);
    let list = s.mail().req(r).status.clone();
    let writers: Vec<Value> = list
        .iter()
        .map(|st| {
            let info = &m.writers[st.writer.idx()];
            json!({
                "name": info.name,
                "instance_id": info.instance_id.to_string(),
                "state": st.state.name(),
                "failure": st.last_error.name(),
            })
        })
        .collect();
    json!({ "writers": writers })
}

pub(crate) fn hello(s: &Service) -> Value {
    let m = machine(s);
    json!({
        "server": "vss-sim",
        "version": env!("CARGO_PKG_VERSION"),
        "protocol": super::service::PROTOCOL_VERSION,
        "seed": s.seed,
        "scenario": s.scenario.name,
        "started": s.world().is_some(),
        "clients": s.n_slots,
        "volumes": m.volumes.iter().zip(&s.scenario.volumes).map(|(v, spec)| json!({
            "name": v.name,
            "bytes": v.bytes,
            "block_size": spec.block_size,
        })).collect::<Vec<_>>(),
        "writers": m.writers.iter().map(|w| json!({
            "name": w.name,
            "instance_id": w.instance_id.to_string(),
            "class_id": w.class_id.to_string(),
        })).collect::<Vec<_>>(),
        "providers": m.providers.iter().map(|p| json!({
            "name": p.name,
            "id": p.id.to_string(),
            "type": p.kind.name(),
        })).collect::<Vec<_>>(),
    })
}

pub(crate) fn violations(s: &mut Service) -> Value {
    let w = s.world_mut();
    let rule = |name: &str| {
        crate::oracle::ALL
            .iter()
            .find(|e| e.info.name == name)
            .map_or("", |e| e.info.rule)
    };
    json!({
        "violations": w.violations().iter().map(|v| json!({
            "oracle": v.name,
            "rule": rule(v.name),
            "t_us": v.at.as_us(),
            "message": v.detail,
        })).collect::<Vec<_>>(),
        "findings": w.findings().iter().map(|f| json!({
            "name": f.name,
            "application": f.application,
            "snapshot_set_id": f.set_id.to_string(),
            "t_us": f.at.as_us(),
            "message": f.detail,
        })).collect::<Vec<_>>(),
    })
}

pub(crate) fn list(s: &mut Service, a: &mut Args<'_>) -> Result<Value, Refusal> {
    let what = a.str("what")?;
    a.finish()?;
    let object = vssadmin::Object::parse(what).ok_or_else(|| {
        Refusal::field(
            "what",
            "what: \"shadows\", \"writers\", \"providers\" or \"shadowstorage\"",
        )
    })?;
    s.world_mut();
    let w = s.world().expect("built");
    let m = w.coordinator().machine();
    let items: Vec<Value> = match object {
        vssadmin::Object::Shadows => w
            .shadow_views()
            .iter()
            .map(|x| {
                json!({
                    "snapshot_id": x.id.to_string(),
                    "snapshot_set_id": x.set_id.to_string(),
                    "volume": m.volumes[x.volume.idx()].name,
                    "device": format!("HarddiskVolumeShadowCopy{}", x.device),
                    "method": x.method.name(),
                })
            })
            .collect(),
        vssadmin::Object::Writers => m
            .writers
            .iter()
            .enumerate()
            .map(|(i, info)| {
                let (state, err) = w.coordinator().writer_status(WriterId::from_index(i));
                json!({
                    "name": info.name,
                    "instance_id": info.instance_id.to_string(),
                    "class_id": info.class_id.to_string(),
                    "state": state.name(),
                    "last_error": err.name(),
                })
            })
            .collect(),
        vssadmin::Object::Providers => m
            .providers
            .iter()
            .map(|p| json!({"name": p.name, "id": p.id.to_string(), "type": p.kind.name(), "version": p.version}))
            .collect(),
        vssadmin::Object::ShadowStorage => w
            .storage_views()
            .iter()
            .map(|v| {
                json!({
                    "volume": v.name,
                    "used_bytes": v.used_bytes,
                    "max_bytes": v.max_bytes,
                    "shadows": v.n_shadows,
                })
            })
            .collect(),
    };
    Ok(json!({ "items": items }))
}

pub(crate) fn vssadmin_text(s: &mut Service, a: &mut Args<'_>) -> Result<Value, Refusal> {
    let cmd = a.str("command")?;
    a.finish()?;
    let words: Vec<&str> = cmd.split_whitespace().collect();
    let object = match words.as_slice() {
        [l, o] if l.eq_ignore_ascii_case("list") => vssadmin::Object::parse(o),
        _ => None,
    }
    .ok_or_else(|| {
        Refusal::field(
            "command",
            "command: \"list shadows\", \"list writers\", \"list providers\" or \"list \
             shadowstorage\"",
        )
    })?;
    s.world_mut();
    let w = s.world().expect("built");
    let view = vssadmin::render(object, w, &s.scenario, false)
        .map_err(|e| Refusal::new("bad_request", e))?;
    Ok(json!({"text": view.text, "exit_code": view.exit_code()}))
}
