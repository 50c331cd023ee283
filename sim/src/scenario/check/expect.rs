//! `[expect]`: what the run must show, naming declared requesters and writers.

use super::super::ctx::Ctx;
use super::super::raw::RawExpect;
use super::super::{
    CALL_NAMES, CallExpect, Expect, RequesterSpec, ScenarioError, VIOLATION_NAMES, WriterSpec,
};

/// Checks `[expect]`: declared names, known violations, statuses and calls, `nth` from 1.
pub(super) fn expect(
    cx: &Ctx<'_>,
    e: RawExpect,
    requesters: &[RequesterSpec],
    writers: &[WriterSpec],
) -> Result<Expect, ScenarioError> {
    for name in e.requesters.keys() {
        if !requesters.iter().any(|r| &r.name == name) {
            return Err(cx.near(
                name,
                &format!("expect.requesters.{name}"),
                format!("no requester named `{name}`"),
            ));
        }
    }
    for name in e.writers.keys() {
        if !writers.iter().any(|w| &w.name == name) {
            return Err(cx.near(
                name,
                &format!("expect.writers.{name}"),
                format!("no writer named `{name}`"),
            ));
        }
    }
    for v in &e.violations {
        if !VIOLATION_NAMES.contains(&v.as_str()) {
            return Err(cx.near(
                v,
                "expect.violations",
                format!(
                    "unknown violation `{v}`; known: {}",
                    VIOLATION_NAMES.join(", ")
                ),
            ));
        }
    }
    for status in e.snapshots.keys() {
        if ![
            "exists",
            "released",
            "deleted",
            "aborted",
            "diff_area_full",
            "recycled",
        ]
        .contains(&status.as_str())
        {
            return Err(cx.near(
                status,
                &format!("expect.snapshots.{status}"),
                "status is one of exists, released, deleted, aborted, diff_area_full, recycled"
                    .into(),
            ));
        }
    }
    let mut calls = Vec::new();
    for (i, c) in e.calls.iter().enumerate() {
        if let Some(r) = &c.requester {
            if !requesters.iter().any(|x| &x.name == r) {
                return Err(cx.near(
                    r,
                    &format!("expect.calls[{i}].requester"),
                    format!("no requester named `{r}`"),
                ));
            }
        }
        if !CALL_NAMES.contains(&c.call.get_ref().as_str()) {
            return Err(cx.at(
                c.call.span(),
                &format!("expect.calls[{i}].call"),
                format!(
                    "unknown call `{}`; use one of {}",
                    c.call.get_ref(),
                    CALL_NAMES.join(", ")
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
            if !writers.iter().any(|w| &w.name == name) {
                return Err(cx.near(
                    name,
                    &format!("expect.calls[{i}].writers.{name}"),
                    format!("no writer named `{name}`"),
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
    let expect = Expect {
        result: e.result,
        requesters: e.requesters.into_iter().collect(),
        writers: e
            .writers
            .into_iter()
            .map(|(k, v)| (k, v.state, v.last_error))
            .collect(),
        calls,
        violations: e.violations,
        snapshots: e.snapshots.into_iter().collect(),
    };
    Ok(expect)
}
