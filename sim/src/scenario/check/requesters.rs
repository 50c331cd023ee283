//! `[[requester]]`: the standard sequence's context, volumes, timing and policy, or a script.

use model::requester::{Flaw, Policy, STANDARD};
use model::time::Duration;
use model::vss::SnapshotContext;

use super::super::ctx::Ctx;
use super::super::limits::{MAX_REQUESTERS, MAX_RETRY_ON, MAX_SCRIPT_STEPS};
use super::super::raw::{RawPolicy, RawRequester};
use super::super::suggest::did_you_mean;
use super::super::{ProviderSpec, RequesterSpec, ScenarioError, WriterSpec};
use super::script;
use super::volumes::{Volumes, vol_refs};
use super::within;

/// Checks every requester: unique names, a creation context, declared volumes, a policy or a
/// script (not both), at least one requester.
pub(super) fn requesters(
    cx: &Ctx<'_>,
    raw: &[RawRequester],
    volumes: &Volumes<'_>,
    providers: &[ProviderSpec],
    writers: &[WriterSpec],
) -> Result<Vec<RequesterSpec>, ScenarioError> {
    within(
        cx,
        raw.len(),
        MAX_REQUESTERS,
        "requester",
        "[[requester]] tables",
        "MAX_REQUESTERS",
        || raw.get(MAX_REQUESTERS).map(|r| r.name.span()),
    )?;
    let components = script::Components::new(writers);
    let mut requesters = Vec::with_capacity(raw.len());
    let mut seen = std::collections::BTreeSet::new();
    for (i, r) in raw.iter().enumerate() {
        if !seen.insert(r.name.get_ref().as_str()) {
            return Err(cx.at(
                r.name.span(),
                &format!("requester[{i}].name"),
                format!("requester `{}` is declared twice", r.name.get_ref()),
            ));
        }
        let vols = match &r.volumes {
            None => (0..volumes.len()).collect(),
            Some(list) => vol_refs(cx, volumes, list, &format!("requester[{i}].volumes"))?,
        };
        let context = r
            .context
            .as_ref()
            .map(|c| *c.get_ref())
            .unwrap_or(SnapshotContext::Backup);
        if context == SnapshotContext::All {
            let span = r.context.as_ref().expect("context given").span();
            return Err(cx.at(span, &format!("requester[{i}].context"), "VSS_CTX_ALL is only for administrative calls; use VSS_CTX_BACKUP or another creation context".into()));
        }
        let policy = policy(cx, r.policy.as_ref(), i)?;
        let script = match &r.script {
            None => None,
            Some(steps) => Some({
                within(
                    cx,
                    steps.len(),
                    MAX_SCRIPT_STEPS,
                    &format!("requester[{i}].script"),
                    "script steps",
                    "MAX_SCRIPT_STEPS",
                    || steps.get(MAX_SCRIPT_STEPS).map(|s| s.span()),
                )?;
                steps
                    .iter()
                    .enumerate()
                    .map(|(j, st)| {
                        script::script_step(
                            cx,
                            &format!("requester[{i}].script[{j}]"),
                            st,
                            volumes,
                            providers,
                            &components,
                        )
                    })
                    .collect::<Result<Vec<_>, _>>()?
            }),
        };
        let (script, script_names) = match script {
            None => (None, Vec::new()),
            Some(steps) => {
                let (steps, names) = steps.into_iter().unzip();
                (Some(steps), names)
            }
        };
        if script.is_some() && (r.policy.is_some() || r.repeat.is_some()) {
            return Err(cx.at(r.name.span(), &format!("requester[{i}].script"), "a scripted requester makes exactly its calls: policy and repeat apply to the standard sequence only".into()));
        }
        let flaw = match &r.kind {
            None => None,
            Some(k) if k.get_ref() == STANDARD => None,
            Some(k) => match Flaw::from_name(k.get_ref()) {
                Some(_) if script.is_some() => {
                    return Err(cx.at(
                        k.span(),
                        &format!("requester[{i}].kind"),
                        "a scripted requester makes exactly its calls: kind names a version of \
                         the standard sequence; remove one of them"
                            .into(),
                    ));
                }
                Some(f) => Some(f),
                None => {
                    let names = std::iter::once(STANDARD).chain(Flaw::ALL.map(Flaw::name));
                    return Err(cx.at(
                        k.span(),
                        &format!("requester[{i}].kind"),
                        format!(
                            "unknown requester kind `{}`; {} (`vss-sim fuzz --list-requesters` \
                             lists them)",
                            k.get_ref(),
                            did_you_mean(k.get_ref(), names)
                        ),
                    ));
                }
            },
        };
        if script.is_some() {
            // A script sets its context with a SetContext step and names volumes in its
            // AddToSnapshotSet steps: these keys would be silently ignored.
            if let Some(c) = &r.context {
                return Err(cx.at(c.span(), &format!("requester[{i}].context"), "a scripted requester takes its context from a { call = \"SetContext\", context = ... } step; remove this key".into()));
            }
            if r.volumes.is_some() {
                let span = r
                    .volumes
                    .as_ref()
                    .and_then(|v| v.first())
                    .map(|v| v.span())
                    .unwrap_or(r.name.span());
                return Err(cx.at(span, &format!("requester[{i}].volumes"), "a scripted requester names its volumes in AddToSnapshotSet steps; remove this key".into()));
            }
        } else if vols.is_empty() {
            return Err(cx.at(r.name.span(), &format!("requester[{i}].volumes"), "the standard requester backs up at least one volume; list one or leave `volumes` out for all".into()));
        }
        requesters.push(RequesterSpec {
            name: r.name.get_ref().clone(),
            context,
            volumes: vols,
            start: r
                .start
                .as_ref()
                .map(|d| d.get_ref().0)
                .unwrap_or(Duration::ZERO),
            read_bandwidth: r.read_bandwidth.map(|b| b.0).unwrap_or(200_000_000),
            go_away_at: r.go_away_at.map(|d| d.0),
            repeat: r.repeat.as_ref().map(|n| *n.get_ref()).unwrap_or(0),
            policy,
            script,
            script_names,
            flaw,
        });
    }
    if requesters.is_empty() && !cx.roles_in_code {
        return Err(ScenarioError {
            file: cx.file.to_string(),
            line: 0,
            column: 0,
            key: "requester".into(),
            message: "the scenario declares no requester; add a [[requester]] table with a name"
                .into(),
        });
    }

    Ok(requesters)
}

/// Requester `i`'s `[requester.policy]`: every key overrides one field of the default.
fn policy(cx: &Ctx<'_>, raw: Option<&RawPolicy>, i: usize) -> Result<Policy, ScenarioError> {
    let mut policy = Policy::default();
    if let Some(p) = raw {
        if let Some(n) = p.retries {
            policy.retries = n;
        }
        if let Some(d) = p.retry_wait {
            policy.retry_wait = d.0;
        }
        if let Some(list) = &p.retry_on {
            within(
                cx,
                list.get_ref().len(),
                MAX_RETRY_ON,
                &format!("requester[{i}].policy.retry_on"),
                "codes in retry_on",
                "MAX_RETRY_ON",
                || Some(list.span()),
            )?;
            policy.retry_on = list.get_ref().clone();
        }
        if let Some(w) = &p.writer_failure {
            use model::requester::WriterFailurePolicy as W;
            policy.writer_failure = match w.get_ref().as_str() {
                "continue" => W::Continue,
                "abort" => W::Abort,
                "retry" => W::Retry,
                "stop" => W::Stop,
                other => {
                    return Err(cx.at(
                        w.span(),
                        &format!("requester[{i}].policy.writer_failure"),
                        format!(
                            "unknown writer_failure `{other}`; {} (continue, abort, retry or \
                             stop)",
                            did_you_mean(other, ["continue", "abort", "retry", "stop"])
                        ),
                    ));
                }
            };
        }
        policy.deadline = p.deadline.map(|d| d.0);
    }
    Ok(policy)
}
