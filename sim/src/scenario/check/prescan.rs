//! Before the TOML parse: the file's size and its array-of-tables headers against the limits.
//!
//! A 50 MB file of 1.2 M `[[volume]]` tables would take over a gigabyte and seconds to parse
//! into a document only to be refused at its 4 097th table: one pass over the lines counts the
//! headers (`[[volume]]`, `[[writer.component]]`, …) and refuses the first one past its limit,
//! at its line, under the key the check after the parse uses. Tables written inline
//! (`volume = [{ … }]`) are counted by that check. A line of a multi-line string that starts
//! with `[[volume]]` counts too: only a file with thousands of them could be refused for it.

use super::super::ScenarioError;
use super::super::ctx::Ctx;
use super::super::limits::{
    MAX_COMPONENTS, MAX_COMPONENTS_PER_WRITER, MAX_EXPECT_CALLS, MAX_FAULTS, MAX_PROVIDERS,
    MAX_REQUESTERS, MAX_SCENARIO_BYTES, MAX_VOLUMES, MAX_WORKLOADS, MAX_WRITERS, SEE,
};
use super::within;

/// Refuses a file past [`MAX_SCENARIO_BYTES`] or with more array tables than a limit allows.
pub(crate) fn prescan(cx: &Ctx<'_>) -> Result<(), ScenarioError> {
    if cx.src.len() > MAX_SCENARIO_BYTES {
        let (line, column) = cx.line_column(MAX_SCENARIO_BYTES);
        return Err(ScenarioError {
            file: cx.file.to_string(),
            line,
            column,
            key: String::new(),
            message: format!(
                "the file is {} bytes, more than the limit of {MAX_SCENARIO_BYTES} \
                 (MAX_SCENARIO_BYTES; {SEE}); this is where it passes the limit",
                cx.src.len()
            ),
        });
    }
    let mut n = Counts::default();
    let mut offset = 0;
    for line in cx.src.split_inclusive('\n') {
        let at = offset..offset + line.len();
        offset += line.len();
        let Some(name) = header(line) else { continue };
        let past = |count: usize, max: usize, key: &str, what: &str, limit: &str| {
            within(cx, count, max, key, what, limit, || Some(at.clone()))
        };
        match name.as_str() {
            "volume" => {
                n.volumes += 1;
                past(
                    n.volumes,
                    MAX_VOLUMES,
                    "volume",
                    "[[volume]] tables",
                    "MAX_VOLUMES",
                )?;
            }
            "writer" => {
                n.writers += 1;
                n.writer_components = 0;
                n.writer_faults = 0;
                past(
                    n.writers,
                    MAX_WRITERS,
                    "writer",
                    "[[writer]] tables",
                    "MAX_WRITERS",
                )?;
            }
            "writer.component" => {
                n.components += 1;
                n.writer_components += 1;
                let key = format!("writer[{}].component", n.writers.saturating_sub(1));
                past(
                    n.writer_components,
                    MAX_COMPONENTS_PER_WRITER,
                    &key,
                    "[[writer.component]] tables in one writer",
                    "MAX_COMPONENTS_PER_WRITER",
                )?;
                past(
                    n.components,
                    MAX_COMPONENTS,
                    &key,
                    "[[writer.component]] tables in all writers",
                    "MAX_COMPONENTS",
                )?;
            }
            "writer.fault" => {
                n.writer_faults += 1;
                let key = format!("writer[{}].fault", n.writers.saturating_sub(1));
                past(
                    n.writer_faults,
                    MAX_FAULTS,
                    &key,
                    "[[writer.fault]] tables in one writer",
                    "MAX_FAULTS",
                )?;
            }
            "provider" => {
                n.providers += 1;
                n.provider_faults = 0;
                past(
                    n.providers,
                    MAX_PROVIDERS,
                    "provider",
                    "[[provider]] tables",
                    "MAX_PROVIDERS",
                )?;
            }
            "provider.fault" => {
                n.provider_faults += 1;
                let key = format!("provider[{}].fault", n.providers.saturating_sub(1));
                past(
                    n.provider_faults,
                    MAX_FAULTS,
                    &key,
                    "fault tables in one provider",
                    "MAX_FAULTS",
                )?;
            }
            "system_provider.fault" => {
                n.system_faults += 1;
                past(
                    n.system_faults,
                    MAX_FAULTS,
                    "system_provider.fault",
                    "fault tables in one provider",
                    "MAX_FAULTS",
                )?;
            }
            "workload" => {
                n.workloads += 1;
                past(
                    n.workloads,
                    MAX_WORKLOADS,
                    "workload",
                    "[[workload]] tables",
                    "MAX_WORKLOADS",
                )?;
            }
            "requester" => {
                n.requesters += 1;
                past(
                    n.requesters,
                    MAX_REQUESTERS,
                    "requester",
                    "[[requester]] tables",
                    "MAX_REQUESTERS",
                )?;
            }
            "expect.calls" => {
                n.calls += 1;
                past(
                    n.calls,
                    MAX_EXPECT_CALLS,
                    "expect.calls",
                    "expected calls",
                    "MAX_EXPECT_CALLS",
                )?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Array tables seen so far.
#[derive(Default)]
struct Counts {
    volumes: usize,
    writers: usize,
    components: usize,
    writer_components: usize,
    writer_faults: usize,
    providers: usize,
    provider_faults: usize,
    system_faults: usize,
    workloads: usize,
    requesters: usize,
    calls: usize,
}

/// The name of the array table a `[[name]]` line opens, without blanks (`writer.component`).
fn header(line: &str) -> Option<String> {
    let rest = line.trim_start().strip_prefix("[[")?;
    let (name, _) = rest.split_once("]]")?;
    Some(name.chars().filter(|c| !c.is_whitespace()).collect())
}
