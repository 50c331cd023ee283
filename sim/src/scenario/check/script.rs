//! A scripted requester's steps: one call with its arguments, a sleep, a read or a go-away.

use std::collections::BTreeMap;

use model::api::ComponentRef;
use model::ids::{Guid, WriterId};
use model::vss::{BackupType, ObjectType};
use toml::Spanned;

use super::super::ctx::Ctx;
use super::super::raw::RawStep;
use super::super::suggest::did_you_mean;
use super::super::{
    CALL_NAMES, ProviderSpec, ScenarioError, StepNames, WriterSpec, canonical_volume,
};
use super::volumes::Volumes;

/// Every writer's components by (writer name, component name), built once for all steps; the
/// first of two equal names wins, as a search in declaration order would.
pub(super) struct Components<'a> {
    by_name: BTreeMap<(&'a str, &'a str), ComponentRef>,
    /// The writers, for a step that names a writer alone.
    writers: &'a [WriterSpec],
}

impl<'a> Components<'a> {
    pub(super) fn new(writers: &'a [WriterSpec]) -> Components<'a> {
        let mut by_name = BTreeMap::new();
        let mut first_writer = BTreeMap::new();
        for (wi, w) in writers.iter().enumerate() {
            // A second writer of the same name is refused earlier; a search by name finds the
            // first.
            if *first_writer.entry(w.name.as_str()).or_insert(wi) != wi {
                continue;
            }
            for (ci, c) in w.components.iter().enumerate() {
                by_name
                    .entry((w.name.as_str(), c.name.as_str()))
                    .or_insert(ComponentRef {
                        writer: WriterId::from_index(wi),
                        idx: u16::try_from(ci)
                            .expect("bounded by limits::MAX_COMPONENTS_PER_WRITER"),
                    });
            }
        }
        Components { by_name, writers }
    }

    fn find(&self, writer: &str, component: &str) -> Option<ComponentRef> {
        self.by_name.get(&(writer, component)).copied()
    }
}

/// Validates one script step. Unknown volumes, providers and components are allowed: a script
/// may name them on purpose to show `VSS_E_OBJECT_NOT_FOUND` or `VSS_E_PROVIDER_NOT_REGISTERED`.
pub(super) fn script_step(
    cx: &Ctx<'_>,
    key: &str,
    st: &Spanned<RawStep>,
    volumes: &Volumes<'_>,
    providers: &[ProviderSpec],
    components: &Components<'_>,
) -> Result<(model::requester::ScriptStep, StepNames), ScenarioError> {
    use model::api::{ApiCall, ProviderArg};
    use model::ids::{ProviderId, VolumeId};
    use model::requester::ScriptStep;
    let span = st.span();
    let s = st.get_ref();
    let vol = |name: &Spanned<String>| -> Option<VolumeId> {
        volumes.find(name.get_ref()).map(VolumeId::from_index)
    };
    let kinds = [
        s.call.is_some(),
        s.sleep.is_some(),
        s.read.is_some(),
        s.go_away == Some(true),
    ];
    if kinds.iter().filter(|k| **k).count() != 1 {
        return Err(cx.at(span, key, "a script step is exactly one of { call = \"...\" }, { sleep = \"5s\" }, { read = \"C:\" } or { go_away = true }".into()));
    }
    let given = [
        ("volume", s.volume.is_some()),
        ("provider", s.provider.is_some()),
        ("writer", s.writer.is_some()),
        ("component", s.component.is_some()),
        ("context", s.context.is_some()),
        ("select_components", s.select_components.is_some()),
        ("bootable_system_state", s.bootable_system_state.is_some()),
        ("backup_type", s.backup_type.is_some()),
        ("partial_file_support", s.partial_file_support.is_some()),
        ("succeeded", s.succeeded.is_some()),
        ("force", s.force.is_some()),
        ("wait", s.wait.is_some()),
        ("go_away", s.go_away.is_some() && s.go_away != Some(true)),
    ];
    let refuse = |what: &str, allowed: &[&str]| -> Result<(), ScenarioError> {
        match given.iter().find(|(a, g)| *g && !allowed.contains(a)) {
            None => Ok(()),
            Some((arg, _)) => Err(cx.at(
                span.clone(),
                &format!("{key}.{arg}"),
                format!(
                    "{what} takes no `{arg}`; it takes {}",
                    if allowed.is_empty() {
                        "no argument".to_string()
                    } else {
                        allowed.join(", ")
                    }
                ),
            )),
        }
    };
    if s.call.is_none() {
        refuse("a sleep, read or go_away step", &[])?;
    }
    if let Some(d) = s.sleep {
        return Ok((ScriptStep::Sleep(d.0), StepNames::default()));
    }
    if let Some(r) = &s.read {
        return match vol(r) {
            Some(v) => Ok((ScriptStep::Read(v), StepNames::default())),
            None => Err(cx.at(
                r.span(),
                &format!("{key}.read"),
                format!("no volume named {}", canonical_volume(r.get_ref())),
            )),
        };
    }
    if s.go_away == Some(true) {
        return Ok((ScriptStep::GoAway, StepNames::default()));
    }
    let call_name = s.call.as_ref().expect("checked above");
    let script_calls = &CALL_NAMES[..CALL_NAMES.len() - 1];
    if !script_calls.contains(&call_name.get_ref().as_str()) {
        return Err(cx.at(
            call_name.span(),
            &format!("{key}.call"),
            format!(
                "unknown call `{}`; {}",
                call_name.get_ref(),
                did_you_mean(call_name.get_ref(), script_calls.iter().copied())
            ),
        ));
    }
    let allowed: &[&str] = match call_name.get_ref().as_str() {
        "SetContext" => &["context"],
        "SetBackupState" => &[
            "select_components",
            "bootable_system_state",
            "backup_type",
            "partial_file_support",
        ],
        "IsVolumeSupported" => &["volume", "provider"],
        "GetSnapshotProperties" => &["volume"],
        "DeleteSnapshots" => &["volume", "force"],
        "DisableWriterClasses" | "EnableWriterClasses" => &["writer"],
        "AddComponent" => &["writer", "component"],
        "SetBackupSucceeded" => &["writer", "component", "succeeded"],
        "AddToSnapshotSet" => &["volume", "provider"],
        "GatherWriterMetadata"
        | "PrepareForBackup"
        | "DoSnapshotSet"
        | "GatherWriterStatus"
        | "BackupComplete" => &["wait"],
        _ => &[],
    };
    refuse(call_name.get_ref(), allowed)?;
    let need = |what: &str| {
        cx.at(
            call_name.span(),
            key,
            format!("{} needs `{what}`", call_name.get_ref()),
        )
    };
    // Names of objects the machine does not have, kept as written so the step prints back.
    let mut names = StepNames::default();
    let call = match call_name.get_ref().as_str() {
        "InitializeForBackup" => ApiCall::InitializeForBackup,
        "SetContext" => ApiCall::SetContext(s.context.ok_or_else(|| need("context"))?),
        "SetBackupState" => ApiCall::SetBackupState {
            select_components: s.select_components.unwrap_or(true),
            bootable_system_state: s.bootable_system_state.unwrap_or(false),
            backup_type: s.backup_type.unwrap_or(BackupType::Full),
            partial_file_support: s.partial_file_support.unwrap_or(false),
        },
        "Query" => ApiCall::Query,
        "DisableWriterClasses" | "EnableWriterClasses" => {
            let w = s.writer.as_ref().ok_or_else(|| need("writer"))?;
            let writers = components.writers;
            let Some(writer) = writers.iter().position(|x| x.name == *w.get_ref()) else {
                return Err(cx.at(
                    w.span(),
                    &format!("{key}.writer"),
                    format!(
                        "no writer named `{}` (the call names its class); {}",
                        w.get_ref(),
                        did_you_mean(w.get_ref(), writers.iter().map(|x| x.name.as_str()))
                    ),
                ));
            };
            let step = ScriptStep::WriterClass {
                enable: call_name.get_ref() == "EnableWriterClasses",
                writer: WriterId::from_index(writer),
            };
            return Ok((step, names));
        }
        "GetSnapshotProperties" | "DeleteSnapshots" => {
            // The shadow copy of a volume this requester added, or (DeleteSnapshots without
            // `volume`) its last set: the id is known only when the step runs.
            let volume = match s.volume.as_ref() {
                None if call_name.get_ref() == "GetSnapshotProperties" => {
                    return Err(need("volume"));
                }
                None => None,
                Some(v) => Some(vol(v).ok_or_else(|| {
                    cx.at(
                        v.span(),
                        &format!("{key}.volume"),
                        format!("no volume named {}", canonical_volume(v.get_ref())),
                    )
                })?),
            };
            let call = if call_name.get_ref() == "GetSnapshotProperties" {
                ApiCall::GetSnapshotProperties(Guid::NULL)
            } else {
                ApiCall::DeleteSnapshots {
                    source: Guid::NULL,
                    object: if volume.is_some() {
                        ObjectType::Snapshot
                    } else {
                        ObjectType::SnapshotSet
                    },
                    force: s.force.unwrap_or(false),
                }
            };
            return Ok((ScriptStep::OnShadow { call, volume }, names));
        }
        "GatherWriterMetadata" => ApiCall::GatherWriterMetadata,
        "GatherWriterStatus" => ApiCall::GatherWriterStatus,
        "AddComponent" | "SetBackupSucceeded" => {
            let w = s.writer.as_ref().ok_or_else(|| need("writer"))?;
            let c = s.component.as_ref().ok_or_else(|| need("component"))?;
            let found = components.find(w.get_ref(), c.get_ref());
            if call_name.get_ref() == "AddComponent" {
                if found.is_none() {
                    names.writer = Some(w.get_ref().clone());
                    names.component = Some(c.get_ref().clone());
                }
                ApiCall::AddComponent(found)
            } else {
                let component = found.ok_or_else(|| {
                    cx.at(
                        c.span(),
                        &format!("{key}.component"),
                        format!(
                            "writer `{}` declares no component `{}`",
                            w.get_ref(),
                            c.get_ref()
                        ),
                    )
                })?;
                ApiCall::SetBackupSucceeded {
                    component,
                    succeeded: s.succeeded.unwrap_or(true),
                }
            }
        }
        "StartSnapshotSet" => ApiCall::StartSnapshotSet { new_id: Guid::NULL },
        "AddToSnapshotSet" | "IsVolumeSupported" => {
            let v = s.volume.as_ref().ok_or_else(|| need("volume"))?;
            let provider = match s.provider.as_ref().map(|p| p.get_ref().as_str()) {
                None | Some("GUID_NULL") => ProviderArg::Any,
                Some(p) => {
                    let system = model::machine::ProviderInfo::system();
                    if p == system.name || Guid::parse(p) == Some(system.id) {
                        ProviderArg::Registered(ProviderId(0))
                    } else if let Some(i) = providers
                        .iter()
                        .position(|x| x.name == p || (x.id.is_some() && x.id == Guid::parse(p)))
                    {
                        // Index 0 is the system provider.
                        ProviderArg::Registered(ProviderId::from_index(i + 1))
                    } else if let Some(g) = Guid::parse(p) {
                        ProviderArg::Unregistered(g)
                    } else {
                        let span = s.provider.as_ref().expect("some").span();
                        return Err(cx.at(span, &format!("{key}.provider"), format!("`{p}` is neither a registered provider's name nor a GUID; write \"GUID_NULL\", a provider name or {{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}}")));
                    }
                }
            };
            let volume = vol(v);
            if volume.is_none() {
                names.volume = Some(v.get_ref().clone());
            }
            if call_name.get_ref() == "IsVolumeSupported" {
                ApiCall::IsVolumeSupported { volume, provider }
            } else {
                ApiCall::AddToSnapshotSet {
                    volume,
                    provider,
                    new_id: Guid::NULL,
                }
            }
        }
        "PrepareForBackup" => ApiCall::PrepareForBackup,
        "DoSnapshotSet" => ApiCall::DoSnapshotSet,
        "BackupComplete" => ApiCall::BackupComplete,
        "AbortBackup" => ApiCall::AbortBackup,
        "Cancel" => ApiCall::Cancel,
        "Release" => ApiCall::Release,
        other => {
            return Err(cx.at(
                call_name.span(),
                &format!("{key}.call"),
                format!(
                    "unknown call `{other}`; {}",
                    did_you_mean(other, script_calls.iter().copied())
                ),
            ));
        }
    };
    Ok((
        ScriptStep::Call {
            call,
            wait: s.wait.unwrap_or(true),
        },
        names,
    ))
}
