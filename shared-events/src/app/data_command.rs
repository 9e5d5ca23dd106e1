//! `<binary> data check` and `data repair`: the operator's tools for damaged data files.
//!
//! A check reads every data file the service keeps as the service would at start-up, and lists
//! every problem with its file and byte offset; it changes nothing, and exits 1 when it found
//! one. A repair first copies the whole data directory aside, then keeps what is intact, says
//! exactly what it dropped, and checks again. It takes the same locks as the service, so it
//! refuses to run while the service does.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Subcommand;

use crate::storage::data_check::{Dropped, Problem};
use crate::storage::durable_state;
use crate::storage::failure_log::FailureLog;

/// `data check` or `data repair`.
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Read every data file as the service would at start-up and list every problem (file and
    /// byte offset). Changes nothing; exits 1 if anything is wrong.
    Check,
    /// Copy the data directory aside, then keep what is intact and say exactly what was
    /// dropped. Stop the service first: the repair takes its locks.
    Repair {
        /// Where the backup copy goes (default: beside the data directory, named after it and
        /// the time).
        #[arg(long, value_name = "DIR")]
        backup_dir: Option<PathBuf>,
    },
}

/// One kind of file a service keeps, as the data command sees it.
pub trait DataFiles {
    /// Every problem found, changing nothing.
    fn check(&self) -> Vec<Problem>;

    /// Keeps what is intact and says what it dropped. The backup copy exists already.
    fn repair(&self) -> anyhow::Result<Vec<Dropped>>;
}

/// A `failure.json`.
pub struct FailureLogFile(pub PathBuf);

impl DataFiles for FailureLogFile {
    fn check(&self) -> Vec<Problem> {
        if self.0.exists() {
            FailureLog::check(&self.0)
        } else {
            Vec::new()
        }
    }

    fn repair(&self) -> anyhow::Result<Vec<Dropped>> {
        if self.0.exists() {
            FailureLog::repair(&self.0)
        } else {
            Ok(Vec::new())
        }
    }
}

/// One durable state (`<name>.json` and `<name>-journal.jsonl`) in `dir`: the order service's
/// delivery timelines.
pub struct StateFiles {
    /// The state's directory.
    pub dir: PathBuf,
    /// The state's name.
    pub name: &'static str,
}

impl DataFiles for StateFiles {
    fn check(&self) -> Vec<Problem> {
        if self.dir.exists() {
            durable_state::check(&self.dir, self.name)
        } else {
            Vec::new()
        }
    }

    fn repair(&self) -> anyhow::Result<Vec<Dropped>> {
        if self.dir.exists() {
            durable_state::repair(&self.dir, self.name)
        } else {
            Ok(Vec::new())
        }
    }
}

/// A consumer's ledgers: the durable state `name` in every shard's folder `dir/<shard>/`.
pub struct ShardLedgerFiles {
    /// The consumer's data directory.
    pub dir: PathBuf,
    /// The ledger's name.
    pub name: &'static str,
}

impl ShardLedgerFiles {
    /// The shard folders that hold this ledger, in shard order.
    fn states(&self) -> Vec<StateFiles> {
        let mut shards: Vec<(u32, PathBuf)> = fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let shard = entry.file_name().to_str()?.parse::<u32>().ok()?;
                Some((shard, entry.path()))
            })
            .collect();
        shards.sort();
        shards
            .into_iter()
            .map(|(_, dir)| StateFiles {
                dir,
                name: self.name,
            })
            .collect()
    }
}

impl DataFiles for ShardLedgerFiles {
    fn check(&self) -> Vec<Problem> {
        self.states().iter().flat_map(StateFiles::check).collect()
    }

    fn repair(&self) -> anyhow::Result<Vec<Dropped>> {
        let mut dropped = Vec::new();
        for state in self.states() {
            dropped.extend(state.repair()?);
        }
        Ok(dropped)
    }
}

/// Runs `command` over `files`, the files a service keeps in `data_dir`, writing the report to
/// `out`. A check that finds problems, and a repair that leaves some, are errors (exit 1).
pub fn run(
    command: &DataCommand,
    data_dir: &Path,
    files: &[&dyn DataFiles],
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let problems = check_all(files);
    match command {
        DataCommand::Check => {
            report_problems(&problems, out)?;
            if !problems.is_empty() {
                bail!(
                    "{} problem(s) in {}; `data repair` keeps what is intact",
                    problems.len(),
                    data_dir.display()
                );
            }
            writeln!(out, "no problem found in {}", data_dir.display())?;
            Ok(())
        }
        DataCommand::Repair { backup_dir } => {
            if problems.is_empty() {
                writeln!(
                    out,
                    "no problem found in {}: nothing to repair",
                    data_dir.display()
                )?;
                return Ok(());
            }
            report_problems(&problems, out)?;
            let backup = backup_dir.clone().unwrap_or_else(|| backup_path(data_dir));
            copy_tree(data_dir, &backup).with_context(|| {
                format!(
                    "failed to copy {} to {} before repairing; nothing was changed",
                    data_dir.display(),
                    backup.display()
                )
            })?;
            writeln!(out, "backup copy: {}", backup.display())?;
            for part in files {
                for dropped in part.repair()? {
                    writeln!(out, "{dropped}")?;
                }
            }
            let left = check_all(files);
            if !left.is_empty() {
                report_problems(&left, out)?;
                bail!(
                    "{} problem(s) are left that a repair cannot fix; the backup copy is in {}",
                    left.len(),
                    backup.display()
                );
            }
            writeln!(
                out,
                "repaired: no problem is left in {}",
                data_dir.display()
            )?;
            Ok(())
        }
    }
}

fn check_all(files: &[&dyn DataFiles]) -> Vec<Problem> {
    files.iter().flat_map(|files| files.check()).collect()
}

fn report_problems(problems: &[Problem], out: &mut impl Write) -> anyhow::Result<()> {
    for problem in problems {
        writeln!(out, "problem: {problem}")?;
    }
    Ok(())
}

/// `<data_dir>.backup-<UTC time>`, beside the data directory.
fn backup_path(data_dir: &Path) -> PathBuf {
    let mut name = data_dir
        .file_name()
        .map(|name| name.to_os_string())
        .unwrap_or_else(|| "data".into());
    name.push(format!(
        ".backup-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
    ));
    data_dir.with_file_name(name)
}

/// Copies `from` into the new folder `to`, lock files left out; refuses an existing `to`.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    fs::create_dir(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_tree(&entry.path(), &to.join(&name))?;
        } else if kind.is_file() && !name.to_string_lossy().ends_with(".lock") {
            let copy = to.join(&name);
            fs::copy(entry.path(), &copy)?;
            // The repair changes the originals next: the copy must be on disk first.
            fs::File::open(&copy)?.sync_all()?;
        }
    }
    crate::storage::atomic_file::sync_dir(to)
}
