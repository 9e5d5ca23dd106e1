//! Append-only JSON Lines files: one checksummed record a line, fsync'd by the caller, an
//! unfinished last append cut away, any other damage refused.

use std::fmt::Display;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::storage::atomic_file::sync_parent;
use crate::storage::checksum::{Seal, check_object, seal_object};

/// An append-only file of JSON records, one a line.
///
/// The caller batches records with [`Journal::append`] and makes them durable with one
/// [`Journal::sync`] (group commit). A crash mid-append leaves at most a partial last line, which
/// [`Journal::open`] cuts away: a write is acknowledged only after its records' newlines were
/// synced, so nobody was told such a record was stored. Every line carries its CRC32C
/// ([`crate::storage::checksum`]), so damage anywhere else is found and refused, not replayed.
#[derive(Debug)]
pub struct Journal {
    file: File,
    path: PathBuf,
    len: u64,
    /// A seal mark ends the file: appending is refused.
    sealed: bool,
}

/// What [`Journal::open`] found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Recovered {
    /// Whole records replayed.
    pub records: u64,
    /// Of those, records written before checksums existed.
    pub unchecked_records: u64,
    /// The file's size as it was read.
    pub bytes: u64,
    /// Bytes of an unfinished last record that were (or, for a check, would be) cut away.
    pub torn_bytes: u64,
    /// The last record is whole but lost its newline, which was (or would be) written again.
    pub newline_lost: bool,
    /// The file the series continues in, when a seal mark ends this journal.
    pub sealed: Option<String>,
}

/// Why a journal cannot be opened or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// Reading, writing or syncing failed.
    #[error("journal {path}: {source}")]
    Io {
        /// The journal file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A record is damaged, and not as an unfinished last append is: cutting it could lose
    /// records that were acknowledged. Nothing is changed; an operator has to look (`data check`).
    #[error("journal {path} is damaged at byte {offset}: {reason}")]
    Corrupt {
        /// The journal file.
        path: PathBuf,
        /// Where the damaged record starts.
        offset: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// The caller refused a well-formed record while replaying.
    #[error("journal {path}: record at byte {offset} cannot be applied: {reason}")]
    Rejected {
        /// The journal file.
        path: PathBuf,
        /// Where the record starts.
        offset: u64,
        /// Why the caller refused it.
        reason: String,
    },
}

impl Journal {
    /// Opens `path` (creating it, durably, if absent), passes every whole record to `apply` in
    /// order, cuts a torn last record away with a warning, and leaves the file ready to append.
    ///
    /// With `repair_tail` false a torn tail is an error instead: only the newest journal of a
    /// series can have one.
    pub fn open<T, E>(
        path: &Path,
        repair_tail: bool,
        apply: impl FnMut(T) -> Result<(), E>,
    ) -> Result<(Journal, Recovered), JournalError>
    where
        T: DeserializeOwned,
        E: Display,
    {
        let io_error = |source| JournalError::Io {
            path: path.to_owned(),
            source,
        };
        let existed = path.exists();
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .append(true)
            .open(path)
            .map_err(io_error)?;
        if !existed {
            sync_parent(path).map_err(io_error)?;
        }
        let content = fs::read(path).map_err(io_error)?;
        let recovered = scan(path, &content, repair_tail, apply)?;
        let journal = Journal::finish_end(file, path, &recovered)?;
        Ok((journal, recovered))
    }

    /// Opens for appending a journal that [`Journal::check`] has just read whole (`recovered` is
    /// what it found), doing to its end what [`Journal::open`] would, without reading its records
    /// again: for a caller that checked a whole series first. The caller keeps other writers out
    /// (the data directory's lock); a file that changed since the check is refused.
    pub fn reopen_checked(path: &Path, recovered: &Recovered) -> Result<Journal, JournalError> {
        let io_error = |source| JournalError::Io {
            path: path.to_owned(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(path)
            .map_err(io_error)?;
        let len = file.metadata().map_err(io_error)?.len();
        if len != recovered.bytes {
            return Err(io_error(io::Error::other(format!(
                "the journal changed since it was checked ({} bytes then, {len} now)",
                recovered.bytes
            ))));
        }
        Journal::finish_end(file, path, recovered)
    }

    /// Cuts what a read found unfinished at the end of `file`, or ends a whole last record with
    /// its lost newline, durably; the journal then appends after it.
    fn finish_end(
        mut file: File,
        path: &Path,
        recovered: &Recovered,
    ) -> Result<Journal, JournalError> {
        let io_error = |source| JournalError::Io {
            path: path.to_owned(),
            source,
        };
        let mut len = recovered.bytes;
        if recovered.torn_bytes > 0 {
            len -= recovered.torn_bytes;
            tracing::warn!(
                journal = %path.display(),
                offset = len,
                bytes = recovered.torn_bytes,
                "cutting an unfinished record from the end of the journal (no write was \
                 acknowledged before its record ended with a newline)"
            );
            file.set_len(len).map_err(io_error)?;
            file.sync_data().map_err(io_error)?;
        }
        if recovered.newline_lost {
            // The last record is whole and its checksum matches; only its newline is gone.
            tracing::warn!(journal = %path.display(), "ending the last record with its newline");
            file.write_all(b"\n").map_err(io_error)?;
            file.sync_data().map_err(io_error)?;
            len += 1;
        }
        file.flush().map_err(io_error)?;
        Ok(Journal {
            file,
            path: path.to_owned(),
            len,
            sealed: recovered.sealed.is_some(),
        })
    }

    /// Reads `path` as [`Journal::open`] would, passing every whole record to `apply`, without
    /// changing anything: what `data check` reports.
    pub fn check<T, E>(
        path: &Path,
        repair_tail: bool,
        apply: impl FnMut(T) -> Result<(), E>,
    ) -> Result<Recovered, JournalError>
    where
        T: DeserializeOwned,
        E: Display,
    {
        let content = fs::read(path).map_err(|source| JournalError::Io {
            path: path.to_owned(),
            source,
        })?;
        scan(path, &content, repair_tail, apply)
    }

    /// Appends whole encoded lines (see [`encode_line`]). They are durable only after
    /// [`Journal::sync`]. On error the file is cut back to where it was, as far as possible.
    pub fn append(&mut self, lines: &[u8]) -> Result<(), JournalError> {
        debug_assert!(lines.is_empty() || lines.ends_with(b"\n"));
        if self.sealed {
            return Err(JournalError::Io {
                path: self.path.clone(),
                source: io::Error::other("the journal is sealed: its series continues elsewhere"),
            });
        }
        if let Err(source) = self.file.write_all(lines) {
            // Best effort: a half-written batch must not stay in front of the next one.
            let _ = self.file.set_len(self.len);
            return Err(JournalError::Io {
                path: self.path.clone(),
                source,
            });
        }
        self.len += lines.len() as u64;
        Ok(())
    }

    /// Ends this journal of a series durably with a mark naming the file that continues it, so
    /// that a reader notices when that file goes missing. Nothing can be appended after it.
    pub fn seal(&mut self, continues_in: &str) -> Result<(), JournalError> {
        let mut line = Vec::with_capacity(128);
        encode_line(
            &mut line,
            &SealMark {
                sealed: SealNext {
                    continues_in: continues_in.to_owned(),
                },
            },
        )
        .map_err(|error| JournalError::Io {
            path: self.path.clone(),
            source: io::Error::other(error),
        })?;
        self.append(&line)?;
        self.sync()?;
        self.sealed = true;
        Ok(())
    }

    /// Makes everything appended so far durable (fdatasync).
    pub fn sync(&self) -> Result<(), JournalError> {
        self.file.sync_data().map_err(|source| JournalError::Io {
            path: self.path.clone(),
            source,
        })
    }

    /// A second handle on the file, to fsync it without holding the journal: what group commit
    /// needs (appends go on while one fsync makes all earlier ones durable).
    pub fn sync_handle(&self) -> std::io::Result<File> {
        self.file.try_clone()
    }

    /// Empties the journal, durably: for callers whose records are all in a snapshot now.
    pub fn truncate(&mut self) -> std::io::Result<()> {
        self.file.set_len(0)?;
        self.file.sync_all()?;
        self.len = 0;
        Ok(())
    }

    /// The size of the file in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when the journal holds no record.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Appends `value` as one JSON line, sealed with its checksum, with its newline, to `buffer`.
pub fn encode_line<T: Serialize>(buffer: &mut Vec<u8>, value: &T) -> serde_json::Result<()> {
    let start = buffer.len();
    serde_json::to_writer(&mut *buffer, value)?;
    seal_object(buffer, start);
    buffer.push(b'\n');
    Ok(())
}

/// The last line of a sealed journal.
#[derive(Serialize, Deserialize)]
struct SealMark {
    sealed: SealNext,
}

#[derive(Serialize, Deserialize)]
struct SealNext {
    continues_in: String,
}

/// Walks the records of `content`, applying each; decides what a torn tail costs.
///
/// The rules (docs/storage.md): a record is one line; a checksummed line must match its
/// checksum; a line without one is accepted only before the first checksummed line (a journal
/// written before checksums, then appended to); a seal mark ends the journal. Only the bytes
/// after the last newline (an append that never finished) or zeros the file system left at the
/// end are a torn tail. Anything else names the file and the byte offset and changes nothing.
fn scan<T, E>(
    path: &Path,
    content: &[u8],
    repair_tail: bool,
    mut apply: impl FnMut(T) -> Result<(), E>,
) -> Result<Recovered, JournalError>
where
    T: DeserializeOwned,
    E: Display,
{
    let corrupt = |offset: usize, reason: String| JournalError::Corrupt {
        path: path.to_owned(),
        offset: offset as u64,
        reason,
    };
    let mut recovered = Recovered {
        bytes: content.len() as u64,
        ..Recovered::default()
    };
    let mut lines = LineCheck::default();
    let mut start = 0;
    while start < content.len() {
        let rest = &content[start..];
        let (line, complete) = match rest.iter().position(|b| *b == b'\n') {
            Some(newline) => (&rest[..newline], true),
            None => (rest, false),
        };
        if is_padding(line) {
            if !is_padding(rest) {
                return Err(corrupt(start, "an empty line between records".to_owned()));
            }
            break;
        }
        if recovered.sealed.is_some() {
            return Err(corrupt(
                start,
                "a record after the mark that sealed the journal".to_owned(),
            ));
        }
        if !complete && check_object(line) != Seal::Verified {
            // An append that never finished. (A record cut short cannot match its checksum; one
            // that is whole and only lost its newline is kept.)
            if newline_is_damaged(line) {
                return Err(corrupt(
                    start + line.len() - 1,
                    "the newline after the last record is damaged".to_owned(),
                ));
            }
            break;
        }
        let kind = lines.check(line).map_err(|reason| corrupt(start, reason))?;
        if let LineKind::Record { unchecked: true } = kind {
            recovered.unchecked_records += 1;
        }
        if kind == LineKind::SealMark {
            let mark: SealMark = serde_json::from_slice(line)
                .map_err(|error| corrupt(start, format!("a damaged seal mark: {error}")))?;
            recovered.sealed = Some(mark.sealed.continues_in);
        } else {
            let value = serde_json::from_slice::<T>(line)
                .map_err(|error| corrupt(start, format!("not a record: {error}")))?;
            apply(value).map_err(|reason| JournalError::Rejected {
                path: path.to_owned(),
                offset: start as u64,
                reason: reason.to_string(),
            })?;
            recovered.records += 1;
        }
        if !complete {
            recovered.newline_lost = repair_or_refuse(repair_tail, start, &corrupt)?;
            return Ok(recovered);
        }
        start += line.len() + 1;
    }
    if start < content.len() {
        repair_or_refuse(repair_tail, start, &corrupt)?;
        recovered.torn_bytes = (content.len() - start) as u64;
    }
    Ok(recovered)
}

/// True when the end of a journal that is not the newest may be repaired: never.
fn repair_or_refuse(
    repair_tail: bool,
    offset: usize,
    corrupt: &impl Fn(usize, String) -> JournalError,
) -> Result<bool, JournalError> {
    if repair_tail {
        Ok(true)
    } else {
        Err(corrupt(
            offset,
            "an unfinished record in a journal that is not the newest".to_owned(),
        ))
    }
}

/// The checks each whole line of a journal passes, in file order: what [`Journal::open`]
/// applies, and what a reader that follows a journal another process appends to applies to
/// each new line. A line must match its checksum; a line without one (written before checksums)
/// is accepted only before the first checksummed line.
#[derive(Debug, Default, Clone)]
pub struct LineCheck {
    /// A checksummed line was read: every later one must carry its checksum too.
    checksummed: bool,
}

/// What a line that passed [`LineCheck::check`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// A record; `unchecked` when it was written before checksums.
    Record {
        /// The line carries no checksum.
        unchecked: bool,
    },
    /// The mark that seals the journal ([`Journal::seal`]).
    SealMark,
}

impl LineCheck {
    /// Checks the next whole line (without its newline); the error says what is wrong with it.
    pub fn check(&mut self, line: &[u8]) -> Result<LineKind, String> {
        let unchecked = match check_object(line) {
            Seal::Verified => {
                self.checksummed = true;
                false
            }
            Seal::Mismatch => return Err("the record does not match its checksum".to_owned()),
            Seal::Missing if self.checksummed => {
                return Err("a record without a checksum after checksummed ones".to_owned());
            }
            Seal::Missing => true,
        };
        if line.starts_with(b"{\"sealed\":") {
            Ok(LineKind::SealMark)
        } else {
            Ok(LineKind::Record { unchecked })
        }
    }
}

/// True when `tail`, the bytes after a journal's last newline, cannot be an append still under
/// way: an append leaves a prefix of whole lines, so a whole record followed by anything but
/// its newline is damage.
pub fn newline_is_damaged(tail: &[u8]) -> bool {
    tail.len() > 1 && check_object(&tail[..tail.len() - 1]) == Seal::Verified
}

/// JSON whitespace and the zeros a file system may leave at the end of a file after a crash.
pub fn is_padding(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .all(|byte| matches!(byte, 0 | b' ' | b'\t' | b'\n' | b'\r'))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Entry {
        n: u32,
    }

    fn write_entries(path: &Path, entries: &[u32]) -> Vec<u8> {
        let mut buffer = Vec::new();
        for n in entries {
            encode_line(&mut buffer, &Entry { n: *n }).expect("encodes");
        }
        let (mut journal, _) =
            Journal::open::<Entry, String>(path, true, |_| Ok(())).expect("opens");
        journal.append(&buffer).expect("appends");
        journal.sync().expect("syncs");
        buffer
    }

    fn read_all(path: &Path) -> (Vec<u32>, Recovered) {
        let mut seen = Vec::new();
        let (_, recovered) = Journal::open::<Entry, String>(path, true, |e| {
            seen.push(e.n);
            Ok(())
        })
        .expect("opens");
        (seen, recovered)
    }

    #[test]
    fn replays_what_was_appended() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("j.jsonl");
        write_entries(&path, &[1, 2, 3]);
        assert_eq!(read_all(&path).0, vec![1, 2, 3]);
    }

    #[test]
    fn an_unfinished_last_record_is_cut_at_every_offset_and_writes_continue() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("j.jsonl");
        let bytes = write_entries(&path, &[1, 2, 3]);
        let last_start = bytes[..bytes.len() - 1]
            .iter()
            .rposition(|b| *b == b'\n')
            .expect("lines")
            + 1;
        for cut in last_start..bytes.len() - 1 {
            fs::write(&path, &bytes[..cut]).expect("truncate");
            let (seen, recovered) = read_all(&path);
            assert_eq!(seen, vec![1, 2], "cut at {cut}");
            assert_eq!(
                recovered.torn_bytes as usize,
                cut - last_start,
                "cut at {cut}"
            );
            write_entries(&path, &[4]);
            assert_eq!(
                read_all(&path).0,
                vec![1, 2, 4],
                "append after cut at {cut}"
            );
        }
    }

    #[test]
    fn a_whole_last_record_that_lost_its_newline_is_kept() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("j.jsonl");
        let bytes = write_entries(&path, &[1, 2, 3]);
        fs::write(&path, &bytes[..bytes.len() - 1]).expect("truncate");
        assert_eq!(read_all(&path).0, vec![1, 2, 3]);
        write_entries(&path, &[4]);
        assert_eq!(read_all(&path).0, vec![1, 2, 3, 4]);
    }

    #[test]
    fn a_flipped_byte_anywhere_is_refused_untouched_or_changes_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("j.jsonl");
        let bytes = write_entries(&path, &[1, 22, 333]);
        for (offset, mask) in (0..bytes.len()).flat_map(|o| [(o, 0x01), (o, 0x04), (o, 0x20)]) {
            let mut damaged = bytes.clone();
            damaged[offset] ^= mask;
            fs::write(&path, &damaged).expect("damage");
            let mut seen = Vec::new();
            let opened = Journal::open::<Entry, String>(&path, true, |e| {
                seen.push(e.n);
                Ok(())
            });
            match opened {
                Ok(_) => assert_eq!(seen, vec![1, 22, 333], "flip at {offset}"),
                Err(JournalError::Corrupt { offset: at, .. }) => {
                    assert!(at as usize <= offset, "flip at {offset} reported at {at}");
                    assert_eq!(fs::read(&path).expect("read"), damaged, "flip at {offset}");
                }
                Err(other) => panic!("flip at {offset}: {other}"),
            }
        }
    }

    #[test]
    fn records_from_before_checksums_are_read_and_appended_to() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("j.jsonl");
        fs::write(&path, b"{\"n\":1}\n{\"n\":2}\n").expect("an old journal");
        write_entries(&path, &[3]);
        let (seen, recovered) = read_all(&path);
        assert_eq!(seen, vec![1, 2, 3]);
        assert_eq!(recovered.unchecked_records, 2);
    }

    #[test]
    fn a_record_without_checksum_after_checksummed_ones_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("j.jsonl");
        let mut bytes = write_entries(&path, &[1]);
        let offset = bytes.len() as u64;
        bytes.extend_from_slice(b"{\"n\":2}\n");
        fs::write(&path, &bytes).expect("write");
        let result = Journal::open::<Entry, String>(&path, true, |_| Ok(()));
        assert!(
            matches!(result, Err(JournalError::Corrupt { offset: at, .. }) if at == offset),
            "{result:?}"
        );
    }

    #[test]
    fn a_sealed_journal_names_its_successor_and_takes_nothing_more() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("j.jsonl");
        write_entries(&path, &[1, 2]);
        let (mut journal, _) =
            Journal::open::<Entry, String>(&path, false, |_| Ok(())).expect("opens");
        journal.seal("next.jsonl").expect("seals");
        let mut line = Vec::new();
        encode_line(&mut line, &Entry { n: 3 }).expect("encodes");
        assert!(journal.append(&line).is_err(), "appending after the seal");
        drop(journal);
        let recovered = Journal::check::<Entry, String>(&path, false, |_| Ok(())).expect("checks");
        assert_eq!(recovered.sealed.as_deref(), Some("next.jsonl"));
        assert_eq!(recovered.records, 2);
        let mut bytes = fs::read(&path).expect("read");
        bytes.extend_from_slice(&line);
        fs::write(&path, &bytes).expect("a record after the seal");
        assert!(matches!(
            Journal::check::<Entry, String>(&path, false, |_| Ok(())),
            Err(JournalError::Corrupt { .. })
        ));
    }

    #[test]
    fn a_checked_journal_reopens_without_a_second_read_and_a_changed_one_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("j.jsonl");
        let bytes = write_entries(&path, &[1, 2]);
        fs::write(&path, &bytes[..bytes.len() - 3]).expect("an unfinished last record");
        let recovered = Journal::check::<Entry, String>(&path, true, |_| Ok(())).expect("checks");
        let journal = Journal::reopen_checked(&path, &recovered).expect("reopens");
        assert_eq!(
            journal.len(),
            bytes.len() as u64 / 2,
            "the unfinished record is cut"
        );
        drop(journal);
        write_entries(&path, &[3]);
        assert_eq!(read_all(&path).0, vec![1, 3]);

        let recovered = Journal::check::<Entry, String>(&path, true, |_| Ok(())).expect("checks");
        write_entries(&path, &[4]);
        assert!(
            Journal::reopen_checked(&path, &recovered).is_err(),
            "a journal that changed since its check"
        );
    }

    #[test]
    fn a_check_changes_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("j.jsonl");
        let bytes = write_entries(&path, &[1, 2]);
        fs::write(&path, &bytes[..bytes.len() - 4]).expect("truncate");
        let recovered = Journal::check::<Entry, String>(&path, true, |_| Ok(())).expect("checks");
        assert_eq!(recovered.records, 1);
        assert!(recovered.torn_bytes > 0);
        assert_eq!(fs::read(&path).expect("read"), &bytes[..bytes.len() - 4]);
    }

    #[test]
    fn damage_followed_by_whole_records_is_refused_untouched() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("j.jsonl");
        let damaged = b"{\"n\":1}\n{\"n\":\n{\"n\":3}\n";
        fs::write(&path, damaged).expect("write");
        let result = Journal::open::<Entry, String>(&path, true, |_| Ok(()));
        assert!(
            matches!(result, Err(JournalError::Corrupt { offset: 8, .. })),
            "{result:?}"
        );
        assert_eq!(
            fs::read(&path).expect("read"),
            damaged,
            "the file is left as it was"
        );
    }

    #[test]
    fn zeros_at_the_end_are_a_torn_tail() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("j.jsonl");
        fs::write(&path, b"{\"n\":1}\n\0\0\0\0\n\0\0").expect("write");
        assert_eq!(read_all(&path).0, vec![1]);
    }
}
