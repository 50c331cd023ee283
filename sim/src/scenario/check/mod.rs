//! From the file's shape ([`super::raw`]) to a validated [`Scenario`], one section at a time.
//!
//! Each section has its own check, in the order the file documents them; each takes the raw
//! section and what earlier sections produced (volumes before everything that names one). The
//! first error wins and names the file, line and key. [`Scenario::check`] runs the same checks
//! on a scenario built in memory, through its canonical text.

use std::collections::BTreeMap;

use model::time::Duration;

use super::ctx::Ctx;
use super::raw::RawScenario;
use super::{Scenario, ScenarioError};
use crate::units::Dur;

mod expect;
pub(crate) mod machine;
mod providers;
mod requesters;
mod script;
mod volumes;
mod workloads;
mod writers;

/// Checks every section of `raw`; `stem` is the scenario's name when the file gives none.
pub(crate) fn validate(
    cx: &Ctx<'_>,
    stem: &str,
    raw: RawScenario,
) -> Result<Scenario, ScenarioError> {
    let (machine_name, epoch) = machine::machine(cx, &raw.machine)?;
    let profile = machine::profile(&raw.profile);
    let (max_virtual_time, max_steps) = machine::run(&raw.run);
    let volumes = volumes::volumes(cx, &raw.volume)?;
    let (system_provider_latency, system_provider_faults) =
        providers::system_provider(cx, &raw.system_provider)?;
    let providers = providers::providers(cx, &raw.provider, &volumes)?;
    let writers = writers::writers(cx, &raw.writer, &volumes)?;
    let workloads = workloads::workloads(cx, &raw.workload, &volumes)?;
    let requesters = requesters::requesters(cx, &raw.requester, &volumes, &providers, &writers)?;
    let expect = expect::expect(cx, raw.expect, &requesters, &writers)?;
    Ok(Scenario {
        name: raw.name.unwrap_or_else(|| stem.to_string()),
        description: raw.description.unwrap_or_default(),
        seed: raw.seed.unwrap_or(0),
        machine_name,
        epoch,
        profile,
        max_virtual_time,
        max_steps,
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
                format!("unknown {what} `{k}`; use one of {}", names.join(", ")),
            )
        })?;
        out.insert(name, d.0);
    }
    Ok(out.into_iter().collect())
}
