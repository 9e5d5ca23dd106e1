//! The two files of a durable state and the rules every reader applies to them: the owner at
//! start-up, `data check` and `data repair`, and the followers in other processes.
//!
//! - `<name>.json`, the snapshot: one JSON object sealed as a whole
//!   ([`crate::storage::checksum`]), then a newline:
//!   `{"format":2,"last_seq":N,"state":{...},"crc32c":"1f2e3d4c"}`. Format 1, written before
//!   checksums, has no `crc32c` and still opens; the next compaction writes format 2.
//! - `<name>-journal.jsonl`, the journal: one sealed entry a line,
//!   `{"seq":N,"change":...,"crc32c":"..."}`. It is created with the state and only ever
//!   emptied, never deleted.
//!
//! Entries are numbered one after the other, and the journal starts at most one past the
//! snapshot's `last_seq`. Entries at or below `last_seq` are what a crash between writing a
//! snapshot and emptying the journal left behind; they must run up to exactly `last_seq`
//! (compaction makes the journal durable before it writes the snapshot), which also catches a
//! changed `last_seq` in a snapshot without a checksum. A member that is not part of the format
//! is refused, in the snapshot's envelope and in an entry.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};

use super::DurableStateError;
use crate::storage::checksum::{Seal, SealingWriter, check_object};
use crate::storage::journal::{Journal, JournalError, LineCheck, LineKind, Recovered};

/// The snapshot format this version writes.
pub(crate) const FORMAT: u32 = 2;

/// How serde began every format 1 snapshot: where a parse error of a snapshot without a checksum
/// can be trusted to point at the damage, rather than at a format 2 snapshot's damaged seal.
const FORMAT_1_START: &[u8] = br#"{"format":1,"#;

/// Where a state's files are.
#[derive(Debug, Clone)]
pub(crate) struct Paths {
    /// `<name>.json`.
    pub(crate) snapshot: PathBuf,
    /// `<name>-journal.jsonl`.
    pub(crate) journal: PathBuf,
}

/// One journal entry, as the owner writes it.
#[derive(Serialize)]
pub(crate) struct NewEntry<'a, C> {
    pub(crate) seq: u64,
    pub(crate) change: &'a C,
}

/// One journal entry, as read.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Entry<C> {
    pub(crate) seq: u64,
    pub(crate) change: C,
    /// Verified before the entry is parsed; declared so that it is not an unknown member.
    #[serde(default, rename = "crc32c")]
    _checksum: Option<IgnoredAny>,
}

/// A snapshot, read and verified.
pub(crate) struct Snapshot<T> {
    pub(crate) state: T,
    pub(crate) last_seq: u64,
}

/// Why a snapshot's bytes are refused, and where.
#[derive(Debug)]
pub(crate) struct SnapshotDamage {
    pub(crate) offset: u64,
    pub(crate) reason: String,
}

/// The order entries must come in, after a snapshot that holds the changes up to `snapshot_seq`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sequence {
    /// `None` when the snapshot cannot be read: only the journal's own order is checked.
    snapshot_seq: Option<u64>,
    /// The journal's previous entry.
    last: Option<u64>,
}

/// What to do with an entry that comes in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// The snapshot holds it already.
    InSnapshot,
    /// It comes after the snapshot: apply it.
    After,
}

/// The journal's checksum rules, one whole line at a time, for a reader that follows the file
/// as it grows. ([`Journal`] applies the same rules to a file it reads whole.)
#[derive(Debug, Default, Clone)]
pub(crate) struct LineSeals {
    lines: LineCheck,
}

/// How [`load`] treats the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Cut an unfinished last entry and keep the journal open to append: start-up.
    Open,
    /// Change nothing: `data check`.
    Check,
}

/// What [`load`] read.
pub(crate) struct Loaded<T> {
    pub(crate) state: T,
    /// The last change the state holds.
    pub(crate) last_seq: u64,
    /// The snapshot's size (0 without one).
    pub(crate) snapshot_bytes: u64,
    /// The journal, ready to append, after [`Access::Open`].
    pub(crate) journal: Option<Journal>,
    pub(crate) recovered: Recovered,
}

impl Paths {
    /// The files of the state `name` in `dir`.
    pub(crate) fn new(dir: &Path, name: &str) -> Paths {
        Paths {
            snapshot: dir.join(format!("{name}.json")),
            journal: dir.join(format!("{name}-journal.jsonl")),
        }
    }
}

/// Reads the snapshot (if any) and replays the journal over it by every rule above, passing
/// each change after the snapshot to `apply`: what [`DurableState::open`] and `data check` both
/// do. A state that was never opened (neither file there) is `T::default()`.
///
/// [`DurableState::open`]: super::DurableState::open
pub(crate) fn load<T, C>(
    paths: &Paths,
    access: Access,
    mut apply: impl FnMut(&mut T, C),
) -> Result<Loaded<T>, DurableStateError>
where
    T: DeserializeOwned + Default,
    C: DeserializeOwned,
{
    let snapshot = read_snapshot::<T>(&paths.snapshot)?;
    let journal_exists = paths
        .journal
        .try_exists()
        .map_err(|source| JournalError::Io {
            path: paths.journal.clone(),
            source,
        })?;
    let snapshot_bytes = snapshot.as_ref().map_or(0, |(_, bytes)| *bytes);
    let (mut state, snapshot_seq) = match snapshot {
        Some((snapshot, _)) if !journal_exists => {
            return Err(DurableStateError::MissingJournal {
                journal: paths.journal.clone(),
                snapshot: paths.snapshot.clone(),
                last_seq: snapshot.last_seq,
            });
        }
        Some((snapshot, _)) => (snapshot.state, snapshot.last_seq),
        None => (T::default(), 0),
    };
    if access == Access::Check && !journal_exists {
        return Ok(Loaded {
            state,
            last_seq: 0,
            snapshot_bytes,
            journal: None,
            recovered: Recovered::default(),
        });
    }
    let mut sequence = Sequence::after(snapshot_seq);
    let mut replay = |entry: Entry<C>| -> Result<(), String> {
        if sequence.next(entry.seq)? == Place::After {
            apply(&mut state, entry.change);
        }
        Ok(())
    };
    let (journal, recovered) = match access {
        Access::Open => {
            let (journal, recovered) = Journal::open(&paths.journal, true, &mut replay)?;
            (Some(journal), recovered)
        }
        Access::Check => (None, Journal::check(&paths.journal, true, &mut replay)?),
    };
    if recovered.sealed.is_some() {
        return Err(seal_mark_error(&paths.journal));
    }
    sequence
        .finish()
        .map_err(|reason| DurableStateError::Mismatched {
            snapshot: paths.snapshot.clone(),
            journal: paths.journal.clone(),
            reason,
        })?;
    Ok(Loaded {
        state,
        last_seq: sequence.last_seq(),
        snapshot_bytes,
        journal,
        recovered,
    })
}

/// Reads and verifies the snapshot at `path` with its size; `None` if there is none.
pub(crate) fn read_snapshot<T: DeserializeOwned>(
    path: &Path,
) -> Result<Option<(Snapshot<T>, u64)>, DurableStateError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(DurableStateError::Snapshot {
                path: path.to_owned(),
                reason: error.to_string(),
            });
        }
    };
    let snapshot = parse_snapshot(&bytes).map_err(|damage| DurableStateError::SnapshotDamaged {
        path: path.to_owned(),
        offset: damage.offset,
        reason: damage.reason,
    })?;
    Ok(Some((snapshot, bytes.len() as u64)))
}

/// Verifies and parses a snapshot file's bytes.
///
/// A checksum that does not match is refused at byte 0: the damage can be anywhere. So is an
/// object without a checksum that does not parse, unless it begins as a format 1 snapshot does
/// (then the parse error's offset points at the damage). A checksum on a format 1 snapshot, or
/// none on a format 2 one, is refused too.
pub(crate) fn parse_snapshot<T: DeserializeOwned>(
    bytes: &[u8],
) -> Result<Snapshot<T>, SnapshotDamage> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Envelope<T> {
        format: u32,
        last_seq: u64,
        state: T,
        #[serde(default)]
        crc32c: Option<IgnoredAny>,
    }

    let damage = |offset: u64, reason: String| SnapshotDamage { offset, reason };
    let object = bytes.trim_ascii_end();
    let seal = check_object(object);
    if seal == Seal::Mismatch {
        return Err(damage(
            0,
            "the snapshot does not match its checksum".to_owned(),
        ));
    }
    let envelope: Envelope<T> = match serde_json::from_slice(object) {
        Ok(envelope) => envelope,
        Err(error) if seal == Seal::Verified || object.starts_with(FORMAT_1_START) => {
            return Err(damage(
                error_offset(object, &error),
                format!("not a snapshot: {error}"),
            ));
        }
        Err(error) => {
            return Err(damage(
                0,
                format!(
                    "the snapshot has no valid checksum and is not one of format 1 either \
                     ({error})"
                ),
            ));
        }
    };
    let reason = match (envelope.format, seal, envelope.crc32c.is_some()) {
        (FORMAT, Seal::Verified, _) | (1, Seal::Missing, false) => {
            return Ok(Snapshot {
                state: envelope.state,
                last_seq: envelope.last_seq,
            });
        }
        (FORMAT, ..) => format!("a format {FORMAT} snapshot without its checksum"),
        (1, Seal::Verified, _) => {
            "a format 1 snapshot carries a checksum, which only format 2 has".to_owned()
        }
        (1, ..) => "a checksum member that is not the snapshot's last".to_owned(),
        (other, ..) => format!("format {other} is not one this version reads (1 or {FORMAT})"),
    };
    Err(damage(0, reason))
}

/// Writes a sealed snapshot of `state` (format 2) to `out`, streaming it: the state is never
/// held twice in memory.
pub(crate) fn write_snapshot<S: Serialize>(
    out: &mut impl Write,
    last_seq: u64,
    state: &S,
) -> io::Result<()> {
    // Buffered in front of the checksum, so that it sums large blocks, not serde's small writes.
    let mut sealed = BufWriter::with_capacity(64 * 1024, SealingWriter::new(&mut *out));
    write!(
        sealed,
        "{{\"format\":{FORMAT},\"last_seq\":{last_seq},\"state\":"
    )?;
    serde_json::to_writer(&mut sealed, state)?;
    sealed
        .into_inner()
        .map_err(io::IntoInnerError::into_error)?
        .finish()?;
    out.write_all(b"\n")
}

impl Sequence {
    /// Entries after a snapshot holding the changes up to `snapshot_seq` (0 without one).
    pub(crate) fn after(snapshot_seq: u64) -> Sequence {
        Sequence {
            snapshot_seq: Some(snapshot_seq),
            last: None,
        }
    }

    /// Entries whose snapshot cannot be read: only their own order is checked.
    pub(crate) fn unanchored() -> Sequence {
        Sequence {
            snapshot_seq: None,
            last: None,
        }
    }

    /// Takes the next entry's `seq`: it must follow the previous entry, and the first one must
    /// come at most one past the snapshot.
    pub(crate) fn next(&mut self, seq: u64) -> Result<Place, String> {
        if seq == 0 {
            return Err("entry 0: changes are numbered from 1".to_owned());
        }
        match (self.last, self.snapshot_seq) {
            (Some(previous), _) if seq <= previous => {
                return Err(format!(
                    "entry {seq} after entry {previous}: a repeat or a step back"
                ));
            }
            (Some(previous), _) if seq > previous + 1 => {
                return Err(format!(
                    "entry {seq} after entry {previous}, without {}",
                    entry_range(previous + 1, seq - 1)
                ));
            }
            (None, Some(snapshot)) if seq > snapshot + 1 => {
                return Err(format!(
                    "the journal starts at entry {seq}, but the snapshot holds the changes up \
                     to {snapshot} only, without {}",
                    entry_range(snapshot + 1, seq - 1)
                ));
            }
            _ => {}
        }
        self.last = Some(seq);
        Ok(match self.snapshot_seq {
            Some(snapshot) if seq <= snapshot => Place::InSnapshot,
            _ => Place::After,
        })
    }

    /// After the journal's last entry: entries left over from a compaction must have reached
    /// the snapshot's `last_seq`.
    pub(crate) fn finish(&self) -> Result<(), String> {
        match (self.last, self.snapshot_seq) {
            (Some(last), Some(snapshot)) if last < snapshot => Err(format!(
                "the journal's entries stop at {last}, but the snapshot says it holds the \
                 changes up to {snapshot}: its last_seq was changed, or the journal lost {}",
                entry_range(last + 1, snapshot)
            )),
            _ => Ok(()),
        }
    }

    /// The last change the state holds.
    pub(crate) fn last_seq(&self) -> u64 {
        self.last.unwrap_or(0).max(self.snapshot_seq.unwrap_or(0))
    }
}

impl LineSeals {
    /// Checks one whole journal line (without its newline) by the journal's rules; a seal mark
    /// is damage here.
    pub(crate) fn check(&mut self, line: &[u8]) -> Result<(), String> {
        match self.lines.check(line)? {
            LineKind::Record { .. } => Ok(()),
            LineKind::SealMark => Err(SEAL_MARK.to_owned()),
        }
    }
}

/// `entry 5`, or `entries 5 to 7`.
pub(crate) fn entry_range(first: u64, last: u64) -> String {
    if first == last {
        format!("entry {first}")
    } else {
        format!("entries {first} to {last}")
    }
}

/// The byte offset a parse error of `bytes` points at.
pub(crate) fn error_offset(bytes: &[u8], error: &serde_json::Error) -> u64 {
    let line_start: usize = bytes
        .split(|byte| *byte == b'\n')
        .take(error.line().saturating_sub(1))
        .map(|line| line.len() + 1)
        .sum();
    (line_start + error.column().saturating_sub(1)).min(bytes.len()) as u64
}

const SEAL_MARK: &str = "a seal mark, which the journal of a state never has";

/// The error for a journal that a seal mark ends, pointing at the mark (its last line).
fn seal_mark_error(path: &Path) -> DurableStateError {
    let offset = fs::read(path)
        .map(|content| {
            let content = content.trim_ascii_end();
            content
                .iter()
                .rposition(|byte| *byte == b'\n')
                .map_or(0, |newline| newline + 1)
        })
        .unwrap_or(0);
    JournalError::Corrupt {
        path: path.to_owned(),
        offset: offset as u64,
        reason: SEAL_MARK.to_owned(),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_must_follow_each_other_and_reach_the_snapshot() {
        let mut leftovers = Sequence::after(5);
        for seq in 3..=5 {
            assert_eq!(leftovers.next(seq), Ok(Place::InSnapshot));
        }
        assert_eq!(leftovers.next(6), Ok(Place::After));
        assert!(leftovers.finish().is_ok());
        assert_eq!(leftovers.last_seq(), 6);

        let mut short = Sequence::after(5);
        short.next(3).expect("a leftover");
        assert!(
            short.finish().is_err(),
            "leftovers that stop before last_seq"
        );

        let cases: [(&[u64], &str); 4] = [
            (&[7], "a journal that starts after a gap"),
            (&[6, 6], "a repeat"),
            (&[6, 8], "a gap"),
            (&[6, 7, 5], "a step back"),
        ];
        for (seqs, case) in cases {
            let mut sequence = Sequence::after(5);
            let (last, before) = seqs.split_last().expect("entries");
            for seq in before {
                sequence.next(*seq).expect(case);
            }
            assert!(sequence.next(*last).is_err(), "{case}");
        }
    }

    #[test]
    fn a_snapshot_is_written_sealed_and_read_back() {
        let mut bytes = Vec::new();
        write_snapshot(&mut bytes, 7, &vec![1, 2, 3]).expect("writes");
        assert!(bytes.starts_with(br#"{"format":2,"last_seq":7,"state":[1,2,3],"crc32c":""#));
        assert!(bytes.ends_with(b"\"}\n"));
        let snapshot = parse_snapshot::<Vec<u32>>(&bytes).expect("reads");
        assert_eq!((snapshot.state, snapshot.last_seq), (vec![1, 2, 3], 7));
    }

    #[test]
    fn format_1_opens_and_mixed_or_unknown_envelopes_are_refused() {
        let old = br#"{"format":1,"last_seq":3,"state":[1]}"#;
        assert_eq!(
            parse_snapshot::<Vec<u32>>(old).expect("format 1").last_seq,
            3
        );

        let mut sealed_old = Vec::new();
        write_snapshot(&mut sealed_old, 3, &vec![1]).expect("writes");
        let sealed_old = String::from_utf8(sealed_old).expect("text").replacen(
            "\"format\":2",
            "\"format\":1",
            1,
        );
        let refused: [(&[u8], &str); 4] = [
            (
                br#"{"format":2,"last_seq":3,"state":[1]}"#,
                "format 2 without checksum",
            ),
            (
                sealed_old.as_bytes(),
                "format 1 with a (now wrong) checksum",
            ),
            (
                br#"{"format":1,"last_seq":3,"state":[1],"extra":0}"#,
                "an unknown member",
            ),
            (
                br#"{"format":1,"last_seq":3,"state":[1]"#,
                "a damaged format 1 snapshot",
            ),
        ];
        for (bytes, case) in refused {
            assert!(parse_snapshot::<Vec<u32>>(bytes).is_err(), "{case}");
        }
        let damage = parse_snapshot::<Vec<u32>>(br#"{"format":1,"last_seq":3,"stat":[1]}"#)
            .err()
            .expect("an unknown member");
        assert!(damage.offset > 0, "format 1 damage is located: {damage:?}");
    }

    #[test]
    fn an_unknown_member_of_an_entry_is_refused() {
        assert!(serde_json::from_slice::<Entry<u32>>(br#"{"seq":1,"change":2}"#).is_ok());
        assert!(
            serde_json::from_slice::<Entry<u32>>(br#"{"seq":1,"change":2,"crc32c":"x"}"#).is_ok()
        );
        assert!(
            serde_json::from_slice::<Entry<u32>>(br#"{"seq":1,"change":2,"note":"x"}"#).is_err()
        );
    }
}
