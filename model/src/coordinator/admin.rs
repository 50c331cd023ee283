//! The calls outside rule S1's sequence: `IsVolumeSupported` (rule 34), `GetSnapshotProperties`
//! and `Query` (rule 35), `DeleteSnapshots` (rule 36). Each is accepted on an initialised,
//! unreleased object at any point of its sequence (the common check of `on_call`, rule 21).

use crate::api::{ApiCallKind, Output, ProviderArg, ReplyData, ShadowStatus, SnapshotProp};
use crate::ids::{Guid, RequesterId, SnapshotId, VolumeId};
use crate::vss::{Hresult, ObjectType, ProviderType, SnapshotState, attr};

use super::{Coordinator, reply};

impl Coordinator {
    /// Rule 34: whether `provider` (any provider for `GUID_NULL`) supports `volume` in the
    /// object's context.
    pub(super) fn call_is_volume_supported(
        &mut self,
        r: RequesterId,
        provider: ProviderArg,
        volume: Option<VolumeId>,
        out: &mut Vec<Output>,
    ) {
        let name = ApiCallKind::IsVolumeSupported;
        let Some(volume) = volume else {
            return reply(out, r, name, Hresult::ObjectNotFound, ReplyData::None);
        };
        let context = self.sessions[r.idx()].context;
        let supported = match provider {
            ProviderArg::Unregistered(_) => {
                return reply(
                    out,
                    r,
                    name,
                    Hresult::ProviderNotRegistered,
                    ReplyData::None,
                );
            }
            ProviderArg::Registered(p) => self.machine.providers[p.idx()].supports(volume, context),
            ProviderArg::Any => self.select_provider(volume, context).is_ok(),
        };
        reply(out, r, name, Hresult::Ok, ReplyData::Supported(supported))
    }

    /// Rule 35: the properties of one live shadow copy of the object's context.
    pub(super) fn call_get_snapshot_properties(
        &mut self,
        r: RequesterId,
        id: SnapshotId,
        out: &mut Vec<Output>,
    ) {
        let name = ApiCallKind::GetSnapshotProperties;
        match self.visible(r, false).find(|&i| self.shadows[i].id == id) {
            Some(i) => {
                let prop = self.snapshot_prop(i);
                reply(
                    out,
                    r,
                    name,
                    Hresult::Ok,
                    ReplyData::SnapshotProps(vec![prop]),
                )
            }
            None => reply(out, r, name, Hresult::ObjectNotFound, ReplyData::None),
        }
    }

    /// Rule 35: the properties of every live shadow copy of the object's context.
    pub(super) fn call_query(&mut self, r: RequesterId, out: &mut Vec<Output>) {
        let props = self
            .visible(r, false)
            .collect::<Vec<_>>()
            .into_iter()
            .map(|i| self.snapshot_prop(i))
            .collect();
        reply(
            out,
            r,
            ApiCallKind::Query,
            Hresult::Ok,
            ReplyData::SnapshotProps(props),
        )
    }

    /// Rule 36: deletes one shadow copy, or every live one of a set, of the object's context,
    /// in creation order; it stops at a shadow copy whose set's creation has not ended.
    pub(super) fn call_delete_snapshots(
        &mut self,
        r: RequesterId,
        source: Guid,
        object: ObjectType,
        out: &mut Vec<Output>,
    ) {
        let name = ApiCallKind::DeleteSnapshots;
        let targets: Vec<usize> = match object {
            ObjectType::Snapshot => self
                .visible(r, true)
                .filter(|&i| self.shadows[i].id == source)
                .collect(),
            ObjectType::SnapshotSet => self
                .visible(r, true)
                .filter(|&i| self.shadows[i].set_id == source)
                .collect(),
            _ => return reply(out, r, name, Hresult::InvalidArg, ReplyData::None),
        };
        if targets.is_empty() {
            return reply(out, r, name, Hresult::ObjectNotFound, ReplyData::None);
        }
        let creating = self.creation.as_ref().map(|c| c.set_id);
        let mut count = 0;
        for i in targets {
            let sh = &self.shadows[i];
            if Some(sh.set_id) == creating {
                let data = ReplyData::Deleted {
                    count,
                    first_not_deleted: sh.id,
                };
                return reply(out, r, name, Hresult::BadState, data);
            }
            self.delete_shadow_at(i, ShadowStatus::Deleted, out);
            count += 1;
        }
        let data = ReplyData::Deleted {
            count,
            first_not_deleted: Guid::NULL,
        };
        reply(out, r, name, Hresult::Ok, data)
    }

    /// The indices in `shadows` of the live shadow copies requester `r`'s object sees: those
    /// made in its context (rule 35), in creation order; with `creating`, those of a set whose
    /// creation has not ended too (rule 36), else only `VSS_SS_CREATED` ones (rule S29).
    fn visible(&self, r: RequesterId, creating: bool) -> impl Iterator<Item = usize> + '_ {
        let context = self.sessions[r.idx()].context;
        let in_creation = self.creation.as_ref().map(|c| c.set_id);
        (0..self.shadows.len()).filter(move |&i| {
            let sh = &self.shadows[i];
            sh.status == ShadowStatus::Exists
                && sh.context == context
                && (creating || Some(sh.set_id) != in_creation)
        })
    }

    /// `VSS_SNAPSHOT_PROP` of `shadows[i]`.
    pub(super) fn snapshot_prop(&self, i: usize) -> SnapshotProp {
        let sh = &self.shadows[i];
        let kind = self.machine.providers[sh.provider.idx()].kind;
        SnapshotProp {
            id: sh.id,
            set_id: sh.set_id,
            set_count: self
                .shadows
                .iter()
                .filter(|x| x.set_id == sh.set_id)
                .count() as u32,
            volume: sh.volume,
            provider: sh.provider,
            context: sh.context,
            attributes: shadow_attributes(sh.context, kind),
            created_at: sh.created_at,
            // Every CreateShadow makes the store number a device, from 1 (ShadowRecord order).
            device: i as u32 + 1,
            // Only a shadow copy whose creation has ended is shown (rule S29).
            state: SnapshotState::Created,
        }
    }
}

/// The attribute bits of a shadow copy: its context's bits, plus `DIFFERENTIAL` when the
/// system provider (copy-on-write) made it (rules S17, S18).
pub const fn shadow_attributes(context: crate::vss::SnapshotContext, kind: ProviderType) -> u32 {
    let extra = match kind {
        ProviderType::System => attr::DIFFERENTIAL,
        _ => 0,
    };
    context.attributes() | extra
}
