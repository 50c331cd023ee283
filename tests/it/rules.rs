//! Every rule the trace cites is a rule of `docs/rules.md`: each writer state change names the
//! rule behind it, and every `rule` a trace record carries is a heading of that file.

use std::collections::BTreeSet;

use sim::run::{RunOptions, run};
use vss_sim_tests::{load, root, toml_files};

/// The rule ids `docs/rules.md` defines: its `### Rule ID` headings.
fn defined_rules() -> BTreeSet<String> {
    let path = root().join("docs/rules.md");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{} is readable: {e}", path.display()));
    text.lines()
        .filter_map(|l| l.strip_prefix("### Rule "))
        .map(|id| id.trim().to_string())
        .collect()
}

#[test]
fn rules_md_defines_every_decision_and_only_well_formed_ids() {
    let rules = defined_rules();
    let mut expected: Vec<String> = (1..=33).map(|n| n.to_string()).collect();
    expected.extend(["5b", "13b", "29b", "29c"].map(String::from));
    for id in &expected {
        assert!(rules.contains(id), "docs/rules.md has no `### Rule {id}`");
    }
    for id in &rules {
        let well_formed = expected.contains(id)
            || id
                .strip_prefix('S')
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        assert!(
            well_formed,
            "docs/rules.md: `### Rule {id}` is neither a decision number nor `S` + a number"
        );
    }
}

#[test]
fn every_state_change_in_every_catalog_trace_cites_a_defined_rule() {
    let rules = defined_rules();
    let opts = RunOptions {
        keep_trace_bytes: true,
        keep_records: false,
    };
    let mut bad = Vec::new();
    let mut state_records = 0usize;
    for path in toml_files(&root().join("scenarios")) {
        let rel = path
            .strip_prefix(root())
            .unwrap_or(&path)
            .display()
            .to_string();
        let s = load(&path);
        let bytes = run(&s, s.seed, opts).trace_bytes.expect("trace bytes kept");
        let text = String::from_utf8(bytes).expect("the trace is UTF-8");
        for (i, line) in text.lines().enumerate() {
            if !line.contains("\"rule\"") && !line.contains("\"kind\":\"state\"") {
                continue;
            }
            let rec: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{rel}: trace line {} is not JSON: {e}", i + 1));
            let rule = rec["rule"].as_str();
            if rec["kind"] == "state" {
                state_records += 1;
                if rule.is_none_or(str::is_empty) {
                    bad.push(format!("{rel}: trace line {}: no rule: {line}", i + 1));
                    continue;
                }
            }
            if let Some(id) = rule
                && !rules.contains(id)
            {
                bad.push(format!(
                    "{rel}: trace line {}: rule `{id}` is not in docs/rules.md: {line}",
                    i + 1
                ));
            }
        }
    }
    assert!(
        state_records > 0,
        "the catalog's traces hold no state change"
    );
    assert!(
        bad.is_empty(),
        "trace records citing no rule or an undefined one:\n{}",
        bad.join("\n")
    );
}
