//! Append-only JSON Lines files: one record a line, fsync'd by the caller, torn tails repaired.

use std::fmt::Display;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::storage::atomic_file::sync_parent;

/// An append-only file of JSON records, one a line.
///
/// The caller batches records with [`Journal::append`] and makes them durable with one
/// [`Journal::sync`] (group commit). A crash mid-append leaves at most a partial last line, which
/// [`Journal::open`] cuts away: such a record was never synced, so nobody was told it was stored.
#[derive(Debug)]
pub struct Journal {
    file: File,
    path: PathBuf,
    len: u64,
}

/// What [`Journal::open`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Recovered {
    /// Whole records replayed.
    pub records: u64,
    /// Bytes of a torn last record that were cut away.
    pub torn_bytes: u64,
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
    /// A damaged record is followed by whole ones: this is not a torn tail, and cutting it would
    /// lose records that were acknowledged. Nothing is changed; an operator has to look.
    #[error("journal {path} is damaged at byte {offset} (whole records follow): {reason}")]
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
        mut apply: impl FnMut(T) -> Result<(), E>,
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
        let mut file = OpenOptions::new()
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
        let mut recovered = Recovered::default();
        let whole = replay(path, &content, &mut recovered, &mut apply)?;
        if whole < content.len() {
            let torn = &content[whole..];
            if !repair_tail && !is_blank(torn) {
                return Err(JournalError::Corrupt {
                    path: path.to_owned(),
                    offset: whole as u64,
                    reason: "partial record in a journal that is not the newest".to_owned(),
                });
            }
            tracing::warn!(
                journal = %path.display(),
                offset = whole,
                bytes = torn.len(),
                "cutting a torn record from the end of the journal (it was never acknowledged)"
            );
            file.set_len(whole as u64).map_err(io_error)?;
            file.sync_data().map_err(io_error)?;
            recovered.torn_bytes = torn.len() as u64;
        }
        file.flush().map_err(io_error)?;
        Ok((
            Journal {
                file,
                path: path.to_owned(),
                len: whole as u64,
            },
            recovered,
        ))
    }

    /// Appends whole encoded lines (see [`encode_line`]). They are durable only after
    /// [`Journal::sync`]. On error the file is cut back to where it was, as far as possible.
    pub fn append(&mut self, lines: &[u8]) -> Result<(), JournalError> {
        debug_assert!(lines.is_empty() || lines.ends_with(b"\n"));
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

/// Appends `value` as one JSON line (with its newline) to `buffer`.
pub fn encode_line<T: Serialize>(buffer: &mut Vec<u8>, value: &T) -> serde_json::Result<()> {
    serde_json::to_writer(&mut *buffer, value)?;
    buffer.push(b'\n');
    Ok(())
}

/// Applies every whole record of `content`; returns the length of the whole part.
fn replay<T, E>(
    path: &Path,
    content: &[u8],
    recovered: &mut Recovered,
    apply: &mut impl FnMut(T) -> Result<(), E>,
) -> Result<usize, JournalError>
where
    T: DeserializeOwned,
    E: Display,
{
    let mut start = 0;
    while start < content.len() {
        let Some(newline) = content[start..].iter().position(|b| *b == b'\n') else {
            // No newline: the last append never finished.
            return Ok(start);
        };
        let line = &content[start..start + newline];
        if !is_blank(line) {
            match serde_json::from_slice::<T>(line) {
                Ok(record) => {
                    apply(record).map_err(|reason| JournalError::Rejected {
                        path: path.to_owned(),
                        offset: start as u64,
                        reason: reason.to_string(),
                    })?;
                    recovered.records += 1;
                }
                Err(error) if holds_a_record::<T>(&content[start + newline + 1..]) => {
                    return Err(JournalError::Corrupt {
                        path: path.to_owned(),
                        offset: start as u64,
                        reason: error.to_string(),
                    });
                }
                // Garbage up to the end (a torn batch, or zeros the file system left): cut it.
                Err(_) => return Ok(start),
            }
        }
        start += newline + 1;
    }
    Ok(start)
}

fn holds_a_record<T: DeserializeOwned>(rest: &[u8]) -> bool {
    rest.split(|b| *b == b'\n')
        .any(|line| !is_blank(line) && serde_json::from_slice::<T>(line).is_ok())
}

fn is_blank(bytes: &[u8]) -> bool {
    bytes.iter().all(u8::is_ascii_whitespace)
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
    fn a_torn_tail_is_cut_at_every_offset_and_writes_continue() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("j.jsonl");
        let bytes = write_entries(&path, &[1, 2, 3]);
        let last_start = bytes[..bytes.len() - 1]
            .iter()
            .rposition(|b| *b == b'\n')
            .expect("lines")
            + 1;
        for cut in last_start..bytes.len() {
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
