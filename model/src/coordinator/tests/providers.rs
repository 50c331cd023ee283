//! Providers and shadows: set and volume limits, provider choice, AbortSnapshots to a provider
//! still preparing, each set's own shadows, recycling, writer status.

use super::*;

/// `one_writer_one_volume` with volumes `D:\` and `E:\` too, and the given profile and
/// providers after the system provider.
fn three_volumes(profile: Profile, providers: Vec<crate::machine::ProviderInfo>) -> Coordinator {
    let mut machine = Machine::one_writer_one_volume();
    for name in ["D:\\", "E:\\"] {
        machine.volumes.push(crate::machine::VolumeInfo {
            name: name.into(),
            bytes: 1 << 30,
        });
    }
    machine.providers.extend(providers);
    Coordinator::new(profile, machine, 1)
}

const D: VolumeId = VolumeId(1);
const E: VolumeId = VolumeId(2);

fn add_to_set(c: &mut Coordinator, v: VolumeId, id: u128) -> Vec<Output> {
    call(
        c,
        0,
        ApiCall::AddToSnapshotSet {
            volume: Some(v),
            provider: ProviderArg::Any,
            new_id: Guid(id),
        },
    )
}

/// The result of `AddToSnapshotSet` of `v`, the provider answering `S_OK`.
fn added(c: &mut Coordinator, v: VolumeId, id: u128) -> Hresult {
    let out = add_to_set(c, v, id);
    let out = settle_with(c, 0, out, &healthy);
    replied(&out, ApiCallKind::AddToSnapshotSet).expect("answered")
}

/// A writer-less set in `context` of `volumes`, made; the object released and a new one made
/// and initialised in the same context.
fn make_set(
    c: &mut Coordinator,
    context: crate::vss::SnapshotContext,
    set: u128,
    volumes: &[VolumeId],
) {
    replies(
        c,
        &[
            INIT,
            ApiCall::SetContext(context),
            ApiCall::StartSnapshotSet { new_id: Guid(set) },
        ],
    );
    for (i, &v) in (1..).zip(volumes) {
        assert_eq!(added(c, v, set + i), Hresult::Ok);
    }
    assert_eq!(
        replies(c, &[DO_SET, ApiCall::Release]),
        [Hresult::Ok, Hresult::Ok]
    );
    feed(c, 0, Input::NewObject { requester: R });
}

#[test]
fn add_to_snapshot_set_enforces_the_set_and_volume_limits_rule_18() {
    use crate::vss::SnapshotContext::{ClientAccessible, NasRollback};
    let mut profile = Profile::windows();
    profile.volumes_per_set_max = 2;
    profile.shadows_per_volume_max = 1;
    let mut c = three_volumes(profile, vec![]);
    // C has its one persistent shadow: no other set may take C; D and E may.
    make_set(&mut c, NasRollback, 100, &[C]);
    replies(
        &mut c,
        &[
            INIT,
            ApiCall::SetContext(NasRollback),
            ApiCall::StartSnapshotSet { new_id: Guid(200) },
        ],
    );
    assert_eq!(
        added(&mut c, C, 201),
        Hresult::MaximumNumberOfSnapshotsReached
    );
    assert_eq!(added(&mut c, D, 202), Hresult::Ok);
    assert_eq!(added(&mut c, D, 203), Hresult::ObjectAlreadyExists);
    // E's BeginPrepareSnapshot is outstanding: the set holds two volumes already.
    let out = add_to_set(&mut c, E, 204);
    assert_eq!(replied(&out, ApiCallKind::AddToSnapshotSet), None);
    assert_eq!(
        added(&mut c, C, 205),
        Hresult::MaximumNumberOfVolumesReached
    );
    // Client-accessible shadows recycle instead of hitting the limit (rule 18).
    let mut profile = Profile::windows();
    profile.shadows_per_volume_max = 1;
    let mut c = three_volumes(profile, vec![]);
    make_set(&mut c, ClientAccessible, 100, &[C]);
    replies(
        &mut c,
        &[
            INIT,
            ApiCall::SetContext(ClientAccessible),
            ApiCall::StartSnapshotSet { new_id: Guid(200) },
        ],
    );
    assert_eq!(added(&mut c, C, 201), Hresult::Ok);
    // Once C's shadow is gone, C may be added again.
    let mut profile = Profile::windows();
    profile.shadows_per_volume_max = 1;
    let mut c = three_volumes(profile, vec![]);
    make_set(&mut c, NasRollback, 100, &[C]);
    feed(
        &mut c,
        0,
        Input::ShadowDeleted {
            snapshot: Guid(101),
        },
    );
    replies(
        &mut c,
        &[
            INIT,
            ApiCall::SetContext(NasRollback),
            ApiCall::StartSnapshotSet { new_id: Guid(200) },
        ],
    );
    assert_eq!(added(&mut c, C, 201), Hresult::Ok);
}

#[test]
fn the_service_picks_hardware_then_software_then_system_rule_4() {
    use crate::machine::ProviderInfo;
    use crate::vss::ProviderType;
    let provider = |kind, id, volumes: Vec<VolumeId>| ProviderInfo {
        name: format!("{kind:?}"),
        id: Guid(id),
        kind,
        version: "1".into(),
        supports: Some(volumes),
    };
    let mut c = three_volumes(
        Profile::windows(),
        vec![
            provider(ProviderType::Software, 7, vec![C, D]),
            provider(ProviderType::Hardware, 8, vec![D]),
        ],
    );
    replies(&mut c, &[INIT, NO_WRITERS, START]);
    let chosen = |out: &[Output]| match out {
        [Output::ProviderCall { provider, .. }] => provider.0,
        _ => panic!("{out:?}"),
    };
    let picks: Vec<u16> = [(C, 101), (D, 102), (E, 103)]
        .into_iter()
        .map(|(v, id)| chosen(&add_to_set(&mut c, v, id)))
        .collect();
    assert_eq!(picks, [1, 2, 0]);
}

#[test]
fn abort_backup_stops_waiting_for_the_providers_preparing_volumes_once_each() {
    let mut c = three_volumes(Profile::windows(), vec![]);
    replies(&mut c, &[INIT, NO_WRITERS, START]);
    assert_eq!(added(&mut c, E, 103), Hresult::Ok);
    // The system provider hangs in BeginPrepareSnapshot for C and D.
    let tokens: Vec<u64> = [(C, 101), (D, 102)]
        .into_iter()
        .map(|(v, id)| match add_to_set(&mut c, v, id)[..] {
            [Output::ProviderCall { token, .. }] => token,
            ref out => panic!("{out:?}"),
        })
        .collect();
    let out = call(&mut c, 1, ABORT);
    let aborts: Vec<Vec<VolumeId>> = out
        .iter()
        .filter_map(|o| match o {
            Output::ProviderCall {
                call: ProviderCall::AbortSnapshots,
                volumes,
                ..
            } => Some(volumes.to_vec()),
            _ => None,
        })
        .collect();
    assert_eq!(aborts, [vec![C, D]]);
    // Their answers find no call: no AddToSnapshotSet returns.
    for token in tokens {
        assert_eq!(c.pending_call(token), None);
        let out = feed(
            &mut c,
            2,
            Input::ProviderAnswer {
                token,
                result: Hresult::Ok,
            },
        );
        assert_eq!(out, vec![]);
    }
    assert!(c.is_idle());
}

#[test]
fn an_aborted_or_released_set_marks_only_its_own_shadows() {
    let mut c = two_sessions();
    prepared(&mut c, A, 0, 100, false);
    settled(&mut c, A, 1, DO_SET);
    prepared(&mut c, B, 0, 200, false);
    settled(&mut c, B, 1, DO_SET);
    let out = call_as(&mut c, B, 2, ABORT);
    assert_eq!(shadow_status(&c, 201), Some(ShadowStatus::Deleted));
    assert_eq!(shadow_status(&c, 101), Some(ShadowStatus::Exists));
    assert_eq!(count(&out, |o| matches!(o, Output::DeleteShadow { .. })), 1);
    // Released after: a deleted shadow stays deleted, nothing is deleted twice.
    let out = call_as(&mut c, B, 3, ApiCall::Release);
    assert_eq!(shadow_status(&c, 201), Some(ShadowStatus::Deleted));
    assert_eq!(count(&out, |o| matches!(o, Output::DeleteShadow { .. })), 0);
    assert_eq!(shadow_status(&c, 101), Some(ShadowStatus::Exists));
    // The volume dropping one shadow (rule 17) marks that one.
    feed(
        &mut c,
        4,
        Input::ShadowDeleted {
            snapshot: Guid(101),
        },
    );
    assert_eq!(shadow_status(&c, 101), Some(ShadowStatus::DiffAreaFull));
    assert_eq!(shadow_status(&c, 201), Some(ShadowStatus::Deleted));
}

#[test]
fn client_accessible_shadows_past_the_maximum_recycle_the_oldest_of_their_volume_rule_18() {
    use crate::vss::SnapshotContext::{ClientAccessible, NasRollback};
    let mut profile = Profile::windows();
    profile.client_accessible_shadows_max = 2;
    let mut c = three_volumes(profile, vec![]);
    make_set(&mut c, NasRollback, 100, &[C]);
    make_set(&mut c, ClientAccessible, 200, &[C, D]);
    make_set(&mut c, ClientAccessible, 300, &[D]);
    make_set(&mut c, ClientAccessible, 400, &[C]);
    // C holds 201 and 401; D holds 202 and 301; the persistent one counts for nothing.
    let status: Vec<Option<ShadowStatus>> = [101, 201, 202, 301, 401]
        .into_iter()
        .map(|id| shadow_status(&c, id))
        .collect();
    use ShadowStatus::{Exists, Recycled};
    assert_eq!(status, [Some(Exists); 5]);
    make_set(&mut c, ClientAccessible, 500, &[C]);
    let status: Vec<Option<ShadowStatus>> = [101, 201, 202, 301, 401, 501]
        .into_iter()
        .map(|id| shadow_status(&c, id))
        .collect();
    assert_eq!(
        status,
        [Exists, Recycled, Exists, Exists, Exists, Exists].map(Some)
    );
}

#[test]
fn gather_writer_status_reports_the_writers_that_answered_identify() {
    let mut c = service();
    let out = [INIT, GATHER, STATUS]
        .into_iter()
        .flat_map(|call| settled(&mut c, R, 0, call))
        .collect::<Vec<_>>();
    assert!(
        out.iter().any(|o| matches!(
            o,
            Output::AsyncDone {
                call: ApiCallKind::GatherWriterStatus,
                data: crate::api::ReplyData::WriterStatus(list),
                ..
            } if list == &[crate::api::WriterStatus {
                writer: W,
                state: WriterState::Stable,
                last_error: Hresult::Ok
            }]
        )),
        "{out:?}"
    );
    // A status operation's timer that fires after it was cancelled and another started
    // finishes nothing.
    let first = call(&mut c, 1, STATUS);
    call(&mut c, 2, ApiCall::Cancel);
    let second = call(&mut c, 3, STATUS);
    let timer = |out: &[Output]| {
        out.iter()
            .find_map(|o| match o {
                Output::SetTimer {
                    timer: t @ Timer::AsyncFinish { .. },
                    ..
                } => Some(*t),
                _ => None,
            })
            .expect("an AsyncFinish timer")
    };
    assert_eq!(feed(&mut c, 4, Input::Timer(timer(&first))), vec![]);
    let out = feed(&mut c, 5, Input::Timer(timer(&second)));
    assert_eq!(
        done(&out, R, ApiCallKind::GatherWriterStatus),
        Some(Hresult::AsyncFinished)
    );
    assert_eq!(feed(&mut c, 6, Input::Timer(timer(&second))), vec![]);
}
