//! The shadow copies the service made, and their removal (rules 17, 18, 27); the state of
//! each shadow copy of a set (rule S29).

use crate::api::{Output, ShadowStatus};
use crate::ids::{ProviderId, RequesterId, SnapshotId, SnapshotSetId, VolumeId};
use crate::time::Instant;
use crate::vss::{SnapshotContext, SnapshotState};

use super::Coordinator;
use super::session::SetVolume;

/// A shadow copy the service made.
#[derive(Clone, Debug)]
pub struct ShadowRecord {
    /// Shadow id.
    pub id: SnapshotId,
    /// Set id.
    pub set_id: SnapshotSetId,
    /// Original volume.
    pub volume: VolumeId,
    /// Provider that made it.
    pub provider: ProviderId,
    /// Context of its set.
    pub context: SnapshotContext,
    /// The requester that made it.
    pub requester: RequesterId,
    /// Current status.
    pub status: ShadowStatus,
    /// When `CommitSnapshots` made it.
    pub created_at: Instant,
}

impl Coordinator {
    pub(super) fn delete_set_shadows(
        &mut self,
        r: RequesterId,
        status: ShadowStatus,
        out: &mut Vec<Output>,
    ) {
        let Some(set_id) = self.sessions[r.idx()].set.as_ref().map(|s| s.id) else {
            return;
        };
        for i in 0..self.shadows.len() {
            let sh = &self.shadows[i];
            if sh.set_id == set_id && sh.status == ShadowStatus::Exists {
                self.delete_shadow_at(i, status, out);
            }
        }
    }

    /// Removes the live shadow copy `shadows[i]` for `status`: the store deletes it and its
    /// set sees it `DELETED` (rule S29).
    pub(super) fn delete_shadow_at(
        &mut self,
        i: usize,
        status: ShadowStatus,
        out: &mut Vec<Output>,
    ) {
        let sh = &mut self.shadows[i];
        sh.status = status;
        let (owner, set_id, snapshot, volume) = (sh.requester, sh.set_id, sh.id, sh.volume);
        out.push(Output::DeleteShadow { snapshot, status });
        self.snapshot_deleted(owner, set_id, snapshot, volume, out);
    }

    /// Rule S29: the shadow copies of `r`'s set that `provider` handles (every one for `None`)
    /// are now in `next`. Those already `ABORTED` or `DELETED` stay so, a created one is not
    /// aborted, and one already in `next` is left alone.
    pub(super) fn set_snapshots_to(
        &mut self,
        r: RequesterId,
        provider: Option<ProviderId>,
        next: SnapshotState,
        out: &mut Vec<Output>,
    ) {
        let Some(set) = self.sessions[r.idx()].set.as_mut() else {
            return;
        };
        let set_id = set.id;
        for v in set.volumes.iter_mut() {
            let ended = matches!(v.state, SnapshotState::Aborted | SnapshotState::Deleted)
                || (next == SnapshotState::Aborted && v.state == SnapshotState::Created);
            if ended || v.state == next || provider.is_some_and(|p| p != v.provider) {
                continue;
            }
            v.state = next;
            out.push(Output::SnapshotState {
                set_id,
                snapshot: v.snapshot,
                volume: v.volume,
                state: next,
            });
        }
    }

    /// Rule S29: shadow copy `snapshot` of `set_id`, made by `r`, was removed: `DELETED` (in
    /// `r`'s set too, if that is still its current one).
    fn snapshot_deleted(
        &mut self,
        r: RequesterId,
        set_id: SnapshotSetId,
        snapshot: SnapshotId,
        volume: VolumeId,
        out: &mut Vec<Output>,
    ) {
        if let Some(set) = self.sessions[r.idx()].set.as_mut()
            && set.id == set_id
            && let Some(v) = set.volumes.iter_mut().find(|v| v.snapshot == snapshot)
        {
            if matches!(v.state, SnapshotState::Aborted | SnapshotState::Deleted) {
                return;
            }
            v.state = SnapshotState::Deleted;
        }
        out.push(Output::SnapshotState {
            set_id,
            snapshot,
            volume,
            state: SnapshotState::Deleted,
        });
    }

    pub(super) fn shadow_created(
        &mut self,
        now: Instant,
        r: RequesterId,
        set_id: SnapshotSetId,
        v: SetVolume,
        context: SnapshotContext,
        out: &mut Vec<Output>,
    ) {
        // Rule 18: client-accessible shadows past MaxShadowCopies recycle the oldest.
        if context.is_client_accessible() {
            let existing: Vec<usize> = (0..self.shadows.len())
                .filter(|&i| {
                    let sh = &self.shadows[i];
                    sh.volume == v.volume
                        && sh.status == ShadowStatus::Exists
                        && sh.context.is_client_accessible()
                })
                .collect();
            if existing.len() as u32 >= self.profile.client_accessible_shadows_max {
                self.delete_shadow_at(existing[0], ShadowStatus::Recycled, out);
            }
        }
        self.shadows.push(ShadowRecord {
            id: v.snapshot,
            set_id,
            volume: v.volume,
            provider: v.provider,
            context,
            requester: r,
            status: ShadowStatus::Exists,
            created_at: now,
        });
        out.push(Output::CreateShadow {
            snapshot: v.snapshot,
            set_id,
            volume: v.volume,
            provider: v.provider,
            context,
        });
    }

    /// Rule 17: the volume dropped shadow `snapshot` to make room in its diff area.
    pub(super) fn shadow_deleted(&mut self, snapshot: SnapshotId, out: &mut Vec<Output>) {
        if let Some(s) = self.shadows.iter_mut().find(|s| s.id == snapshot) {
            let was = std::mem::replace(&mut s.status, ShadowStatus::DiffAreaFull);
            if was == ShadowStatus::Exists {
                let (owner, set_id, volume) = (s.requester, s.set_id, s.volume);
                self.snapshot_deleted(owner, set_id, snapshot, volume, out);
            }
        }
    }
}
