//! The one thread that changes the store: it batches requests, appends their records, fsyncs
//! once per batch (group commit), then publishes the new state and answers.
//!
//! The writer checks what only the store knows (that the order exists, `If-Match`, idempotency
//! keys); what a change does to the order, and so its event, is the domain's ([`ChangeStamp`]).

use std::collections::VecDeque;
use std::fs;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::Instant;

use chrono::{DateTime, Utc};
use shared_events::storage::data_dir::DataDirLock;
use shared_events::storage::journal::{Journal, encode_line};
use shared_events::{Order, OrderEvent};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::domain::{ChangeOrigin, ChangeStamp, NewOrder, OrderPatch};
use crate::store::commit_span::commit_span;
use crate::store::compactor::{self, Compaction};
use crate::store::files::{StoreFiles, segment_name};
use crate::store::record::{IdempotencyStamp, JournalRecord};
use crate::store::recovery;
use crate::store::state::StoreState;
use crate::store::{Created, IfMatch, Shared, StoreOptions, WriteError};

/// Most commands answered by one fsync.
const MAX_BATCH: usize = 2048;

pub(crate) type Reply<T> = oneshot::Sender<Result<T, WriteError>>;

/// A request to the writer.
pub(crate) enum Command {
    Create {
        order: NewOrder,
        idempotency: Option<IdempotencyStamp>,
        origin: ChangeOrigin,
        reply: Reply<Created>,
    },
    Update {
        id: Uuid,
        patch: OrderPatch,
        if_match: Option<IfMatch>,
        origin: ChangeOrigin,
        reply: Reply<Arc<Order>>,
    },
    Delete {
        id: Uuid,
        if_match: Option<IfMatch>,
        origin: ChangeOrigin,
        reply: Reply<Arc<Order>>,
    },
    MarkPublished {
        through: u64,
        reply: Reply<()>,
    },
    Shutdown {
        done: oneshot::Sender<()>,
    },
    /// Answered once the compaction running after this batch (if any) has finished.
    FinishCompaction {
        done: oneshot::Sender<()>,
    },
}

/// An answer held back until its batch is durable.
enum Pending {
    Created(Reply<Created>, Result<Created, WriteError>),
    Changed(Reply<Arc<Order>>, Result<Arc<Order>, WriteError>),
    Marked(Reply<()>, Result<(), WriteError>),
}

pub(crate) struct Writer {
    pub(crate) commands: mpsc::Receiver<Command>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) committed: StoreState,
    pub(crate) journal: Journal,
    pub(crate) segment: u64,
    pub(crate) files: StoreFiles,
    pub(crate) options: StoreOptions,
    pub(crate) compaction: Compaction,
    pub(crate) idempotency_expiry: VecDeque<(DateTime<Utc>, String)>,
    pub(crate) _lock: DataDirLock,
}

impl Writer {
    /// Serves commands until shutdown or until every handle is gone.
    pub(crate) fn run(mut self) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while let Some(first) = self.commands.blocking_recv() {
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match self.commands.try_recv() {
                    Ok(command) => batch.push(command),
                    Err(_) => break,
                }
            }
            if let Some(done) = self.commit(&mut batch) {
                self.compaction.wait();
                drop(self);
                let _ = done.send(());
                return;
            }
        }
        self.compaction.wait();
    }

    /// Executes a batch, makes it durable with one fsync, then answers; returns a shutdown's
    /// acknowledgement if the batch held one.
    fn commit(&mut self, batch: &mut Vec<Command>) -> Option<oneshot::Sender<()>> {
        let span = commit_span(batch);
        let now = Utc::now();
        let mut working = self.committed.clone();
        self.expire_idempotency_keys(&mut working, now);
        let mut lines = Vec::with_capacity(batch.len() * 1024);
        let mut pending = Vec::with_capacity(batch.len());
        let mut shutdown = None;
        let mut compaction_waiters = Vec::new();
        for command in batch.drain(..) {
            match command {
                Command::Create {
                    order,
                    idempotency,
                    origin,
                    reply,
                } => {
                    let stamp = ChangeStamp { now, origin };
                    let result = self.create(&mut working, &mut lines, order, idempotency, stamp);
                    pending.push(Pending::Created(reply, result));
                }
                Command::Update {
                    id,
                    patch,
                    if_match,
                    origin,
                    reply,
                } => {
                    let stamp = ChangeStamp { now, origin };
                    let result = self.update(
                        &mut working,
                        &mut lines,
                        id,
                        &patch,
                        if_match.as_ref(),
                        stamp,
                    );
                    pending.push(Pending::Changed(reply, result));
                }
                Command::Delete {
                    id,
                    if_match,
                    origin,
                    reply,
                } => {
                    let stamp = ChangeStamp { now, origin };
                    let result =
                        self.delete(&mut working, &mut lines, id, if_match.as_ref(), stamp);
                    pending.push(Pending::Changed(reply, result));
                }
                Command::MarkPublished { through, reply } => {
                    let result = self.mark_published(&mut working, &mut lines, through);
                    pending.push(Pending::Marked(reply, result));
                }
                Command::Shutdown { done } => shutdown = Some(done),
                Command::FinishCompaction { done } => compaction_waiters.push(done),
            }
        }
        let _committing = span.enter();
        // Every record of the batch took the next sequence number.
        let records = working.last_seq - self.committed.last_seq;
        span.record("records", records);
        let durable = if lines.is_empty() {
            Ok(())
        } else {
            self.journal.append(&lines).and_then(|()| {
                let started = Instant::now();
                self.journal.sync()?;
                let metrics = &self.shared.journal_metrics;
                metrics.committed(records, started.elapsed());
                metrics.sized(self.journal.len());
                Ok(())
            })
        };
        match durable {
            Ok(()) => {
                let changed = working.last_seq > self.committed.last_seq;
                self.committed = working;
                self.shared.state.store(Arc::new(self.committed.clone()));
                if changed {
                    self.shared.outbox_changed.notify_waiters();
                }
                answer(pending, None);
                self.compact_if_due();
            }
            Err(error) => {
                // After a failed write or fsync the file's content is unknown (the kernel may
                // have dropped the pages), so the store stops writing rather than guess.
                tracing::error!(error = %error, "journal write failed; the store no longer accepts changes");
                self.shared.failure.store(true, Ordering::SeqCst);
                answer(pending, Some(error.to_string()));
            }
        }
        if !compaction_waiters.is_empty() {
            self.compaction.wait();
            for done in compaction_waiters {
                let _ = done.send(());
            }
        }
        shutdown
    }

    fn create(
        &mut self,
        working: &mut StoreState,
        lines: &mut Vec<u8>,
        order: NewOrder,
        idempotency: Option<IdempotencyStamp>,
        stamp: ChangeStamp,
    ) -> Result<Created, WriteError> {
        self.ensure_writable()?;
        if let Some(given) = &idempotency
            && let Some(entry) = working.idempotency.get(&given.key)
        {
            return if entry.fingerprint == given.fingerprint {
                Ok(Created {
                    order: Arc::clone(&entry.order),
                    replayed: true,
                })
            } else {
                Err(WriteError::IdempotencyKeyReused(given.key.clone()))
            };
        }
        if let Some(given) = &idempotency {
            self.idempotency_expiry
                .push_back((stamp.now, given.key.clone()));
        }
        let event = stamp.created(order, Uuid::now_v7());
        let id = event.subject;
        append_event(working, lines, event, idempotency)?;
        Ok(Created {
            order: stored(working, id)?,
            replayed: false,
        })
    }

    fn update(
        &mut self,
        working: &mut StoreState,
        lines: &mut Vec<u8>,
        id: Uuid,
        patch: &OrderPatch,
        if_match: Option<&IfMatch>,
        stamp: ChangeStamp,
    ) -> Result<Arc<Order>, WriteError> {
        self.ensure_writable()?;
        let current = current(working, id, if_match)?;
        let Some(event) = stamp.updated(&current, patch)? else {
            return Ok(current);
        };
        append_event(working, lines, event, None)?;
        stored(working, id)
    }

    fn delete(
        &mut self,
        working: &mut StoreState,
        lines: &mut Vec<u8>,
        id: Uuid,
        if_match: Option<&IfMatch>,
        stamp: ChangeStamp,
    ) -> Result<Arc<Order>, WriteError> {
        self.ensure_writable()?;
        let current = current(working, id, if_match)?;
        let event = stamp.deleted(&current);
        // The state keeps nothing of a deleted order; the answer is its last state.
        let last = Arc::new(event.data.order.clone());
        append_event(working, lines, event, None)?;
        Ok(last)
    }

    /// Records that the broker confirmed every event up to `through`.
    fn mark_published(
        &mut self,
        working: &mut StoreState,
        lines: &mut Vec<u8>,
        through: u64,
    ) -> Result<(), WriteError> {
        self.ensure_writable()?;
        if through <= working.published_through {
            return Ok(());
        }
        let record = JournalRecord {
            seq: working.last_seq + 1,
            published_through: Some(through.min(working.last_seq)),
            ..JournalRecord::default()
        };
        append(working, lines, &record)
    }

    fn ensure_writable(&self) -> Result<(), WriteError> {
        if self.shared.failure.load(Ordering::SeqCst) {
            Err(WriteError::Unavailable(
                "an earlier journal write failed".to_owned(),
            ))
        } else {
            Ok(())
        }
    }

    /// Forgets idempotency keys older than the configured time; amortised O(1) per create.
    fn expire_idempotency_keys(&mut self, working: &mut StoreState, now: DateTime<Utc>) {
        let Ok(ttl) = chrono::Duration::from_std(self.options.idempotency_ttl) else {
            return;
        };
        while let Some((created, key)) = self.idempotency_expiry.front() {
            if *created + ttl > now {
                break;
            }
            if working
                .idempotency
                .get(key)
                .is_some_and(|entry| entry.created_at == *created)
            {
                working.idempotency.remove(key);
            }
            self.idempotency_expiry.pop_front();
        }
    }

    /// Starts a new journal segment and folds the old ones into a snapshot in the background,
    /// once the journal has grown as large as the last snapshot (so a write costs O(1) amortised).
    fn compact_if_due(&mut self) {
        let threshold = self
            .options
            .compact_after_bytes
            .max(self.shared.snapshot_bytes.load(Ordering::Relaxed));
        if self.journal.len() < threshold || self.compaction.is_running() {
            return;
        }
        let next = self.segment + 1;
        if let Some(journal) = self.roll_to(next) {
            self.journal = journal;
            self.segment = next;
            self.compaction = compactor::start(
                self.files.clone(),
                self.committed.clone(),
                next,
                Arc::clone(&self.shared),
            );
        }
    }

    /// Creates segment `next` durably, then seals the current segment naming it: in this order,
    /// a crash leaves either no new segment, or an empty one after an unsealed predecessor
    /// (which opening seals), or a sealed predecessor. None if the writer stays where it is.
    fn roll_to(&mut self, next: u64) -> Option<Journal> {
        let path = self.files.segment(next);
        let journal = match Journal::open(&path, true, recovery::ignore) {
            Ok((journal, _)) => journal,
            Err(error) => {
                tracing::error!(error = %error, "cannot start a new journal segment; compaction postponed");
                return None;
            }
        };
        let len_before = self.journal.len();
        let Err(error) = self.journal.seal(&segment_name(next)) else {
            return Some(journal);
        };
        if self.journal.len() == len_before {
            // The mark never reached the file (the append was cut back): the current segment
            // goes on, and the new one, still empty, goes away.
            tracing::error!(error = %error, "cannot seal the journal segment; compaction postponed");
            drop(journal);
            if let Err(removal) = fs::remove_file(&path) {
                // Harmless: opening accepts an empty newest segment after an unsealed one.
                tracing::warn!(error = %removal, segment = next, "cannot remove an unused journal segment");
            }
        } else {
            // The mark is in the file but may not be durable: a record after it would make the
            // segment unreadable, and a record in the new segment could follow an unsealed one.
            // Like any failed fsync, the store stops writing; a restart reads what is on disk.
            tracing::error!(error = %error, "sealing the journal segment failed; the store no longer accepts changes");
            self.shared.failure.store(true, Ordering::SeqCst);
        }
        None
    }
}

impl Compaction {
    fn is_running(&self) -> bool {
        self.handle
            .as_ref()
            .is_some_and(|handle| !handle.is_finished())
    }

    fn wait(&mut self) {
        if let Some(handle) = self.handle.take() {
            let _ = JoinHandle::join(handle);
        }
    }
}

fn current(
    working: &StoreState,
    id: Uuid,
    if_match: Option<&IfMatch>,
) -> Result<Arc<Order>, WriteError> {
    let current = working
        .orders
        .get(&id)
        .cloned()
        .ok_or(WriteError::NotFound(id))?;
    match if_match {
        Some(condition) if !condition.matches(current.version) => {
            Err(WriteError::PreconditionFailed {
                current: current.version,
            })
        }
        _ => Ok(current),
    }
}

/// Appends `event` as the next record and applies it.
fn append_event(
    working: &mut StoreState,
    lines: &mut Vec<u8>,
    event: OrderEvent,
    idempotency: Option<IdempotencyStamp>,
) -> Result<(), WriteError> {
    let record = JournalRecord {
        seq: working.last_seq + 1,
        event: Some(event),
        idempotency,
        ..JournalRecord::default()
    };
    append(working, lines, &record)
}

/// The order with `id` as the working state now holds it.
fn stored(working: &StoreState, id: Uuid) -> Result<Arc<Order>, WriteError> {
    working
        .orders
        .get(&id)
        .cloned()
        .ok_or_else(|| WriteError::Unavailable("the change vanished".to_owned()))
}

/// Encodes `record` into the batch's lines and applies it to the working state.
fn append(
    working: &mut StoreState,
    lines: &mut Vec<u8>,
    record: &JournalRecord,
) -> Result<(), WriteError> {
    encode_line(lines, record)
        .map_err(|error| WriteError::Unavailable(format!("cannot encode a record: {error}")))?;
    working.apply(record).map_err(WriteError::Unavailable)
}

fn answer(pending: Vec<Pending>, failure: Option<String>) {
    fn unless_failed<T>(
        failure: &Option<String>,
        result: Result<T, WriteError>,
    ) -> Result<T, WriteError> {
        match (failure, result) {
            (Some(reason), Ok(_)) => Err(WriteError::Unavailable(reason.clone())),
            (_, result) => result,
        }
    }
    for entry in pending {
        // A client that went away no longer needs its answer; the change stands either way.
        match entry {
            Pending::Created(reply, result) => drop(reply.send(unless_failed(&failure, result))),
            Pending::Changed(reply, result) => drop(reply.send(unless_failed(&failure, result))),
            Pending::Marked(reply, result) => drop(reply.send(unless_failed(&failure, result))),
        }
    }
}
