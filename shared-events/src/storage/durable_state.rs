//! A service's state as a snapshot plus a journal of changes, for the consumers' ledgers.
//!
//! The same promises as the order store, for smaller state: a change is durable (appended and
//! fdatasync'd) before [`DurableState::transact`] returns, a torn last change is cut away at
//! start-up, and the journal is folded into a new snapshot once it has grown as large as the
//! last one, so a change costs O(1) amortised.
//!
//! Transactions commit in groups: each appends its change under the lock, then waits outside
//! it for an fdatasync that covers its change. While one fsync runs, the transactions behind it
//! append; the next fsync makes all of them durable at once. So concurrent callers (a consumer
//! handling a batch of events for different orders) share fsyncs instead of queueing for one
//! each. A reader may see a change a moment before it is durable; no caller is told it
//! succeeded before it is.
//!
//! The files and the rules every reader applies to them (a sealed snapshot, checksummed
//! entries numbered one after the other) are in `files`; [`check`] and [`repair`] are the
//! operator's `data check` and `data repair` for one state.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::storage::atomic_file::{temporary_path, write_atomically};
use crate::storage::data_dir::{DataDirError, DataDirLock};
use crate::storage::journal::{Journal, JournalError, encode_line};
use crate::storage::journal_metrics::JournalMetrics;

mod check;
#[cfg(test)]
mod damage_tests;
pub(crate) mod files;

pub use check::{check, repair};

use files::{Access, NewEntry, Paths};

/// State that changes only through [`StateMachine::Change`]s, so replaying the journal's
/// changes over the snapshot rebuilds it exactly.
pub trait StateMachine: Default + Serialize + DeserializeOwned + Send + 'static {
    /// One change, as stored in the journal.
    type Change: Serialize + DeserializeOwned + Send + 'static;

    /// Applies a change. It must be deterministic and must not fail: decide in
    /// [`DurableState::transact`], apply here.
    fn apply(&mut self, change: &Self::Change);
}

/// A [`StateMachine`] kept durably in `<name>.json` and `<name>-journal.jsonl` in a directory.
pub struct DurableState<S: StateMachine> {
    inner: Arc<Mutex<Inner<S>>>,
    /// Set once a write failed; outside the lock, so health checks never wait on an fsync.
    failed: Arc<AtomicBool>,
    syncer: Arc<Syncer>,
}

impl<S: StateMachine> Clone for DurableState<S> {
    fn clone(&self) -> DurableState<S> {
        DurableState {
            inner: Arc::clone(&self.inner),
            failed: Arc::clone(&self.failed),
            syncer: Arc::clone(&self.syncer),
        }
    }
}

/// Group commit: which changes are written, and which are durable.
struct Syncer {
    /// The journal, opened a second time, to fsync without holding the state's lock.
    file: fs::File,
    path: PathBuf,
    /// The last change appended to the journal (or folded into a snapshot).
    written: AtomicU64,
    /// The last change known durable; read without waiting.
    durable: AtomicU64,
    /// Held across an fsync, so that the transactions waiting behind it find their change
    /// durable when they get it.
    syncing: Mutex<()>,
    metrics: JournalMetrics,
}

/// Why the state cannot be opened or changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DurableStateError {
    /// The data directory is locked by another process or unusable.
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    /// The journal is damaged, or appending or syncing failed.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The snapshot cannot be read.
    #[error("snapshot {path}: {reason}")]
    Snapshot {
        /// The snapshot file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The snapshot does not hold what the owner writes: its checksum, its format or its members
    /// differ. Nothing is changed; a snapshot cannot be rebuilt, only restored from a backup.
    #[error("snapshot {path} is damaged at byte {offset}: {reason}")]
    SnapshotDamaged {
        /// The snapshot file.
        path: PathBuf,
        /// Where the damage is (0 when the checksum says only that it is somewhere).
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// The journal is missing beside the snapshot. It is created with the state and only ever
    /// emptied, so it was lost, and with it perhaps the changes after the snapshot.
    #[error(
        "journal {journal} is missing beside snapshot {snapshot}, which holds the changes up to \
         {last_seq}; the changes after them, if any, were lost with it (`data repair` creates \
         an empty journal)"
    )]
    MissingJournal {
        /// The missing journal.
        journal: PathBuf,
        /// The snapshot beside which it is missing.
        snapshot: PathBuf,
        /// The snapshot's last change.
        last_seq: u64,
    },
    /// The snapshot and the journal contradict each other: the journal's entries stop before the
    /// snapshot's `last_seq`.
    #[error("snapshot {snapshot} does not match journal {journal}: {reason}")]
    Mismatched {
        /// The snapshot file.
        snapshot: PathBuf,
        /// The journal file.
        journal: PathBuf,
        /// How they disagree.
        reason: String,
    },
    /// A write failed earlier; the state refuses changes until the service restarts.
    #[error("an earlier write failed; restart the service to recover from disk")]
    Failed,
    /// The state was closed: the service is stopping.
    #[error("the state is closed: the service is stopping")]
    Closed,
}

struct Inner<S> {
    state: S,
    journal: Journal,
    snapshot_path: PathBuf,
    last_seq: u64,
    snapshot_bytes: u64,
    min_compact_bytes: u64,
    /// Held while open; dropped by [`DurableState::close`].
    lock: Option<DataDirLock>,
}

impl<S: StateMachine> DurableState<S> {
    /// Opens (or creates) the state `name` in `dir`, which it locks for this process.
    pub fn open(dir: &Path, name: &str) -> Result<DurableState<S>, DurableStateError> {
        DurableState::open_with(dir, name, 1 << 20)
    }

    /// [`DurableState::open`], reporting its journal's work to `metrics`.
    pub fn open_reporting(
        dir: &Path,
        name: &str,
        metrics: JournalMetrics,
    ) -> Result<DurableState<S>, DurableStateError> {
        DurableState::open_inner(dir, name, 1 << 20, metrics)
    }

    /// [`DurableState::open`], compacting once the journal reaches `min_compact_bytes` (and the
    /// size of the last snapshot).
    pub fn open_with(
        dir: &Path,
        name: &str,
        min_compact_bytes: u64,
    ) -> Result<DurableState<S>, DurableStateError> {
        DurableState::open_inner(dir, name, min_compact_bytes, JournalMetrics::unreported())
    }

    fn open_inner(
        dir: &Path,
        name: &str,
        min_compact_bytes: u64,
        metrics: JournalMetrics,
    ) -> Result<DurableState<S>, DurableStateError> {
        let lock = DataDirLock::acquire(dir)?;
        let paths = Paths::new(dir, name);
        let leftover = temporary_path(&paths.snapshot);
        if leftover.exists() {
            fs::remove_file(&leftover).map_err(|error| snapshot_error(&leftover, error))?;
        }
        let loaded = files::load(&paths, Access::Open, |state: &mut S, change: S::Change| {
            state.apply(&change)
        })?;
        let journal = loaded
            .journal
            .expect("a journal loaded for writing is open");
        let last_seq = loaded.last_seq;
        let syncer = Syncer {
            file: journal.sync_handle().map_err(|source| JournalError::Io {
                path: paths.journal.clone(),
                source,
            })?,
            path: paths.journal,
            written: AtomicU64::new(last_seq),
            durable: AtomicU64::new(last_seq),
            syncing: Mutex::new(()),
            metrics,
        };
        syncer.metrics.sized(journal.len());
        let inner = Inner {
            state: loaded.state,
            journal,
            snapshot_path: paths.snapshot,
            last_seq,
            snapshot_bytes: loaded.snapshot_bytes,
            min_compact_bytes,
            lock: Some(lock),
        };
        Ok(DurableState {
            inner: Arc::new(Mutex::new(inner)),
            failed: Arc::new(AtomicBool::new(false)),
            syncer: Arc::new(syncer),
        })
    }

    /// Refuses further changes and releases the data directory, so that the same process can
    /// open it again (a restart in place) while clones of this handle still exist. Reads go on
    /// seeing the state as it was.
    pub fn close(&self) {
        self.lock().lock = None;
    }

    /// False once a write has failed: the state then refuses changes until a restart.
    pub fn is_writable(&self) -> bool {
        !self.failed.load(Ordering::SeqCst)
    }

    /// Reads the current state.
    pub fn read<R>(&self, read: impl FnOnce(&S) -> R) -> R {
        read(&self.lock().state)
    }

    /// Decides on a change from the current state and makes it durable, atomically with respect
    /// to every other transaction. `decide` returns the change to make (if any) and the result
    /// to hand back, which the caller sees only once the change is durable.
    ///
    /// Deciding and appending take microseconds, so they run on the caller's thread when the lock
    /// is free; only an fsync (unless another one has already covered the change) or a
    /// compaction goes to a blocking thread. Handing every transaction to another thread cost
    /// more than the work itself under load.
    pub async fn transact<R: Send + 'static>(
        &self,
        decide: impl FnOnce(&S) -> (Option<S::Change>, R) + Send + 'static,
    ) -> Result<R, DurableStateError> {
        let appended = match self.try_append(decide) {
            Ok(appended) => appended,
            // Held, perhaps by a compaction: wait for it on a blocking thread, not here.
            Err(decide) => {
                let this = self.clone();
                return tokio::task::spawn_blocking(move || this.transact_blocking(decide))
                    .await
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic.into_panic()));
            }
        };
        let Appended {
            result,
            through,
            compact,
        } = appended?;
        if !compact && self.syncer.is_durable(through) {
            return Ok(result);
        }
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            if compact {
                this.lock().compact_if_due(&this.syncer, &this.failed);
            }
            this.sync_through(through)
        })
        .await
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic.into_panic()))?;
        Ok(result)
    }

    /// Appends with [`DurableState::append_locked`] if the lock is free; hands `decide` back if
    /// it is not.
    fn try_append<R, F>(&self, decide: F) -> Result<Result<Appended<R>, DurableStateError>, F>
    where
        F: FnOnce(&S) -> (Option<S::Change>, R),
    {
        let mut inner = match self.inner.try_lock() {
            Ok(inner) => inner,
            Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return Err(decide),
        };
        Ok(self.append_locked(&mut inner, decide))
    }

    /// [`DurableState::transact`] for callers that are already on a blocking thread.
    pub fn transact_blocking<R>(
        &self,
        decide: impl FnOnce(&S) -> (Option<S::Change>, R),
    ) -> Result<R, DurableStateError> {
        let Appended {
            result, through, ..
        } = {
            let mut inner = self.lock();
            let appended = self.append_locked(&mut inner, decide)?;
            if appended.compact {
                inner.compact_if_due(&self.syncer, &self.failed);
            }
            appended
        };
        self.sync_through(through)?;
        Ok(result)
    }

    /// Makes every change up to `through` durable. Also without a change of its own: a decision
    /// read state that must be durable before anyone acts on the answer.
    fn sync_through(&self, through: u64) -> Result<(), DurableStateError> {
        if self.failed.load(Ordering::SeqCst) && !self.syncer.is_durable(through) {
            // An fsync failed since the change was appended: a second one could succeed without
            // the change being on disk.
            return Err(DurableStateError::Failed);
        }
        if let Err(error) = self.syncer.sync_through(through) {
            // The file's content is unknown after a failed fsync; stop rather than guess.
            self.failed.store(true, Ordering::SeqCst);
            return Err(error.into());
        }
        Ok(())
    }

    /// Decides and, for a change, appends it (not yet durable) and applies it. The result says
    /// up to which change the journal must be durable before the answer is handed back, and
    /// whether the journal has grown enough to compact.
    fn append_locked<R>(
        &self,
        inner: &mut Inner<S>,
        decide: impl FnOnce(&S) -> (Option<S::Change>, R),
    ) -> Result<Appended<R>, DurableStateError> {
        if self.failed.load(Ordering::SeqCst) {
            return Err(DurableStateError::Failed);
        }
        if inner.lock.is_none() {
            return Err(DurableStateError::Closed);
        }
        let (change, result) = decide(&inner.state);
        let Some(change) = change else {
            return Ok(Appended {
                result,
                through: inner.last_seq,
                compact: false,
            });
        };
        let seq = inner.last_seq + 1;
        let mut line = Vec::with_capacity(256);
        encode_line(
            &mut line,
            &NewEntry {
                seq,
                change: &change,
            },
        )
        .map_err(|error| JournalError::Io {
            path: inner.journal.path().to_owned(),
            source: io::Error::other(error),
        })?;
        if let Err(error) = inner.journal.append(&line) {
            self.failed.store(true, Ordering::SeqCst);
            return Err(error.into());
        }
        inner.state.apply(&change);
        inner.last_seq = seq;
        self.syncer.written.store(seq, Ordering::SeqCst);
        self.syncer.metrics.sized(inner.journal.len());
        Ok(Appended {
            result,
            through: seq,
            compact: inner.compaction_due(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner<S>> {
        // A panic while holding the lock leaves the state as the last durable change made it.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A transaction's change, appended but perhaps not yet durable.
struct Appended<R> {
    result: R,
    /// The journal must be durable up to this change before `result` is handed back.
    through: u64,
    /// The journal has grown as large as the last snapshot.
    compact: bool,
}

impl Syncer {
    /// Whether every change up to `through` is durable already.
    fn is_durable(&self, through: u64) -> bool {
        self.durable.load(Ordering::SeqCst) >= through
    }

    /// Returns once every change up to `through` is durable, with one fsync for every change
    /// written so far if none has covered `through` yet.
    fn sync_through(&self, through: u64) -> Result<(), JournalError> {
        let _syncing = self
            .syncing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if self.is_durable(through) {
            return Ok(());
        }
        // Read before the fsync: what was written by now is certainly covered by it.
        let written = self.written.load(Ordering::SeqCst);
        let started = Instant::now();
        self.file.sync_data().map_err(|source| JournalError::Io {
            path: self.path.clone(),
            source,
        })?;
        let before = self.durable.fetch_max(written, Ordering::SeqCst);
        self.metrics
            .committed(written.saturating_sub(before), started.elapsed());
        Ok(())
    }

    fn mark_durable(&self, through: u64) {
        self.durable.fetch_max(through, Ordering::SeqCst);
    }
}

impl<S: StateMachine> Inner<S> {
    fn compaction_due(&self) -> bool {
        self.journal.len() >= self.min_compact_bytes.max(self.snapshot_bytes)
    }

    /// Compacts if the journal is (still) due for it; a failure is logged, and the journal,
    /// which still holds everything, is compacted again later.
    fn compact_if_due(&mut self, syncer: &Syncer, failed: &AtomicBool) {
        // Closed: another process may own the files now.
        if self.lock.is_none() || !self.compaction_due() {
            return;
        }
        // The journal must hold every change the snapshot will, so that the entries a crash
        // leaves behind the snapshot run up to exactly its last_seq, which start-up checks.
        if let Err(error) = syncer.sync_through(self.last_seq) {
            failed.store(true, Ordering::SeqCst);
            tracing::error!(error = %error, "the journal cannot be made durable before compaction");
            return;
        }
        match self.compact() {
            // The snapshot, fsync'd, holds every change so far.
            Ok(()) => {
                syncer.mark_durable(self.last_seq);
                syncer.metrics.compacted();
                syncer.metrics.sized(self.journal.len());
            }
            Err(error) => tracing::warn!(error = %error, "compaction failed"),
        }
    }

    /// Writes the snapshot, then empties the journal; replay skips what the snapshot holds, so a
    /// crash between the two loses and repeats nothing.
    fn compact(&mut self) -> io::Result<()> {
        write_atomically(&self.snapshot_path, |out| {
            files::write_snapshot(out, self.last_seq, &self.state)
        })?;
        self.snapshot_bytes = fs::metadata(&self.snapshot_path)?.len();
        self.journal.truncate()
    }
}

fn snapshot_error(path: &Path, reason: impl ToString) -> DurableStateError {
    DurableStateError::Snapshot {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::io::Write;

    use serde::Deserialize;

    use super::*;
    use crate::storage::journal::encode_line;

    #[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
    pub(super) struct Counters(pub(super) BTreeMap<String, i64>);

    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub(super) struct Add(pub(super) String, pub(super) i64);

    impl StateMachine for Counters {
        type Change = Add;

        fn apply(&mut self, change: &Add) {
            *self.0.entry(change.0.clone()).or_default() += change.1;
        }
    }

    pub(super) fn add(state: &DurableState<Counters>, key: &str, n: i64) {
        let change = Add(key.to_owned(), n);
        state
            .transact_blocking(|_| (Some(change), ()))
            .expect("durable");
    }

    /// Writes `counters.json` by hand: format 2 as compaction writes it, or format 1 as it was
    /// written before checksums.
    pub(super) fn write_snapshot(dir: &Path, format: u32, last_seq: u64, state: &Counters) {
        let mut bytes = Vec::new();
        if format == 1 {
            let snapshot = serde_json::json!({"format": 1, "last_seq": last_seq, "state": state});
            serde_json::to_writer(&mut bytes, &snapshot).expect("encodes");
            bytes.push(b'\n');
        } else {
            files::write_snapshot(&mut bytes, last_seq, state).expect("encodes");
        }
        fs::write(dir.join("counters.json"), bytes).expect("a snapshot");
    }

    /// Writes `counters-journal.jsonl` by hand, one sealed entry a line, and returns where each
    /// entry starts.
    pub(super) fn write_journal(dir: &Path, entries: &[(u64, Add)]) -> Vec<usize> {
        let mut bytes = Vec::new();
        let mut starts = Vec::new();
        for (seq, change) in entries {
            starts.push(bytes.len());
            encode_line(&mut bytes, &NewEntry { seq: *seq, change }).expect("encodes");
        }
        let mut file = fs::File::create(dir.join("counters-journal.jsonl")).expect("a journal");
        file.write_all(&bytes).expect("written");
        starts
    }

    /// `key` incremented by `seq` for each entry: what every hand-written journal holds.
    pub(super) fn entries(key: &str, seqs: impl IntoIterator<Item = u64>) -> Vec<(u64, Add)> {
        seqs.into_iter()
            .map(|seq| (seq, Add(key.to_owned(), seq as i64)))
            .collect()
    }

    pub(super) fn counters(pairs: &[(&str, i64)]) -> Counters {
        Counters(
            pairs
                .iter()
                .map(|(key, n)| ((*key).to_owned(), *n))
                .collect(),
        )
    }

    #[test]
    fn changes_survive_reopening_across_compactions() {
        let dir = tempfile::tempdir().expect("temp dir");
        let expected = {
            let state =
                DurableState::<Counters>::open_with(dir.path(), "counters", 256).expect("opens");
            for n in 0..200 {
                add(&state, &format!("k{}", n % 7), n);
            }
            state.read(|counters| counters.0.clone())
        };
        assert!(
            dir.path().join("counters.json").exists(),
            "compaction wrote a snapshot"
        );
        let state = DurableState::<Counters>::open(dir.path(), "counters").expect("reopens");
        assert_eq!(state.read(|counters| counters.0.clone()), expected);
    }

    #[test]
    fn a_journal_left_behind_by_a_crash_after_compaction_is_not_applied_twice() {
        let dir = tempfile::tempdir().expect("temp dir");
        // The crash: the snapshot holds entries 1 to 3, the journal was not emptied yet.
        write_snapshot(dir.path(), 2, 3, &counters(&[("a", 6)]));
        write_journal(dir.path(), &entries("a", 1..=3));
        {
            let state = DurableState::<Counters>::open(dir.path(), "counters").expect("opens");
            assert_eq!(state.read(|counters| counters.0["a"]), 6);
            add(&state, "a", 4);
        }
        let state = DurableState::<Counters>::open(dir.path(), "counters").expect("reopens");
        assert_eq!(state.read(|counters| counters.0["a"]), 10);
    }

    #[test]
    fn compaction_writes_a_sealed_snapshot_that_reopens() {
        let dir = tempfile::tempdir().expect("temp dir");
        {
            let state =
                DurableState::<Counters>::open_with(dir.path(), "counters", 1).expect("opens");
            add(&state, "a", 1);
        }
        let snapshot = fs::read(dir.path().join("counters.json")).expect("a snapshot");
        assert!(snapshot.starts_with(br#"{"format":2,"last_seq":1,"#));
        assert_eq!(
            crate::storage::checksum::check_object(snapshot.trim_ascii_end()),
            crate::storage::checksum::Seal::Verified
        );
        let state = DurableState::<Counters>::open(dir.path(), "counters").expect("reopens");
        assert_eq!(state.read(|counters| counters.0["a"]), 1);
    }

    #[test]
    fn a_format_1_snapshot_opens_and_the_next_compaction_writes_format_2() {
        let dir = tempfile::tempdir().expect("temp dir");
        write_snapshot(dir.path(), 1, 2, &counters(&[("a", 3)]));
        write_journal(dir.path(), &entries("a", [3]));
        {
            let state =
                DurableState::<Counters>::open_with(dir.path(), "counters", 1).expect("opens");
            assert_eq!(state.read(|counters| counters.0["a"]), 6);
            add(&state, "a", 4);
        }
        let snapshot = fs::read(dir.path().join("counters.json")).expect("a snapshot");
        assert!(snapshot.starts_with(br#"{"format":2,"last_seq":4,"#));
        let state = DurableState::<Counters>::open(dir.path(), "counters").expect("reopens");
        assert_eq!(state.read(|counters| counters.0["a"]), 10);
    }

    #[test]
    fn concurrent_transactions_all_commit() {
        let dir = tempfile::tempdir().expect("temp dir");
        let state =
            DurableState::<Counters>::open_with(dir.path(), "counters", 4096).expect("opens");
        std::thread::scope(|scope| {
            for thread in 0..8 {
                let state = state.clone();
                scope.spawn(move || {
                    for _ in 0..100 {
                        add(&state, &format!("t{thread}"), 1);
                    }
                });
            }
        });
        drop(state);
        let state = DurableState::<Counters>::open(dir.path(), "counters").expect("reopens");
        let counters = state.read(|counters| counters.0.clone());
        assert_eq!(counters.len(), 8);
        assert!(counters.values().all(|count| *count == 100), "{counters:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_async_transactions_all_commit_across_compactions() {
        let dir = tempfile::tempdir().expect("temp dir");
        let state =
            DurableState::<Counters>::open_with(dir.path(), "counters", 2048).expect("opens");
        let tasks: Vec<_> = (0..8)
            .map(|task| {
                let state = state.clone();
                tokio::spawn(async move {
                    for _ in 0..50 {
                        let change = Add(format!("t{task}"), 1);
                        state
                            .transact(move |_| (Some(change), ()))
                            .await
                            .expect("durable");
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("a task");
        }
        drop(state);
        let state = DurableState::<Counters>::open(dir.path(), "counters").expect("reopens");
        let counters = state.read(|counters| counters.0.clone());
        assert_eq!(counters.len(), 8);
        assert!(counters.values().all(|count| *count == 50), "{counters:?}");
        assert!(dir.path().join("counters.json").exists(), "compaction ran");
    }

    #[test]
    fn closing_releases_the_directory_and_refuses_changes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let state = DurableState::<Counters>::open(dir.path(), "counters").expect("opens");
        add(&state, "a", 1);
        let kept = state.clone();
        state.close();
        let change = Add("a".to_owned(), 1);
        assert!(matches!(
            kept.transact_blocking(|_| (Some(change), ())),
            Err(DurableStateError::Closed)
        ));
        let reopened = DurableState::<Counters>::open(dir.path(), "counters").expect("reopens");
        assert_eq!(reopened.read(|counters| counters.0["a"]), 1);
    }

    #[test]
    fn a_decision_without_a_change_writes_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let state = DurableState::<Counters>::open(dir.path(), "counters").expect("opens");
        let answer = state.transact_blocking(|_| (None, 42)).expect("no write");
        assert_eq!(answer, 42);
        assert_eq!(
            fs::metadata(dir.path().join("counters-journal.jsonl"))
                .expect("journal")
                .len(),
            0
        );
    }
}
