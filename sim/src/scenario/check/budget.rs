//! The run's work against its limits, before it runs: a scenario whose workloads, backups or
//! start times cannot fit `[run] max_steps` and `max_virtual_time` is refused here, naming the
//! key and the limit, instead of running for seconds and ending `stalled`.
//!
//! Every estimate is a lower bound of the work the key asks for, so a refusal is certain: a
//! workload writes at least ⅔ × `rate` times a second while on (its gaps are jittered between ½
//! and 1½ times 1/rate), and a backup of the standard sequence takes at least
//! [`MIN_STEPS_PER_BACKUP`] steps and [`MIN_CALLS_PER_BACKUP`] call latencies plus its fastest
//! provider's `EndPrepareSnapshots` and `CommitSnapshots`. Workloads write for the whole run,
//! so their writes are counted up to `max_virtual_time`, the run's length if a requester does
//! not finish.

use model::time::Duration;
use model::vss::ProviderCall;

use super::super::ctx::Ctx;
use super::super::limits::MIN_STEPS_PER_BACKUP;
use super::super::raw::{RawRequester, RawWorkload};
use super::super::{ProviderSpec, RequesterSpec, ScenarioError, WorkloadSpec};
use crate::units::format_duration;

/// Calls of one backup of the standard sequence that each take `[profile] api_call_latency` at
/// the least (`InitializeForBackup`, `SetContext`, `SetBackupState`, `GatherWriterMetadata`,
/// `StartSnapshotSet`, `AddToSnapshotSet`, `PrepareForBackup`, `DoSnapshotSet`,
/// `GatherWriterStatus`, `BackupComplete`, `Release`: eleven; eight counted).
pub(crate) const MIN_CALLS_PER_BACKUP: u64 = 8;

/// The run's limits: `[run] max_virtual_time` and `max_steps`.
pub(super) struct Limits {
    pub(super) max_virtual_time: Duration,
    pub(super) max_steps: u64,
}

/// Refuses workloads, repeats and start times that cannot fit the run's limits.
pub(super) fn budget(
    cx: &Ctx<'_>,
    limits: &Limits,
    (raw_w, workloads): (&[RawWorkload], &[WorkloadSpec]),
    (raw_r, requesters): (&[RawRequester], &[RequesterSpec]),
    fastest_backup: Duration,
) -> Result<(), ScenarioError> {
    let t = limits.max_virtual_time.as_us();
    let steps = u128::from(limits.max_steps);
    let mut writes: u128 = 0;
    for (i, (raw, w)) in raw_w.iter().zip(workloads).enumerate() {
        let on_us = match w.burst {
            None => u128::from(t),
            Some((on, off)) => {
                let on = u128::from(on.as_us());
                let period = on + u128::from(off.as_us());
                let t = u128::from(t);
                t / period * on + (t % period).min(on)
            }
        };
        writes += u128::from(w.rate) * on_us * 2 / 3 / 1_000_000;
        if writes > steps {
            return Err(cx.at(
                raw.rate.span(),
                &format!("workload[{i}].rate"),
                format!(
                    "the workloads write at least {writes} times in [run] max_virtual_time = {}, \
                     more than the step budget [run] max_steps = {}, which would end the run \
                     part-way; lower the rate, shorten max_virtual_time or raise max_steps",
                    format_duration(limits.max_virtual_time),
                    limits.max_steps
                ),
            ));
        }
    }
    let mut backups_steps: u128 = 0;
    for (i, (raw, r)) in raw_r.iter().zip(requesters).enumerate() {
        if let Some(start) = &raw.start {
            if r.start >= limits.max_virtual_time {
                return Err(cx.at(
                    start.span(),
                    &format!("requester[{i}].start"),
                    format!(
                        "the requester would start at {}, not before the run ends at [run] \
                         max_virtual_time = {}: it would never run; start it earlier or raise \
                         max_virtual_time",
                        format_duration(r.start),
                        format_duration(limits.max_virtual_time)
                    ),
                ));
            }
        }
        // A deadline or a go-away ends the series early (no further repeat): it fits.
        let Some(repeat) = &raw.repeat else { continue };
        if r.policy.deadline.is_some() || r.go_away_at.is_some() {
            continue;
        }
        let backups = u128::from(r.repeat) + 1;
        backups_steps += backups * u128::from(MIN_STEPS_PER_BACKUP);
        let series_us = backups * u128::from(fastest_backup.as_us());
        let left_us = u128::from(t - r.start.as_us());
        if series_us > left_us {
            return Err(cx.at(
                repeat.span(),
                &format!("requester[{i}].repeat"),
                format!(
                    "{backups} backups of at least {} each cannot end before [run] \
                     max_virtual_time = {}; lower repeat or raise max_virtual_time",
                    format_duration(fastest_backup),
                    format_duration(limits.max_virtual_time)
                ),
            ));
        }
        if backups_steps > steps {
            return Err(cx.at(
                repeat.span(),
                &format!("requester[{i}].repeat"),
                format!(
                    "{backups} backups take at least {} steps ({MIN_STEPS_PER_BACKUP} each), \
                     more than the step budget [run] max_steps = {}; lower repeat or raise \
                     max_steps",
                    backups * u128::from(MIN_STEPS_PER_BACKUP),
                    limits.max_steps
                ),
            ));
        }
    }
    Ok(())
}

/// The least virtual time one backup of the standard sequence takes: its calls' latency and the
/// fastest provider's `EndPrepareSnapshots` and `CommitSnapshots` (every creation makes both,
/// rule 2).
pub(super) fn fastest_backup(
    api_call_latency: Duration,
    system_latency: &[(ProviderCall, Duration)],
    providers: &[ProviderSpec],
) -> Duration {
    let creation = |overrides: &[(ProviderCall, Duration)]| {
        [
            ProviderCall::EndPrepareSnapshots,
            ProviderCall::CommitSnapshots,
        ]
        .iter()
        .map(|c| {
            overrides
                .iter()
                .find(|(o, _)| o == c)
                .map(|(_, d)| *d)
                .unwrap_or_else(|| model::provider::default_latency(*c))
                .as_us()
        })
        .fold(0u64, u64::saturating_add)
    };
    let provider_us = providers
        .iter()
        .map(|p| creation(&p.latency))
        .fold(creation(system_latency), u64::min);
    Duration::from_us(
        api_call_latency
            .as_us()
            .saturating_mul(MIN_CALLS_PER_BACKUP)
            .saturating_add(provider_us),
    )
}
