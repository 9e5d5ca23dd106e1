//! Each order's delivery timeline: for every event, when it was published and what each
//! consuming service did with it (applied, skipped, retrying, failed, with the reason).
//!
//! Entries arrive from the transport (the outbox relay or the embedded log says "published";
//! consumers report [`DeliveryOutcome`]s, in process or over the broker's outcomes queue) and
//! are kept in a [`DurableState`] of their own, written by one task in batches, so a burst of
//! outcomes costs one fsync. Every change is announced on a broadcast channel by order id, which
//! the web page's live updates follow.

mod timeline;

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use shared_events::OrderEvent;
use shared_events::contract::outcome::DeliveryOutcome;
use shared_events::runtime::OutcomeSink;
use shared_events::storage::durable_state::{DurableState, DurableStateError};
use shared_events::storage::journal_metrics::JournalMetrics;

use crate::outcome_listener::OutcomeStore;
use tokio::sync::{broadcast, mpsc, oneshot};
use uuid::Uuid;

use self::timeline::Timelines;
pub use self::timeline::{DeliveryEntry, EventTimeline, OrderTimeline, ServiceDelivery};

/// Entries written per transaction, at most.
const BATCH: usize = 1024;

/// A handle on the delivery timelines; cheap to clone.
#[derive(Clone)]
pub struct Deliveries {
    state: DurableState<Timelines>,
    writes: mpsc::UnboundedSender<Write>,
    changed: broadcast::Sender<Uuid>,
    services: Arc<[String]>,
}

/// The timelines' folder inside the order service's data directory.
pub const DIR: &str = "deliveries";

/// The timelines' files there: `deliveries.json` and `deliveries-journal.jsonl`.
pub const NAME: &str = "deliveries";

struct Write {
    entries: Vec<DeliveryEntry>,
    done: Option<oneshot::Sender<Result<(), String>>>,
}

impl Deliveries {
    /// Opens the timelines kept in `dir` (a directory of their own, which they lock), expecting
    /// outcomes from `services`. Must be called within a tokio runtime: it starts the writer.
    pub fn open(dir: &Path, services: &[String]) -> Result<Deliveries, DurableStateError> {
        let state =
            DurableState::open_reporting(dir, NAME, JournalMetrics::of("order", "deliveries"))?;
        let (writes, queue) = mpsc::unbounded_channel();
        let (changed, _) = broadcast::channel(1024);
        tokio::spawn(write_batches(state.clone(), queue, changed.clone()));
        Ok(Deliveries {
            state,
            writes,
            changed,
            services: services.iter().cloned().collect(),
        })
    }

    /// The services whose outcomes the timeline expects, in display order.
    pub fn services(&self) -> &[String] {
        &self.services
    }

    /// The timeline of `order_id`: every event known for it, oldest first; `None` if none is.
    pub fn timeline(&self, order_id: Uuid) -> Option<OrderTimeline> {
        self.state
            .read(|timelines| timelines.order(order_id, &self.services))
    }

    /// Order ids whose timeline changed, as they change. A receiver that falls behind gets
    /// `Lagged` and should re-read what it shows.
    pub fn subscribe(&self) -> broadcast::Receiver<Uuid> {
        self.changed.subscribe()
    }

    /// Notes that `events` reached the transport at `at`, without waiting for the write.
    pub fn published<'a>(
        &self,
        events: impl IntoIterator<Item = &'a OrderEvent>,
        at: DateTime<Utc>,
    ) {
        let entries = events
            .into_iter()
            .map(|event| DeliveryEntry::Published {
                event_id: event.id,
                event_type: event.kind,
                order_id: event.subject,
                sequence: event.sequence,
                event_time: event.time,
                changed_by: event.data.order.changed_by.clone(),
                at,
            })
            .collect();
        self.send(entries, None);
    }

    /// Waits until everything sent so far is written, then closes the timelines and releases
    /// their directory; later entries are refused (and logged).
    pub async fn close(&self) {
        let (done, written) = oneshot::channel();
        self.send(Vec::new(), Some(done));
        let _ = written.await;
        self.state.close();
    }

    /// Records `outcomes` and waits until they are durable.
    pub async fn record(&self, outcomes: Vec<DeliveryOutcome>) -> Result<(), String> {
        let (done, written) = oneshot::channel();
        let entries = outcomes.into_iter().map(DeliveryEntry::Outcome).collect();
        self.send(entries, Some(done));
        written
            .await
            .unwrap_or_else(|_| Err("the delivery timeline writer stopped".to_owned()))
    }

    fn send(&self, entries: Vec<DeliveryEntry>, done: Option<oneshot::Sender<Result<(), String>>>) {
        if let Err(unsent) = self.writes.send(Write { entries, done })
            && let Some(done) = unsent.0.done
        {
            let _ = done.send(Err("the delivery timeline writer stopped".to_owned()));
        }
    }
}

impl OutcomeStore for Deliveries {
    async fn record(&self, outcomes: Vec<DeliveryOutcome>) -> Result<(), String> {
        Deliveries::record(self, outcomes).await
    }
}

impl OutcomeSink for Deliveries {
    fn report(&self, outcome: DeliveryOutcome) {
        self.send(vec![DeliveryEntry::Outcome(outcome)], None);
    }
}

/// The writer: takes every queued write (up to [`BATCH`] entries), makes them durable in one
/// transaction, answers the waiters, then announces the orders that changed.
async fn write_batches(
    state: DurableState<Timelines>,
    mut queue: mpsc::UnboundedReceiver<Write>,
    changed: broadcast::Sender<Uuid>,
) {
    let mut batch = Vec::new();
    while queue.recv_many(&mut batch, BATCH).await > 0 {
        let mut entries = Vec::new();
        let mut waiters = Vec::new();
        for write in batch.drain(..) {
            entries.extend(write.entries);
            waiters.extend(write.done);
        }
        let mut orders: Vec<Uuid> = entries.iter().map(DeliveryEntry::order_id).collect();
        orders.sort_unstable();
        orders.dedup();
        let result = state
            .transact(move |_| (Some(entries), ()))
            .await
            .map_err(|error| error.to_string());
        if let Err(error) = &result {
            tracing::error!(%error, "cannot record delivery outcomes");
        }
        for waiter in waiters {
            let _ = waiter.send(result.clone());
        }
        if result.is_ok() {
            for order in orders {
                // No receiver is not an error: nobody is watching.
                let _ = changed.send(order);
            }
        }
    }
}
