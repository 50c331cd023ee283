//! `[[workload]]`: volumes, rate, block pattern, region, write latency, bursts, and the
//! writer's application a workload may be.

use model::app::AppKind;
use model::time::Duration;

use super::super::ctx::Ctx;
use super::super::limits::MAX_WORKLOADS;
use super::super::raw::RawWorkload;
use super::super::suggest::did_you_mean;
use super::super::{AppSpec, Pattern, ScenarioError, WorkloadSpec, WriterSpec};
use super::volumes::{Volumes, vol_refs};
use super::within;

/// Checks every workload: declared volumes, a rate in range, a known pattern, both burst keys,
/// and for an application its kind, its writer and where its files lie.
pub(super) fn workloads(
    cx: &Ctx<'_>,
    raw: &[RawWorkload],
    volumes: &Volumes<'_>,
    writers: &[WriterSpec],
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
        let app = application(cx, i, w, (&vols, volumes), writers)?;
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
            app,
        });
    }

    Ok(workloads)
}

/// The application a workload is, if it names one: `application` and `writer` together, on
/// the volumes of one of that writer's components, with room for its files.
fn application(
    cx: &Ctx<'_>,
    i: usize,
    w: &RawWorkload,
    (vols, volumes): (&[usize], &Volumes<'_>),
    writers: &[WriterSpec],
) -> Result<Option<AppSpec>, ScenarioError> {
    let (kind, writer) = match (&w.application, &w.writer) {
        (None, None) => return Ok(None),
        (Some(a), None) => {
            return Err(cx.at(
                a.span(),
                &format!("workload[{i}].application"),
                "an application belongs to the writer that freezes it: add writer = \"NAME\""
                    .into(),
            ));
        }
        (None, Some(wr)) => {
            return Err(cx.at(
                wr.span(),
                &format!("workload[{i}].writer"),
                "a workload of a writer is its application: add application = \"database\" \
                 or \"file_rewrite\""
                    .into(),
            ));
        }
        (Some(a), Some(wr)) => (a, wr),
    };
    let names = ["database", "file_rewrite"];
    let app_kind = match kind.get_ref().as_str() {
        "database" => AppKind::DATABASE,
        "file_rewrite" => AppKind::FILE_REWRITE,
        other => {
            return Err(cx.at(
                kind.span(),
                &format!("workload[{i}].application"),
                format!(
                    "unknown application `{other}`; {}",
                    did_you_mean(other, names)
                ),
            ));
        }
    };
    let Some(wi) = writers.iter().position(|x| x.name == *writer.get_ref()) else {
        return Err(cx.at(
            writer.span(),
            &format!("workload[{i}].writer"),
            format!(
                "no writer `{}` is declared; {}",
                writer.get_ref(),
                did_you_mean(writer.get_ref(), writers.iter().map(|x| x.name.as_str()))
            ),
        ));
    };
    let at_volumes = || w.volumes[0].span();
    let vkey = format!("workload[{i}].volumes");
    let (min, max, shape) = match app_kind {
        AppKind::Database { .. } => (1, 2, "a data file and a log: one volume or two"),
        AppKind::FileRewrite { .. } => (1, 1, "its files on one volume"),
    };
    if vols.len() < min || vols.len() > max {
        return Err(cx.at(
            at_volumes(),
            &vkey,
            format!("a {} application has {shape}", app_kind.name()),
        ));
    }
    // Its files lie on the volumes of one of its writer's components, so a backup of that
    // component holds all of them.
    let mut mine = vols.to_vec();
    mine.sort_unstable();
    mine.dedup();
    let covered = writers[wi].components.iter().any(|c| {
        let mut cv = c.volumes.clone();
        cv.sort_unstable();
        cv.dedup();
        cv == mine
    });
    if !covered || mine.len() != vols.len() {
        return Err(cx.at(
            at_volumes(),
            &vkey,
            format!(
                "an application's files lie on the volumes of one of its writer's components; \
                 give the volumes of one component of `{}`",
                writers[wi].name
            ),
        ));
    }
    if let AppKind::FileRewrite { .. } = app_kind {
        for (key, given) in [
            ("pattern", w.pattern.as_ref().map(|p| p.span())),
            ("blocks", w.blocks.as_ref().map(|b| b.span())),
        ] {
            if let Some(span) = given {
                return Err(cx.at(
                    span,
                    &format!("workload[{i}].{key}"),
                    format!("a file_rewrite application writes its files in order; remove {key}"),
                ));
            }
        }
    }
    let n = |v: usize| volumes.specs[v].bytes / u64::from(volumes.specs[v].block_size);
    let data = w.blocks.as_ref().map(|b| *b.get_ref());
    let (first, second) = app_blocks(app_kind, data, vols.iter().map(|v| n(*v)).collect());
    if first > n(vols[0]) || vols.get(1).is_some_and(|v| second > n(*v)) {
        return Err(cx.at(
            w.blocks.as_ref().map_or_else(at_volumes, |b| b.span()),
            &format!("workload[{i}].blocks"),
            format!(
                "the {} application needs {first} blocks on {}{}, more than the volume has",
                app_kind.name(),
                volumes.specs[vols[0]].name,
                if second > 0 {
                    format!(" and {second} on {}", volumes.specs[vols[1]].name)
                } else {
                    String::new()
                }
            ),
        ));
    }
    Ok(Some(AppSpec {
        kind: app_kind,
        writer: wi,
        data_blocks: data_region(app_kind, data, n(vols[0]), vols.len() > 1),
    }))
}

/// The blocks an application of `kind` needs on its first and second volume, given the
/// workload's `blocks` (a database's data region) and its volumes' sizes in blocks.
fn app_blocks(kind: AppKind, data: Option<u64>, sizes: Vec<u64>) -> (u64, u64) {
    let two = sizes.len() > 1;
    kind.blocks_needed(data_region(kind, data, sizes[0], two), two)
}

/// A database's data region: the workload's `blocks`, else the first volume (less the log
/// when the log shares it).
fn data_region(kind: AppKind, data: Option<u64>, first: u64, two: bool) -> u64 {
    data.unwrap_or(match kind {
        AppKind::Database { .. } if !two => first.saturating_sub(model::app::DATABASE_LOG_BLOCKS),
        _ => first,
    })
}
