//! The names people see in the trace, by role instance, and the arguments of a call in VSS
//! terms.

use model::api::{ApiCall, ProviderArg};
use model::ids::VolumeId;
use model::machine::Machine;

/// The names people see, by role instance.
pub(super) struct Names<'a> {
    pub(super) machine: &'a Machine,
    pub(super) requesters: &'a [String],
}

impl Names<'_> {
    pub(super) fn volume(&self, v: VolumeId) -> String {
        self.machine.volumes[v.idx()].name.clone()
    }

    pub(super) fn volume_list(&self, volumes: &[VolumeId]) -> String {
        volumes
            .iter()
            .map(|v| self.machine.volumes[v.idx()].name.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The arguments of a call worth showing a person, in VSS terms.
    pub(super) fn describe_args(&self, call: &ApiCall) -> Option<String> {
        let m = self.machine;
        match call {
            ApiCall::SetContext(c) => Some(c.name().to_string()),
            ApiCall::AddComponent(Some(c)) | ApiCall::SetBackupSucceeded { component: c, .. } => {
                let w = &m.writers[c.writer.idx()];
                let comp = &w.components[c.idx as usize];
                let mut d = format!("{}: {}", w.name, comp.name);
                if let ApiCall::SetBackupSucceeded { succeeded, .. } = call {
                    d.push_str(if *succeeded { ", true" } else { ", false" });
                }
                Some(d)
            }
            ApiCall::AddComponent(None) => Some("(unknown component)".into()),
            ApiCall::AddToSnapshotSet {
                volume, provider, ..
            }
            | ApiCall::IsVolumeSupported { volume, provider } => {
                let v = volume
                    .map(|v| m.volumes[v.idx()].name.clone())
                    .unwrap_or("(unknown volume)".into());
                let p = match provider {
                    ProviderArg::Any => "GUID_NULL".to_string(),
                    ProviderArg::Registered(p) => m.providers[p.idx()].name.clone(),
                    ProviderArg::Unregistered(g) => g.to_string(),
                };
                // Each in the order of its call's parameters.
                Some(match call {
                    ApiCall::IsVolumeSupported { .. } => format!("{p}, {v}"),
                    _ => format!("{v}, {p}"),
                })
            }
            // Shown only when one is set, so a trace of the common call stays as it was.
            ApiCall::SetBackupState {
                bootable_system_state,
                partial_file_support,
                ..
            } => {
                let set: Vec<&str> = [
                    (*bootable_system_state, "bBootableSystemState"),
                    (*partial_file_support, "bPartialFileSupport"),
                ]
                .into_iter()
                .filter_map(|(on, name)| on.then_some(name))
                .collect();
                (!set.is_empty()).then(|| set.join(", "))
            }
            ApiCall::GetSnapshotProperties(id) => Some(id.to_string()),
            ApiCall::Query => Some("GUID_NULL, VSS_OBJECT_NONE, VSS_OBJECT_SNAPSHOT".into()),
            ApiCall::DeleteSnapshots {
                source,
                object,
                force,
            } => Some(format!("{source}, {}, {force}", object.name())),
            // Each class by the name of its first writer on the machine, else its GUID.
            ApiCall::DisableWriterClasses(classes) | ApiCall::EnableWriterClasses(classes) => {
                let names: Vec<String> = classes
                    .iter()
                    .map(|c| match m.writers.iter().find(|w| w.class_id == *c) {
                        Some(w) => w.name.clone(),
                        None => c.to_string(),
                    })
                    .collect();
                Some(names.join(", "))
            }
            _ => None,
        }
    }
}
