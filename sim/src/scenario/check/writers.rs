//! `[[writer]]`: names, class ids, latencies, components and faults.

use model::ids::Guid;
use model::vss::{ApplicationLevel, UsageType, WriterEvent};

use super::super::ctx::Ctx;
use super::super::limits::{MAX_COMPONENTS, MAX_COMPONENTS_PER_WRITER, MAX_FAULTS, MAX_WRITERS};
use super::super::raw::{RawComponent, RawWriter, RawWriterFault};
use super::super::{ComponentSpec, ScenarioError, WriterFaultSpec, WriterSpec};
use super::volumes::{Volumes, vol_refs};
use super::{latency_table, within};

/// Checks every writer: unique names, GUIDs, known events, components on declared volumes.
pub(super) fn writers(
    cx: &Ctx<'_>,
    raw: &[RawWriter],
    volumes: &Volumes<'_>,
) -> Result<Vec<WriterSpec>, ScenarioError> {
    within(
        cx,
        raw.len(),
        MAX_WRITERS,
        "writer",
        "[[writer]] tables",
        "MAX_WRITERS",
        || raw.get(MAX_WRITERS).map(|w| w.name.span()),
    )?;
    let mut writers: Vec<WriterSpec> = Vec::with_capacity(raw.len());
    let mut seen = std::collections::BTreeSet::new();
    let mut n_components = 0usize;
    for (i, w) in raw.iter().enumerate() {
        let name = w.name.get_ref().clone();
        n_components += w.component.len();
        within(
            cx,
            n_components,
            MAX_COMPONENTS,
            &format!("writer[{i}].component"),
            "[[writer.component]] tables in all writers",
            "MAX_COMPONENTS",
            || {
                let first_past = w.component.len() - (n_components - MAX_COMPONENTS);
                w.component.get(first_past).map(|c| c.name.span())
            },
        )?;
        if !seen.insert(name.clone()) {
            return Err(cx.at(
                w.name.span(),
                &format!("writer[{i}].name"),
                format!("writer `{name}` is declared twice"),
            ));
        }
        let class_id = match &w.class_id {
            None => None,
            Some(s) => Some(Guid::parse(s.get_ref()).ok_or_else(|| {
                cx.at(
                    s.span(),
                    &format!("writer[{i}].class_id"),
                    "not a GUID like {e8132975-6f93-4464-a53e-1050253ae220}".into(),
                )
            })?),
        };
        for k in w.latency.keys() {
            if WriterEvent::from_name(k).is_some_and(is_restore) {
                return Err(cx.near(
                    k,
                    &format!("writer[{i}].latency.{k}"),
                    format!("`{k}` is a restore event: restore is not simulated yet, so this latency would do nothing; remove it"),
                ));
            }
        }
        let latency = latency_table(
            cx,
            &w.latency,
            &format!("writer[{i}]"),
            "writer event",
            WriterEvent::from_name,
            WriterEvent::NAMES,
        )?;
        let components = components(cx, &w.component, volumes, i)?;
        let faults = faults(cx, &w.fault, i)?;
        writers.push(WriterSpec {
            name,
            class_id,
            level: w.level.unwrap_or(ApplicationLevel::FrontEnd),
            usage: w.usage.unwrap_or(UsageType::UserData),
            freeze_timeout: w.freeze_timeout.map(|d| d.0),
            checks_volume_set: w.checks_volume_set,
            latency,
            components,
            faults,
        });
    }
    Ok(writers)
}

/// Writer `i`'s components: each on declared volumes.
fn components(
    cx: &Ctx<'_>,
    raw: &[RawComponent],
    volumes: &Volumes<'_>,
    i: usize,
) -> Result<Vec<ComponentSpec>, ScenarioError> {
    within(
        cx,
        raw.len(),
        MAX_COMPONENTS_PER_WRITER,
        &format!("writer[{i}].component"),
        "[[writer.component]] tables in one writer",
        "MAX_COMPONENTS_PER_WRITER",
        || raw.get(MAX_COMPONENTS_PER_WRITER).map(|c| c.name.span()),
    )?;
    let mut components = Vec::with_capacity(raw.len());
    for (j, c) in raw.iter().enumerate() {
        let vols = vol_refs(
            cx,
            volumes,
            &c.volumes,
            &format!("writer[{i}].component[{j}].volumes"),
        )?;
        components.push(ComponentSpec {
            name: c.name.get_ref().clone(),
            logical_path: c.logical_path.clone().unwrap_or_default(),
            volumes: vols,
        });
    }
    Ok(components)
}

/// Writer `i`'s faults: exactly one effect each, writer failure codes only (but at Identify).
fn faults(
    cx: &Ctx<'_>,
    raw: &[RawWriterFault],
    i: usize,
) -> Result<Vec<WriterFaultSpec>, ScenarioError> {
    within(
        cx,
        raw.len(),
        MAX_FAULTS,
        &format!("writer[{i}].fault"),
        "[[writer.fault]] tables in one writer",
        "MAX_FAULTS",
        || raw.get(MAX_FAULTS).map(|f| f.event.span()),
    )?;
    let mut faults = Vec::new();
    for (j, f) in raw.iter().enumerate() {
        let key = format!("writer[{i}].fault[{j}]");
        let event = *f.event.get_ref();
        let span = f.event.span();
        if is_restore(event) {
            // Name the event as the file spells it (`PostRestore` or `OnPostRestore`).
            let written = cx
                .src
                .get(span.clone())
                .map(|t| t.trim_matches(|c| c == '"' || c == '\''))
                .filter(|t| WriterEvent::from_name(t) == Some(event))
                .unwrap_or(event.name());
            return Err(cx.at(
                span,
                &format!("{key}.event"),
                format!("`{written}` is a restore event: restore is not simulated yet, so this fault would never fire; remove it"),
            ));
        }
        let action = match (f.fail, f.hang, f.delay) {
            (Some(code), None, None) => {
                if event != WriterEvent::Identify && !code.is_writer_failure() {
                    return Err(cx.near_after(span.start, code.name(), &format!("{key}.fail"), format!("{code} is not a writer failure code; use one of the VSS_E_WRITERERROR_* codes")));
                }
                model::writer::FaultAction::Fail(code)
            }
            (None, Some(true), None) => model::writer::FaultAction::Hang,
            (None, None, Some(d)) => model::writer::FaultAction::Delay(d.0),
            _ => {
                return Err(cx.at(span, &key, "a fault needs exactly one of fail = \"VSS_E_...\", hang = true or delay = \"70s\"".into()));
            }
        };
        faults.push(WriterFaultSpec {
            event,
            action,
            sessions: f.sessions,
        });
    }
    Ok(faults)
}

/// PreRestore and PostRestore: the simulator runs backups only, so nothing sends them.
fn is_restore(event: WriterEvent) -> bool {
    matches!(event, WriterEvent::PreRestore | WriterEvent::PostRestore)
}
