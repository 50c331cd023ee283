//! The text views: the timeline of a run and the summary printed after it. Pure functions of
//! the trace records and the JSON report.

use model::api::ShadowStatus;

use super::json::Report;
use crate::trace::Record;

fn fmt_t(t_us: u64) -> String {
    format!("{:>4}.{:06}s", t_us / 1_000_000, t_us % 1_000_000)
}

/// The readable timeline: one line per record, virtual timestamps first.
pub fn timeline(records: &[Record]) -> String {
    let mut s = String::new();
    for r in records {
        let line = match r.kind {
            "call" => format!(
                "-> {}({})",
                r.name.unwrap_or(""),
                r.detail.as_deref().unwrap_or("")
            ),
            "reply" => format!(
                "   {} returned {}",
                r.name.unwrap_or(""),
                r.result.unwrap_or("")
            ),
            "async_done" => {
                format!(
                    "   {}: Wait, QueryStatus = {}",
                    r.name.unwrap_or(""),
                    r.result.unwrap_or("")
                )
            }
            "new_object" => "CreateVssBackupComponents: a new object".to_string(),
            "go_away" => "the requester process goes away (rule 27)".to_string(),
            "deadline" => "the requester's deadline passed".to_string(),
            "heal" => format!(
                "faults stop (heal_at, rule 31): {}",
                r.detail.as_deref().unwrap_or("")
            ),
            "event" => format!("<- {}", r.name.unwrap_or("")),
            "answer" => format!(
                "{} answered {}",
                r.name.unwrap_or(""),
                r.result.unwrap_or("")
            ),
            "state" => format!(
                "state {} -> {} (last error {}){}",
                r.prev.unwrap_or(""),
                r.next.unwrap_or(""),
                r.last_error.unwrap_or(""),
                r.rule.map(|x| format!(", rule {x}")).unwrap_or_default()
            ),
            "provider_call" => format!("<- {}", r.name.unwrap_or("")),
            "provider_answer" => match r.result {
                Some(result) => format!("{} answered {result}", r.name.unwrap_or("")),
                // AbortSnapshots: nothing waits for an answer.
                None => format!("{}: not answered", r.name.unwrap_or("")),
            },
            "hold" => format!(
                "FlushAndHoldWrites: snapshot instant, writes held (rule 13){}",
                vol(r)
            ),
            "flushed" => "flush done: writes in flight at the hold drained".to_string(),
            "protection_fault" => format!(
                "VSS_PROTECTION_FAULT_DIFF_AREA_FULL: the diff area is full, writes fail (rule 17){}",
                vol(r)
            ),
            "release" => format!(
                "ReleaseWrites: {} held writes released in order after {}us, largest added latency {}us{}",
                r.n.unwrap_or(0),
                r.us.unwrap_or(0),
                r.detail.as_deref().unwrap_or("0"),
                vol(r)
            ),
            "shadow_created" => format!(
                "shadow {} of {} created",
                r.snapshot_id.as_deref().unwrap_or(""),
                r.volume.as_deref().unwrap_or("")
            ),
            "shadow_deleted" => format!(
                "shadow {} deleted ({})",
                r.snapshot_id.as_deref().unwrap_or(""),
                r.detail.as_deref().unwrap_or("")
            ),
            "read" => format!(
                "ReadShadow {} {} blocks: {}",
                r.volume.as_deref().unwrap_or(""),
                r.n.unwrap_or(0),
                r.result.unwrap_or("")
            ),
            "phase" => format!(
                "DoSnapshotSet {}{}",
                r.detail.as_deref().unwrap_or(""),
                r.rule.map(|x| format!(" (rule {x})")).unwrap_or_default()
            ),
            "late_answer" => "late answer ignored".to_string(),
            "violation" => format!(
                "VIOLATION {}: {}",
                r.name.unwrap_or(""),
                r.detail.as_deref().unwrap_or("")
            ),
            "app_image" => format!(
                "{} ({}) in set {}: {}, {} (rule {})",
                r.application.as_deref().unwrap_or(""),
                r.name.unwrap_or(""),
                r.set_id.as_deref().unwrap_or(""),
                r.result.unwrap_or(""),
                r.detail.as_deref().unwrap_or(""),
                r.rule.unwrap_or("")
            ),
            "finding" => format!(
                "FINDING {}: {}",
                r.name.unwrap_or(""),
                r.detail.as_deref().unwrap_or("")
            ),
            "end" => format!("run ends: {}", r.detail.as_deref().unwrap_or("")),
            "stage" if r.span == Some("begin") => {
                format!("DoSnapshotSet stage {}", r.name.unwrap_or(""))
            }
            "read_shadow" if r.span == Some("begin") => format!(
                "ReadShadow: reading the shadow of {} ({} blocks)",
                r.volume.as_deref().unwrap_or(""),
                r.n.unwrap_or(0)
            ),
            "read_shadow" => format!("ReadShadow done: {}", r.result.unwrap_or("")),
            "read_live" => format!(
                "copies the LIVE volume {} ({} blocks), not a shadow copy",
                r.volume.as_deref().unwrap_or(""),
                r.n.unwrap_or(0)
            ),
            "freeze_window" if r.span == Some("begin") => "freeze window opens".to_string(),
            "freeze_window" => format!(
                "freeze window closes after {}us ({})",
                r.us.unwrap_or(0),
                r.detail.as_deref().unwrap_or("")
            ),
            // Span ends that repeat what the lines around them say, counter samples, and the
            // records the report is folded from (declarations, the service's returns,
            // results) that the lines around them already say.
            "stage" | "counter" | "span_end" | "instance" | "returned" | "async_status"
            | "result" => continue,
            other => other.to_string(),
        };
        s.push_str(&format!("{}  {:<36} {}\n", fmt_t(r.t_us), r.who(), line));
    }
    s
}

fn vol(r: &Record) -> String {
    r.volume
        .as_deref()
        .map(|v| format!(" on {v}"))
        .unwrap_or_default()
}

/// The text summary printed after the timeline.
pub fn summary_text(report: &Report) -> String {
    let s = &report.summary;
    let mut out = String::new();
    out.push_str(&format!("\nresult: {}\n", report.result));
    for r in &report.requesters {
        out.push_str(&format!("  requester {}: {}\n", r.name, r.result));
    }
    let remaining = report
        .snapshots
        .iter()
        .filter(|x| x.status == ShadowStatus::Exists.name())
        .count();
    out.push_str(&format!(
        "shadows made: {} ({} remain)\n",
        s.shadows_made, remaining
    ));
    out.push_str(&format!(
        "flush-and-hold: {} hold(s), longest {}us (limit 10s); {} writes delayed, largest added latency {}us\n",
        s.holds, s.hold_us, s.writes_delayed, s.max_added_latency_us
    ));
    out.push_str("freeze windows used:\n");
    for f in &s.freeze_windows {
        if f.used_us > 0 {
            out.push_str(&format!(
                "  {:<36} {:>10}us of {}us\n",
                f.writer, f.used_us, f.limit_us
            ));
        }
    }
    out.push_str("writers:\n");
    for w in &report.writers {
        out.push_str(&format!(
            "  {:<36} {} ({})\n",
            w.name, w.state, w.last_error
        ));
    }
    if !report.violations.is_empty() {
        out.push_str(&format!("violations: {}\n", report.violations.join(", ")));
    }
    if !report.findings.is_empty() {
        let names: Vec<&str> = report.findings.iter().map(|f| f.name.as_str()).collect();
        out.push_str(&format!(
            "findings (not violations, rule 33): {}\n",
            names.join(", ")
        ));
    }
    out.push_str(&format!(
        "virtual time {}us, {} events, trace {}\n",
        report.virtual_time_us, report.events, report.trace_digest
    ));
    if report.expect.passed {
        out.push_str("expect: passed\n");
    } else {
        out.push_str("expect: FAILED\n");
        for f in &report.expect.failures {
            out.push_str(&format!("  - {f}\n"));
        }
    }
    out
}
