//! From the file's shape ([`super::raw`]) to a validated [`Scenario`], one section at a time.
//!
//! Each section has its own check, in the order the file documents them; each takes the raw
//! section and what earlier sections produced (volumes before everything that names one). The
//! first error wins and names the file, line and key. [`Scenario::check`] runs the same checks
//! on a scenario built in memory, through its canonical text.

use std::collections::BTreeMap;

use model::time::Duration;

use super::ctx::Ctx;
use super::limits::SEE;
use super::raw::RawScenario;
use super::suggest::did_you_mean;
use super::{Scenario, ScenarioError};
use crate::units::Dur;

mod budget;
mod expect;
pub(crate) mod machine;
mod prescan;
mod providers;
mod requesters;
mod script;
mod volumes;
mod workloads;
mod writers;

pub(crate) use prescan::prescan;

/// Checks every section of `raw`; `stem` is the scenario's name when the file gives none.
pub(crate) fn validate(
    cx: &Ctx<'_>,
    stem: &str,
    raw: RawScenario,
) -> Result<Scenario, ScenarioError> {
    let (machine_name, epoch) = machine::machine(cx, &raw.machine)?;
    machine::profile_values(cx, &raw.profile)?;
    let profile = machine::profile(&raw.profile);
    let (max_virtual_time, max_steps, heal) = machine::run(cx, &raw.run)?;
    let volumes = volumes::volumes(cx, &raw.volume)?;
    let vols = volumes::Volumes::new(&volumes);
    let (system_provider_latency, system_provider_faults) =
        providers::system_provider(cx, &raw.system_provider)?;
    let providers = providers::providers(cx, &raw.provider, &vols)?;
    let writers = writers::writers(cx, &raw.writer, &vols)?;
    let workloads = workloads::workloads(cx, &raw.workload, &vols, &writers)?;
    let requesters = requesters::requesters(cx, &raw.requester, &vols, &providers, &writers)?;
    let expect = expect::expect(cx, raw.expect, &requesters, &writers)?;
    budget::budget(
        cx,
        &budget::Limits {
            max_virtual_time,
            max_steps,
        },
        (&raw.workload, &workloads),
        (&raw.requester, &requesters),
        budget::fastest_backup(
            profile.api_call_latency,
            &system_provider_latency,
            &providers,
        ),
    )?;
    Ok(Scenario {
        name: raw.name.unwrap_or_else(|| stem.to_string()),
        description: raw.description.unwrap_or_default(),
        seed: raw.seed.unwrap_or(0),
        machine_name,
        epoch,
        profile,
        max_virtual_time,
        max_steps,
        heal,
        volumes,
        system_provider_latency,
        system_provider_faults,
        providers,
        writers,
        workloads,
        requesters,
        expect,
    })
}

/// A `latency = { Name = "10ms" }` table keyed by writer events or provider calls, in the
/// order of the enumeration. Two spellings of one event (`Freeze` and `OnFreeze`) keep the one
/// the run has always used: the later key in the table's (sorted) order.
pub(super) fn latency_table<K: Copy + Ord>(
    cx: &Ctx<'_>,
    table: &BTreeMap<String, Dur>,
    at: &str,
    what: &str,
    from_name: fn(&str) -> Option<K>,
    names: &[&str],
) -> Result<Vec<(K, Duration)>, ScenarioError> {
    let mut out = BTreeMap::new();
    for (k, d) in table {
        let name = from_name(k).ok_or_else(|| {
            cx.near(
                k,
                &format!("{at}.latency.{k}"),
                format!(
                    "unknown {what} `{k}`; {}",
                    did_you_mean(k, names.iter().copied())
                ),
            )
        })?;
        out.insert(name, d.0);
    }
    Ok(out.into_iter().collect())
}

/// Refuses a collection of `n` entries past its limit `max` (named `name` in the message), at
/// the first entry past it (`first_past`), under `key`.
pub(super) fn within(
    cx: &Ctx<'_>,
    n: usize,
    max: usize,
    key: &str,
    what: &str,
    name: &str,
    first_past: impl FnOnce() -> Option<std::ops::Range<usize>>,
) -> Result<(), ScenarioError> {
    if n <= max {
        return Ok(());
    }
    let message =
        format!("{n} {what}, more than the limit of {max} ({name}; {SEE}); remove the rest");
    Err(match first_past() {
        Some(span) => cx.at(span, key, message),
        None => ScenarioError {
            file: cx.file.to_string(),
            line: 0,
            column: 0,
            key: key.into(),
            message,
        },
    })
}
