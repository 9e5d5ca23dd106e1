//! `data check` and `data repair` for one durable state: the reading of
//! [`DurableState::open`](super::DurableState::open) ([`files::load`]) without the state's
//! types, and the least a repair must drop to get past what it finds.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use serde::de::IgnoredAny;

use super::DurableStateError;
use super::files::{self, Access, Entry, LineSeals, Paths, Sequence};
use crate::storage::atomic_file::{sync_parent, write_atomically};
use crate::storage::data_check::{Dropped, Problem};
use crate::storage::data_dir::DataDirLock;
use crate::storage::journal::{self, Journal, JournalError};

/// Every problem that keeps the state `name` in `dir` from opening, changing nothing.
///
/// The envelope of the snapshot and of every entry is checked, not the state's own types.
pub fn check(dir: &Path, name: &str) -> Vec<Problem> {
    let paths = Paths::new(dir, name);
    let Err(error) = load(&paths, Access::Check) else {
        return Vec::new();
    };
    let mut problems = vec![problem(&paths, &error)];
    match error {
        DurableStateError::SnapshotDamaged { .. } => {
            // The journal can still be checked on its own, for a complete report.
            if let Err(error) = check_journal_alone(&paths) {
                problems.push(problem(&paths, &error));
            }
        }
        DurableStateError::Journal(
            JournalError::Corrupt { offset, .. } | JournalError::Rejected { offset, .. },
        ) => problems.extend(damaged_lines_after(&paths, offset)),
        _ => {}
    }
    problems
}

/// Repairs the state `name` in `dir` (which it locks, so the service must be stopped): keeps
/// what is intact and says exactly what it dropped. The caller has made a backup copy.
///
/// A journal is cut at its first damage. Entries the snapshot already holds are dropped when
/// they are what stands in the way. A missing journal is created empty. A damaged snapshot
/// cannot be rebuilt: it is left as it is, with its journal, and the next check still names it.
pub fn repair(dir: &Path, name: &str) -> anyhow::Result<Vec<Dropped>> {
    let _lock = DataDirLock::acquire(dir)
        .with_context(|| format!("failed to lock {} for the repair", dir.display()))?;
    let paths = Paths::new(dir, name);
    let mut dropped = Vec::new();
    // Bytes removed from the journal's front so far: what is dropped is said in the offsets of
    // the journal as it was (and as the backup copy holds it).
    let mut removed = 0;
    // Every pass removes bytes from the journal or creates it, so the loop ends.
    loop {
        let error = match load(&paths, Access::Check) {
            Ok(_) => break,
            Err(error) => error,
        };
        match error {
            DurableStateError::SnapshotDamaged { .. } | DurableStateError::Snapshot { .. } => {
                return Ok(dropped);
            }
            DurableStateError::MissingJournal {
                journal, last_seq, ..
            } => {
                fs::File::create_new(&journal)
                    .and_then(|file| file.sync_all())
                    .and_then(|()| sync_parent(&journal))
                    .with_context(|| format!("failed to create {}", journal.display()))?;
                dropped.push(Dropped {
                    file: journal,
                    what: format!(
                        "the changes after {last_seq}, if it held any: the journal was missing \
                         and is created empty"
                    ),
                });
            }
            DurableStateError::Journal(
                JournalError::Corrupt { offset, .. } | JournalError::Rejected { offset, .. },
            ) => dropped.push(drop_at(&paths, offset, &mut removed)?),
            DurableStateError::Mismatched { .. } => {
                // Every entry is at or below the snapshot's last_seq, which holds them.
                let end = journal_len(&paths)?;
                dropped.push(drop_before(&paths, end, &mut removed)?);
            }
            other => return Err(other.into()),
        }
    }
    if paths.journal.exists() {
        // What start-up would cut anyway: an append that never finished.
        let recovered = load(&paths, Access::Open)?.recovered;
        if recovered.torn_bytes > 0 {
            let from = removed + journal_len(&paths)?;
            dropped.push(Dropped {
                file: paths.journal.clone(),
                what: format!(
                    "{} bytes from byte {from}: an unfinished last entry, never acknowledged",
                    recovered.torn_bytes
                ),
            });
        }
    }
    Ok(dropped)
}

fn load(paths: &Paths, access: Access) -> Result<files::Loaded<IgnoredAny>, DurableStateError> {
    files::load(paths, access, |_: &mut IgnoredAny, _: IgnoredAny| {})
}

/// The journal's own rules (checksums, entries one after the other), for when the snapshot
/// that anchors it cannot be read.
fn check_journal_alone(paths: &Paths) -> Result<(), DurableStateError> {
    if !paths.journal.exists() {
        return Ok(());
    }
    let mut sequence = Sequence::unanchored();
    Journal::check(&paths.journal, true, |entry: Entry<IgnoredAny>| {
        sequence.next(entry.seq).map(drop)
    })?;
    Ok(())
}

/// The lines after the one at `offset` (where a check found the first damage) that are
/// damaged too, for a complete report. Their order is not checked: the first damage cuts it.
fn damaged_lines_after(paths: &Paths, offset: u64) -> Vec<Problem> {
    let Ok(content) = fs::read(&paths.journal) else {
        return Vec::new();
    };
    journal_lines(&content, 0)
        .into_iter()
        .filter(|line| line.offset as u64 > offset && !line.intact)
        .map(|line| {
            Problem::at(
                &paths.journal,
                line.offset as u64,
                "a damaged entry (after the first damage)",
            )
        })
        .collect()
}

/// What a check reports for an error of [`files::load`].
fn problem(paths: &Paths, error: &DurableStateError) -> Problem {
    match error {
        DurableStateError::SnapshotDamaged {
            path,
            offset,
            reason,
        } => Problem::at(
            path,
            *offset,
            format!("{reason}; a repair cannot rebuild a snapshot: restore it from a backup copy"),
        ),
        DurableStateError::Journal(
            JournalError::Corrupt {
                path,
                offset,
                reason,
            }
            | JournalError::Rejected {
                path,
                offset,
                reason,
            },
        ) => Problem::at(path, *offset, reason.clone()),
        DurableStateError::Journal(JournalError::Io { path, source }) => {
            Problem::whole(path, format!("cannot be read: {source}"))
        }
        DurableStateError::Snapshot { path, reason } => Problem::whole(path, reason.clone()),
        DurableStateError::MissingJournal {
            journal,
            snapshot,
            last_seq,
        } => Problem::whole(
            journal,
            format!(
                "missing beside {}, which holds the changes up to {last_seq} (the journal is \
                 created with the state and never deleted); a repair creates it empty",
                snapshot.display()
            ),
        ),
        DurableStateError::Mismatched {
            snapshot,
            journal,
            reason,
        } => Problem::whole(
            snapshot,
            format!("does not match {}: {reason}", journal.display()),
        ),
        other => Problem::whole(&paths.snapshot, other.to_string()),
    }
}

/// Removes the journal's bytes from `offset` on (where a check found damage), or, when they
/// are entries the snapshot already holds that stand in the way of the ones after it, the
/// bytes before. `removed` counts the bytes removed from the front so far.
fn drop_at(paths: &Paths, offset: u64, removed: &mut usize) -> anyhow::Result<Dropped> {
    let content = read(&paths.journal)?;
    let offset = offset as usize;
    if offset >= content.len() {
        anyhow::bail!(
            "{} is damaged at byte {offset}, its end: nothing there to drop",
            paths.journal.display()
        );
    }
    let snapshot_seq = files::read_snapshot::<IgnoredAny>(&paths.snapshot)?
        .map_or(0, |(snapshot, _)| snapshot.last_seq);
    let resumes_after_snapshot = offset > 0
        && entry_at(&content, offset)
            .is_some_and(|(seq, intact)| intact && seq == snapshot_seq + 1)
        && journal_lines(&content[..offset], 0)
            .iter()
            .all(|line| line.seq.is_some_and(|seq| seq <= snapshot_seq));
    if resumes_after_snapshot {
        return drop_before(paths, offset, removed);
    }
    let file = OpenOptions::new()
        .write(true)
        .open(&paths.journal)
        .with_context(|| format!("failed to open {}", paths.journal.display()))?;
    file.set_len(offset as u64)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("failed to cut {}", paths.journal.display()))?;
    Ok(Dropped {
        file: paths.journal.clone(),
        what: describe(&content, offset, content.len(), *removed),
    })
}

/// Removes the journal's first `end` bytes: entries the snapshot already holds.
fn drop_before(paths: &Paths, end: usize, removed: &mut usize) -> anyhow::Result<Dropped> {
    let content = read(&paths.journal)?;
    write_atomically(&paths.journal, |out| out.write_all(&content[end..]))
        .with_context(|| format!("failed to rewrite {}", paths.journal.display()))?;
    let what = format!(
        "{}, which the snapshot already holds",
        describe(&content, 0, end, *removed)
    );
    *removed += end;
    Ok(Dropped {
        file: paths.journal.clone(),
        what,
    })
}

/// One line of a journal, as far as it can be read.
struct Line {
    offset: usize,
    seq: Option<u64>,
    /// The line matches its checksum (or is from before checksums) and parses as an entry.
    intact: bool,
}

/// The lines of `content` (a journal's bytes from `base` on), padding left out.
fn journal_lines(content: &[u8], base: usize) -> Vec<Line> {
    let mut seals = LineSeals::default();
    let mut lines = Vec::new();
    let mut offset = 0;
    for line in content.split(|byte| *byte == b'\n') {
        if !journal::is_padding(line) {
            let sealed = seals.check(line).is_ok();
            let entry = serde_json::from_slice::<Entry<IgnoredAny>>(line).ok();
            lines.push(Line {
                offset: base + offset,
                seq: entry.as_ref().map(|entry| entry.seq),
                intact: sealed && entry.is_some(),
            });
        }
        offset += line.len() + 1;
    }
    lines
}

/// The seq of the line at `offset`, and whether it is intact.
fn entry_at(content: &[u8], offset: usize) -> Option<(u64, bool)> {
    let line = content[offset..].split(|byte| *byte == b'\n').next()?;
    let seq = serde_json::from_slice::<Entry<IgnoredAny>>(line).ok()?.seq;
    let mut seals = LineSeals::default();
    Some((seq, seals.check(line).is_ok()))
}

/// Says which bytes and entries `content[start..end]` holds, `base` bytes into the journal as
/// it was: `120 bytes from byte 80: entry 6 (damaged, at byte 80), entries 7 to 9`.
fn describe(content: &[u8], start: usize, end: usize, base: usize) -> String {
    let mut parts: Vec<String> = Vec::new();
    // A run of intact entries one after the other, said as one range.
    let mut run: Option<(u64, u64)> = None;
    let close_run = |run: &mut Option<(u64, u64)>, parts: &mut Vec<String>| {
        if let Some((first, last)) = run.take() {
            parts.push(files::entry_range(first, last));
        }
    };
    for line in journal_lines(&content[start..end], base + start) {
        match (line.seq, line.intact) {
            (Some(seq), true) => match run {
                Some((first, last)) if seq == last + 1 => run = Some((first, seq)),
                _ => {
                    close_run(&mut run, &mut parts);
                    run = Some((seq, seq));
                }
            },
            (Some(seq), false) => {
                close_run(&mut run, &mut parts);
                parts.push(format!("entry {seq} (damaged, at byte {})", line.offset));
            }
            (None, _) => {
                close_run(&mut run, &mut parts);
                parts.push(format!("an unreadable line at byte {}", line.offset));
            }
        }
    }
    close_run(&mut run, &mut parts);
    let bytes = end - start;
    let from = base + start;
    if parts.is_empty() {
        format!("{bytes} bytes from byte {from} (no entry)")
    } else {
        format!("{bytes} bytes from byte {from}: {}", parts.join(", "))
    }
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    fs::read(path).with_context(|| format!("failed to read {}", path.display()))
}

fn journal_len(paths: &Paths) -> anyhow::Result<usize> {
    Ok(fs::metadata(&paths.journal)
        .with_context(|| format!("failed to read {}", paths.journal.display()))?
        .len() as usize)
}
