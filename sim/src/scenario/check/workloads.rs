//! `[[workload]]`: volumes, rate, block pattern, region, write latency, bursts.

use model::time::Duration;

use super::super::ctx::Ctx;
use super::super::raw::RawWorkload;
use super::super::{Pattern, ScenarioError, VolumeSpec, WorkloadSpec};
use super::volumes::vol_ref;

/// Checks every workload: declared volumes, a rate in range, a known pattern, both burst keys.
pub(super) fn workloads(
    cx: &Ctx<'_>,
    raw: &[RawWorkload],
    volumes: &[VolumeSpec],
) -> Result<Vec<WorkloadSpec>, ScenarioError> {
    let mut workloads = Vec::new();
    for (i, w) in raw.iter().enumerate() {
        let vols = w
            .volumes
            .iter()
            .map(|s| vol_ref(cx, volumes, s, &format!("workload[{i}].volumes")))
            .collect::<Result<Vec<_>, _>>()?;
        if vols.is_empty() {
            return Err(cx.at(
                w.name.span(),
                &format!("workload[{i}].volumes"),
                "a workload writes to at least one volume".into(),
            ));
        }
        if w.rate == 0 || w.rate > 10_000_000 {
            return Err(cx.at(
                w.name.span(),
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
                    format!("unknown pattern `{other}`; use uniform, sequential or hotspot"),
                ));
            }
        };
        if w.blocks == Some(0) {
            return Err(cx.at(
                w.name.span(),
                &format!("workload[{i}].blocks"),
                "blocks must be at least 1".into(),
            ));
        }
        let burst = match (w.burst_on, w.burst_off) {
            (None, None) => None,
            (Some(on), Some(off)) if on.0 > Duration::ZERO => Some((on.0, off.0)),
            _ => {
                return Err(cx.at(
                    w.name.span(),
                    &format!("workload[{i}].burst_on"),
                    "bursts need both burst_on (above zero) and burst_off".into(),
                ));
            }
        };
        workloads.push(WorkloadSpec {
            name: w.name.get_ref().clone(),
            volumes: vols,
            rate: w.rate,
            pattern,
            blocks: w.blocks,
            write_latency: w
                .write_latency
                .map(|d| d.0)
                .unwrap_or(Duration::from_us(200)),
            burst,
        });
    }

    Ok(workloads)
}
