//! `[expect]`: what the run must show, naming declared requesters and writers.

use std::collections::BTreeSet;

use model::app::AppKind;

use super::super::ctx::Ctx;
use super::super::limits::{MAX_EXPECT_CALLS, MAX_EXPECT_VIOLATIONS};
use super::super::raw::RawExpect;
use super::super::suggest::did_you_mean;
use super::super::{
    CALL_NAMES, CallExpect, Expect, RequesterSpec, ScenarioError, VIOLATION_NAMES, WriterSpec,
};
use super::within;

/// The statuses `[expect] snapshots` counts.
const SNAPSHOT_STATUSES: &[&str] = &[
    "exists",
    "released",
    "deleted",
    "aborted",
    "diff_area_full",
    "recycled",
];

/// Checks `[expect]`: declared names, known violations, statuses and calls, `nth` from 1.
pub(super) fn expect(
    cx: &Ctx<'_>,
    e: RawExpect,
    requesters: &[RequesterSpec],
    writers: &[WriterSpec],
) -> Result<Expect, ScenarioError> {
    let requester_names: BTreeSet<&str> = requesters.iter().map(|r| r.name.as_str()).collect();
    let writer_names: BTreeSet<&str> = writers.iter().map(|w| w.name.as_str()).collect();
    let no_requester = |name: &str| {
        format!(
            "no requester named `{name}`; {}",
            did_you_mean(name, requester_names.iter().copied())
        )
    };
    let no_writer = |name: &str| {
        format!(
            "no writer named `{name}`; {}",
            did_you_mean(name, writer_names.iter().copied())
        )
    };
    for name in e.requesters.keys() {
        if !requester_names.contains(name.as_str()) {
            return Err(cx.near(
                name,
                &format!("expect.requesters.{name}"),
                no_requester(name),
            ));
        }
    }
    for name in e.writers.keys() {
        if !writer_names.contains(name.as_str()) {
            return Err(cx.near(name, &format!("expect.writers.{name}"), no_writer(name)));
        }
    }
    within(
        cx,
        e.violations.len(),
        MAX_EXPECT_VIOLATIONS,
        "expect.violations",
        "expected violations",
        "MAX_EXPECT_VIOLATIONS",
        || e.violations.get(MAX_EXPECT_VIOLATIONS).map(|v| v.span()),
    )?;
    for v in &e.violations {
        if !VIOLATION_NAMES.contains(&v.get_ref().as_str()) {
            return Err(cx.at(
                v.span(),
                "expect.violations",
                format!(
                    "unknown violation `{}`; {} (`vss-sim oracles` lists them all)",
                    v.get_ref(),
                    did_you_mean(v.get_ref(), VIOLATION_NAMES.iter().copied())
                ),
            ));
        }
    }
    for status in e.snapshots.keys() {
        if !SNAPSHOT_STATUSES.contains(&status.as_str()) {
            return Err(cx.near(
                status,
                &format!("expect.snapshots.{status}"),
                format!(
                    "unknown status `{status}`; {} (a status is one of {})",
                    did_you_mean(status, SNAPSHOT_STATUSES.iter().copied()),
                    SNAPSHOT_STATUSES.join(", ")
                ),
            ));
        }
    }
    within(
        cx,
        e.calls.len(),
        MAX_EXPECT_CALLS,
        "expect.calls",
        "expected calls",
        "MAX_EXPECT_CALLS",
        || e.calls.get(MAX_EXPECT_CALLS).map(|c| c.call.span()),
    )?;
    let mut calls = Vec::with_capacity(e.calls.len());
    for (i, c) in e.calls.iter().enumerate() {
        if let Some(r) = &c.requester {
            if !requester_names.contains(r.as_str()) {
                return Err(cx.near_after(
                    c.call.span().start,
                    r,
                    &format!("expect.calls[{i}].requester"),
                    no_requester(r),
                ));
            }
        }
        if !CALL_NAMES.contains(&c.call.get_ref().as_str()) {
            return Err(cx.at(
                c.call.span(),
                &format!("expect.calls[{i}].call"),
                format!(
                    "unknown call `{}`; {}",
                    c.call.get_ref(),
                    did_you_mean(c.call.get_ref(), CALL_NAMES.iter().copied())
                ),
            ));
        }
        if c.nth == Some(0) {
            return Err(cx.at(
                c.call.span(),
                &format!("expect.calls[{i}].nth"),
                "nth counts from 1".into(),
            ));
        }
        if !c.writers.is_empty() && c.call.get_ref() != "GatherWriterStatus" {
            return Err(cx.at(
                c.call.span(),
                &format!("expect.calls[{i}].writers"),
                "only a GatherWriterStatus call returns writer statuses; remove `writers` or \
                 name that call"
                    .into(),
            ));
        }
        for name in c.writers.keys() {
            if !writer_names.contains(name.as_str()) {
                return Err(cx.near_after(
                    c.call.span().start,
                    name,
                    &format!("expect.calls[{i}].writers.{name}"),
                    no_writer(name),
                ));
            }
        }
        calls.push(CallExpect {
            requester: c.requester.clone(),
            call: c.call.get_ref().clone(),
            nth: c.nth.unwrap_or(1),
            result: c.result,
            async_result: c.async_result,
            writers: c
                .writers
                .iter()
                .map(|(k, v)| (k.clone(), v.state, v.last_error))
                .collect(),
        });
    }
    if let Some(findings) = &e.findings {
        within(
            cx,
            findings.len(),
            MAX_EXPECT_VIOLATIONS,
            "expect.findings",
            "expected findings",
            "MAX_EXPECT_VIOLATIONS",
            || findings.get(MAX_EXPECT_VIOLATIONS).map(|v| v.span()),
        )?;
        let known = [AppKind::DATABASE.finding(), AppKind::FILE_REWRITE.finding()];
        for f in findings {
            if !known.contains(&f.get_ref().as_str()) {
                return Err(cx.at(
                    f.span(),
                    "expect.findings",
                    format!(
                        "unknown finding `{}`; {}",
                        f.get_ref(),
                        did_you_mean(f.get_ref(), known)
                    ),
                ));
            }
        }
    }
    let expect = Expect {
        result: e.result,
        requesters: e.requesters.into_iter().collect(),
        writers: e
            .writers
            .into_iter()
            .map(|(k, v)| (k, v.state, v.last_error))
            .collect(),
        calls,
        violations: e.violations.into_iter().map(|v| v.into_inner()).collect(),
        findings: e
            .findings
            .map(|f| f.into_iter().map(|x| x.into_inner()).collect()),
        snapshots: e.snapshots.into_iter().collect(),
    };
    Ok(expect)
}
