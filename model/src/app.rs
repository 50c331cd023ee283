//! Applications: what a writer's application writes, and whether an image of its volumes is
//! *application-consistent* — usable as it is, without crash recovery.
//!
//! An application writes in **units** (a database transaction, one generation of a set of
//! files), each a fixed sequence of block writes issued one after another. A point-in-time
//! image (a shadow copy) holds a prefix of the application's writes, so the only unit it can
//! cut is the one in progress at the image's instant; [`AppKind::torn_at`] says whether cutting it
//! after `k` of its writes leaves the application inconsistent.
//!
//! A writer freezes its application (rule S5): when its `OnFreeze` returns, the application
//! has finished the unit in progress and starts no new one until Thaw or Abort (rule S6). So a
//! shadow copy taken while every writer of the set is frozen holds no torn unit. Without a
//! working writer (a writer-less context, a writer that failed Freeze or whose freeze window
//! ended) the image is only crash-consistent, and a torn unit in it is a *finding* (rule 33),
//! never a violation.
//!
//! Two kinds:
//! - [`AppKind::Database`]: a data file and a log. A transaction appends its log records and
//!   then its commit record to the log (sequentially, wrapping round), then writes its data
//!   pages into the data file. An image is torn when it holds a transaction's commit record
//!   but not all of its data pages (the data file is behind the log: only crash recovery can
//!   bring it to a committed state). A cut among the log records is harmless: that
//!   transaction never committed.
//! - [`AppKind::FileRewrite`]: a directory block and `files` files, each rewritten by writing
//!   a temporary copy and renaming it over the old one (a write of the directory block), one
//!   file after another. An image is torn when it holds some renames of a generation but not
//!   all: its files come from two generations.

use crate::ids::VolumeId;

/// Log blocks of a database (circular), per log file.
pub const DATABASE_LOG_BLOCKS: u64 = 1024;

/// The kind of application and its unit's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppKind {
    /// A transactional database: log records, a commit record, data pages.
    Database {
        /// Log records per transaction, before the commit record.
        log_records: u32,
        /// Data pages per transaction, after the commit record.
        pages: u32,
    },
    /// Files rewritten as write-temporary-then-rename, one generation at a time.
    FileRewrite {
        /// Files rewritten per generation.
        files: u32,
        /// Blocks per file.
        file_blocks: u32,
    },
}

impl AppKind {
    /// A database with 2 log records and 3 data pages per transaction.
    pub const DATABASE: AppKind = AppKind::Database {
        log_records: 2,
        pages: 3,
    };
    /// Two files of 4 blocks each.
    pub const FILE_REWRITE: AppKind = AppKind::FileRewrite {
        files: 2,
        file_blocks: 4,
    };

    /// The name the scenario format uses.
    pub fn name(self) -> &'static str {
        match self {
            AppKind::Database { .. } => "database",
            AppKind::FileRewrite { .. } => "file_rewrite",
        }
    }

    /// The finding a torn image of this kind is reported as.
    pub fn finding(self) -> &'static str {
        match self {
            AppKind::Database { .. } => "torn_transaction",
            AppKind::FileRewrite { .. } => "mixed_file_generation",
        }
    }

    /// Writes per unit.
    pub fn unit_len(self) -> u32 {
        match self {
            AppKind::Database { log_records, pages } => log_records + 1 + pages,
            AppKind::FileRewrite { files, file_blocks } => files * (file_blocks + 1),
        }
    }

    /// Whether an image holding the first `k` writes of a unit (and none after) is torn.
    pub fn torn_at(self, k: u32) -> bool {
        match self {
            // The commit record is write `log_records + 1`; torn from there until the last
            // data page is in.
            AppKind::Database { log_records, .. } => k > log_records && k < self.unit_len(),
            // File i's rename is write `(i + 1) * (file_blocks + 1)`: torn once the first
            // rename is in and until the last one is.
            AppKind::FileRewrite { file_blocks, .. } => k > file_blocks && k < self.unit_len(),
        }
    }

    /// Blocks the application needs on its first volume (`data_blocks`: the data region the
    /// scenario gives a database), and on its second if it has one.
    pub fn blocks_needed(self, data_blocks: u64, two_volumes: bool) -> (u64, u64) {
        match self {
            AppKind::Database { .. } if two_volumes => (data_blocks, DATABASE_LOG_BLOCKS),
            AppKind::Database { .. } => (data_blocks + DATABASE_LOG_BLOCKS, 0),
            AppKind::FileRewrite { files, file_blocks } => {
                (1 + 2 * u64::from(files) * u64::from(file_blocks), 0)
            }
        }
    }
}

/// One file of an application: where its blocks lie.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppFile {
    /// The path, `<volume>\<application>\<file>`.
    pub path: String,
    /// The volume (index into the application's volumes).
    pub volume: usize,
    /// First block.
    pub first_block: u64,
    /// Blocks.
    pub blocks: u64,
}

/// Where the next write of an application goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppWrite {
    /// Index into the application's volumes.
    pub volume: usize,
    /// The block.
    pub block: u64,
}

/// The unit an image cut, when it is torn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TornUnit {
    /// The unit's number (from 0).
    pub unit: u64,
    /// Its writes in the image.
    pub written: u32,
    /// Its writes in all.
    pub of: u32,
}

/// One application's progress: which unit, how far into it.
#[derive(Clone, Debug)]
pub struct App {
    kind: AppKind,
    /// Data pages of a database: `[0, data_blocks)` on volume 0.
    data_blocks: u64,
    /// The log's first block and on which volume (a database).
    log: (usize, u64),
    /// The unit in progress (or the next one, when `step` is 0).
    unit: u64,
    /// Writes of the unit issued so far.
    step: u32,
    /// Next log block (a database), `0..DATABASE_LOG_BLOCKS`.
    log_cursor: u64,
}

impl App {
    /// An application of `kind` on one or two volumes; a database's data pages are chosen in
    /// `[0, data_blocks)` of the first.
    pub fn new(kind: AppKind, data_blocks: u64, two_volumes: bool) -> App {
        let log = if two_volumes {
            (1, 0)
        } else {
            (0, data_blocks)
        };
        App {
            kind,
            data_blocks,
            log,
            unit: 0,
            step: 0,
            log_cursor: 0,
        }
    }

    /// The kind.
    pub fn kind(&self) -> AppKind {
        self.kind
    }

    /// The next write; `page` picks a data page in `0..n` (the workload's block pattern).
    pub fn next_write(&mut self, page: impl FnOnce(u64) -> u64) -> AppWrite {
        let w = match self.kind {
            AppKind::Database { log_records, .. } => {
                if self.step <= log_records {
                    // Log records, then the commit record: the log's next block.
                    let block = self.log.1 + self.log_cursor;
                    self.log_cursor = (self.log_cursor + 1) % DATABASE_LOG_BLOCKS;
                    AppWrite {
                        volume: self.log.0,
                        block,
                    }
                } else {
                    AppWrite {
                        volume: 0,
                        block: page(self.data_blocks),
                    }
                }
            }
            AppKind::FileRewrite { file_blocks, .. } => {
                let per_file = file_blocks + 1;
                let (file, at) = (self.step / per_file, self.step % per_file);
                if at == file_blocks {
                    // The rename: the directory block.
                    AppWrite {
                        volume: 0,
                        block: 0,
                    }
                } else {
                    // The temporary copy goes to the slot the current file does not use.
                    let slot = (self.unit + 1) % 2;
                    let first = 1 + (2 * u64::from(file) + slot) * u64::from(file_blocks);
                    AppWrite {
                        volume: 0,
                        block: first + u64::from(at),
                    }
                }
            }
        };
        self.step += 1;
        if self.step == self.kind.unit_len() {
            self.unit += 1;
            self.step = 0;
        }
        w
    }

    /// Writes still to issue to finish the unit in progress (0 between units).
    pub fn rest_of_unit(&self) -> u32 {
        if self.step == 0 {
            0
        } else {
            self.kind.unit_len() - self.step
        }
    }

    /// What an image taken now would cut: the unit in progress, if cutting it here is torn.
    pub fn torn_now(&self) -> Option<TornUnit> {
        self.kind.torn_at(self.step).then_some(TornUnit {
            unit: self.unit,
            written: self.step,
            of: self.kind.unit_len(),
        })
    }

    /// The application's files on `volumes` (its volumes' names, in order), for `name`.
    pub fn files(&self, name: &str, volumes: &[(VolumeId, &str)]) -> Vec<AppFile> {
        let vol = |i: usize| volumes.get(i).map_or("?", |v| v.1).trim_end_matches('\\');
        match self.kind {
            AppKind::Database { .. } => vec![
                AppFile {
                    path: format!("{}\\{name}\\data.mdf", vol(0)),
                    volume: 0,
                    first_block: 0,
                    blocks: self.data_blocks,
                },
                AppFile {
                    path: format!("{}\\{name}\\log.ldf", vol(self.log.0)),
                    volume: self.log.0,
                    first_block: self.log.1,
                    blocks: DATABASE_LOG_BLOCKS,
                },
            ],
            AppKind::FileRewrite { files, file_blocks } => {
                let fb = u64::from(file_blocks);
                let mut out = vec![AppFile {
                    path: format!("{}\\{name}\\directory", vol(0)),
                    volume: 0,
                    first_block: 0,
                    blocks: 1,
                }];
                for f in 0..u64::from(files) {
                    for (slot, suffix) in [(0, "a"), (1, "b")] {
                        out.push(AppFile {
                            path: format!("{}\\{name}\\file{f}.{suffix}", vol(0)),
                            volume: 0,
                            first_block: 1 + (2 * f + slot) * fb,
                            blocks: fb,
                        });
                    }
                }
                out
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_is_torn_only_between_its_commit_record_and_its_last_page() {
        let k = AppKind::DATABASE;
        assert_eq!(k.unit_len(), 6);
        let torn: Vec<bool> = (0..6).map(|i| k.torn_at(i)).collect();
        // 0: between transactions; 1, 2: log records only; 3: commit, no page; 4, 5: pages.
        assert_eq!(torn, [false, false, false, true, true, true]);
    }

    #[test]
    fn a_file_rewrite_is_torn_only_between_its_first_and_last_rename() {
        let k = AppKind::FILE_REWRITE;
        assert_eq!(k.unit_len(), 10);
        let torn: Vec<u32> = (0..10).filter(|i| k.torn_at(*i)).collect();
        assert_eq!(torn, [5, 6, 7, 8, 9]);
    }

    #[test]
    fn a_database_writes_its_log_then_its_pages_and_wraps_its_log() {
        let mut a = App::new(AppKind::DATABASE, 100, true);
        let w: Vec<AppWrite> = (0..6).map(|_| a.next_write(|n| n - 1)).collect();
        let log = |b| AppWrite {
            volume: 1,
            block: b,
        };
        let page = AppWrite {
            volume: 0,
            block: 99,
        };
        assert_eq!(w, [log(0), log(1), log(2), page, page, page]);
        assert_eq!(a.rest_of_unit(), 0);
        for _ in 0..DATABASE_LOG_BLOCKS * 2 {
            let w = a.next_write(|_| 0);
            assert!(w.volume == 0 || w.block < DATABASE_LOG_BLOCKS);
        }
        // One volume: the log follows the data region.
        let mut one = App::new(AppKind::DATABASE, 100, false);
        assert_eq!(
            one.next_write(|_| 0),
            AppWrite {
                volume: 0,
                block: 100
            }
        );
    }

    #[test]
    fn a_file_rewrite_alternates_slots_and_renames_each_file() {
        let mut a = App::new(AppKind::FILE_REWRITE, 0, false);
        let first: Vec<u64> = (0..10).map(|_| a.next_write(|_| 0).block).collect();
        // Generation 0 writes slot b of each file (blocks 5-8 and 13-16), each then renamed.
        assert_eq!(first, [5, 6, 7, 8, 0, 13, 14, 15, 16, 0]);
        let second: Vec<u64> = (0..10).map(|_| a.next_write(|_| 0).block).collect();
        assert_eq!(second, [1, 2, 3, 4, 0, 9, 10, 11, 12, 0]);
        let (needed, _) = AppKind::FILE_REWRITE.blocks_needed(0, false);
        assert!(first.iter().chain(&second).all(|b| *b < needed));
    }

    #[test]
    fn the_unit_in_progress_is_what_an_image_cuts() {
        let mut a = App::new(AppKind::DATABASE, 10, false);
        assert_eq!(a.torn_now(), None);
        for _ in 0..4 {
            a.next_write(|_| 1);
        }
        assert_eq!(
            a.torn_now(),
            Some(TornUnit {
                unit: 0,
                written: 4,
                of: 6
            })
        );
        assert_eq!(a.rest_of_unit(), 2);
    }

    #[test]
    fn files_name_the_data_file_and_the_log() {
        let a = App::new(AppKind::DATABASE, 64, true);
        let vols = [(VolumeId(0), "D:\\"), (VolumeId(1), "E:\\")];
        let f = a.files("sales", &vols);
        assert_eq!(f[0].path, "D:\\sales\\data.mdf");
        assert_eq!(f[1].path, "E:\\sales\\log.ldf");
        assert_eq!((f[1].volume, f[1].blocks), (1, DATABASE_LOG_BLOCKS));
        let r = App::new(AppKind::FILE_REWRITE, 0, false).files("cfg", &vols[..1]);
        assert_eq!(r.len(), 5);
        assert_eq!(r[4].path, "D:\\cfg\\file1.b");
    }
}
