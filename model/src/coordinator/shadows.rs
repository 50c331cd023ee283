//! The shadow copies the service made, and their removal (rules 17, 18, 27).

use crate::api::{Output, ShadowStatus};
use crate::ids::{ProviderId, RequesterId, SnapshotId, SnapshotSetId, VolumeId};
use crate::time::Instant;
use crate::vss::SnapshotContext;

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
        for sh in self.shadows.iter_mut() {
            if sh.set_id == set_id && sh.status == ShadowStatus::Exists {
                sh.status = status;
                out.push(Output::DeleteShadow {
                    snapshot: sh.id,
                    status,
                });
            }
        }
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
                let oldest = existing[0];
                self.shadows[oldest].status = ShadowStatus::Recycled;
                out.push(Output::DeleteShadow {
                    snapshot: self.shadows[oldest].id,
                    status: ShadowStatus::Recycled,
                });
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
    pub(super) fn shadow_deleted(&mut self, snapshot: SnapshotId) {
        if let Some(s) = self.shadows.iter_mut().find(|s| s.id == snapshot) {
            s.status = ShadowStatus::DiffAreaFull;
        }
    }
}
