//! `vss-sim vssadmin list …`: vssadmin's bytes (rules 29,
//! 29b, 29c) and exit codes, through the real CLI.

use std::process::{Command, Output};

use vss_sim_tests::{root, vss_sim_bin};

const NAS: &str = "scenarios/happy/nas_rollback_writerless.toml";

const BANNER: &str = "vssadmin 1.1 - Volume Shadow Copy Service administrative command-line tool\r\n\
                      (C) Copyright 2001-2013 Microsoft Corp.\r\n\
                      \r\n";

/// Runs `vss-sim vssadmin ARGS` from the workspace root.
fn vssadmin(args: &[&str]) -> Output {
    Command::new(vss_sim_bin())
        .current_dir(root())
        .arg("vssadmin")
        .args(args)
        .output()
        .expect("vss-sim runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("stderr is UTF-8")
}

/// Every line ends in CRLF, no bare CR or LF, no tab, no trailing space; the banner opens it.
fn assert_byte_layout(text: &str) {
    assert!(text.starts_with(BANNER), "no banner:\n{text}");
    assert!(text.ends_with("\r\n"), "does not end with CRLF");
    assert!(!text.contains('\t'), "tab in the output");
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' {
            assert!(i > 0 && bytes[i - 1] == b'\r', "bare LF at byte {i}");
        }
        if b == b'\r' {
            assert_eq!(bytes.get(i + 1), Some(&b'\n'), "bare CR at byte {i}");
        }
    }
    for line in text.split("\r\n") {
        assert!(!line.ends_with(' '), "trailing space in `{line}`");
    }
    assert!(!text.contains("\r\n\r\n\r\n"), "two blank lines in a row");
}

/// Lines of a CRLF text, without the final empty piece.
fn lines(text: &str) -> Vec<&str> {
    let mut v: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(v.pop(), Some(""));
    v
}

#[test]
fn default_scenario_has_no_shadow_at_its_end() {
    let o = vssadmin(&["list", "shadows"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        format!("{BANNER}No items found that satisfy the query.\r\n")
    );
}

#[test]
fn shadows_during_the_default_backup() {
    let o = vssadmin(&["list", "shadows", "--at", "0.32s"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert_byte_layout(&text);
    let l = lines(&text);
    // Banner (3) + set header (2) + 3 shadows of 8 lines; one set, so no blank line after the banner's.
    assert_eq!(l.len(), 3 + 2 + 3 * 8, "{text}");
    assert_eq!(
        l.iter()
            .filter(|x| x.starts_with("Contents of shadow copy set ID: {"))
            .count(),
        1
    );
    assert_eq!(
        l[4],
        "   Contained 3 shadow copies at creation time: 1/1/2024 12:00:00 AM"
    );
    for (i, vol) in ["C:", "D:", "E:"].iter().enumerate() {
        let s = &l[5 + 8 * i..5 + 8 * (i + 1)];
        assert!(s[0].starts_with("      Shadow Copy ID: {"), "{}", s[0]);
        assert!(s[0].ends_with('}'));
        let orig = format!("         Original Volume: ({vol})\\\\?\\Volume{{");
        assert!(s[1].starts_with(&orig), "{}", s[1]);
        assert!(s[1].ends_with("}\\"), "{}", s[1]);
        assert_eq!(
            s[2],
            format!(
                "         Shadow Copy Volume: \\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy{}",
                i + 1
            )
        );
        assert_eq!(s[3], "         Originating Machine: vss-sim.local");
        assert_eq!(s[4], "         Service Machine: vss-sim.local");
        assert_eq!(
            s[5],
            "         Provider: 'Microsoft Software Shadow Copy provider 1.0'"
        );
        assert_eq!(s[6], "         Type: Backup");
        assert_eq!(s[7], "         Attributes: Differential");
    }
    // Before the snapshot and after the release there is nothing.
    for at in ["0.1s", "0.5s"] {
        let o = vssadmin(&["list", "shadows", "--at", at]);
        assert_eq!(o.status.code(), Some(1), "--at {at}");
    }
}

#[test]
fn writers_one_block_every_six_lines() {
    let o = vssadmin(&["list", "writers"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert_byte_layout(&text);
    assert!(!text.contains("Waiting for responses."));
    let err = stderr(&o);
    assert!(
        err.starts_with(
            "Waiting for responses. \r\nThese may be delayed if a shadow copy is being prepared.\r\n\r\n"
        ),
        "{err}"
    );
    let l = lines(&text);
    assert_eq!(l.len(), 3 + 6 * 5 + 5);
    let names: Vec<&str> = l
        .iter()
        .filter_map(|x| x.strip_prefix("Writer name: '"))
        .map(|x| x.trim_end_matches('\''))
        .collect();
    assert_eq!(
        names,
        [
            "System Writer",
            "Registry Writer",
            "COM+ REGDB Writer",
            "WMI Writer",
            "Shadow Copy Optimization Writer",
            "SqlServerWriter"
        ]
    );
    for w in 0..6 {
        let b = &l[3 + 6 * w..3 + 6 * w + 5];
        assert!(b[0].starts_with("Writer name: '"));
        assert!(b[1].starts_with("   Writer Id: {"));
        assert!(b[2].starts_with("   Writer Instance Id: {"));
        assert_eq!(b[3], "   State: [1] Stable");
        assert_eq!(b[4], "   Last error: No error");
        if w < 5 {
            assert_eq!(l[3 + 6 * w + 5], "");
        }
    }
    assert_eq!(l[4], "   Writer Id: {e8132975-6f93-4464-a53e-1050253ae220}");
}

#[test]
fn providers_as_the_spec_shows() {
    let o = vssadmin(&["list", "providers"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        format!(
            "{BANNER}Provider name: 'Microsoft Software Shadow Copy provider 1.0'\r\n   \
             Provider type: System\r\n   \
             Provider Id: {{b5946137-7b9f-4925-af80-51abd60b20d5}}\r\n   \
             Version: 1.0.0.7\r\n"
        )
    );
}

#[test]
fn lf_gives_unix_line_endings_only() {
    let crlf = vssadmin(&["list", "shadows", "--at", "0.32s"]);
    let lf = vssadmin(&["list", "shadows", "--at", "0.32s", "--lf"]);
    assert_eq!(lf.status.code(), Some(0));
    let text = stdout(&lf);
    assert!(!text.contains('\r'));
    assert_eq!(text, stdout(&crlf).replace("\r\n", "\n"));
}

#[test]
fn shadow_storage_of_a_persistent_shadow() {
    let o = vssadmin(&["list", "shadowstorage", NAS]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert_byte_layout(&text);
    let l = lines(&text);
    assert_eq!(l.len(), 3 + 6, "{text}");
    assert_eq!(l[3], "Shadow Copy Storage association");
    assert!(
        l[4].starts_with("   For volume: (F:)\\\\?\\Volume{"),
        "{}",
        l[4]
    );
    let vol = l[4].strip_prefix("   For volume: ").unwrap();
    assert_eq!(l[5], format!("   Shadow Copy Storage volume: {vol}"));
    assert!(l[6].starts_with("   Used Shadow Copy Storage space: "));
    assert!(l[6].ends_with("(0%)"), "{}", l[6]);
    // The shadow holds the 320 MiB diff-area minimum of a volume above 500 MiB (rule 28).
    assert_eq!(l[7], "   Allocated Shadow Copy Storage space: 320 MB (0%)");
    assert_eq!(
        l[8],
        "   Maximum Shadow Copy Storage space: UNBOUNDED (100%)"
    );

    let o = vssadmin(&["list", "shadows", NAS]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert_byte_layout(&text);
    assert!(text.contains("\r\n         Type: DataVolumeRollback\r\n"));
    assert!(text.contains(
        "\r\n         Attributes: Persistent, No auto release, No writers, Differential\r\n"
    ));
}

#[test]
fn same_seed_same_bytes_other_seed_other_guids() {
    let a = vssadmin(&["list", "shadows", NAS, "--seed", "5"]);
    let b = vssadmin(&["list", "shadows", NAS, "--seed", "5"]);
    let c = vssadmin(&["list", "shadows", NAS, "--seed", "6"]);
    assert_eq!(a.stdout, b.stdout);
    assert_ne!(a.stdout, c.stdout);
    assert_eq!(a.stdout.len(), c.stdout.len());
}

#[test]
fn bad_input_exits_2() {
    for args in [
        &["list", "volumes"][..],
        &["delete", "shadows"],
        &["list"],
        &["list", "shadows", "--at", "3"],
        &["list", "shadows", "--seed", "x"],
        &["list", "shadows", "tests/inputs/no-such-file.toml"],
    ] {
        let o = vssadmin(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(o.stdout.is_empty(), "{args:?} printed on stdout");
        assert!(stderr(&o).starts_with("vss-sim vssadmin: "), "{args:?}");
    }
}
