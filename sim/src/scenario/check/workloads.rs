//! `[[workload]]`: volumes, rate, block pattern, region, write latency, bursts.

use model::time::Duration;

use super::super::ctx::Ctx;
use super::super::limits::MAX_WORKLOADS;
use super::super::raw::RawWorkload;
use super::super::suggest::did_you_mean;
use super::super::{Pattern, ScenarioError, WorkloadSpec};
use super::volumes::{Volumes, vol_refs};
use super::within;

/// Checks every workload: declared volumes, a rate in range, a known pattern, both burst keys.
pub(super) fn workloads(
    cx: &Ctx<'_>,
    raw: &[RawWorkload],
    volumes: &Volumes<'_>,
) -> Result<Vec<WorkloadSpec>, ScenarioError> {
    within(
        cx,
        raw.len(),
        MAX_WORKLOADS,
        "workload",
        "[[workload]] tables",
        "MAX_WORKLOADS",
        || raw.get(MAX_WORKLOADS).map(|w| w.name.span()),
    )?;
    let mut workloads = Vec::with_capacity(raw.len());
    for (i, w) in raw.iter().enumerate() {
        let vols = vol_refs(cx, volumes, &w.volumes, &format!("workload[{i}].volumes"))?;
        if vols.is_empty() {
            return Err(cx.at(
                w.name.span(),
                &format!("workload[{i}].volumes"),
                "a workload writes to at least one volume".into(),
            ));
        }
        let rate = *w.rate.get_ref();
        if rate == 0 || rate > 10_000_000 {
            return Err(cx.at(
                w.rate.span(),
                &format!("workload[{i}].rate"),
                "rate is writes per second, from 1 to 10000000".into(),
            ));
        }
        let pattern = match w.pattern.as_ref().map(|s| s.get_ref().as_str()) {
            None | Some("uniform") => Pattern::Uniform,
            Some("sequential") => Pattern::Sequential,
            Some("hotspot") => Pattern::Hotspot,
            Some(other) => {
                let span = w.pattern.as_ref().expect("some").span();
                return Err(cx.at(
                    span,
                    &format!("workload[{i}].pattern"),
                    format!(
                        "unknown pattern `{other}`; {} (uniform, sequential or hotspot)",
                        did_you_mean(other, ["uniform", "sequential", "hotspot"])
                    ),
                ));
            }
        };
        let blocks = w.blocks.as_ref().map(|b| *b.get_ref());
        if let Some(b) = w.blocks.as_ref().filter(|b| *b.get_ref() == 0) {
            return Err(cx.at(
                b.span(),
                &format!("workload[{i}].blocks"),
                "blocks must be at least 1".into(),
            ));
        }
        let burst = match (&w.burst_on, &w.burst_off) {
            (None, None) => None,
            (Some(on), Some(off)) if on.get_ref().0 > Duration::ZERO => {
                Some((on.get_ref().0, off.get_ref().0))
            }
            (on, off) => {
                // At the key given: a zero burst_on, or the half of the pair that is there.
                let (span, key) = match (on, off) {
                    (Some(on), Some(_)) => (on.span(), "burst_on"),
                    (Some(on), None) => (on.span(), "burst_off"),
                    (None, Some(off)) => (off.span(), "burst_on"),
                    (None, None) => unreachable!("matched above"),
                };
                return Err(cx.at(
                    span,
                    &format!("workload[{i}].{key}"),
                    "bursts need both burst_on (above zero) and burst_off".into(),
                ));
            }
        };
        workloads.push(WorkloadSpec {
            name: w.name.get_ref().clone(),
            volumes: vols,
            rate,
            pattern,
            blocks,
            write_latency: w
                .write_latency
                .map(|d| d.0)
                .unwrap_or(Duration::from_us(200)),
            burst,
        });
    }

    Ok(workloads)
}
