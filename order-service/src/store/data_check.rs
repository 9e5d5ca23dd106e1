//! `data check` and `data repair` for the order store: list every problem of its files without
//! changing them; or keep what is intact, drop what is not, and say exactly what was dropped.
//! Both read the files as opening does ([`recovery::survey`]), so "no problem" means "opens".

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use serde_json::Value;
use shared_events::storage::atomic_file::{sync_dir, write_atomically};
use shared_events::storage::checksum::{Seal, check_object};
use shared_events::storage::data_check::{Dropped, Problem};
use shared_events::storage::data_dir::DataDirLock;
use shared_events::storage::journal::{Journal, encode_line};

use crate::store::files::{StoreFiles, segment_name};
use crate::store::record::JournalRecord;
use crate::store::recovery::{self, Fault, Finding, Survey, last_line_offset};

/// Every problem that keeps the store in `dir` from opening, across all its files, found
/// without changing anything. An empty list means the store opens.
pub fn check(dir: &Path) -> Vec<Problem> {
    match recovery::survey(&StoreFiles::new(dir)) {
        Ok(survey) => survey
            .findings
            .into_iter()
            .map(|finding| finding.problem)
            .collect(),
        Err(error) => vec![Problem::whole(
            dir,
            format!("the data directory cannot be listed: {error}"),
        )],
    }
}

/// Repairs the store in `dir` so that it opens, keeping what is intact: the journal is cut at
/// its first damage and the segments after it are removed, a missing seal mark is added when
/// the next segment is there, a missing segment is replaced by an empty one. Returns exactly
/// what was dropped. Refuses while the service runs (it holds the directory's lock), and when
/// keeping the intact part is not enough (a damaged snapshot the journal cannot replace).
/// The caller makes the backup copy first.
pub fn repair(dir: &Path) -> anyhow::Result<Vec<Dropped>> {
    let _lock = DataDirLock::acquire(dir)
        .context("failed to lock the data directory (is the service still running?)")?;
    let files = StoreFiles::new(dir);
    let survey = recovery::survey(&files).context("failed to list the data directory")?;
    // What a repair cannot settle is said before anything is changed.
    for finding in &survey.findings {
        if let Some(reason) = unrepairable(&files, &survey, finding) {
            bail!("{}: {reason}", finding.problem);
        }
    }
    let mut dropped = Vec::new();
    let mut steps = 0;
    loop {
        let survey = recovery::survey(&files).context("failed to list the data directory")?;
        let Some(finding) = survey.findings.first() else {
            return Ok(dropped);
        };
        // Each step settles the first problem of the series; what follows may change with it.
        steps += 1;
        if steps > 16 + 4 * survey.live.len() {
            bail!(
                "the order store still has problems after {steps} repair steps, first {}{}",
                finding.problem,
                so_far(&dropped)
            );
        }
        settle(&files, &survey, finding, &mut dropped)
            .with_context(|| format!("failed to repair {}{}", finding.problem, so_far(&dropped)))?;
        sync_dir(files.dir()).context("failed to sync the data directory")?;
    }
}

/// Why `finding` is beyond a repair, which only keeps what is intact and drops the rest.
fn unrepairable(files: &StoreFiles, survey: &Survey, finding: &Finding) -> Option<String> {
    match finding.fault {
        Fault::Snapshot if !journal_holds_everything(files, survey) => Some(
            "a damaged snapshot cannot be rebuilt, as the journal no longer holds every record: \
             restore the data directory from a backup"
                .to_owned(),
        ),
        Fault::Covered(number) => {
            let content = fs::read(files.segment(number)).ok()?;
            let last_seq = survey.snapshot_last_seq.unwrap_or_default();
            let after = readable_records(&content)
                .iter()
                .filter_map(|record| record.seq)
                .find(|seq| *seq > last_seq)?;
            Some(format!(
                "it holds record {after}, after the snapshot's last record {last_seq}: the \
                 snapshot and the journal disagree, and a repair does not guess which is right; \
                 restore the data directory from a backup"
            ))
        }
        Fault::Unreadable(_) => Some(
            "a repair does not remove a file it cannot read: fix the disk or the permissions"
                .to_owned(),
        ),
        _ => None,
    }
}

/// What a repair that stopped half-way had already dropped, for its error.
fn so_far(dropped: &[Dropped]) -> String {
    if dropped.is_empty() {
        return String::new();
    }
    let list: Vec<String> = dropped.iter().map(Dropped::to_string).collect();
    format!(" (already done: {})", list.join("; "))
}

/// Settles `finding`, adding what it dropped to `dropped`.
fn settle(
    files: &StoreFiles,
    survey: &Survey,
    finding: &Finding,
    dropped: &mut Vec<Dropped>,
) -> anyhow::Result<()> {
    if let Some(reason) = unrepairable(files, survey, finding) {
        bail!(reason);
    }
    match finding.fault {
        Fault::Snapshot => {
            let path = files.snapshot();
            let bytes = fs::metadata(&path).map_or(0, |metadata| metadata.len());
            fs::remove_file(&path)?;
            dropped.push(Dropped {
                file: path,
                what: format!(
                    "the whole snapshot ({bytes} bytes), which is damaged; the journal holds \
                     every record from record 1, and opening rebuilds the orders from it"
                ),
            });
        }
        Fault::Covered(number) => {
            let path = files.segment(number);
            let content = fs::read(&path)?;
            fs::remove_file(&path)?;
            dropped.push(Dropped {
                file: path,
                what: format!(
                    "the whole segment ({} bytes), which the snapshot already holds: {}",
                    content.len(),
                    describe(&content)
                ),
            });
        }
        Fault::Missing { first, last } => {
            remove_live_after(files, survey, last, dropped)?;
            Journal::open(&files.segment(first), true, recovery::ignore)?;
            let which = if first == last {
                "the segment".to_owned()
            } else {
                format!("the segments up to {}", segment_name(last))
            };
            dropped.push(Dropped {
                file: files.segment(first),
                what: format!(
                    "every record of {which}, which went missing (records after record {}); \
                     an empty segment takes its place",
                    last_seq_before(survey, first)
                ),
            });
        }
        Fault::Damaged { segment, offset } => {
            let path = files.segment(segment);
            let content = fs::read(&path)?;
            let offset = usize::try_from(offset)?.min(content.len());
            if let Some(kept) = keep_records_after_damage(survey, segment, &content, offset) {
                write_atomically(&path, |out| out.write_all(&kept.content))?;
                dropped.push(Dropped {
                    file: path,
                    what: kept.report,
                });
                return Ok(());
            }
            let file = OpenOptions::new().write(true).open(&path)?;
            file.set_len(offset as u64)?;
            file.sync_all()?;
            dropped.push(Dropped {
                file: path,
                what: format!(
                    "{} bytes from byte {offset}: {}",
                    content.len() - offset,
                    describe(&content[offset..])
                ),
            });
            // Bytes after a seal mark are dropped alone: the segments after it are intact.
            let next = segment_name(segment + 1);
            let series_goes_on = ends_with_seal_naming(&content[..offset], &next)
                && files.segment(segment + 1).exists();
            if !series_goes_on {
                remove_live_after(files, survey, segment, dropped)?;
            }
        }
        Fault::Unreadable(_) => bail!("a repair does not remove a file it cannot read"),
        Fault::Unsealed(number) => {
            let next = segment_name(number + 1);
            let (mut journal, _) = Journal::open(&files.segment(number), false, recovery::ignore)?;
            journal.seal(&next)?;
            dropped.push(Dropped {
                file: files.segment(number),
                what: format!(
                    "no record; the segment lacked its seal mark naming {next}, which was added"
                ),
            });
        }
        Fault::WrongSeal(number) => {
            let path = files.segment(number);
            let content = fs::read(&path)?;
            let at = last_line_offset(&path)?;
            let file = OpenOptions::new().write(true).open(&path)?;
            file.set_len(at)?;
            file.sync_all()?;
            drop(file);
            let next = segment_name(number + 1);
            let (mut journal, _) = Journal::open(&path, false, recovery::ignore)?;
            journal.seal(&next)?;
            dropped.push(Dropped {
                file: path,
                what: format!(
                    "{} bytes from byte {at}: {}; sealed the segment anew toward {next}",
                    content.len() as u64 - at,
                    describe(&content[usize::try_from(at)?..])
                ),
            });
        }
        Fault::SuccessorMissing(number) => {
            let path = files.segment(number + 1);
            Journal::open(&path, true, recovery::ignore)?;
            dropped.push(Dropped {
                file: path,
                what: format!(
                    "every record of the segment, which went missing (records after record {}); \
                     an empty segment takes its place",
                    last_seq_before(survey, number + 1)
                ),
            });
        }
    }
    Ok(())
}

/// A segment with its damaged records replaced by empty ones, and what that dropped.
struct KeptAfterDamage {
    content: Vec<u8>,
    report: String,
}

/// Most records one damaged stretch may stand for: beyond that, the numbers around it are not
/// to be trusted either, and the segment is cut instead.
const MOST_LOST_RECORDS: u64 = 1000;

/// When the lines from `offset` on are damaged (not merely out of order) and an intact record
/// follows them in the same segment, keeps every record after them: the damaged lines become
/// empty records (`{"seq":N}`, which change nothing) that keep the numbering, so the records
/// after them, each holding its order's whole new state, still apply, and the embedded
/// consumers' positions still point at the same records. None when that does not apply.
fn keep_records_after_damage(
    survey: &Survey,
    segment: u64,
    content: &[u8],
    offset: usize,
) -> Option<KeptAfterDamage> {
    let first_line = content[offset..].split(|byte| *byte == b'\n').next()?;
    if intact_record(first_line).is_some() {
        return None;
    }
    let expected = readable_records(&content[..offset])
        .iter()
        .filter_map(|record| record.seq)
        .next_back()
        .or_else(|| seq_before(survey, segment))
        .unwrap_or(0)
        + 1;
    // The first intact record after the damage, and where it starts.
    let mut resume = offset;
    let next_seq = loop {
        let newline = content[resume..].iter().position(|byte| *byte == b'\n')?;
        resume += newline + 1;
        let line = content[resume..].split(|byte| *byte == b'\n').next()?;
        if let Some(seq) = intact_record(line) {
            break seq;
        }
    };
    if next_seq <= expected || next_seq - expected > MOST_LOST_RECORDS {
        return None;
    }
    let mut kept = content[..offset].to_vec();
    for seq in expected..next_seq {
        let empty = JournalRecord {
            seq,
            ..JournalRecord::default()
        };
        encode_line(&mut kept, &empty).ok()?;
    }
    kept.extend_from_slice(&content[resume..]);
    let lost = if next_seq - expected == 1 {
        format!("record {expected}")
    } else {
        format!("records {expected} to {}", next_seq - 1)
    };
    Some(KeptAfterDamage {
        content: kept,
        report: format!(
            "{} bytes from byte {offset}: {} — the change {lost} held is lost; empty records \
             take their numbers, and every record after them is kept",
            resume - offset,
            describe(&content[offset..resume])
        ),
    })
}

/// The seq of `line` when it matches its checksum and reads as a record.
fn intact_record(line: &[u8]) -> Option<u64> {
    if check_object(line) != Seal::Verified {
        return None;
    }
    serde_json::from_slice::<JournalRecord>(line)
        .ok()
        .map(|record| record.seq)
}

/// Removes every live segment after `number`: the series is cut before them.
fn remove_live_after(
    files: &StoreFiles,
    survey: &Survey,
    number: u64,
    dropped: &mut Vec<Dropped>,
) -> anyhow::Result<()> {
    for segment in survey.live.iter().filter(|segment| segment.number > number) {
        let path = files.segment(segment.number);
        let content = fs::read(&path)?;
        fs::remove_file(&path)?;
        dropped.push(Dropped {
            file: path,
            what: format!(
                "the whole segment ({} bytes), as the journal is cut before it: {}",
                content.len(),
                describe(&content)
            ),
        });
    }
    Ok(())
}

/// Whether removing a damaged snapshot loses nothing: segment 1 is there and starts with
/// record 1 (no compaction ever removed a segment), and no segment after it is missing.
fn journal_holds_everything(files: &StoreFiles, survey: &Survey) -> bool {
    let complete = !survey.findings.iter().any(|finding| {
        matches!(
            finding.fault,
            Fault::Missing { .. } | Fault::Unreadable(_) | Fault::Covered(_)
        )
    });
    let starts_at_one = survey
        .live
        .first()
        .is_some_and(|segment| segment.number == 1)
        && fs::read(files.segment(1)).ok().and_then(|content| {
            readable_records(&content)
                .first()
                .and_then(|record| record.seq)
        }) == Some(1);
    complete && starts_at_one
}

/// The last record known before segment `number`, as far as the survey could count.
fn last_seq_before(survey: &Survey, number: u64) -> String {
    seq_before(survey, number).map_or_else(|| "unknown".to_owned(), |seq| seq.to_string())
}

/// The last record before segment `number`, when the survey could count that far.
fn seq_before(survey: &Survey, number: u64) -> Option<u64> {
    survey
        .live
        .iter()
        .rev()
        .find(|segment| segment.number < number)
        .and_then(|segment| segment.last_seq)
        .or(survey.snapshot_last_seq)
}

/// Whether `bytes` end with a whole seal mark naming `next`.
fn ends_with_seal_naming(bytes: &[u8], next: &str) -> bool {
    let Some(body) = bytes.strip_suffix(b"\n") else {
        return false;
    };
    let line = body
        .iter()
        .rposition(|byte| *byte == b'\n')
        .map_or(body, |newline| &body[newline + 1..]);
    check_object(line) == Seal::Verified
        && serde_json::from_slice::<Value>(line)
            .is_ok_and(|mark| mark["sealed"]["continues_in"] == next)
}

/// One line of dropped journal bytes, read as far as it can be.
struct ReadableRecord {
    seq: Option<u64>,
    description: String,
}

/// The lines of `bytes` that read as a record or a seal mark, whatever their checksum says.
fn readable_records(bytes: &[u8]) -> Vec<ReadableRecord> {
    bytes
        .split(|byte| *byte == b'\n')
        .filter_map(read_line)
        .collect()
}

fn read_line(line: &[u8]) -> Option<ReadableRecord> {
    let value: Value = serde_json::from_slice(line).ok()?;
    let damaged = if check_object(line) == Seal::Mismatch {
        ", its checksum does not match"
    } else {
        ""
    };
    if let Some(next) = value["sealed"]["continues_in"].as_str() {
        return Some(ReadableRecord {
            seq: None,
            description: format!("a seal mark naming {next}{damaged}"),
        });
    }
    let seq = value["seq"].as_u64()?;
    let event = &value["event"];
    let what = match (event["type"].as_str(), event["subject"].as_str()) {
        (Some(kind), Some(order)) => format!("{kind} of order {order}"),
        (None, Some(order)) => format!("order {order}"),
        (_, None) => match value["published_through"].as_u64() {
            Some(through) => format!("events up to record {through} published"),
            None => "no order id readable".to_owned(),
        },
    };
    Some(ReadableRecord {
        seq: Some(seq),
        description: format!("record {seq} ({what}{damaged})"),
    })
}

/// What dropped journal bytes held: every readable record with its seq and order id, and how
/// many bytes read as none.
fn describe(bytes: &[u8]) -> String {
    let mut parts = Vec::new();
    let mut unreadable = 0;
    for line in bytes.split(|byte| *byte == b'\n') {
        match read_line(line) {
            Some(record) => parts.push(record.description),
            None if line
                .iter()
                .all(|byte| *byte == 0 || byte.is_ascii_whitespace()) => {}
            None => unreadable += line.len(),
        }
    }
    if unreadable > 0 {
        parts.push(format!("{unreadable} bytes that read as no record"));
    }
    if parts.is_empty() {
        "no record".to_owned()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests;
