//! Reading a [`DurableState`](crate::storage::durable_state::DurableState) that another
//! process writes: the shards a replica does not own, which it still answers for.
//!
//! The owner replaces the snapshot atomically and only appends to the journal, or empties it
//! after a new snapshot. So a follower reads the snapshot, then the journal's whole lines after
//! what it has read, and applies the changes that follow its last one. If the snapshot changed
//! meanwhile, or the journal shrank or skips a change (a compaction ran between two reads), it
//! reads everything again. An unfinished last line is left for the next refresh.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Deserialize;

use crate::storage::durable_state::StateMachine;

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
    #[error("{path} is damaged: {reason}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The state changed under every attempt to read it whole.
    #[error("{0} kept changing while being read")]
    Unsettled(PathBuf),
}

struct View<S> {
    state: S,
    last_seq: u64,
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

#[derive(Deserialize)]
struct Snapshot<S> {
    last_seq: u64,
    state: S,
}

#[derive(Deserialize)]
struct Entry<C> {
    seq: u64,
    change: C,
}

/// How reading the journal's new lines ended.
enum Tail {
    /// Every whole line applied.
    Applied,
    /// A change is missing or the file shrank: the snapshot moved on; read everything again.
    Stale,
}

impl<S: StateMachine> StateFollower<S> {
    /// A follower of the state `name` in `dir`; nothing is read until the first
    /// [`StateFollower::read`].
    pub fn new(dir: &Path, name: &str) -> StateFollower<S> {
        StateFollower {
            snapshot_path: dir.join(format!("{name}.json")),
            journal_path: dir.join(format!("{name}-journal.jsonl")),
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
                match self.read_tail(&mut view)? {
                    Tail::Applied => view,
                    Tail::Stale => self.read_whole()?,
                }
            }
            _ => self.read_whole()?,
        };
        Ok(read(&slot.insert(current).state))
    }

    fn read_whole(&self) -> Result<View<S>, FollowError> {
        for _ in 0..FULL_READ_ATTEMPTS {
            let before = self.snapshot_id()?;
            let mut view = match fs::read(&self.snapshot_path) {
                Ok(bytes) => {
                    let snapshot: Snapshot<S> = serde_json::from_slice(&bytes)
                        .map_err(|error| damaged(&self.snapshot_path, error))?;
                    View {
                        state: snapshot.state,
                        last_seq: snapshot.last_seq,
                        snapshot: before,
                        journal_offset: 0,
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::NotFound => View {
                    state: S::default(),
                    last_seq: 0,
                    snapshot: before,
                    journal_offset: 0,
                },
                Err(source) => return Err(io_error(&self.snapshot_path, source)),
            };
            if let Tail::Applied = self.read_tail(&mut view)?
                && self.snapshot_id()? == before
            {
                return Ok(view);
            }
        }
        Err(FollowError::Unsettled(self.snapshot_path.clone()))
    }

    /// Applies the journal's whole lines after `view.journal_offset`.
    fn read_tail(&self, view: &mut View<S>) -> Result<Tail, FollowError> {
        let path = &self.journal_path;
        let mut file = match File::open(path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Ok(if view.journal_offset == 0 {
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
            let entry: Entry<S::Change> = match serde_json::from_slice(line) {
                Ok(entry) => entry,
                // A line the owner has not finished, or cut away as torn: read everything again.
                Err(_) => return Ok(Tail::Stale),
            };
            if entry.seq > view.last_seq {
                if entry.seq != view.last_seq + 1 {
                    return Ok(Tail::Stale);
                }
                view.state.apply(&entry.change);
                view.last_seq = entry.seq;
            }
            consumed += end + 1;
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

fn damaged(path: &Path, reason: impl ToString) -> FollowError {
    FollowError::Damaged {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use super::*;
    use crate::storage::durable_state::DurableState;

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
        std::io::Write::write_all(&mut file, br#"{"seq":2,"chan"#).expect("half a line");
        let follower = StateFollower::<Total>::new(dir.path(), "total");
        assert_eq!(follower.read(Total::clone).expect("read"), Total(5));
        std::io::Write::write_all(&mut file, b"ge\":3}\n").expect("rest of the line");
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
}
