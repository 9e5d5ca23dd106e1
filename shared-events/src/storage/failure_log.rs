//! `failure.json`: the messages a service gave up on, as a JSON array that always parses.
//!
//! The file holds one record a line between `[` and `]`:
//!
//! ```text
//! [
//! {"id":"...",...},
//! {"id":"...",...}
//! ]
//! ```
//!
//! An append overwrites the closing `\n]\n` with `,\n<record>\n]\n` and fdatasyncs: O(1) in
//! the number of records. A crash mid-append leaves a torn tail, which [`FailureLog::open`] cuts
//! back to the last whole record before closing the array again; that record was never synced,
//! so nobody was told it was stored. Rare changes to existing records (replays, resolutions)
//! rewrite the file atomically.
//!
//! Every record is sealed with its checksum ([`crate::storage::checksum`]) when it is appended
//! or rewritten. Records without one (files from before checksums) are accepted only before the
//! first checksummed record. Any other damage, a whole record that does not match its checksum
//! above all (the last one included), is [`FailureLogError::Corrupt`] with its offset, and
//! nothing is changed: only an unfinished last append is repaired (`failure_log::array` says
//! exactly what that can look like). An empty file is damage too: the file is only ever
//! replaced whole. [`FailureLog::check`] and [`FailureLog::repair`] are the operator's
//! `data check` and `data repair`.
//!
//! The failure drain appends while an operator's `failures replay` may update from another
//! process, so every operation holds an exclusive lock on `failure.json.lock` and first checks
//! that the file is still the one it knows (same inode, same length); if not, it reads it again.
//!
//! Every method does blocking file I/O: from async code call the `*_async` variants, which run
//! it on tokio's blocking pool.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::storage::atomic_file::write_atomically;
use crate::storage::checksum::seal_object;

mod array;
mod check;

/// A shared handle on one `failure.json`; clones share the file and its lock.
#[derive(Clone)]
pub struct FailureLog {
    inner: Arc<Inner>,
}

/// One message a service gave up on.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct FailureRecord {
    /// Short unique id (a UUID v7), what `failures replay <id>` takes.
    pub id: String,
    /// The service that gave up.
    pub service: String,
    /// Where it failed: the work queue, or `outbox` for the order service's publisher.
    pub queue: String,
    /// The message id (the event id) when known.
    pub event_id: Option<String>,
    /// The order the event is about, when the payload says.
    pub order_id: Option<String>,
    /// Why it failed.
    pub reason: String,
    /// How often it was tried.
    pub attempts: u32,
    /// The broker's `x-death` history as a JSON array, or null.
    pub x_death: serde_json::Value,
    /// When it first failed.
    pub first_failure_at: DateTime<Utc>,
    /// When it last failed.
    pub last_failure_at: DateTime<Utc>,
    /// When this record was written.
    pub recorded_at: DateTime<Utc>,
    /// The message body as text (lossy UTF-8), what a replay sends.
    pub payload: String,
    /// Every replay, oldest first.
    #[serde(default)]
    pub replays: Vec<Replay>,
    /// When the failure stopped mattering (the order service: when the event was published).
    #[serde(default)]
    pub resolved_at: Option<DateTime<Utc>>,
}

/// One replay of a [`FailureRecord`].
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Replay {
    /// When it was replayed.
    pub at: DateTime<Utc>,
    /// How it went.
    pub outcome: ReplayOutcome,
}

/// How a replay went.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ReplayOutcome {
    /// The broker confirmed the message in the work queue.
    Published,
    /// Publishing failed, for the reason given.
    Failed(String),
}

/// Why `failure.json` cannot be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FailureLogError {
    /// Reading, writing, syncing or locking failed.
    #[error("failure log {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The file is damaged other than by an append that never finished (empty, not an array,
    /// a record that does not match its checksum, or more after the damage): nothing is
    /// changed, an operator has to look (`data check`, `data repair`).
    #[error("failure log {path} is damaged at byte {offset}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Where the damage starts.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A record cannot be encoded as JSON.
    #[error("failure record cannot be encoded: {0}")]
    Encode(#[from] serde_json::Error),
}

struct Inner {
    path: PathBuf,
    /// The service whose `failure_records` gauge follows the file; none without one.
    service: Option<&'static str>,
    /// Held open for `flock`: the data file itself is replaced by rewrites, so it cannot carry
    /// the lock.
    lock_file: File,
    state: Mutex<Option<State>>,
}

/// What an open log knows about its file.
struct State {
    file: File,
    device: u64,
    inode: u64,
    /// The file's length.
    len: u64,
    /// Where the last record ends (just after `[` when there is none): appends write here.
    records_end: u64,
    ids: HashSet<String>,
}

const EMPTY: &[u8] = b"[\n]\n";
const CLOSE: &[u8] = b"\n]\n";

impl FailureLog {
    /// Opens `path`, creating `[\n]\n` durably if absent, and repairs an append that never
    /// finished (keeping every whole record) with a warning. Any other damage is refused.
    pub fn open(path: &Path) -> Result<FailureLog, FailureLogError> {
        FailureLog::open_inner(path, None)
    }

    /// [`FailureLog::open`], with `service`'s `failure_records` gauge following how many records
    /// the file holds (as this process last saw it).
    pub fn open_reporting(
        path: &Path,
        service: &'static str,
    ) -> Result<FailureLog, FailureLogError> {
        FailureLog::open_inner(path, Some(service))
    }

    fn open_inner(
        path: &Path,
        service: Option<&'static str>,
    ) -> Result<FailureLog, FailureLogError> {
        let io_error = io_error(path);
        let lock_file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(lock_path(path))
            .map_err(io_error)?;
        let log = FailureLog {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                service,
                lock_file,
                state: Mutex::new(None),
            }),
        };
        log.with_state(|_| Ok(()))?;
        Ok(log)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Appends `record` durably (write in place, fdatasync): O(1).
    pub fn append(&self, record: &FailureRecord) -> Result<(), FailureLogError> {
        self.with_state(|state| state.append(&self.inner.path, record))
    }

    /// Appends `record` unless one with its id is already there (a dead letter delivered twice);
    /// returns whether it appended.
    pub fn append_unique(&self, record: &FailureRecord) -> Result<bool, FailureLogError> {
        self.with_state(|state| {
            if state.ids.contains(&record.id) {
                return Ok(false);
            }
            state.append(&self.inner.path, record).map(|()| true)
        })
    }

    /// Every record, oldest first.
    pub fn records(&self) -> Result<Vec<FailureRecord>, FailureLogError> {
        self.with_state(|_| read_records(&self.inner.path))
    }

    /// Calls `f` on every record and, if it returned true for any (it changed them), rewrites
    /// the file atomically. Returns how many changed. Costs O(records): for rare operations.
    pub fn update(
        &self,
        mut f: impl FnMut(&mut FailureRecord) -> bool,
    ) -> Result<usize, FailureLogError> {
        let path = &self.inner.path;
        self.with_state(|state| {
            let mut records = read_records(path)?;
            let changed = records
                .iter_mut()
                .map(&mut f)
                .filter(|changed| *changed)
                .count();
            if changed > 0 {
                rewrite(path, &records)?;
                *state = State::load(path)?;
            }
            Ok(changed)
        })
    }

    /// [`FailureLog::append`] on the blocking pool.
    pub async fn append_async(&self, record: FailureRecord) -> Result<(), FailureLogError> {
        self.in_background(move |log| log.append(&record)).await
    }

    /// [`FailureLog::append_unique`] on the blocking pool.
    pub async fn append_unique_async(
        &self,
        record: FailureRecord,
    ) -> Result<bool, FailureLogError> {
        self.in_background(move |log| log.append_unique(&record))
            .await
    }

    /// [`FailureLog::records`] on the blocking pool.
    pub async fn records_async(&self) -> Result<Vec<FailureRecord>, FailureLogError> {
        self.in_background(|log| log.records()).await
    }

    /// [`FailureLog::update`] on the blocking pool.
    pub async fn update_async(
        &self,
        f: impl FnMut(&mut FailureRecord) -> bool + Send + 'static,
    ) -> Result<usize, FailureLogError> {
        self.in_background(move |log| log.update(f)).await
    }

    async fn in_background<T: Send + 'static>(
        &self,
        work: impl FnOnce(&FailureLog) -> Result<T, FailureLogError> + Send + 'static,
    ) -> Result<T, FailureLogError> {
        let log = self.clone();
        tokio::task::spawn_blocking(move || work(&log))
            .await
            .map_err(|error| FailureLogError::Io {
                path: self.inner.path.clone(),
                source: io::Error::other(error),
            })?
    }

    /// Runs `work` holding the in-process mutex and the cross-process file lock, on a state
    /// that matches the file as it is now.
    fn with_state<T>(
        &self,
        work: impl FnOnce(&mut State) -> Result<T, FailureLogError>,
    ) -> Result<T, FailureLogError> {
        let path = &self.inner.path;
        let mut slot = lock(&self.inner.state);
        self.inner.lock_file.lock().map_err(io_error(path))?;
        let result = (|| {
            let state = match slot.take() {
                Some(state) if state.matches_file(path) => slot.insert(state),
                _ => slot.insert(State::load(path)?),
            };
            let result = work(state);
            if let Some(service) = self.inner.service
                && let Some(state) = slot.as_ref()
            {
                metrics::gauge!("failure_records", "service" => service)
                    .set(state.ids.len() as f64);
            }
            if result.is_err() {
                // The file may hold a half-written record: read it again (and repair it) next time.
                *slot = None;
            }
            result
        })();
        if let Err(error) = self.inner.lock_file.unlock() {
            tracing::warn!(%error, log = %path.display(), "cannot unlock the failure log");
        }
        result
    }
}

impl std::fmt::Debug for FailureLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FailureLog")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl FailureRecord {
    /// True once a replay of it was published.
    pub fn is_replayed(&self) -> bool {
        self.replays
            .iter()
            .any(|replay| replay.outcome == ReplayOutcome::Published)
    }
}

impl State {
    /// Reads `path` (creating it if absent), repairing an append that never finished.
    fn load(path: &Path) -> Result<State, FailureLogError> {
        let io_error = io_error(path);
        if !path.exists() {
            write_atomically(path, |writer| writer.write_all(EMPTY)).map_err(io_error)?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(io_error)?;
        let content = fs::read(path).map_err(io_error)?;
        let scan = array::scan(&content, false).map_err(|damage| corrupt(path, damage))?;
        let mut len = content.len() as u64;
        if scan.torn {
            tracing::warn!(
                log = %path.display(),
                offset = scan.records_end,
                bytes = content.len() - scan.records_end,
                "repairing an append that never finished at the end of the failure log (it was \
                 never acknowledged)"
            );
            file.set_len(scan.records_end as u64).map_err(io_error)?;
            file.write_all_at(CLOSE, scan.records_end as u64)
                .map_err(io_error)?;
            file.sync_data().map_err(io_error)?;
            len = (scan.records_end + CLOSE.len()) as u64;
        }
        let metadata = file.metadata().map_err(io_error)?;
        Ok(State {
            file,
            device: metadata.dev(),
            inode: metadata.ino(),
            len,
            records_end: scan.records_end as u64,
            ids: scan.ids,
        })
    }

    /// True when `path` is still the file this state describes, unchanged by anyone else.
    fn matches_file(&self, path: &Path) -> bool {
        fs::metadata(path)
            .map(|metadata| {
                metadata.dev() == self.device
                    && metadata.ino() == self.inode
                    && metadata.len() == self.len
            })
            .unwrap_or(false)
    }

    fn append(&mut self, path: &Path, record: &FailureRecord) -> Result<(), FailureLogError> {
        let io_error = io_error(path);
        let line = encode(record)?;
        let mut bytes = Vec::with_capacity(line.len() + 6);
        bytes.extend_from_slice(if self.ids.is_empty() { b"\n" } else { b",\n" });
        bytes.extend_from_slice(&line);
        bytes.extend_from_slice(CLOSE);
        self.file
            .write_all_at(&bytes, self.records_end)
            .map_err(io_error)?;
        let end = self.records_end + bytes.len() as u64;
        if self.len > end {
            // Only after a hand edit left more than `\n]\n` behind the last record.
            self.file.set_len(end).map_err(io_error)?;
        }
        self.file.sync_data().map_err(io_error)?;
        self.len = end;
        self.records_end = end - CLOSE.len() as u64;
        self.ids.insert(record.id.clone());
        Ok(())
    }
}

/// One record as one sealed JSON object.
fn encode(record: &FailureRecord) -> Result<Vec<u8>, FailureLogError> {
    let mut line = serde_json::to_vec(record)?;
    seal_object(&mut line, 0);
    Ok(line)
}

/// Replaces `path` atomically with `records`, one sealed record a line.
fn rewrite(path: &Path, records: &[FailureRecord]) -> Result<(), FailureLogError> {
    let lines = records.iter().map(encode).collect::<Result<Vec<_>, _>>()?;
    write_atomically(path, |writer| {
        writer.write_all(b"[")?;
        for (n, line) in lines.iter().enumerate() {
            writer.write_all(if n == 0 { b"\n" } else { b",\n" })?;
            writer.write_all(line)?;
        }
        writer.write_all(CLOSE)
    })
    .map_err(io_error(path))
}

/// Every whole record, verified as an open verifies them.
fn read_records(path: &Path) -> Result<Vec<FailureRecord>, FailureLogError> {
    let content = fs::read(path).map_err(io_error(path))?;
    array::scan(&content, true)
        .map(|scan| scan.records)
        .map_err(|damage| corrupt(path, damage))
}

fn corrupt(path: &Path, damage: array::Damage) -> FailureLogError {
    FailureLogError::Corrupt {
        path: path.to_owned(),
        offset: damage.offset as u64,
        reason: damage.reason,
    }
}

fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    path.with_file_name(name)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves at worst a stale state, which is re-read anyway.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn io_error(path: &Path) -> impl Fn(io::Error) -> FailureLogError + Copy + '_ {
    move |source| FailureLogError::Io {
        path: path.to_owned(),
        source,
    }
}
