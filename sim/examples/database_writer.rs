//! A database's VSS writer, written as ordinary async Rust and run inside the simulation: it
//! checkpoints in `OnPrepareSnapshot` and stops its database's writes in `OnFreeze`, so the
//! shadow copies taken in the hold hold whole transactions. A buggy variant returns from
//! `OnFreeze` without stopping them: its database goes on writing through the snapshot instant,
//! and the consistency oracle shows the shadow copies torn mid-transaction.
//!
//! ```text
//! cargo run --release --example database_writer
//! ```
//!
//! The machine (a data volume and a log volume, the database writing to both) and the backup
//! program (the standard requester) come from the scenario; the writer is this code.

#![allow(clippy::print_stdout)] // An example prints its verdict.

use std::time::Duration;

use sim::api::{ApplicationLevel, Metadata, Registration, Writer, WriterCx};
use sim::harness::{Outcome, Simulation};

/// The database's writer.
pub struct DatabaseWriter {
    /// Keep writing through Freeze (the bug).
    pub buggy: bool,
    /// Checkpoints taken.
    pub checkpoints: u32,
}

impl Writer for DatabaseWriter {
    async fn on_identify(&mut self, md: &mut Metadata) -> bool {
        // The data file is on D:, the log on E:: one component spans both.
        md.add_component("sales", "SQLSERVER", &["D:\\", "E:\\"]);
        true
    }

    async fn on_prepare_snapshot(&mut self, _: &mut WriterCx) -> bool {
        // Flush dirty pages so recovery from the shadow copy is short.
        tokio::time::sleep(Duration::from_millis(120)).await;
        self.checkpoints += 1;
        true
    }

    async fn on_freeze(&mut self, cx: &mut WriterCx) -> bool {
        if !self.buggy {
            // Finish the transaction in progress, then start none until Thaw.
            cx.freeze_application();
        }
        true
    }

    async fn on_thaw(&mut self, cx: &mut WriterCx) -> bool {
        cx.thaw_application();
        true
    }

    async fn on_abort(&mut self, cx: &mut WriterCx) -> bool {
        cx.thaw_application();
        true
    }
}

/// The machine and its backup program.
const MACHINE: &str = r#"
name = "database-and-backup"

[[volume]]
name = "D:"
size = "256MiB"

[[volume]]
name = "E:"
size = "128MiB"

[[workload]]
name = "sqlservr.exe"
application = "database"
writer = "SqlServerWriter"
volumes = ["D:", "E:"]
rate = 4000
pattern = "hotspot"
blocks = 8192

[[requester]]
name = "backup"

# The writer the workload names: this example's code answers its events.
[[writer]]
name = "SqlServerWriter"
level = "VSS_APP_BACK_END"
[[writer.component]]
name = "sales"
logical_path = "SQLSERVER"
volumes = ["D:", "E:"]
"#;

/// One backup with the writer, correct or buggy.
pub fn run(buggy: bool, seed: u64) -> Outcome {
    Simulation::from_toml("database-and-backup.toml", "database-and-backup", MACHINE)
        .expect("the machine parses")
        .seed(seed)
        .writer(
            Registration::new("SqlServerWriter").level(ApplicationLevel::BackEnd),
            DatabaseWriter {
                buggy,
                checkpoints: 0,
            },
        )
        .run()
        .expect("the writer runs")
}

/// What the run showed of the database's image, for people.
fn verdict(out: &Outcome) -> String {
    let torn: Vec<&str> = out
        .violations
        .iter()
        .filter(|v| v.name == "component_backup_consistent")
        .map(|v| v.detail.as_str())
        .collect();
    let result = out
        .result("backup")
        .map_or("?".to_string(), |h| h.to_string());
    if torn.is_empty() {
        format!("backup {result}; the shadow copies hold whole transactions")
    } else {
        format!(
            "backup {result}; TORN: {} (oracle component_backup_consistent)",
            torn.join("; ")
        )
    }
}

fn main() {
    let good = run(false, 1);
    println!("correct writer (seed 1): {}", verdict(&good));
    // The bug shows when the snapshot instant falls inside a transaction: the first seed
    // where it does.
    match (1..100)
        .map(|seed| (seed, run(true, seed)))
        .find(|(_, out)| {
            out.violations
                .iter()
                .any(|v| v.name == "component_backup_consistent")
        }) {
        Some((seed, out)) => println!("buggy writer (seed {seed}): {}", verdict(&out)),
        None => println!("buggy writer: no seed in 1..100 cut a transaction"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_correct_writer_is_consistent_whatever_the_seed() {
        for seed in 0..100 {
            let out = run(false, seed);
            sim::assert_no_violations!(out);
            assert_eq!(out.result("backup"), Some(sim::api::Hresult::Ok));
            assert!(out.findings.is_empty(), "seed {seed}");
        }
    }

    #[test]
    fn the_buggy_writer_is_shown_torn() {
        let torn = (0..100)
            .filter(|&seed| {
                let out = run(true, seed);
                let names: Vec<&str> = out.violations.iter().map(|v| v.name).collect();
                assert!(
                    names.iter().all(|n| *n == "component_backup_consistent"),
                    "seed {seed}: {names:?}"
                );
                !names.is_empty()
            })
            .count();
        // The snapshot instant falls inside a transaction in about a third of the seeds (36 of
        // these 100); a writer that freezes its database is never torn (the test above).
        assert!(torn >= 20, "torn in {torn} of 100 seeds");
    }
}
