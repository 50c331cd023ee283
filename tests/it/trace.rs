//! Trace schema 2 over the whole catalog: the header, a role and an instance on every record,
//! one `role_seq` per instance, and spans that pair up: every `span_id` has one begin and one
//! end, in that order, with the same parent, and a parent that began before it.

use std::collections::BTreeMap;

use serde_json::Value;
use sim::run::{RunOptions, run};
use vss_sim_tests::{catalog_traces, load, root, toml_files, traces_of};

const ROLES: [&str; 6] = [
    "requester",
    "writer",
    "provider",
    "coordinator",
    "volume",
    "sim",
];

/// Checks one trace; returns what is wrong, each with the line.
fn check(scenario: &str, seed: u64, text: &str) -> Vec<String> {
    let mut bad = Vec::new();
    let mut lines = text.lines().enumerate();
    let header = format!(
        r#"{{"kind":"header","schema_version":2,"scenario":"{scenario}","seed":{seed},"role":"sim","instance":"sim"}}"#
    );
    match lines.next() {
        Some((_, h)) if h == header => {}
        other => bad.push(format!("line 1 is not the header {header}: {other:?}")),
    }
    // span id -> (begin line, parent, ended)
    let mut spans: BTreeMap<u64, (usize, Value, bool)> = BTreeMap::new();
    let mut seqs: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut by_seq: BTreeMap<u64, (String, String)> = BTreeMap::new();
    let mut last_t = 0;
    let mut last_kind = String::new();
    for (i, line) in lines {
        let n = i + 1;
        let r: Value = match serde_json::from_str(line) {
            Ok(r) => r,
            Err(e) => {
                bad.push(format!("line {n} is not JSON ({e})"));
                continue;
            }
        };
        let role = r["role"].as_str().unwrap_or("");
        let instance = r["instance"].as_str().unwrap_or("");
        if !ROLES.contains(&role) || instance.is_empty() {
            bad.push(format!("line {n}: no role kind and instance: {line}"));
        }
        let Some(seq) = r["role_seq"].as_u64() else {
            bad.push(format!("line {n}: no role_seq: {line}"));
            continue;
        };
        // `(unknown)` stands for an answer to a token no longer known; it has no instance.
        if instance != "(unknown)" {
            let key = (role.to_string(), instance.to_string());
            if *seqs.entry(key.clone()).or_insert(seq) != seq
                || *by_seq.entry(seq).or_insert(key.clone()) != key
            {
                bad.push(format!("line {n}: role_seq {seq} is not unique to {key:?}"));
            }
        }
        let t = r["t_us"].as_u64().unwrap_or(0);
        if t < last_t {
            bad.push(format!("line {n} goes back in time"));
        }
        last_t = t;
        last_kind = r["kind"].as_str().unwrap_or("").to_string();
        let Some(id) = r["span_id"].as_u64() else {
            if r.get("span").is_some() {
                bad.push(format!("line {n}: `span` without `span_id`"));
            }
            continue;
        };
        let Some(parent) = r.get("parent_id").cloned() else {
            bad.push(format!("line {n}: span {id} has no parent_id"));
            continue;
        };
        if let Some(p) = parent.as_u64()
            && !spans.contains_key(&p)
        {
            bad.push(format!(
                "line {n}: span {id}'s parent {p} never began before it"
            ));
        }
        match r["span"].as_str() {
            Some("begin") => {
                if spans.insert(id, (n, parent, false)).is_some() {
                    bad.push(format!("line {n}: span {id} begins twice"));
                }
            }
            Some("end") => match spans.get_mut(&id) {
                None => bad.push(format!("line {n}: span {id} ends before it begins")),
                Some((_, _, true)) => bad.push(format!("line {n}: span {id} ends twice")),
                Some((_, p, ended)) => {
                    *ended = true;
                    if *p != parent {
                        bad.push(format!("line {n}: span {id} ends under another parent"));
                    }
                }
            },
            other => bad.push(format!("line {n}: span {id} with span = {other:?}")),
        }
    }
    for (id, (line, _, ended)) in &spans {
        if !ended {
            bad.push(format!("span {id} (line {line}) never ends"));
        }
    }
    if last_kind != "end" {
        bad.push(format!("the last record is `{last_kind}`, not `end`"));
    }
    bad
}

#[test]
fn every_catalog_trace_has_the_header_roles_and_paired_spans() {
    let mut bad = Vec::new();
    let mut n_spans = 0;
    // The catalog, and the reproducers of defects found from outside (calls given up on at a
    // deadline, operations cancelled and not waited for).
    let mut traces = catalog_traces();
    traces.extend(traces_of("tests/inputs/found"));
    for (rel, s, text) in traces {
        n_spans += text.matches("\"span\":\"begin\"").count();
        bad.extend(
            check(&s.name, s.seed, &text)
                .into_iter()
                .map(|b| format!("{rel}: {b}")),
        );
    }
    assert!(
        n_spans > 1_000,
        "the catalog's traces hold spans ({n_spans})"
    );
    assert!(bad.is_empty(), "trace schema 2 broken:\n{}", bad.join("\n"));
}

#[test]
fn the_checker_notices_a_span_that_never_ends_and_a_missing_header() {
    let text = concat!(
        r#"{"kind":"header","schema_version":2,"scenario":"x","seed":1,"role":"sim","instance":"sim"}"#,
        "\n",
        r#"{"t_us":0,"kind":"call","role":"requester","instance":"r","role_seq":2,"span":"begin","span_id":1,"parent_id":null}"#,
        "\n",
        r#"{"t_us":1,"kind":"end","role":"sim","instance":"sim","role_seq":0}"#,
        "\n"
    );
    let bad = check("x", 1, text);
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert!(bad[0].contains("never ends"), "{bad:?}");
    assert!(!check("y", 1, text).is_empty(), "another scenario's header");
}

#[test]
fn gather_writer_status_calls_carry_each_writers_status_in_json() {
    let s = load(&root().join("scenarios/happy/default.toml"));
    let o = run(&s, s.seed, RunOptions::default());
    let gws: Vec<_> = o
        .report
        .calls
        .iter()
        .filter(|c| c.call == "GatherWriterStatus")
        .collect();
    assert!(
        !gws.is_empty(),
        "the standard requester gathers writer status"
    );
    for c in gws {
        let writers = c
            .writers
            .as_ref()
            .expect("a finished GatherWriterStatus has writers");
        assert!(
            writers
                .iter()
                .any(|w| w.name == "SqlServerWriter" && w.state.starts_with("VSS_WS_")),
            "{writers:?}"
        );
    }
    let json = serde_json::to_value(&o.report).unwrap();
    let call = json["calls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["call"] == "GatherWriterStatus")
        .unwrap();
    let w = &call["writers"][0];
    for key in ["name", "state", "last_error"] {
        assert!(w[key].is_string(), "writers[0].{key} in {call}");
    }
}

/// A saved trace rebuilds `run --json`: the report is a pure function of the records. Each
/// `--trace-out` file of the catalog is read back (a record type that deserialises) and folded
/// into a report; with `expect` judged from the scenario, it is the run's report to the byte.
#[test]
fn a_saved_trace_rebuilds_the_run_json_report() {
    use sha2::{Digest, Sha256};
    use sim::run::{Builder, check_expect};
    use sim::trace::parse_jsonl;

    let opts = RunOptions {
        keep_trace_bytes: true,
        keep_records: false,
    };
    let mut n = 0;
    for path in toml_files(&root().join("scenarios")) {
        let s = load(&path);
        let o = run(&s, s.seed, opts);
        let bytes = o.trace_bytes.expect("trace bytes kept");
        let text = String::from_utf8(bytes.clone()).expect("the trace is UTF-8");
        let (header, records) = parse_jsonl(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (header.scenario.as_str(), header.seed),
            (s.name.as_str(), s.seed)
        );
        // Read back, each record writes the same line again.
        for (line, r) in text.lines().skip(1).zip(&records) {
            assert_eq!(
                serde_json::to_string(r).unwrap(),
                line,
                "{}",
                path.display()
            );
        }
        let mut b = Builder::new(&header.scenario, header.seed);
        for r in &records {
            b.observe(r);
        }
        let digest: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let mut rebuilt = b.finish(digest);
        rebuilt.expect = check_expect(&s, &rebuilt);
        assert_eq!(rebuilt, o.report, "{}", path.display());
        assert_eq!(
            serde_json::to_string(&rebuilt).unwrap(),
            serde_json::to_string(&o.report).unwrap(),
            "{}",
            path.display()
        );
        n += 1;
    }
    assert!(n > 20, "the catalog's traces were read back ({n})");
}
