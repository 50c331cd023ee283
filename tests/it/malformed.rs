//! Malformed scenarios are refused with the file, the line and the key at fault, and a message
//! that says how to fix them; the CLI exits 2 and prints `file:line:` and the key.
//!
//! Every file under `tests/inputs/malformed/` has exactly one case below. Tests whose name
//! starts with `located_` are regressions: the parser once pointed them at the wrong line (a
//! comment, an earlier table) or named the wrong key; each now names the exact place.

use std::ops::RangeInclusive;
use std::path::Path;
use std::process::Command;

use sim::scenario::{ScenarioError, parse_bytes};
use vss_sim_tests::{root, toml_files, vss_sim_bin};

const DIR: &str = "tests/inputs/malformed";

/// What the error for one malformed file must say.
struct Case {
    /// File name under `tests/inputs/malformed/`.
    file: &'static str,
    /// The line at fault (1-based; 0 when no line is at fault). A range where any line of a
    /// table is a fair answer (a fault whose keys contradict each other).
    lines: RangeInclusive<usize>,
    /// The key the error names.
    key: Key,
    /// Substrings the message must contain: what is wrong and how to fix it.
    says: &'static [&'static str],
}

enum Key {
    /// Exactly this key.
    Is(&'static str),
    /// A key (bare or dotted path) whose last part is this.
    EndsWith(&'static str),
}

const fn line(n: usize) -> RangeInclusive<usize> {
    n..=n
}

fn error_for(file: &str) -> ScenarioError {
    let shown = format!("{DIR}/{file}");
    let src =
        std::fs::read(root().join(&shown)).unwrap_or_else(|e| panic!("{shown}: cannot read: {e}"));
    let stem = Path::new(file).file_stem().unwrap().to_str().unwrap();
    match parse_bytes(&shown, stem, &src) {
        Ok(_) => panic!("{shown} parsed, but it is malformed"),
        Err(e) => e,
    }
}

fn check(case: &Case) {
    let e = error_for(case.file);
    let shown = format!("{DIR}/{}", case.file);
    assert_eq!(e.file, shown, "the error names the file as given: {e}");
    assert!(
        case.lines.contains(&e.line),
        "{shown}: expected the error on line {:?}, got line {}: {e}",
        case.lines,
        e.line
    );
    match case.key {
        Key::Is(k) => assert_eq!(e.key, k, "{shown}: wrong key in: {e}"),
        Key::EndsWith(k) => assert!(
            e.key == k || e.key.ends_with(&format!(".{k}")),
            "{shown}: expected the key `{k}` (or a dotted path ending in it), got `{}`: {e}",
            e.key
        ),
    }
    for s in case.says {
        assert!(
            e.message.contains(s),
            "{shown}: the message should contain {s:?}: {}",
            e.message
        );
    }
    // The Display form is what the CLI prints: `file:line: key `k`: message`, with the column
    // after the line for a syntax error (`file:line:column: …`).
    let shown_line = e.to_string();
    if e.line > 0 && e.column > 0 {
        assert!(
            shown_line.starts_with(&format!("{shown}:{}:{}: ", e.line, e.column)),
            "{shown_line}"
        );
    } else if e.line > 0 {
        assert!(
            shown_line.starts_with(&format!("{shown}:{}: ", e.line)),
            "{shown_line}"
        );
    } else {
        assert!(
            shown_line.starts_with(&format!("{shown}: ")),
            "{shown_line}"
        );
    }
    if e.key.is_empty() {
        assert!(!shown_line.contains("key ``"), "{shown_line}");
    } else {
        assert!(
            shown_line.contains(&format!("key `{}`", e.key)),
            "{shown_line}"
        );
    }
    // One line, whatever the file holds.
    assert!(!shown_line.contains('\n'), "{shown_line}");
    // An unknown name gets at most three suggestions.
    if let Some((_, after)) = e.message.split_once("did you mean") {
        let suggestion = after.split('?').next().unwrap_or("");
        assert!(
            suggestion.matches('`').count() <= 6,
            "{shown}: more than three suggestions: {}",
            e.message
        );
    }
}

const CASES: &[Case] = &[
    // ---- Messages that name the place (issue item 7) ----
    Case {
        file: "not_utf8.toml",
        lines: line(3),
        key: Key::Is(""),
        says: &["0xff", "not UTF-8"],
    },
    Case {
        file: "syntax_error_without_key.toml",
        lines: 4..=8,
        key: Key::Is(""),
        says: &["multi-line literal string"],
    },
    Case {
        file: "settle_within_without_heal_at.toml",
        lines: line(5),
        key: Key::Is("run.settle_within"),
        says: &["there is no heal_at", "add heal_at"],
    },
    Case {
        file: "heal_at_after_max_virtual_time.toml",
        lines: line(6),
        key: Key::Is("run.heal_at"),
        says: &[
            "not before max_virtual_time",
            "heal earlier or raise max_virtual_time",
        ],
    },
    Case {
        file: "application_without_writer.toml",
        lines: line(20),
        key: Key::Is("workload[0].application"),
        says: &["belongs to the writer", "add writer"],
    },
    Case {
        file: "application_unknown_kind.toml",
        lines: line(20),
        key: Key::Is("workload[0].application"),
        says: &["unknown application `databse`", "database"],
    },
    Case {
        file: "application_off_its_components.toml",
        lines: line(18),
        key: Key::Is("workload[0].volumes"),
        says: &[
            "volumes of one of its writer's components",
            "SqlServerWriter",
        ],
    },
    Case {
        file: "rate_zero.toml",
        lines: line(9),
        key: Key::Is("workload[0].rate"),
        says: &["from 1 to 10000000"],
    },
    Case {
        file: "blocks_zero.toml",
        lines: line(10),
        key: Key::Is("workload[0].blocks"),
        says: &["at least 1"],
    },
    Case {
        file: "burst_on_zero.toml",
        lines: line(10),
        key: Key::Is("workload[0].burst_on"),
        says: &["above zero"],
    },
    Case {
        file: "violation_element.toml",
        lines: line(16),
        key: Key::Is("expect.violations"),
        says: &["unknown violation `a`", "did you mean"],
    },
    Case {
        file: "missing_key_inline.toml",
        lines: line(12),
        key: Key::Is("call"),
        says: &["missing field `call`"],
    },
    Case {
        file: "newline_in_value.toml",
        lines: line(8),
        key: Key::Is("requester[0].volumes"),
        says: &["no volume named C:\nD:\\"],
    },
    Case {
        file: "bad_toml_syntax.toml",
        lines: line(8),
        key: Key::Is("requester"),
        says: &["unclosed array table", "expected `]`"],
    },
    Case {
        file: "unknown_top_level_key.toml",
        lines: line(3),
        key: Key::Is("descripton"),
        says: &[
            "unknown field `descripton`",
            "`description`",
            "scenarios/README.md",
        ],
    },
    Case {
        file: "unknown_writer_key.toml",
        lines: line(10),
        key: Key::EndsWith("timeout"),
        says: &[
            "unknown field `timeout`",
            "`freeze_timeout`",
            "scenarios/README.md",
        ],
    },
    Case {
        file: "unknown_writer_state.toml",
        lines: line(15),
        key: Key::EndsWith("state"),
        says: &["VSS_WS_FROZEN", "did you mean", "`VSS_WS_STABLE`"],
    },
    Case {
        file: "duration_without_unit.toml",
        lines: line(10),
        key: Key::EndsWith("freeze_timeout"),
        says: &["`60` has no unit", "\"60s\""],
    },
    Case {
        file: "duration_unknown_unit.toml",
        lines: line(5),
        key: Key::EndsWith("max_virtual_time"),
        says: &["unit `parsecs`", "use us, ms, s, min or h"],
    },
    Case {
        file: "duration_bare_number.toml",
        lines: line(5),
        key: Key::EndsWith("flush_and_hold_timeout"),
        says: &["bare number 10", "\"60s\""],
    },
    Case {
        file: "unknown_hresult.toml",
        lines: line(12),
        key: Key::EndsWith("fail"),
        says: &[
            "unknown HRESULT \"VSS_E_WRITERERROR_EXPLODED\"",
            "VSS_E_WRITERERROR_RETRYABLE",
        ],
    },
    Case {
        file: "fail_code_not_writer_failure.toml",
        lines: line(12),
        key: Key::Is("writer[0].fault[0].fail"),
        says: &[
            "VSS_E_BAD_STATE is not a writer failure code",
            "VSS_E_WRITERERROR_",
        ],
    },
    Case {
        file: "undeclared_volume.toml",
        lines: line(12),
        key: Key::Is("writer[0].component[0].volumes"),
        says: &["no volume named D:\\", "did you mean `C:\\`?"],
    },
    Case {
        file: "script_step_extra_key.toml",
        lines: line(10),
        key: Key::Is("requester[0].script[1].volume"),
        says: &["takes no `volume`"],
    },
    Case {
        file: "script_unknown_call.toml",
        lines: line(10),
        key: Key::Is("requester[0].script[1].call"),
        says: &["unknown call `AddToSnapshotSett`", "AddToSnapshotSet"],
    },
    Case {
        file: "script_with_context_key.toml",
        lines: line(8),
        key: Key::Is("requester[0].context"),
        says: &["SetContext", "remove this key"],
    },
    Case {
        file: "duplicate_writer.toml",
        lines: line(12),
        key: Key::Is("writer[1].name"),
        says: &["`AppWriter` is declared twice"],
    },
    Case {
        file: "fault_fail_and_hang.toml",
        // [[writer.fault]] is line 10, its keys lines 11-13.
        lines: 10..=13,
        key: Key::Is("writer[0].fault[0]"),
        says: &["exactly one of", "fail = ", "hang = true", "delay = "],
    },
    Case {
        file: "context_all.toml",
        lines: line(10),
        key: Key::Is("requester[0].context"),
        says: &["VSS_CTX_ALL", "use VSS_CTX_BACKUP"],
    },
    Case {
        file: "unknown_latency_event.toml",
        lines: line(10),
        key: Key::Is("writer[0].latency.OnSnooze"),
        says: &["unknown writer event `OnSnooze`", "OnFreeze"],
    },
    Case {
        file: "restore_event_fault.toml",
        lines: line(11),
        key: Key::Is("writer[0].fault[0].event"),
        says: &[
            "`PostRestore` is a restore event",
            "restore is not simulated yet",
        ],
    },
    Case {
        file: "restore_event_latency.toml",
        lines: line(10),
        key: Key::Is("writer[0].latency.OnPreRestore"),
        says: &[
            "`OnPreRestore` is a restore event",
            "restore is not simulated yet",
        ],
    },
    Case {
        file: "unknown_violation.toml",
        lines: line(13),
        key: Key::Is("expect.violations"),
        says: &["unknown violation `hold_too_long`", "hold_within_limit"],
    },
    Case {
        file: "no_requester.toml",
        lines: line(0),
        key: Key::Is("requester"),
        says: &["no requester", "add a [[requester]] table"],
    },
    // ---- Regressions: once located wrongly (see the module doc) ----
    Case {
        // `cx.near("OnFreeze")` finds no line: the file spells the event "Freeze". Line 0.
        file: "fault_alias_fail_and_delay.toml",
        lines: 11..=14,
        key: Key::Is("writer[0].fault[0]"),
        says: &["exactly one of"],
    },
    Case {
        // `cx.near("VSS_CTX_ALL")` finds the comment on line 1.
        file: "context_all_after_comment.toml",
        lines: line(11),
        key: Key::Is("requester[0].context"),
        says: &["use VSS_CTX_BACKUP"],
    },
    Case {
        // `cx.near("backup")` finds the first requester's name, line 9.
        file: "duplicate_requester.toml",
        lines: line(12),
        key: Key::Is("requester[1].name"),
        says: &["`backup` is declared twice"],
    },
    Case {
        // `cx.near("block_size")` finds the first volume's block_size, line 7.
        file: "block_size_second_volume.toml",
        lines: line(12),
        key: Key::Is("volume[1].block_size"),
        says: &["3072 must be a power of two", "\"4KiB\""],
    },
    Case {
        // The error uses the span of `name` (line 5) for a fault in `size`.
        file: "volume_smaller_than_block.toml",
        lines: line(6),
        key: Key::Is("volume[0].size"),
        says: &["smaller than one block"],
    },
    Case {
        // `key_on_line` returns the text before the line's first `=`: "{ call".
        file: "unknown_call_key_inline.toml",
        lines: line(14),
        key: Key::EndsWith("reslt"),
        says: &["unknown field `reslt`", "`result`"],
    },
];

fn case(file: &str) -> &'static Case {
    CASES
        .iter()
        .find(|c| c.file == file)
        .unwrap_or_else(|| panic!("no case for {file}"))
}

#[test]
fn every_malformed_file_has_a_case_and_is_refused() {
    let files = toml_files(&root().join(DIR));
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.len() >= 8,
        "expected at least 8 malformed inputs, found {names:?}"
    );
    for n in &names {
        assert!(
            CASES.iter().any(|c| c.file == n),
            "{DIR}/{n} has no case in tests/it/malformed.rs"
        );
        // Refused, whatever the details.
        let _ = error_for(n);
    }
    for c in CASES {
        assert!(
            names.iter().any(|n| n == c.file),
            "case for missing file {}",
            c.file
        );
    }
}

#[test]
fn bad_toml_syntax() {
    check(case("bad_toml_syntax.toml"));
}

#[test]
fn unknown_top_level_key() {
    check(case("unknown_top_level_key.toml"));
}

#[test]
fn unknown_key_inside_writer() {
    check(case("unknown_writer_key.toml"));
}

#[test]
fn unknown_writer_state_in_expect() {
    check(case("unknown_writer_state.toml"));
}

#[test]
fn duration_without_unit() {
    check(case("duration_without_unit.toml"));
}

#[test]
fn duration_with_unknown_unit() {
    check(case("duration_unknown_unit.toml"));
}

#[test]
fn duration_as_bare_number() {
    check(case("duration_bare_number.toml"));
}

#[test]
fn unknown_hresult_name() {
    check(case("unknown_hresult.toml"));
}

#[test]
fn fault_code_that_is_not_a_writer_failure() {
    check(case("fail_code_not_writer_failure.toml"));
}

#[test]
fn reference_to_undeclared_volume() {
    check(case("undeclared_volume.toml"));
}

#[test]
fn duplicate_writer_name() {
    check(case("duplicate_writer.toml"));
}

#[test]
fn fault_with_both_fail_and_hang() {
    check(case("fault_fail_and_hang.toml"));
}

#[test]
fn context_all_is_refused() {
    check(case("context_all.toml"));
}

#[test]
fn unknown_event_in_writer_latency() {
    check(case("unknown_latency_event.toml"));
}

#[test]
fn restore_event_in_writer_fault() {
    check(case("restore_event_fault.toml"));
}

#[test]
fn restore_event_in_writer_latency() {
    check(case("restore_event_latency.toml"));
}

#[test]
fn cli_exits_2_on_restore_event() {
    check_cli("restore_event_fault.toml");
}

#[test]
fn unknown_violation_name() {
    check(case("unknown_violation.toml"));
}

#[test]
fn scenario_without_requester() {
    check(case("no_requester.toml"));
}

#[test]
fn located_fault_with_event_alias_has_a_line() {
    check(case("fault_alias_fail_and_delay.toml"));
}

#[test]
fn located_context_all_not_located_at_a_comment() {
    check(case("context_all_after_comment.toml"));
}

#[test]
fn located_duplicate_requester_located_at_the_second() {
    check(case("duplicate_requester.toml"));
}

#[test]
fn located_block_size_of_the_second_volume() {
    check(case("block_size_second_volume.toml"));
}

#[test]
fn located_volume_smaller_than_block_points_at_size() {
    check(case("volume_smaller_than_block.toml"));
}

#[test]
fn located_unknown_key_in_inline_table_names_that_key() {
    check(case("unknown_call_key_inline.toml"));
}

// ---- The real binary ----

/// Runs `vss-sim run <DIR>/<file>` from the workspace root: exit code and standard error.
fn run_cli(file: &str) -> (Option<i32>, String) {
    let out = Command::new(vss_sim_bin())
        .current_dir(root())
        .args(["run", &format!("{DIR}/{file}")])
        .output()
        .expect("vss-sim runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn check_cli(file: &str) {
    let c = case(file);
    let (code, stderr) = run_cli(file);
    assert_eq!(
        code,
        Some(2),
        "{file}: bad input exits 2; stderr:\n{stderr}"
    );
    let line = *c.lines.start();
    let want = format!("{DIR}/{file}:{line}:");
    assert!(
        stderr.contains(&want),
        "{file}: stderr should contain {want:?}:\n{stderr}"
    );
    let key = match c.key {
        Key::Is(k) | Key::EndsWith(k) => k,
    };
    assert!(
        stderr.contains(key),
        "{file}: stderr should name the key `{key}`:\n{stderr}"
    );
    assert!(
        stderr.contains(c.says[0]),
        "{file}: stderr should say {:?}:\n{stderr}",
        c.says[0]
    );
}

#[test]
fn cli_exits_2_on_bad_toml_syntax() {
    check_cli("bad_toml_syntax.toml");
}

#[test]
fn cli_exits_2_on_unknown_key_in_writer() {
    check_cli("unknown_writer_key.toml");
}

#[test]
fn cli_exits_2_on_bad_duration() {
    check_cli("duration_without_unit.toml");
    check_cli("duration_unknown_unit.toml");
}

#[test]
fn cli_exits_2_on_undeclared_volume() {
    check_cli("undeclared_volume.toml");
}

#[test]
fn cli_exits_2_on_unknown_writer_state() {
    check_cli("unknown_writer_state.toml");
}

#[test]
fn cli_exits_2_on_a_missing_file() {
    let out = Command::new(vss_sim_bin())
        .current_dir(root())
        .args(["run", "tests/inputs/malformed/no_such_file.toml"])
        .output()
        .expect("vss-sim runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr:\n{stderr}");
    assert!(
        stderr.contains("tests/inputs/malformed/no_such_file.toml"),
        "{stderr}"
    );
    assert!(stderr.contains("cannot read"), "{stderr}");
}

#[test]
fn not_utf8_names_line_and_column_of_the_first_bad_byte() {
    let e = error_for("not_utf8.toml");
    check(case("not_utf8.toml"));
    // `name = "C:` is ten characters: the bad byte is the eleventh.
    assert_eq!((e.line, e.column), (3, 11), "{e}");
    assert!(
        e.to_string()
            .starts_with("tests/inputs/malformed/not_utf8.toml:3:11: byte 0xff"),
        "{e}"
    );
}

#[test]
fn a_syntax_error_names_line_and_column_and_no_empty_key() {
    let e = error_for("syntax_error_without_key.toml");
    check(case("syntax_error_without_key.toml"));
    assert!(e.column > 0, "{e}");
    let shown = e.to_string();
    assert!(
        shown.starts_with(&format!(
            "tests/inputs/malformed/syntax_error_without_key.toml:{}:{}: ",
            e.line, e.column
        )),
        "{shown}"
    );
    assert!(!shown.contains("key `"), "{shown}");
}

#[test]
fn a_syntax_error_with_a_key_keeps_it_and_gives_the_column() {
    let e = error_for("bad_toml_syntax.toml");
    assert!(e.column > 0, "{e}");
    assert_eq!(e.key, "requester");
}

#[test]
fn an_application_needs_its_writer_a_known_kind_and_its_components_volumes() {
    check(case("application_without_writer.toml"));
    check(case("application_unknown_kind.toml"));
    check(case("application_off_its_components.toml"));
}

#[test]
fn rate_blocks_and_burst_on_are_located_at_their_own_line() {
    check(case("rate_zero.toml"));
    check(case("blocks_zero.toml"));
    check(case("burst_on_zero.toml"));
}

#[test]
fn a_missing_key_is_named() {
    check(case("missing_key_inline.toml"));
}

#[test]
fn an_unknown_violation_is_located_at_its_element() {
    check(case("violation_element.toml"));
}

#[test]
fn a_value_holding_a_newline_is_escaped_in_the_message() {
    check(case("newline_in_value.toml"));
    let shown = error_for("newline_in_value.toml").to_string();
    assert!(shown.contains("C:\\nD:"), "{shown}");
}

#[test]
fn unknown_names_get_the_three_closest_spellings() {
    for file in [
        "unknown_violation.toml",
        "unknown_hresult.toml",
        "unknown_writer_state.toml",
        "unknown_latency_event.toml",
        "script_unknown_call.toml",
        "unknown_top_level_key.toml",
    ] {
        let e = error_for(file);
        check(case(file));
        assert!(e.message.contains("did you mean"), "{file}: {e}");
    }
}

#[test]
fn cli_names_line_and_column_of_a_file_that_is_not_utf8() {
    let (code, stderr) = run_cli("not_utf8.toml");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("tests/inputs/malformed/not_utf8.toml:3:11: "),
        "{stderr}"
    );
}
