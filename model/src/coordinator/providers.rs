//! Provider calls: choosing a provider for a volume (rules 4, 19), `AddToSnapshotSet`'s
//! `BeginPrepareSnapshot`, and the answers to every call (rule 16).

use crate::api::{ApiCallKind, Output, ProviderArg, ReplyData, ShadowStatus, Volumes};
use crate::ids::{ProviderId, RequesterId, SnapshotId, VolumeId};
use crate::time::Instant;
use crate::vss::{Hresult, ProviderCall, ProviderType, SnapshotContext, SnapshotState};

use super::session::{Phase, SetVolume};
use super::tokens::TokenSet;
use super::{Coordinator, reply};

/// A provider call not yet answered.
#[derive(Clone, Copy, Debug)]
pub(super) struct PendingCall {
    pub(super) provider: ProviderId,
    pub(super) call: ProviderCall,
    pub(super) requester: RequesterId,
    /// For `BeginPrepareSnapshot`: the volume being added and its new shadow id.
    pub(super) add: Option<(VolumeId, SnapshotId)>,
}

impl Coordinator {
    pub(super) fn call_add_to_set(
        &mut self,
        now: Instant,
        r: RequesterId,
        volume: Option<VolumeId>,
        provider: ProviderArg,
        new_id: SnapshotId,
        out: &mut Vec<Output>,
    ) {
        let name = ApiCallKind::AddToSnapshotSet;
        let s = &self.sessions[r.idx()];
        let Some(set) = s.set.as_ref() else {
            return reply(out, r, name, Hresult::BadState, ReplyData::None);
        };
        if !matches!(s.phase, Phase::Initialized | Phase::Prepared) {
            return reply(out, r, name, Hresult::BadState, ReplyData::None);
        }
        let Some(volume) = volume else {
            return reply(out, r, name, Hresult::ObjectNotFound, ReplyData::None);
        };
        let in_set = set.volumes.len() as u32 + set.adds_pending;
        if in_set >= self.profile.volumes_per_set_max {
            return reply(
                out,
                r,
                name,
                Hresult::MaximumNumberOfVolumesReached,
                ReplyData::None,
            );
        }
        if set.volumes.iter().any(|v| v.volume == volume) {
            return reply(out, r, name, Hresult::ObjectAlreadyExists, ReplyData::None);
        }
        let context = s.context;
        let chosen = match provider {
            ProviderArg::Unregistered(_) => Err(Hresult::ProviderNotRegistered),
            ProviderArg::Registered(p) => {
                if self.machine.providers[p.idx()].supports(volume, context) {
                    Ok(p)
                } else {
                    // Rule 19.
                    Err(Hresult::VolumeNotSupportedByProvider)
                }
            }
            ProviderArg::Any => self.select_provider(volume, context),
        };
        let provider = match chosen {
            Ok(p) => p,
            Err(code) => return reply(out, r, name, code, ReplyData::None),
        };
        // Rule 18: per-volume shadow limit; client-accessible shadows recycle instead.
        let existing = self
            .shadows
            .iter()
            .filter(|sh| sh.volume == volume && sh.status == ShadowStatus::Exists)
            .count() as u32;
        let system = self.machine.providers[provider.idx()].kind == ProviderType::System;
        if system
            && !context.is_client_accessible()
            && existing >= self.profile.shadows_per_volume_max
        {
            return reply(
                out,
                r,
                name,
                Hresult::MaximumNumberOfSnapshotsReached,
                ReplyData::None,
            );
        }
        // Rule 1: BeginPrepareSnapshot is sent now, once per volume; the call returns when the
        // provider answers.
        let set_id = set.id;
        if let Some(set) = self.sessions[r.idx()].set.as_mut() {
            set.adds_pending += 1;
        }
        let token = self.token();
        self.pending_calls.insert(
            token,
            PendingCall {
                provider,
                call: ProviderCall::BeginPrepareSnapshot,
                requester: r,
                add: Some((volume, new_id)),
            },
        );
        let _ = now;
        out.push(Output::ProviderCall {
            provider,
            call: ProviderCall::BeginPrepareSnapshot,
            set_id,
            volumes: Volumes::from([volume]),
            token,
        });
    }

    /// Rule 4: hardware beats software beats system; declaration order within a kind.
    pub(super) fn select_provider(
        &self,
        volume: VolumeId,
        context: SnapshotContext,
    ) -> Result<ProviderId, Hresult> {
        for kind in [
            ProviderType::Hardware,
            ProviderType::Software,
            ProviderType::System,
        ] {
            for (i, p) in self.machine.providers.iter().enumerate() {
                if p.kind == kind && p.supports(volume, context) {
                    return Ok(ProviderId::from_index(i));
                }
            }
        }
        // Rule 19.
        Err(Hresult::VolumeNotSupported)
    }

    pub(super) fn on_provider_answer(
        &mut self,
        now: Instant,
        token: u64,
        result: Hresult,
        out: &mut Vec<Output>,
    ) {
        let Some(p) = self.pending_calls.remove(token) else {
            return;
        };
        // Rule 16: codes outside the allowed list reach the requester as
        // VSS_E_UNEXPECTED_PROVIDER_ERROR.
        let code = result.translate_provider();
        if p.call == ProviderCall::BeginPrepareSnapshot {
            let r = p.requester;
            let (volume, snapshot) = p.add.expect("BeginPrepareSnapshot carries its volume");
            let s = &mut self.sessions[r.idx()];
            let gone = s.released() || s.aborted();
            let Some(set) = s.set.as_mut() else { return };
            set.adds_pending = set.adds_pending.saturating_sub(1);
            if gone {
                return;
            }
            if code.is_success() {
                let set_id = set.id;
                set.volumes.push(SetVolume {
                    volume,
                    snapshot,
                    provider: p.provider,
                    state: SnapshotState::Preparing,
                });
                out.push(Output::SnapshotState {
                    set_id,
                    snapshot,
                    volume,
                    state: SnapshotState::Preparing,
                });
                reply(
                    out,
                    r,
                    ApiCallKind::AddToSnapshotSet,
                    Hresult::Ok,
                    ReplyData::Snapshot(snapshot),
                );
            } else {
                reply(out, r, ApiCallKind::AddToSnapshotSet, code, ReplyData::None);
            }
            return;
        }
        let Some(c) = self.creation.as_mut() else {
            return;
        };
        if !c.waiting.contains(token) {
            return;
        }
        // Rule 13b: inside the hold, an answer at the timer's instant is late.
        if c.hold.is_some_and(|h| !c.released && now >= h.deadline) {
            return;
        }
        c.waiting.remove(token);
        if !code.is_success() {
            self.fail_creation(now, code, "16", out);
            return;
        }
        let (r, set_id) = (c.requester, c.set_id);
        if let Some(done) = done_state(p.call) {
            self.set_snapshots_to(r, Some(p.provider), done, out);
        }
        if p.call == ProviderCall::CommitSnapshots {
            // The provider made the shadows of its volumes: their image is the hold instant.
            let context = self.sessions[r.idx()].context;
            let vols: Vec<SetVolume> = self.sessions[r.idx()]
                .set
                .as_ref()
                .map(|s| {
                    s.volumes
                        .iter()
                        .copied()
                        .filter(|v| v.provider == p.provider)
                        .collect()
                })
                .unwrap_or_default();
            for v in vols {
                self.shadow_created(now, r, set_id, v, context, out);
            }
        }
        self.creation_step(now, out);
    }

    /// Sends `call` to every provider of the set being created; their tokens go into `waiting`.
    /// Each provider's shadow copies enter the call's processing state (rule S29).
    pub(super) fn call_providers(
        &mut self,
        r: RequesterId,
        call: ProviderCall,
        waiting: &mut TokenSet,
        out: &mut Vec<Output>,
    ) {
        let c = self.creation.as_ref().expect("creation in progress");
        let set_id = c.set_id;
        for i in 0..c.providers.len() {
            let c = self.creation.as_ref().expect("creation in progress");
            let (provider, volumes) = (c.providers[i].0, c.providers[i].1.clone());
            if let Some(processing) = processing_state(call) {
                self.set_snapshots_to(r, Some(provider), processing, out);
            }
            let token = self.token();
            self.pending_calls.insert(
                token,
                PendingCall {
                    provider,
                    call,
                    requester: r,
                    add: None,
                },
            );
            out.push(Output::ProviderCall {
                provider,
                call,
                set_id,
                volumes,
                token,
            });
            waiting.insert(token, ());
        }
    }

    /// Rules 14, 27: requester `r` dropped its set (AbortBackup, Release, or its process went
    /// away) while a provider's `BeginPrepareSnapshot` is still outstanding (a hung provider
    /// holds `AddToSnapshotSet`). The service stops waiting for it and that provider hears
    /// `AbortSnapshots`, once, for the volumes it was still preparing; the blocked
    /// `AddToSnapshotSet` never returns, and a later answer finds no call and is ignored.
    pub(super) fn drop_pending_adds(&mut self, r: RequesterId, out: &mut Vec<Output>) {
        let dropped: Vec<(u64, ProviderId, VolumeId)> = self
            .pending_calls
            .iter()
            .filter(|(_, p)| p.requester == r && p.call == ProviderCall::BeginPrepareSnapshot)
            .filter_map(|(t, p)| p.add.map(|(v, _)| (t, p.provider, v)))
            .collect();
        if dropped.is_empty() {
            return;
        }
        let mut by_provider: Vec<(ProviderId, Vec<VolumeId>)> = Vec::new();
        for &(t, provider, volume) in &dropped {
            self.pending_calls.remove(t);
            match by_provider.iter_mut().find(|(p, _)| *p == provider) {
                Some((_, vols)) => vols.push(volume),
                None => by_provider.push((provider, vec![volume])),
            }
        }
        let Some(set) = self.sessions[r.idx()].set.as_mut() else {
            return;
        };
        set.adds_pending = set
            .adds_pending
            .saturating_sub(u32::try_from(dropped.len()).unwrap_or(u32::MAX));
        let set_id = set.id;
        for (provider, volumes) in by_provider {
            // AbortSnapshots is not answered: nothing waits for its token.
            let token = self.token();
            out.push(Output::ProviderCall {
                provider,
                call: ProviderCall::AbortSnapshots,
                set_id,
                volumes: volumes.into(),
                token,
            });
        }
    }
}

/// The state a shadow copy is in while its provider runs `call` (rule S29).
fn processing_state(call: ProviderCall) -> Option<SnapshotState> {
    Some(match call {
        ProviderCall::EndPrepareSnapshots => SnapshotState::ProcessingPrepare,
        ProviderCall::PreCommitSnapshots => SnapshotState::ProcessingPrecommit,
        ProviderCall::CommitSnapshots => SnapshotState::ProcessingCommit,
        ProviderCall::PostCommitSnapshots => SnapshotState::ProcessingPostcommit,
        ProviderCall::PreFinalCommitSnapshots => SnapshotState::ProcessingPrefinalcommit,
        ProviderCall::PostFinalCommitSnapshots => SnapshotState::ProcessingPostfinalcommit,
        _ => return None,
    })
}

/// The state a shadow copy is in once its provider's `call` succeeded (rule S29); after
/// `PostFinalCommitSnapshots` it is created when the whole set is.
fn done_state(call: ProviderCall) -> Option<SnapshotState> {
    Some(match call {
        ProviderCall::EndPrepareSnapshots => SnapshotState::Prepared,
        ProviderCall::PreCommitSnapshots => SnapshotState::Precommitted,
        ProviderCall::CommitSnapshots => SnapshotState::Committed,
        ProviderCall::PostCommitSnapshots => SnapshotState::Postcommitted,
        ProviderCall::PreFinalCommitSnapshots => SnapshotState::Prefinalcommitted,
        _ => return None,
    })
}
