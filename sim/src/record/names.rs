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
            } => {
                let v = volume
                    .map(|v| m.volumes[v.idx()].name.clone())
                    .unwrap_or("(unknown volume)".into());
                let p = match provider {
                    ProviderArg::Any => "GUID_NULL".to_string(),
                    ProviderArg::Registered(p) => m.providers[p.idx()].name.clone(),
                    ProviderArg::Unregistered(g) => g.to_string(),
                };
                Some(format!("{v}, {p}"))
            }
            _ => None,
        }
    }
}
