//! Reading the store's files back, strictly: the snapshot, then every journal segment after it,
//! each record following the one before by exactly one. Whatever does not add up is refused,
//! naming the file and the byte offset, before anything on disk is changed.
//!
//! The rules, which `data check` reports against and `data repair` restores:
//!
//! - `orders.json`, when present, names `next_segment`, the first segment it does not hold, and
//!   `last_seq`, its last record. Without it the series starts at segment 1 and record 1.
//! - The live segments are numbered from `next_segment` without a gap; the first record of the
//!   first one is `last_seq + 1`, and every record follows the one before by one.
//! - Every live segment but the newest ends with a seal mark naming the next segment's file,
//!   except a segment written before checksums (no checksummed record, no seal) and the one
//!   before an empty newest segment (a crash came between creating the newest and sealing its
//!   predecessor; opening seals it).
//! - The newest segment is not sealed: a seal there names a successor that is missing.
//! - A segment below `next_segment` is left over from a compaction that stopped before removing
//!   it. It is removed only once read whole, sealed, and holding no record after `last_seq`.
//! - Only the newest segment, and the one before an empty newest segment, may end with an
//!   unfinished record: the append (or seal) a crash interrupted, which is cut at open.

use std::fs;
use std::io;
use std::path::Path;

use serde::de::IgnoredAny;
use shared_events::storage::atomic_file::{sync_dir, temporary_path};
use shared_events::storage::data_check::Problem;
use shared_events::storage::journal::{Journal, JournalError, Recovered};

use crate::store::StoreError;
use crate::store::files::{StoreFiles, segment_name};
use crate::store::record::JournalRecord;
use crate::store::snapshot::read_snapshot;
use crate::store::state::StoreState;

/// One thing that keeps the store from opening.
#[derive(Debug, Clone)]
pub(crate) struct Finding {
    /// What an operator is told: the file, the offset where there is one, and why.
    pub(crate) problem: Problem,
    /// Where in the files it is, for a repair.
    pub(crate) fault: Fault,
}

/// Where a [`Finding`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// `orders.json` is unreadable, damaged or does not add up.
    Snapshot,
    /// A segment below `next_segment` cannot be shown to be held by the snapshot.
    Covered(u64),
    /// Segments `first..=last` of the live series are missing.
    Missing { first: u64, last: u64 },
    /// A live segment is damaged at `offset`, or its record there does not follow.
    Damaged { segment: u64, offset: u64 },
    /// A live segment cannot be read.
    Unreadable(u64),
    /// A segment before the newest ends without its seal mark.
    Unsealed(u64),
    /// A segment's seal mark names another file than the next segment.
    WrongSeal(u64),
    /// The newest segment is sealed: the segment it names is missing.
    SuccessorMissing(u64),
}

/// What the files say, read without changing anything.
#[derive(Debug)]
pub(crate) struct Survey {
    /// Every problem found, in the order of the series (the snapshot first).
    pub(crate) findings: Vec<Finding>,
    /// The state the snapshot and the journal add up to; only meaningful without findings.
    pub(crate) state: StoreState,
    /// `last_seq` of a readable snapshot.
    pub(crate) snapshot_last_seq: Option<u64>,
    /// The size of a readable snapshot.
    pub(crate) snapshot_bytes: u64,
    /// The first live segment: the snapshot's `next_segment`, or 1.
    pub(crate) first_segment: u64,
    /// Segments below `first_segment`, shown to be held by the snapshot.
    pub(crate) covered: Vec<u64>,
    /// The live segments present, ascending.
    pub(crate) live: Vec<LiveSegment>,
}

/// A live segment as a survey read it.
#[derive(Debug, Clone)]
pub(crate) struct LiveSegment {
    pub(crate) number: u64,
    /// Its size in bytes.
    pub(crate) len: u64,
    /// The series' last record after this segment, when the count was not broken before it.
    pub(crate) last_seq: Option<u64>,
    /// What reading it found, when it could be read whole: enough to reopen it to append.
    pub(crate) read: Option<Recovered>,
}

/// The store's files read back and ready to be written.
pub(crate) struct Opened {
    pub(crate) state: StoreState,
    pub(crate) journal: Journal,
    pub(crate) segment: u64,
    pub(crate) snapshot_bytes: u64,
}

/// Reads the files of `files` as opening would, without changing anything. Only listing the
/// directory can fail; every other problem is a finding, and reading goes on past it.
pub(crate) fn survey(files: &StoreFiles) -> io::Result<Survey> {
    let numbers = files.segments()?;
    let mut findings = Vec::new();
    let snapshot = read_snapshot(&files.snapshot()).unwrap_or_else(|problem| {
        findings.push(Finding {
            problem,
            fault: Fault::Snapshot,
        });
        None
    });
    let snapshot_damaged = !findings.is_empty();
    let snapshot_last_seq = snapshot.as_ref().map(|loaded| loaded.state.last_seq);
    let snapshot_bytes = snapshot.as_ref().map_or(0, |loaded| loaded.bytes);
    let (first_segment, mut replay) = match snapshot {
        Some(loaded) => (loaded.next_segment, Replay::from(loaded.state)),
        // Nothing says where the series starts: read whatever is there, for what it shows.
        None if snapshot_damaged => (numbers.first().copied().unwrap_or(1), Replay::unanchored()),
        None => (1, Replay::from(StoreState::default())),
    };

    let mut covered = Vec::new();
    for &number in numbers.iter().filter(|number| **number < first_segment) {
        let last_seq = snapshot_last_seq.unwrap_or_default();
        match check_covered(files, number, last_seq) {
            Ok(()) => covered.push(number),
            Err(problem) => findings.push(Finding {
                problem,
                fault: Fault::Covered(number),
            }),
        }
    }

    let live_numbers: Vec<u64> = numbers
        .into_iter()
        .filter(|number| *number >= first_segment)
        .collect();
    if live_numbers.is_empty() && snapshot_last_seq.is_some() {
        findings.push(Finding {
            problem: Problem::whole(
                files.segment(first_segment),
                "missing: the snapshot says the journal continues in it",
            ),
            fault: Fault::Missing {
                first: first_segment,
                last: first_segment,
            },
        });
    }
    let live = read_live_series(
        files,
        &live_numbers,
        first_segment,
        &mut replay,
        &mut findings,
    );
    Ok(Survey {
        findings,
        state: replay.state,
        snapshot_last_seq,
        snapshot_bytes,
        first_segment,
        covered,
        live,
    })
}

/// Reads the live segments `numbers` in order into `replay`, adding what does not add up to
/// `findings`: a gap in the numbers, damage, a record that does not follow, a missing seal.
fn read_live_series(
    files: &StoreFiles,
    numbers: &[u64],
    first_segment: u64,
    replay: &mut Replay,
    findings: &mut Vec<Finding>,
) -> Vec<LiveSegment> {
    let lens: Vec<u64> = numbers
        .iter()
        .map(|number| fs::metadata(files.segment(*number)).map_or(0, |metadata| metadata.len()))
        .collect();
    let newest_is_empty = lens.last() == Some(&0);
    let mut live = Vec::with_capacity(numbers.len());
    let mut expected = first_segment;
    for (index, &number) in numbers.iter().enumerate() {
        if number != expected {
            findings.push(missing(files, expected, number - 1));
            replay.anchored = false;
        }
        expected = number + 1;
        let successor = numbers.get(index + 1).copied();
        let before_empty_newest =
            index + 2 == numbers.len() && newest_is_empty && successor == Some(number + 1);
        let path = files.segment(number);
        let repair_tail = successor.is_none() || before_empty_newest;
        let read = Journal::check(&path, repair_tail, |record: JournalRecord| {
            replay.apply(&record)
        });
        let read = match read {
            Ok(recovered) => {
                let end = SegmentEnd {
                    number,
                    successor,
                    before_empty_newest,
                    len: lens[index],
                };
                findings.extend(end.check_seal(files, &recovered));
                Some(recovered)
            }
            Err(error) => {
                findings.push(journal_finding(&path, number, error));
                replay.anchored = false;
                None
            }
        };
        live.push(LiveSegment {
            number,
            len: lens[index],
            last_seq: replay.anchored.then_some(replay.state.last_seq),
            read,
        });
    }
    live
}

/// Opens the store's files: refuses, changing nothing, unless they add up; then finishes what
/// a crash interrupted (a leftover temporary snapshot, segments a compaction did not remove,
/// an unfinished last record, a seal not yet written) and opens the newest segment to append.
pub(crate) fn open_files(files: &StoreFiles) -> Result<Opened, StoreError> {
    let survey = survey(files)?;
    if let Some(finding) = survey.findings.into_iter().next() {
        return Err(StoreError::Damaged(finding.problem));
    }
    let leftover = temporary_path(&files.snapshot());
    if leftover.exists() {
        fs::remove_file(&leftover)?;
    }
    for number in &survey.covered {
        tracing::info!(
            segment = number,
            "removing a journal segment the snapshot holds (a compaction stopped before removing it)"
        );
        fs::remove_file(files.segment(*number))?;
    }
    if !survey.covered.is_empty() {
        sync_dir(files.dir())?;
    }
    let newest = survey
        .live
        .last()
        .map_or(survey.first_segment, |segment| segment.number);
    if let [.., before, last] = survey.live.as_slice()
        && last.len == 0
    {
        seal_before_empty_newest(files, before.number, newest)?;
    }
    // The survey read the newest segment whole: it is reopened without reading it again.
    let journal = match survey.live.last().and_then(|segment| segment.read.as_ref()) {
        Some(read) => Journal::reopen_checked(&files.segment(newest), read)?,
        None => Journal::open(&files.segment(newest), true, ignore)?.0,
    };
    Ok(Opened {
        state: survey.state,
        journal,
        segment: newest,
        snapshot_bytes: survey.snapshot_bytes,
    })
}

/// The offset of the last line of the journal at `path`: where its seal mark starts, when it
/// has one.
pub(crate) fn last_line_offset(path: &Path) -> io::Result<u64> {
    let bytes = fs::read(path)?;
    let end = bytes
        .iter()
        .rposition(|byte| *byte != 0 && !byte.is_ascii_whitespace())
        .map_or(0, |last| last + 1);
    let start = bytes[..end]
        .iter()
        .rposition(|byte| *byte == b'\n')
        .map_or(0, |newline| newline + 1);
    Ok(start as u64)
}

/// Reads a journal's records without keeping them: for reopening a segment already checked.
pub(crate) fn ignore(_: IgnoredAny) -> Result<(), String> {
    Ok(())
}

/// A crash came between creating the newest segment and sealing the one before (or while
/// sealing it): nothing was written to the newest yet, so the one before ends the series and
/// is sealed now. Cuts an unfinished seal first.
fn seal_before_empty_newest(
    files: &StoreFiles,
    before: u64,
    newest: u64,
) -> Result<(), StoreError> {
    let (mut journal, recovered) = Journal::open(&files.segment(before), true, ignore)?;
    if recovered.sealed.is_none() {
        tracing::warn!(
            segment = before,
            "sealing a journal segment whose successor was created but never written to"
        );
        journal.seal(&segment_name(newest))?;
    }
    Ok(())
}

/// The records of the series applied in order. After a break (damage, a missing segment, an
/// unreadable snapshot) the next record read starts the count again, so that a check goes on
/// to find the problems further on.
struct Replay {
    state: StoreState,
    anchored: bool,
}

impl Replay {
    fn from(state: StoreState) -> Replay {
        Replay {
            state,
            anchored: true,
        }
    }

    fn unanchored() -> Replay {
        Replay {
            state: StoreState::default(),
            anchored: false,
        }
    }

    fn apply(&mut self, record: &JournalRecord) -> Result<(), String> {
        if !self.anchored {
            self.state.last_seq = record.seq.saturating_sub(1);
            self.anchored = true;
        }
        self.state.apply(record)
    }
}

/// How a live segment that was read whole must end.
struct SegmentEnd {
    number: u64,
    successor: Option<u64>,
    before_empty_newest: bool,
    len: u64,
}

impl SegmentEnd {
    fn check_seal(&self, files: &StoreFiles, recovered: &Recovered) -> Option<Finding> {
        let path = files.segment(self.number);
        let seal_at = || last_line_offset(&path).unwrap_or(0);
        let next = segment_name(self.number + 1);
        match (self.successor, &recovered.sealed) {
            (None, Some(named)) => Some(Finding {
                problem: Problem::at(
                    &path,
                    seal_at(),
                    format!(
                        "the newest segment is sealed: the journal continues in {named}, which is \
                         missing"
                    ),
                ),
                fault: Fault::SuccessorMissing(self.number),
            }),
            (None, None) => None,
            // A gap follows; it is a finding of its own.
            (Some(successor), _) if successor != self.number + 1 => None,
            (Some(_), Some(named)) if *named == next => None,
            (Some(_), Some(named)) => Some(Finding {
                problem: Problem::at(
                    &path,
                    seal_at(),
                    format!("the seal mark names {named}, but the next segment is {next}"),
                ),
                fault: Fault::WrongSeal(self.number),
            }),
            (Some(_), None) if written_before_checksums(recovered) || self.before_empty_newest => {
                None
            }
            (Some(_), None) => Some(Finding {
                problem: Problem::at(
                    &path,
                    self.len,
                    format!(
                        "the segment ends without the seal mark naming {next}: records may be \
                         missing from its end"
                    ),
                ),
                fault: Fault::Unsealed(self.number),
            }),
        }
    }
}

/// A segment of an older build, which neither checksummed nor sealed: accepted as it is.
fn written_before_checksums(recovered: &Recovered) -> bool {
    recovered.sealed.is_none() && recovered.unchecked_records == recovered.records
}

/// Checks that segment `number`, below the snapshot's `next_segment`, is held by the snapshot:
/// read whole, sealed toward its successor, no record after `last_seq`.
fn check_covered(files: &StoreFiles, number: u64, last_seq: u64) -> Result<(), Problem> {
    let path = files.segment(number);
    let recovered = Journal::check(&path, false, |record: JournalRecord| {
        if record.seq > last_seq {
            Err(format!(
                "record {} is after the snapshot's last record {last_seq}, yet the snapshot says \
                 it holds this segment",
                record.seq
            ))
        } else {
            Ok(())
        }
    })
    .map_err(|error| journal_finding(&path, number, error).problem)?;
    let next = segment_name(number + 1);
    match &recovered.sealed {
        Some(named) if *named == next => Ok(()),
        Some(named) => Err(Problem::at(
            &path,
            last_line_offset(&path).unwrap_or(0),
            format!("the seal mark names {named}, but the next segment is {next}"),
        )),
        None if written_before_checksums(&recovered) => Ok(()),
        None => Err(Problem::at(
            &path,
            fs::metadata(&path).map_or(0, |metadata| metadata.len()),
            format!(
                "the snapshot says it holds this segment, but the segment is not sealed toward \
                 {next}: it may have been written after the snapshot"
            ),
        )),
    }
}

fn missing(files: &StoreFiles, first: u64, last: u64) -> Finding {
    let reason = if first == last {
        "missing: the journal continues past it".to_owned()
    } else {
        format!(
            "missing, with every segment up to {}: the journal continues past them",
            segment_name(last)
        )
    };
    Finding {
        problem: Problem::whole(files.segment(first), reason),
        fault: Fault::Missing { first, last },
    }
}

fn journal_finding(path: &Path, number: u64, error: JournalError) -> Finding {
    match error {
        JournalError::Corrupt { offset, reason, .. } => Finding {
            problem: Problem::at(path, offset, reason),
            fault: Fault::Damaged {
                segment: number,
                offset,
            },
        },
        JournalError::Rejected { offset, reason, .. } => Finding {
            problem: Problem::at(path, offset, reason),
            fault: Fault::Damaged {
                segment: number,
                offset,
            },
        },
        other => Finding {
            problem: Problem::whole(path, format!("cannot be read: {other}")),
            fault: Fault::Unreadable(number),
        },
    }
}

#[cfg(test)]
mod tests;
