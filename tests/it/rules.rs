//! Every rule the repository cites is a rule of `docs/rules.md`: each writer state change in a
//! trace names the rule behind it, every `rule` a trace record carries is a heading of that file,
//! and so is every "rule N" written in a tracked file (code, catalog, READMEs).

use std::collections::BTreeSet;

use vss_sim_tests::{catalog_traces, root, tracked_files};

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
    let mut expected: Vec<String> = (1..=38).map(|n| n.to_string()).collect();
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
    let mut bad = Vec::new();
    let mut state_records = 0usize;
    for (rel, _, text) in catalog_traces() {
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

/// The rule ids cited as "rule 7", "rules 13, 13b and S20", "rules 5-11" in `text`.
fn cited_rules(text: &str) -> Vec<String> {
    // One id at the start of `s`: an optional `S`, digits, an optional lower-case letter.
    fn id(s: &str) -> Option<(String, &str)> {
        let b = s.as_bytes();
        let mut i = usize::from(b.first() == Some(&b'S'));
        let start_digits = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start_digits {
            return None;
        }
        if i < b.len() && b[i].is_ascii_lowercase() {
            i += 1;
        }
        if i < b.len() && b[i].is_ascii_alphanumeric() {
            return None;
        }
        Some((s[..i].to_string(), &s[i..]))
    }
    let mut out = Vec::new();
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(pos) = lower[from..].find("rule") {
        let at = from + pos;
        from = at + 4;
        if at > 0 && lower.as_bytes()[at - 1].is_ascii_alphanumeric() {
            continue;
        }
        let mut rest = &text[at + 4..];
        rest = rest.strip_prefix('s').unwrap_or(rest);
        // The ids may wrap onto the next line of a comment.
        let Some(mut rest) = rest.strip_prefix(' ').or_else(|| rest.strip_prefix('\n')) else {
            continue;
        };
        rest = rest.trim_start_matches(['#', '/', '!', ' ']);
        while let Some((found, after)) = id(rest) {
            out.push(found);
            rest = after;
            let next = [", ", " and ", "-", ",\n"]
                .iter()
                .find_map(|sep| rest.strip_prefix(sep));
            match next {
                Some(r) => rest = r.trim_start_matches(['#', '/', '!', ' ']),
                None => break,
            }
        }
    }
    out
}

#[test]
fn every_rule_the_repository_cites_is_in_rules_md() {
    let rules = defined_rules();
    let mut bad = Vec::new();
    let mut cited = 0usize;
    for rel in tracked_files() {
        if rel.starts_with("LICENSE") || rel == "Cargo.lock" {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(root().join(&rel)) else {
            continue;
        };
        for id in cited_rules(&text) {
            cited += 1;
            if !rules.contains(&id) {
                bad.push(format!(
                    "{rel}: cites rule {id}, which docs/rules.md does not define"
                ));
            }
        }
    }
    assert!(
        cited > 100,
        "the citation scan found only {cited} citations"
    );
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn the_citation_scan_reads_lists_and_ranges() {
    assert_eq!(
        cited_rules("(rules 13, 13b and S20; rule 2's order; rules 5-11) rule of `result`"),
        ["13", "13b", "S20", "2", "5", "11"]
    );
    assert_eq!(
        cited_rules("(decisions\n# rule 27) and rules\n/// 29,\n/// 29b"),
        ["27", "29", "29b"]
    );
    assert!(cited_rules("schedule 5; overrule 3; Rule N").is_empty());
}

#[test]
fn every_oracle_enforces_rules_defined_in_rules_md() {
    let defined = defined_rules();
    for e in sim::oracle::ALL {
        for id in e.info.rule.split(", ") {
            assert!(
                defined.contains(id),
                "oracle {} cites rule {id}, which docs/rules.md does not define",
                e.info.name
            );
        }
    }
}
