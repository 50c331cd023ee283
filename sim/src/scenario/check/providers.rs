//! `[system_provider]` and `[[provider]]`: kinds, ids, supported volumes, latencies, faults.

use std::collections::BTreeMap;

use model::ids::Guid;
use model::provider::ProviderFault;
use model::time::Duration;
use model::vss::{ProviderCall, ProviderType};

use super::super::ctx::Ctx;
use super::super::limits::{MAX_FAULTS, MAX_PROVIDERS};
use super::super::raw::{RawProvider, RawProviderFault, RawSystemProvider};
use super::super::suggest::did_you_mean;
use super::super::{ProviderSpec, ScenarioError};
use super::volumes::{Volumes, vol_refs};
use super::{latency_table, within};
use crate::units::Dur;

/// A provider's `latency` table, keyed by provider call names.
fn provider_latency(
    cx: &Ctx<'_>,
    table: &BTreeMap<String, Dur>,
    at: &str,
) -> Result<Vec<(ProviderCall, Duration)>, ScenarioError> {
    latency_table(
        cx,
        table,
        at,
        "provider call",
        ProviderCall::from_name,
        ProviderCall::NAMES,
    )
}

/// A provider's `[[…fault]]` list: each names a call and does exactly one thing.
pub(super) fn provider_faults(
    cx: &Ctx<'_>,
    list: &[RawProviderFault],
    at: &str,
) -> Result<Vec<ProviderFault>, ScenarioError> {
    within(
        cx,
        list.len(),
        MAX_FAULTS,
        &format!("{at}.fault"),
        "fault tables in one provider",
        "MAX_FAULTS",
        || list.get(MAX_FAULTS).map(|f| f.call.span()),
    )?;
    let mut out = Vec::new();
    for (j, f) in list.iter().enumerate() {
        let key = format!("{at}.fault[{j}]");
        let call = ProviderCall::from_name(f.call.get_ref()).ok_or_else(|| {
            cx.at(
                f.call.span(),
                &format!("{key}.call"),
                format!(
                    "unknown provider call `{}`; {}",
                    f.call.get_ref(),
                    did_you_mean(f.call.get_ref(), ProviderCall::NAMES.iter().copied())
                ),
            )
        })?;
        let action = match (f.fail, f.hang, f.delay) {
            (Some(code), None, None) => model::writer::FaultAction::Fail(code),
            (None, Some(true), None) => model::writer::FaultAction::Hang,
            (None, None, Some(d)) => model::writer::FaultAction::Delay(d.0),
            _ => {
                return Err(cx.at(f.call.span(), &key, "a provider fault needs exactly one of fail = \"VSS_E_...\", hang = true or delay = \"12s\"".into()));
            }
        };
        out.push(ProviderFault {
            call,
            action,
            times: f.times,
        });
    }
    Ok(out)
}

/// A provider's latency overrides and faults.
type LatencyAndFaults = (Vec<(ProviderCall, Duration)>, Vec<ProviderFault>);

/// The system provider's latency overrides and faults.
pub(super) fn system_provider(
    cx: &Ctx<'_>,
    raw: &RawSystemProvider,
) -> Result<LatencyAndFaults, ScenarioError> {
    let latency = provider_latency(cx, &raw.latency, "system_provider")?;
    let faults = provider_faults(cx, &raw.fault, "system_provider")?;
    Ok((latency, faults))
}

/// The extra providers: software or hardware, a GUID if given, declared volumes.
pub(super) fn providers(
    cx: &Ctx<'_>,
    raw: &[RawProvider],
    volumes: &Volumes<'_>,
) -> Result<Vec<ProviderSpec>, ScenarioError> {
    within(
        cx,
        raw.len(),
        MAX_PROVIDERS,
        "provider",
        "[[provider]] tables",
        "MAX_PROVIDERS",
        || raw.get(MAX_PROVIDERS).map(|p| p.name.span()),
    )?;
    let mut providers = Vec::new();
    for (i, p) in raw.iter().enumerate() {
        let kind = *p.kind.get_ref();
        if kind == ProviderType::System || kind == ProviderType::Unknown {
            return Err(cx.at(
                p.kind.span(),
                &format!("provider[{i}].type"),
                "the system provider is always registered; extra providers are VSS_PROV_SOFTWARE or VSS_PROV_HARDWARE".into(),
            ));
        }
        let id = match &p.id {
            None => None,
            Some(s) => Some(Guid::parse(s.get_ref()).ok_or_else(|| {
                cx.at(
                    s.span(),
                    &format!("provider[{i}].id"),
                    "not a GUID like {b5946137-7b9f-4925-af80-51abd60b20d5}".into(),
                )
            })?),
        };
        let vols = match &p.volumes {
            None => None,
            Some(list) => Some(vol_refs(
                cx,
                volumes,
                list,
                &format!("provider[{i}].volumes"),
            )?),
        };
        let latency = provider_latency(cx, &p.latency, &format!("provider[{i}]"))?;
        let faults = provider_faults(cx, &p.fault, &format!("provider[{i}]"))?;
        providers.push(ProviderSpec {
            name: p.name.get_ref().clone(),
            kind,
            id,
            version: p.version.clone().unwrap_or_else(|| "1.0".into()),
            volumes: vols,
            latency,
            faults,
        });
    }
    Ok(providers)
}
