//! Reading a [`DurableState`](crate::storage::durable_state::DurableState) that another
//! process writes: the shards a replica does not own, which it still answers for.
//!
//! The owner replaces the snapshot atomically and only appends to the journal, or empties it
//! after a new snapshot. So a follower reads the snapshot, then the journal's whole lines after
//! what it has read, and applies the changes that follow its last one. If the snapshot changed
//! meanwhile, or the journal shrank or skips a change (a compaction ran between two reads), it
//! reads everything again. An unfinished last line is left for the next refresh.
//!
//! It reads by the rules the owner opens with (`durable_state::files`, the same code): a sealed
//! snapshot, checksummed entries without unknown members, numbered one after the other. What
//! breaks them while the snapshot stays the same is damage, not a race with the owner, and is
//! [`FollowError::Damaged`].

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::storage::durable_state::StateMachine;
use crate::storage::durable_state::files::{
    Entry, LineSeals, Paths, Place, Sequence, parse_snapshot,
};
use crate::storage::journal;

/// How many times a follower reads everything again before it gives up on a state that keeps
/// changing under it.
const FULL_READ_ATTEMPTS: usize = 5;

/// A read-only, refreshable view of the state `name` in `dir`, kept by another process.
pub struct StateFollower<S> {
    snapshot_path: PathBuf,
    journal_path: PathBuf,
    view: Mutex<Option<View<S>>>,
}

/// Why the state cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FollowError {
    /// A file cannot be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A file does not hold what the owner writes.
    #[error("{path} is damaged{}: {reason}", at_byte(.offset))]
    Damaged {
        /// The file.
        path: PathBuf,
        /// Where, when one place is to blame.
        offset: Option<u64>,
        /// What is wrong.
        reason: String,
    },
    /// The state changed under every attempt to read it whole.
    #[error("{0} kept changing while being read")]
    Unsettled(PathBuf),
}

struct View<S> {
    state: S,
    /// The order the next entries must come in.
    sequence: Sequence,
    seals: LineSeals,
    snapshot: Option<FileId>,
    /// Where the next unread journal line starts.
    journal_offset: u64,
}

/// Tells one version of a file from the next: an atomic replacement is a new inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    inode: u64,
    len: u64,
    modified_ns: i64,
}

/// How reading the journal's new lines ended.
enum Tail {
    /// Every whole line applied.
    Applied,
    /// A change is missing or the file shrank: the snapshot moved on; read everything again.
    Stale,
    /// A line breaks the owner's rules: damage, unless the snapshot moved on meanwhile.
    Damaged(FollowError),
}

impl<S: StateMachine> StateFollower<S> {
    /// A follower of the state `name` in `dir`; nothing is read until the first
    /// [`StateFollower::read`].
    pub fn new(dir: &Path, name: &str) -> StateFollower<S> {
        let paths = Paths::new(dir, name);
        StateFollower {
            snapshot_path: paths.snapshot,
            journal_path: paths.journal,
            view: Mutex::new(None),
        }
    }

    /// Brings the view up to date with the files and reads it. Missing files are an empty state.
    pub fn read<R>(&self, read: impl FnOnce(&S) -> R) -> Result<R, FollowError> {
        let mut slot = self
            .view
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let current = match slot.take() {
            Some(mut view) if view.snapshot == self.snapshot_id()? => {
                match self.read_tail(&mut view, false)? {
                    Tail::Applied => view,
                    Tail::Stale | Tail::Damaged(_) => self.read_whole()?,
                }
            }
            _ => self.read_whole()?,
        };
        Ok(read(&slot.insert(current).state))
    }

    fn read_whole(&self) -> Result<View<S>, FollowError> {
        for _ in 0..FULL_READ_ATTEMPTS {
            let before = self.snapshot_id()?;
            let (state, snapshot_seq) = match fs::read(&self.snapshot_path) {
                Ok(bytes) => {
                    let snapshot = parse_snapshot::<S>(&bytes).map_err(|damage| {
                        damaged(&self.snapshot_path, Some(damage.offset), damage.reason)
                    })?;
                    (snapshot.state, snapshot.last_seq)
                }
                Err(error) if error.kind() == io::ErrorKind::NotFound => (S::default(), 0),
                Err(source) => return Err(io_error(&self.snapshot_path, source)),
            };
            let mut view = View {
                state,
                sequence: Sequence::after(snapshot_seq),
                seals: LineSeals::default(),
                snapshot: before,
                journal_offset: 0,
            };
            let tail = self.read_tail(&mut view, true)?;
            if self.snapshot_id()? != before {
                // A compaction ran meanwhile: what was read may mix two versions.
                continue;
            }
            match tail {
                Tail::Applied => return Ok(view),
                Tail::Damaged(error) => return Err(error),
                Tail::Stale => {}
            }
        }
        Err(FollowError::Unsettled(self.snapshot_path.clone()))
    }

    /// Applies the journal's whole lines after `view.journal_offset`. `whole` says the view
    /// is being read from the start: then a line that breaks the rules is damage (if the
    /// snapshot stayed the same); otherwise it may be the owner's compaction, and the caller
    /// reads everything again.
    fn read_tail(&self, view: &mut View<S>, whole: bool) -> Result<Tail, FollowError> {
        let path = &self.journal_path;
        let broken = |offset: Option<u64>, reason: String| {
            if whole {
                Tail::Damaged(damaged(path, offset, reason))
            } else {
                Tail::Stale
            }
        };
        let mut file = match File::open(path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Ok(if view.snapshot.is_some() {
                    broken(
                        None,
                        "missing beside the snapshot (a state's journal is created with it and \
                         never deleted)"
                            .to_owned(),
                    )
                } else if view.journal_offset == 0 {
                    Tail::Applied
                } else {
                    Tail::Stale
                });
            }
            Err(source) => return Err(io_error(path, source)),
        };
        let len = file
            .metadata()
            .map_err(|source| io_error(path, source))?
            .len();
        if len < view.journal_offset {
            return Ok(Tail::Stale);
        }
        let mut bytes = Vec::with_capacity((len - view.journal_offset) as usize);
        file.seek(SeekFrom::Start(view.journal_offset))
            .and_then(|_| file.read_to_end(&mut bytes))
            .map_err(|source| io_error(path, source))?;
        let mut consumed = 0;
        while let Some(end) = bytes[consumed..].iter().position(|byte| *byte == b'\n') {
            let line = &bytes[consumed..consumed + end];
            let at = Some(view.journal_offset + consumed as u64);
            if journal::is_padding(line) {
                if journal::is_padding(&bytes[consumed..]) {
                    // Zeros a crash left at the end: the owner cuts them when it starts.
                    break;
                }
                return Ok(broken(at, "an empty line between entries".to_owned()));
            }
            if let Err(reason) = view.seals.check(line) {
                return Ok(broken(at, reason));
            }
            let entry: Entry<S::Change> = match serde_json::from_slice(line) {
                Ok(entry) => entry,
                Err(error) => return Ok(broken(at, format!("not an entry: {error}"))),
            };
            match view.sequence.next(entry.seq) {
                Ok(Place::After) => view.state.apply(&entry.change),
                Ok(Place::InSnapshot) => {}
                Err(reason) => return Ok(broken(at, reason)),
            }
            consumed += end + 1;
        }
        let unfinished = &bytes[consumed..];
        if journal::newline_is_damaged(unfinished) {
            let at = view.journal_offset + bytes.len() as u64 - 1;
            return Ok(broken(
                Some(at),
                "the newline after the last entry is damaged".to_owned(),
            ));
        }
        if whole && let Err(reason) = view.sequence.finish() {
            return Ok(Tail::Damaged(damaged(
                &self.snapshot_path,
                None,
                format!("does not match {}: {reason}", path.display()),
            )));
        }
        view.journal_offset += consumed as u64;
        Ok(Tail::Applied)
    }

    fn snapshot_id(&self) -> Result<Option<FileId>, FollowError> {
        match fs::metadata(&self.snapshot_path) {
            Ok(metadata) => Ok(Some(FileId {
                inode: metadata.ino(),
                len: metadata.len(),
                modified_ns: metadata.mtime() * 1_000_000_000 + metadata.mtime_nsec(),
            })),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(io_error(&self.snapshot_path, source)),
        }
    }
}

fn io_error(path: &Path, source: io::Error) -> FollowError {
    FollowError::Io {
        path: path.to_owned(),
        source,
    }
}

fn damaged(path: &Path, offset: Option<u64>, reason: String) -> FollowError {
    FollowError::Damaged {
        path: path.to_owned(),
        offset,
        reason,
    }
}

/// ` at byte N`, or nothing when no one place is to blame.
fn at_byte(offset: &Option<u64>) -> String {
    offset.map_or_else(String::new, |offset| format!(" at byte {offset}"))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use serde::{Deserialize, Serialize};
    use test_support::damage::flip_files;

    use super::*;
    use crate::storage::durable_state::DurableState;
    use crate::storage::durable_state::files::NewEntry;
    use crate::storage::journal::encode_line;

    #[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
    struct Total(u64);

    impl StateMachine for Total {
        type Change = u64;

        fn apply(&mut self, change: &u64) {
            self.0 += change;
        }
    }

    async fn add(state: &DurableState<Total>, amount: u64) {
        state
            .transact(move |_| (Some(amount), ()))
            .await
            .expect("durable add");
    }

    #[tokio::test]
    async fn a_follower_sees_every_change_across_compactions() {
        let dir = tempfile::tempdir().expect("temp dir");
        // Compacts every few changes, so the follower crosses many snapshots.
        let owner = DurableState::<Total>::open_with(dir.path(), "total", 64).expect("open");
        let follower = StateFollower::<Total>::new(dir.path(), "total");
        assert_eq!(follower.read(Total::clone).expect("empty"), Total(0));
        let mut expected = 0;
        for amount in 1..=200 {
            add(&owner, amount).await;
            expected += amount;
            if amount % 7 == 0 {
                assert_eq!(follower.read(Total::clone).expect("read"), Total(expected));
            }
        }
        assert_eq!(follower.read(Total::clone).expect("read"), Total(expected));
    }

    #[tokio::test]
    async fn an_unfinished_line_waits_for_the_next_refresh() {
        let dir = tempfile::tempdir().expect("temp dir");
        let owner = DurableState::<Total>::open(dir.path(), "total").expect("open");
        add(&owner, 5).await;
        let journal = dir.path().join("total-journal.jsonl");
        let mut file = fs::OpenOptions::new()
            .append(true)
            .open(&journal)
            .expect("journal");
        let mut line = Vec::new();
        encode_line(&mut line, &NewEntry { seq: 2, change: &3 }).expect("encodes");
        let (first, rest) = line.split_at(line.len() / 2);
        file.write_all(first).expect("half a line");
        let follower = StateFollower::<Total>::new(dir.path(), "total");
        assert_eq!(follower.read(Total::clone).expect("read"), Total(5));
        file.write_all(rest).expect("rest of the line");
        assert_eq!(follower.read(Total::clone).expect("read"), Total(8));
    }

    #[test]
    fn a_damaged_snapshot_is_an_error_that_names_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::write(dir.path().join("total.json"), b"{not json").expect("write");
        let follower = StateFollower::<Total>::new(dir.path(), "total");
        let error = follower.read(Total::clone).expect_err("damaged");
        assert!(error.to_string().contains("total.json"), "{error}");
    }

    /// A state with a snapshot and entries after it, written and closed by its owner.
    async fn compacted(dir: &Path) -> Total {
        let owner = DurableState::<Total>::open_with(dir, "total", 300).expect("open");
        let journal_len = || fs::metadata(dir.join("total-journal.jsonl")).map_or(0, |m| m.len());
        for amount in 1.. {
            add(&owner, amount).await;
            if amount >= 30 && journal_len() > 0 {
                break;
            }
        }
        owner.close();
        assert!(dir.join("total.json").exists(), "compaction ran");
        owner.read(Total::clone)
    }

    fn follow(dir: &Path) -> Result<Total, String> {
        StateFollower::<Total>::new(dir, "total")
            .read(Total::clone)
            .map_err(|error| error.to_string())
    }

    #[tokio::test]
    async fn every_flip_in_the_files_is_refused_at_or_before_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let expected = compacted(dir.path()).await;
        assert_eq!(follow(dir.path()), Ok(expected.clone()));
        flip_files(
            dir.path(),
            &["total.json", "total-journal.jsonl"],
            200,
            follow,
            &expected,
        );
    }

    #[tokio::test]
    async fn a_damaged_entry_appended_while_following_is_damage_naming_the_journal() {
        let dir = tempfile::tempdir().expect("temp dir");
        let owner = DurableState::<Total>::open(dir.path(), "total").expect("open");
        add(&owner, 5).await;
        let follower = StateFollower::<Total>::new(dir.path(), "total");
        assert_eq!(follower.read(Total::clone).expect("read"), Total(5));
        let mut line = Vec::new();
        encode_line(&mut line, &NewEntry { seq: 2, change: &3 }).expect("encodes");
        line[10] ^= 0x01;
        let journal = dir.path().join("total-journal.jsonl");
        let offset = fs::metadata(&journal).expect("journal").len();
        fs::OpenOptions::new()
            .append(true)
            .open(&journal)
            .and_then(|mut file| file.write_all(&line))
            .expect("appended");

        let error = follower
            .read(Total::clone)
            .expect_err("damaged")
            .to_string();

        assert!(
            error.contains("total-journal.jsonl") && error.contains(&format!("byte {offset}")),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_snapshot_without_its_journal_is_damage() {
        let dir = tempfile::tempdir().expect("temp dir");
        compacted(dir.path()).await;
        fs::remove_file(dir.path().join("total-journal.jsonl")).expect("removed");

        let error = follow(dir.path()).expect_err("no journal");

        assert!(error.contains("total-journal.jsonl"), "{error}");
    }
}
