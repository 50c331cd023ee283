//! The parser under mutated catalog files: seeded mutations of every `scenarios/**/*.toml`
//! (byte flips, deletions, duplicated and dropped lines, swapped values, truncation, inserted
//! junk Unicode, huge numbers, repeated tables) through `parse_bytes`, the library's entry point
//! behind `vss-sim run`. No input may panic, and every refusal must say where: `FILE:LINE:`
//! (with the column for a syntax error), the key wherever the error has one, on one line, with
//! at most three suggestions. A mutant that parses is run for a bounded number of steps, which
//! must not panic either.
//!
//! The PRNG is SplitMix64 with a fixed seed: the same inputs every run. The CI run makes
//! [`DEFAULT_INPUTS`] inputs; `VSS_FUZZ_INPUTS=100000 cargo test -p vss-sim-tests fuzz --
//! --nocapture` makes the long one (and prints its figures); `VSS_FUZZ_SEED=N` draws other
//! inputs.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use sim::run::{RunOptions, run};
use sim::scenario::{ScenarioError, parse_bytes};
use vss_sim_tests::{root, toml_files};

/// Inputs of the CI run (a few seconds).
const DEFAULT_INPUTS: usize = 3000;
/// Steps a mutant that parses is run for.
const RUN_STEPS: u64 = 2000;

/// SplitMix64: a fixed sequence from a fixed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, list: &'a [T]) -> &'a T {
        &list[self.below(list.len())]
    }
}

const JUNK: &[&str] = &[
    "\u{0}",
    "\n",
    "\r\n",
    "\t",
    "é",
    "😀",
    "\u{202e}",
    "\u{feff}",
    "\u{7f}",
    "[[",
    "]]",
    "[",
    "]",
    "\"",
    "'",
    "'''",
    "\"\"\"",
    "=",
    "{",
    "}",
    ",",
    "#",
    "\\",
    "\\u",
    ".",
    "-",
    "\n[[volume]]\n",
    "\n[[writer]]\n",
    "\n[expect]\n",
    "\nname = \"x\"\n",
    "inf",
    "nan",
    "true",
];

const NUMBERS: &[&str] = &[
    "18446744073709551615",
    "18446744073709551616",
    "9223372036854775807",
    "-9223372036854775808",
    "4294967296",
    "65536",
    "0",
    "-1",
    "1e400",
    "0x7fffffff",
    "99999999999999999999999999",
    "\"18446744073709551615us\"",
    "\"99999999h\"",
    "\"0us\"",
    "\"64TiB\"",
    "\"16EiB\"",
];

/// One mutation of `src`.
fn mutate(rng: &mut Rng, src: &mut Vec<u8>) {
    if src.is_empty() {
        src.extend_from_slice(rng.pick(JUNK).as_bytes());
        return;
    }
    match rng.below(10) {
        // Flip a byte (may leave the file not UTF-8).
        0 => {
            let i = rng.below(src.len());
            src[i] ^= 1 << rng.below(8);
        }
        // Delete a few bytes.
        1 => {
            let i = rng.below(src.len());
            let n = 1 + rng.below(16);
            src.drain(i..(i + n).min(src.len()));
        }
        // Truncate.
        2 => {
            let i = rng.below(src.len());
            src.truncate(i);
        }
        // Insert junk at a random byte.
        3 => {
            let i = rng.below(src.len() + 1);
            let junk = rng.pick(JUNK).as_bytes().to_vec();
            src.splice(i..i, junk);
        }
        // Line mutations: duplicate, drop, swap two values, a huge number, a repeated table.
        k => {
            let text = String::from_utf8_lossy(src).into_owned();
            let mut lines: Vec<String> = text.lines().map(String::from).collect();
            if lines.is_empty() {
                return;
            }
            let i = rng.below(lines.len());
            match k {
                4 | 5 => {
                    let l = lines[i].clone();
                    lines.insert(i, l);
                }
                6 => {
                    lines.remove(i);
                }
                7 => {
                    let j = rng.below(lines.len());
                    let (a, b) = (lines[i].split_once('='), lines[j].split_once('='));
                    if let (Some((ka, va)), Some((kb, vb))) = (a, b) {
                        let (na, nb) = (format!("{ka}={vb}"), format!("{kb}={va}"));
                        lines[i] = na;
                        lines[j] = nb;
                    }
                }
                8 => {
                    if let Some((k, _)) = lines[i].split_once('=') {
                        lines[i] = format!("{k}= {}", rng.pick(NUMBERS));
                    } else {
                        lines[i] = format!("rate = {}", rng.pick(NUMBERS));
                    }
                }
                _ => {
                    // A run of lines repeated, sometimes past a limit.
                    let end = (i + 1 + rng.below(4)).min(lines.len());
                    let block = lines[i..end].to_vec();
                    let times = *rng.pick(&[2, 10, 300, 5000]);
                    for _ in 0..times {
                        lines.extend(block.iter().cloned());
                    }
                }
            }
            *src = (lines.join("\n") + "\n").into_bytes();
        }
    }
}

/// What is wrong with the way `e` reports itself, if anything.
fn badly_located(file: &str, e: &ScenarioError) -> Option<String> {
    let shown = e.to_string();
    if e.file != file {
        return Some("names another file".into());
    }
    if shown.contains('\n') || shown.contains('\r') {
        return Some("spans more than one line".into());
    }
    // The two errors about something missing from the whole file name no line.
    let missing = e.line == 0
        && matches!(e.key.as_str(), "volume" | "requester")
        && e.message.contains("declares no");
    if e.line == 0 && !missing {
        return Some("names no line".into());
    }
    let place = match (e.line, e.column) {
        (0, _) => format!("{file}: "),
        (l, 0) => format!("{file}:{l}: "),
        (l, c) => format!("{file}:{l}:{c}: "),
    };
    if !shown.starts_with(&place) {
        return Some(format!("does not start with {place:?}"));
    }
    // No key only where none exists: a syntax error or a byte (both with a column).
    if e.key.is_empty() && e.column == 0 {
        return Some("names no key".into());
    }
    if let Some((_, after)) = e.message.split_once("did you mean")
        && after.split('?').next().unwrap_or("").matches('`').count() > 6
    {
        return Some("more than three suggestions".into());
    }
    None
}

#[derive(Default)]
struct Tally {
    inputs: usize,
    refused: usize,
    parsed: usize,
    ran: usize,
    failures: Vec<String>,
}

fn one(tally: &mut Tally, file: &str, stem: &str, input: &[u8]) {
    tally.inputs += 1;
    let parsed = catch_unwind(AssertUnwindSafe(|| parse_bytes(file, stem, input)));
    let shown = || String::from_utf8_lossy(&input[..input.len().min(4000)]).into_owned();
    match parsed {
        Err(_) => tally
            .failures
            .push(format!("{file}: parse panicked on:\n{}", shown())),
        Ok(Err(e)) => {
            tally.refused += 1;
            if let Some(why) = badly_located(file, &e) {
                tally
                    .failures
                    .push(format!("{file}: `{e}` {why}; input:\n{}", shown()));
            }
        }
        Ok(Ok(mut s)) => {
            tally.parsed += 1;
            s.max_steps = s.max_steps.min(RUN_STEPS);
            let ran = catch_unwind(AssertUnwindSafe(|| {
                run(&s, s.seed, RunOptions::default());
            }));
            match ran {
                Ok(()) => tally.ran += 1,
                Err(_) => tally
                    .failures
                    .push(format!("{file}: the run panicked; input:\n{}", shown())),
            }
        }
    }
}

#[test]
fn mutated_catalog_files_never_panic_and_every_refusal_says_where() {
    let inputs: usize = std::env::var("VSS_FUZZ_INPUTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_INPUTS);
    let files = toml_files(&root().join("scenarios"));
    assert!(!files.is_empty());
    let sources: Vec<(String, String, Vec<u8>)> = files
        .iter()
        .map(|p| {
            let rel = p
                .strip_prefix(root())
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let stem = Path::new(&rel)
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (rel, stem, std::fs::read(p).unwrap())
        })
        .collect();
    // Panics are counted, not printed one by one.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let seed = std::env::var("VSS_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_f00d);
    let mut rng = Rng(seed);
    let mut tally = Tally::default();
    for n in 0..inputs {
        let (file, stem, src) = &sources[n % sources.len()];
        let mut input = src.clone();
        for _ in 0..1 + rng.below(3) {
            mutate(&mut rng, &mut input);
        }
        one(&mut tally, file, stem, &input);
        if tally.failures.len() >= 10 {
            break;
        }
    }
    std::panic::set_hook(hook);
    println!(
        "fuzz: {} inputs, {} refused, {} parsed ({} ran {RUN_STEPS} steps), {} failures",
        tally.inputs,
        tally.refused,
        tally.parsed,
        tally.ran,
        tally.failures.len()
    );
    assert!(
        tally.failures.is_empty(),
        "{} of {} inputs failed:\n\n{}",
        tally.failures.len(),
        tally.inputs,
        tally.failures.join("\n\n---\n\n")
    );
    assert_eq!(tally.inputs, inputs);
}
