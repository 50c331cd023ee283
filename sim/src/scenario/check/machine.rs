//! The top of the file: `[machine]`, `[profile]` and `[run]`.

use model::profile::Profile;
use model::time::Duration;

use super::super::ctx::Ctx;
use super::super::raw::{RawMachine, RawProfile, RawRun};
use super::super::{Heal, ScenarioError};
use crate::units::format_duration;

/// The machine name printed by the vssadmin view when `[machine] name` is absent.
pub(crate) const DEFAULT_MACHINE_NAME: &str = "vss-sim.local";
/// The wall-clock date of virtual time 0 when `[machine] epoch` is absent.
pub(crate) const DEFAULT_EPOCH: &str = "2024-01-01T00:00:00Z";
/// `[run] max_virtual_time` when absent: one hour.
pub(crate) const DEFAULT_MAX_VIRTUAL_TIME: Duration = Duration::from_secs(3600);
/// `[run] max_steps` when absent.
pub(crate) const DEFAULT_MAX_STEPS: u64 = 200_000_000;

/// `[machine]`: the machine name and an epoch the vssadmin view can print.
pub(super) fn machine(cx: &Ctx<'_>, raw: &RawMachine) -> Result<(String, String), ScenarioError> {
    if let Some(epoch) = &raw.epoch {
        if let Err(e) = crate::calendar::epoch_secs(epoch) {
            return Err(cx.near(
                epoch,
                "machine.epoch",
                format!("{e}; write it like \"2024-01-01T00:00:00Z\""),
            ));
        }
    }
    Ok((
        raw.name
            .clone()
            .unwrap_or_else(|| DEFAULT_MACHINE_NAME.into()),
        raw.epoch.clone().unwrap_or_else(|| DEFAULT_EPOCH.into()),
    ))
}

/// `[profile]`'s values that no Windows machine has: `client_accessible_shadows_max` is the
/// `MaxShadowCopies` registry value, from 1 (rule 18 recycles the oldest at the limit, so there
/// must be one to recycle).
pub(super) fn profile_values(cx: &Ctx<'_>, p: &RawProfile) -> Result<(), ScenarioError> {
    if p.client_accessible_shadows_max == Some(0) {
        return Err(cx.near(
            "client_accessible_shadows_max",
            "profile.client_accessible_shadows_max",
            "MaxShadowCopies is at least 1 (Windows accepts 1 to 512); write 1 or more".into(),
        ));
    }
    Ok(())
}

/// `[profile]`: Windows' profile with each key given overriding its field.
pub(super) fn profile(p: &RawProfile) -> Profile {
    let mut profile = Profile::windows();
    if let Some(v) = p.freeze_timeout_default {
        profile.freeze_timeout_default = v.0;
    }
    if let Some(v) = p.flush_and_hold_timeout {
        profile.flush_and_hold_timeout = v.0;
    }
    if let Some(v) = p.writer_response_timeout {
        profile.writer_response_timeout = v.0;
    }
    if let Some(v) = p.kb915331_race {
        profile.kb915331_race = v;
    }
    if let Some(v) = p.checks_volume_set {
        profile.checks_volume_set = v;
    }
    if let Some(v) = p.protection_level {
        profile.protection_level = v;
    }
    if let Some(v) = p.shadows_per_volume_max {
        profile.shadows_per_volume_max = v;
    }
    if let Some(v) = p.client_accessible_shadows_max {
        profile.client_accessible_shadows_max = v;
    }
    if let Some(v) = p.volumes_per_set_max {
        profile.volumes_per_set_max = v;
    }
    if let Some(v) = p.api_call_latency {
        profile.api_call_latency = v.0;
    }
    if let Some(v) = p.flush_latency {
        profile.flush_latency = v.0;
    }
    if let Some(v) = p.diff_area_min_small {
        profile.diff_area_min_small = v.0;
    }
    if let Some(v) = p.diff_area_min_large {
        profile.diff_area_min_large = v.0;
    }
    profile
}

/// `[run] settle_within` when absent: five minutes (rule 31).
pub(crate) const DEFAULT_SETTLE_WITHIN: Duration = Duration::from_secs(300);

/// `[run]`: the virtual-time limit, the step budget and the healing phase (rule 31).
pub(super) fn run(
    cx: &Ctx<'_>,
    raw: &RawRun,
) -> Result<(Duration, u64, Option<Heal>), ScenarioError> {
    let max_time = raw
        .max_virtual_time
        .map(|d| d.0)
        .unwrap_or(DEFAULT_MAX_VIRTUAL_TIME);
    let heal = match (raw.heal_at, raw.settle_within) {
        (None, None) => None,
        (None, Some(_)) => {
            return Err(cx.near(
                "settle_within",
                "run.settle_within",
                "settle_within bounds the time after heal_at, and there is no heal_at; add                  heal_at = \"30s\" (when faults stop) or remove settle_within"
                    .into(),
            ));
        }
        (Some(at), settle) => {
            let settle_within = settle.map(|d| d.0).unwrap_or(DEFAULT_SETTLE_WITHIN);
            if settle_within == Duration::ZERO {
                return Err(cx.near(
                    "settle_within",
                    "run.settle_within",
                    "settle_within is 0: nothing can settle in no time; write a positive \
                     duration such as \"5m\""
                        .into(),
                ));
            }
            if at.0 >= max_time {
                return Err(cx.near(
                    "heal_at",
                    "run.heal_at",
                    format!(
                        "heal_at = {} is not before max_virtual_time = {}: the run would end \
                         before healing; heal earlier or raise max_virtual_time",
                        format_duration(at.0),
                        format_duration(max_time)
                    ),
                ));
            }
            Some(Heal {
                at: at.0,
                settle_within,
            })
        }
    };
    Ok((max_time, raw.max_steps.unwrap_or(DEFAULT_MAX_STEPS), heal))
}
