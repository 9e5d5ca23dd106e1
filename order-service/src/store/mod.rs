//! The order store: every order in memory, every change in an fsync'd journal first.
//!
//! Reads never wait: they load the latest published [`StoreState`], an immutable persistent map.
//! Changes go as commands to one writer thread ([`writer`]), which appends them to the journal in
//! batches and fsyncs once per batch before anyone is answered. When the journal has grown as
//! large as the snapshot, the writer starts a new segment and the [`compactor`] writes a new
//! `orders.json` from a copy of the state that costs nothing to take.
//!
//! The store decides nothing about orders: the domain turns each change into its event, and the
//! store appends that event, with the order's new state inside it, as one journal record.
//!
//! # Layout
//!
//! - `writer`: the thread that checks, appends, fsyncs and answers each batch of commands.
//! - `commit_span`: the span of each group commit, when traces are exported.
//! - `record`: one journal line ([`PendingEvent`], [`IdempotencyStamp`]).
//! - `state`: the orders in memory, as of one record.
//! - `list_query`: which orders a list asks for ([`ListQuery`]), and the [`Page`] that answers.
//! - `event_log`: the store as the embedded transport's log of events.
//! - `files`, `snapshot`, `compactor`: the files on disk, `orders.json`, and folding the
//!   journal into it.
//! - `recovery`: reading the files back strictly at open: no record skipped, none repeated, no
//!   segment missing; refused with the file and byte offset otherwise.
//! - `data_check`: what `data check` and `data repair` do for the store ([`check`], [`repair`]).
//! - `fixtures` (tests only): stores with a history on disk, and what they hold.

mod commit_span;
mod compactor;
mod data_check;
mod event_log;
mod files;
mod list_query;
mod record;
mod recovery;
mod snapshot;
mod state;
mod writer;

#[cfg(test)]
mod fixtures;

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use shared_events::Order;
use shared_events::storage::data_check::Problem;
use shared_events::storage::data_dir::{DataDirError, DataDirLock};
use shared_events::storage::journal::JournalError;
use shared_events::storage::journal_metrics::JournalMetrics;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

pub use self::data_check::{check, repair};
pub use self::list_query::{ListQuery, Page};
pub use self::record::{IdempotencyStamp, PendingEvent};

use self::files::StoreFiles;
pub(crate) use self::list_query::ListText;
use self::state::StoreState;
use self::writer::{Command, Writer};
use crate::domain::{ChangeOrigin, NewOrder, OrderPatch, PatchRejected};

/// A handle on the order store; cheap to clone, shared by every request.
#[derive(Clone)]
pub struct OrderStore {
    shared: Arc<Shared>,
    commands: mpsc::Sender<Command>,
}

/// Tuning of the store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// The journal size from which a compaction may start; it also waits until the journal is as
    /// large as the last snapshot.
    pub compact_after_bytes: u64,
    /// How long an `Idempotency-Key` is remembered.
    pub idempotency_ttl: Duration,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            compact_after_bytes: 64 << 20,
            idempotency_ttl: Duration::from_secs(24 * 60 * 60),
        }
    }
}

/// The result of a create.
#[derive(Debug, Clone)]
pub struct Created {
    /// The order (for a replay: as the first response showed it).
    pub order: Arc<Order>,
    /// True when an earlier request with the same `Idempotency-Key` created it.
    pub replayed: bool,
}

/// An `If-Match` condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// `*`: any current version.
    Any,
    /// One of these versions.
    Versions(Vec<u64>),
}

impl IfMatch {
    /// Whether an order at `version` satisfies the condition.
    pub fn matches(&self, version: u64) -> bool {
        match self {
            IfMatch::Any => true,
            IfMatch::Versions(versions) => versions.contains(&version),
        }
    }
}

/// Why a change was not made. Each variant's doc names the HTTP status it becomes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// 404: no such order.
    #[error("no order with id {0}")]
    NotFound(Uuid),
    /// 409: the order's state does not allow the change.
    #[error(transparent)]
    Rejected(#[from] PatchRejected),
    /// 412: `If-Match` names another version.
    #[error("the order is at version {current}; If-Match names another")]
    PreconditionFailed {
        /// The order's current version.
        current: u64,
    },
    /// 422: the `Idempotency-Key` was used with another request body.
    #[error("Idempotency-Key `{0}` was already used with a different request")]
    IdempotencyKeyReused(String),
    /// 503: the store cannot write.
    #[error("the order store cannot write: {0}")]
    Unavailable(String),
}

/// Why the store cannot open.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The data directory is locked or unusable.
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    /// A file is damaged, missing, or disagrees with another: nothing was changed, and
    /// `data check` lists every such problem.
    #[error("the order store's files are damaged or do not add up: {0}")]
    Damaged(Problem),
    /// A journal segment cannot be opened or written to finish what a crash interrupted.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// Listing or cleaning the data directory failed.
    #[error("data directory: {0}")]
    Io(#[from] std::io::Error),
}

/// What the writer publishes for readers and health checks.
pub(crate) struct Shared {
    state: ArcSwap<StoreState>,
    failure: AtomicBool,
    snapshot_bytes: AtomicU64,
    failed_compactions: AtomicU64,
    outbox_changed: tokio::sync::Notify,
    journal_metrics: JournalMetrics,
}

impl OrderStore {
    /// Opens the store in `dir`: locks it, loads the snapshot, replays the journal, and starts
    /// the writer thread. Files that do not add up are refused, unchanged (see `recovery`);
    /// only an unfinished last record is cut.
    pub fn open(dir: &Path, options: StoreOptions) -> Result<OrderStore, StoreError> {
        let lock = DataDirLock::acquire(dir)?;
        let files = StoreFiles::new(dir);
        let recovery::Opened {
            state,
            journal,
            segment,
            snapshot_bytes,
        } = recovery::open_files(&files)?;
        tracing::info!(
            orders = state.orders.len(),
            last_seq = state.last_seq,
            "order store opened"
        );

        let mut expiry: Vec<_> = state
            .idempotency
            .values()
            .map(|entry| (entry.created_at, entry.key.clone()))
            .collect();
        expiry.sort();
        let shared = Arc::new(Shared {
            state: ArcSwap::from_pointee(state.clone()),
            failure: AtomicBool::new(false),
            snapshot_bytes: AtomicU64::new(snapshot_bytes),
            failed_compactions: AtomicU64::new(0),
            outbox_changed: tokio::sync::Notify::new(),
            journal_metrics: JournalMetrics::of("order", "orders"),
        });
        shared.journal_metrics.sized(journal.len());
        let (sender, receiver) = mpsc::channel(4096);
        let writer = Writer {
            commands: receiver,
            shared: Arc::clone(&shared),
            committed: state,
            journal,
            segment,
            files,
            options,
            compaction: Default::default(),
            idempotency_expiry: VecDeque::from(expiry),
            _lock: lock,
        };
        std::thread::Builder::new()
            .name("order-writer".to_owned())
            .spawn(move || writer.run())?;
        Ok(OrderStore {
            shared,
            commands: sender,
        })
    }

    /// The order with `id`, if it exists.
    pub fn get(&self, id: Uuid) -> Option<Arc<Order>> {
        self.shared.state.load().orders.get(&id).cloned()
    }

    /// A page of orders, newest first.
    pub fn list(&self, query: &ListQuery) -> Page {
        self.shared.state.load().list(query)
    }

    /// How many orders are stored.
    pub fn len(&self) -> usize {
        self.shared.state.load().orders.len()
    }

    /// True when no order is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// False once a journal write has failed: the store then refuses changes.
    pub fn is_writable(&self) -> bool {
        !self.has_failed_a_write() && !self.commands.is_closed()
    }

    /// True once a journal write (or its fsync) has failed: only a restart, which recovers
    /// from the files, makes the store writable again.
    pub fn has_failed_a_write(&self) -> bool {
        self.shared.failure.load(Ordering::SeqCst)
    }

    /// Stores a new order; answers once it is durable. `origin` says who asked (the order's
    /// version records it) and the request's W3C trace context (the order's event carries it).
    pub async fn create(
        &self,
        order: NewOrder,
        idempotency: Option<IdempotencyStamp>,
        origin: ChangeOrigin,
    ) -> Result<Created, WriteError> {
        let created = self
            .request(|reply| Command::Create {
                order,
                idempotency,
                origin,
                reply,
            })
            .await?;
        if !created.replayed {
            count_change("created");
        }
        Ok(created)
    }

    /// Applies a patch to an order; answers once the change is durable.
    pub async fn update(
        &self,
        id: Uuid,
        patch: OrderPatch,
        if_match: Option<IfMatch>,
        origin: ChangeOrigin,
    ) -> Result<Arc<Order>, WriteError> {
        let updated = self
            .request(|reply| Command::Update {
                id,
                patch,
                if_match,
                origin,
                reply,
            })
            .await?;
        count_change("updated");
        Ok(updated)
    }

    /// Deletes an order; answers with its last state once the deletion is durable.
    pub async fn delete(
        &self,
        id: Uuid,
        if_match: Option<IfMatch>,
        origin: ChangeOrigin,
    ) -> Result<Arc<Order>, WriteError> {
        let deleted = self
            .request(|reply| Command::Delete {
                id,
                if_match,
                origin,
                reply,
            })
            .await?;
        count_change("deleted");
        Ok(deleted)
    }

    /// Up to `limit` events waiting in the outbox after record `after`, oldest first.
    pub fn pending_events(&self, after: u64, limit: usize) -> Vec<PendingEvent> {
        self.shared.state.load().pending_events(after, limit)
    }

    /// How many events wait in the outbox.
    pub fn pending_count(&self) -> usize {
        self.shared.state.load().outbox.len()
    }

    /// The record up to which every event is published.
    pub fn published_through(&self) -> u64 {
        self.shared.state.load().published_through
    }

    /// Resolves once the outbox holds an event after record `after`.
    pub async fn wait_for_events(&self, after: u64) {
        loop {
            // Registered before the check, so a commit between the check and the wait still wakes us.
            let notified = self.shared.outbox_changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if !self.pending_events(after, 1).is_empty() {
                return;
            }
            notified.await;
        }
    }

    /// Records durably that the broker confirmed every event up to record `through`.
    pub async fn mark_published(&self, through: u64) -> Result<(), WriteError> {
        self.request(|reply| Command::MarkPublished { through, reply })
            .await
    }

    /// How many compactions failed since the store opened. Nothing is lost by one: the journal
    /// keeps every record until a later compaction succeeds.
    pub fn failed_compactions(&self) -> u64 {
        self.shared.failed_compactions.load(Ordering::Relaxed)
    }

    /// Resolves once the writes already sent are done and the compaction they may have started
    /// has finished: how tests let the background work run out instead of sleeping.
    pub async fn finish_compaction(&self) {
        let (done, finished) = oneshot::channel();
        if self
            .commands
            .send(Command::FinishCompaction { done })
            .await
            .is_ok()
        {
            let _ = finished.await;
        }
    }

    /// Finishes the writes already sent, waits for a running compaction, and releases the data
    /// directory. Later requests are refused.
    pub async fn shutdown(&self) {
        let (done, finished) = oneshot::channel();
        if self.commands.send(Command::Shutdown { done }).await.is_ok() {
            let _ = finished.await;
        }
    }

    async fn request<T>(
        &self,
        command: impl FnOnce(writer::Reply<T>) -> Command,
    ) -> Result<T, WriteError> {
        let (reply, answer) = oneshot::channel();
        let closed = || WriteError::Unavailable("the order store is shut down".to_owned());
        self.commands
            .send(command(reply))
            .await
            .map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }
}

/// Counts a durable change of an order (`order_changes_total`, by `change`).
fn count_change(change: &'static str) {
    metrics::counter!("order_changes_total", "service" => "order", "change" => change).increment(1);
}
