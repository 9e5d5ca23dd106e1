//! The outbox relay: publishes the journal's events to the broker, in order, and records durably
//! which ones the broker confirmed.
//!
//! A client's 201 never waits for the broker: the event is already in the journal with the
//! change. The relay publishes from the oldest unconfirmed event with confirms and `mandatory`;
//! only when every event of a batch is acknowledged and none came back unroutable does it
//! append a `published_through` record. After a crash it starts again from there, so an event is
//! published at least once (consumers drop duplicates by version). While the broker is away the
//! relay keeps trying with backoff; events still unpublished after the retry budget are written
//! to `failure.json`, and their records get `resolved_at` once they finally go out.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde::{Deserialize, Serialize};
use shared_events::app::settings::AmqpSettings;
use shared_events::app::telemetry::context::TRACEPARENT;
use shared_events::app::telemetry::{self, TraceContext, messaging};
use shared_events::contract::shard::{ConsumerEntry, ServiceShards};
use shared_events::runtime::amqp::connection::worth_logging;
use shared_events::runtime::amqp::{ConfirmedPublisher, OutgoingMessage, Topology};
use shared_events::storage::failure_log::{FailureLog, FailureLogError, FailureRecord};
use tokio_util::sync::CancellationToken;

use crate::SERVICE;
use crate::deliveries::Deliveries;
use crate::store::{OrderStore, PendingEvent};

/// The queue name the relay records its publishing failures under in `failure.json`; a replay
/// of these goes to the fanout exchange, to every consumer.
pub const OUTBOX: &str = "outbox";

/// Outbox tuning (`ORDERS__OUTBOX__...`).
#[derive(Debug, Clone, Deserialize)]
pub struct OutboxSettings {
    /// Whether events are published at all (with the broker as the transport).
    pub enabled: bool,
    /// Events published per confirmed batch.
    pub batch_size: usize,
    /// How long publishing may keep failing, in milliseconds, before the events waiting are
    /// written to `failure.json`: a broker's restart should not leave records to clear up.
    pub failure_after_ms: u64,
    /// The longest pause between two attempts, in milliseconds.
    pub max_backoff_ms: u64,
    /// The consuming services whose queues the relay declares, so that no event published
    /// before a consumer's first start passes it by, each perhaps with its shard count
    /// (`inventory,billing:4,notification`; `ORDERS__SHARDS` unless given).
    pub consumers: Vec<ConsumerEntry>,
}

/// What the relay is doing, for `/health/ready` and for tests.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RelayStatus {
    /// Consecutive failed attempts.
    pub failed_attempts: u32,
    /// The last failure, if the last attempt failed.
    pub last_error: Option<String>,
    /// Events published since start.
    pub published: u64,
}

/// A handle on the relay's status.
pub type SharedRelayStatus = Arc<Mutex<RelayStatus>>;

/// The relay of one order store.
pub struct OutboxRelay {
    store: OrderStore,
    publisher: ConfirmedPublisher,
    topology: Topology,
    failures: FailureLog,
    settings: OutboxSettings,
    status: SharedRelayStatus,
    deliveries: Deliveries,
}

/// Events written to `failure.json` whose publication has not been recorded there yet.
#[derive(Default)]
struct Unresolved {
    recorded: HashSet<String>,
    published: Vec<String>,
}

impl OutboxRelay {
    /// A relay publishing `store`'s events to the namespace's exchange.
    pub fn new(
        store: OrderStore,
        amqp: &AmqpSettings,
        failures: FailureLog,
        settings: OutboxSettings,
        consumers: &[ServiceShards],
        deliveries: Deliveries,
    ) -> OutboxRelay {
        OutboxRelay {
            store,
            publisher: ConfirmedPublisher::declaring(
                amqp.clone(),
                "order-service outbox",
                consumers,
            ),
            topology: Topology::new(&amqp.namespace),
            failures,
            settings,
            status: SharedRelayStatus::default(),
            deliveries,
        }
    }

    /// The relay's status, shared.
    pub fn status(&self) -> SharedRelayStatus {
        Arc::clone(&self.status)
    }

    /// Publishes until `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut unresolved = Unresolved::default();
        let mut failed_attempts = 0u32;
        let mut failing_since: Option<Instant> = None;
        loop {
            let through = self.store.published_through();
            let batch = self
                .store
                .pending_events(through, self.settings.batch_size.max(1));
            if batch.is_empty() {
                metrics::gauge!("outbox_pending_events", "service" => "order").set(0.0);
                metrics::gauge!("outbox_oldest_pending_age_seconds", "service" => "order").set(0.0);
                self.resolve(&mut unresolved).await;
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(()),
                    () = self.store.wait_for_events(through) => continue,
                }
            }
            metrics::gauge!("outbox_pending_events", "service" => "order")
                .set(self.store.pending_count() as f64);
            // The batch starts with the oldest event waiting: the outbox's lag.
            let oldest = batch.first().map_or(0.0, |pending| {
                (Utc::now() - pending.event.time).as_seconds_f64().max(0.0)
            });
            metrics::gauge!("outbox_oldest_pending_age_seconds", "service" => "order").set(oldest);
            let (messages, spans): (Vec<OutgoingMessage>, Vec<tracing::Span>) =
                batch.iter().map(|pending| self.message(pending)).unzip();
            let last = batch.last().map_or(through, |pending| pending.seq);
            let started = Instant::now();
            let published = self.publisher.publish_batch(&messages).await;
            if let Err(error) = &published {
                spans.iter().for_each(|span| telemetry::failed(span, error));
            }
            drop(spans);
            metrics::histogram!("outbox_publish_duration_seconds", "service" => "order")
                .record(started.elapsed().as_secs_f64());
            match published {
                Ok(()) => {
                    metrics::counter!("outbox_published_events_total", "service" => "order")
                        .increment(batch.len() as u64);
                    self.deliveries
                        .published(batch.iter().map(|pending| &*pending.event), Utc::now());
                    // Confirmed by the broker; recording it is an optimisation (a crash before
                    // this only means the batch is published again).
                    if let Err(error) = self.store.mark_published(last).await {
                        tracing::error!(error = %error, "cannot record published events");
                        return Err(error.into());
                    }
                    failed_attempts = 0;
                    failing_since = None;
                    self.update_status(|status| {
                        status.failed_attempts = 0;
                        status.last_error = None;
                        status.published += batch.len() as u64;
                    });
                    for pending in &batch {
                        let id = pending.event.id.to_string();
                        if unresolved.recorded.remove(&id) {
                            unresolved.published.push(id);
                        }
                    }
                    if unresolved.recorded.is_empty() {
                        self.resolve(&mut unresolved).await;
                    }
                }
                Err(error) => {
                    metrics::counter!("outbox_publish_failures_total", "service" => "order")
                        .increment(1);
                    failed_attempts = failed_attempts.saturating_add(1);
                    let since = *failing_since.get_or_insert_with(Instant::now);
                    if worth_logging(u64::from(failed_attempts)) {
                        tracing::warn!(error = %error, attempt = failed_attempts, events = batch.len(), "publishing the outbox failed; will retry");
                    }
                    self.update_status(|status| {
                        status.failed_attempts = failed_attempts;
                        status.last_error = Some(error.to_string());
                    });
                    if since.elapsed() >= Duration::from_millis(self.settings.failure_after_ms) {
                        self.record_failures(
                            &batch,
                            &error.to_string(),
                            failed_attempts,
                            &mut unresolved,
                        )
                        .await;
                    }
                    tokio::select! {
                        () = shutdown.cancelled() => return Ok(()),
                        () = tokio::time::sleep(self.backoff(failed_attempts)) => {}
                    }
                }
            }
        }
    }

    /// The message of `pending`'s event, and the span of publishing it. When traces are
    /// exported, the message's headers name that span, which the consumers continue; otherwise
    /// they carry the event's own trace context.
    fn message(&self, pending: &PendingEvent) -> (OutgoingMessage, tracing::Span) {
        let mut message = OutgoingMessage::order_event(&self.topology, &pending.event);
        let span = messaging::publish_span(
            SERVICE,
            &message.exchange,
            &message.routing_key,
            &pending.event,
        );
        let publishing = TraceContext::of(&span);
        if publishing.is_valid() {
            // The event's own traceparent gives way to the publish span's context.
            message.headers.retain(|(name, _)| name != TRACEPARENT);
            message.headers.extend(publishing.fields());
        }
        (message, span)
    }

    /// Exponential from 50 ms, capped, with jitter so that many relays do not retry in step.
    fn backoff(&self, attempt: u32) -> Duration {
        let exponential = 50u64.saturating_mul(1u64 << attempt.min(16));
        let capped = exponential.min(self.settings.max_backoff_ms.max(50));
        let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0]) * capped / 1024;
        Duration::from_millis(capped - jitter)
    }

    async fn record_failures(
        &self,
        batch: &[PendingEvent],
        reason: &str,
        attempts: u32,
        unresolved: &mut Unresolved,
    ) {
        let now = Utc::now();
        let records: Vec<FailureRecord> = batch
            .iter()
            .filter(|pending| !unresolved.recorded.contains(&pending.event.id.to_string()))
            .map(|pending| FailureRecord {
                id: uuid::Uuid::now_v7().to_string(),
                service: "order-service".to_owned(),
                queue: OUTBOX.to_owned(),
                event_id: Some(pending.event.id.to_string()),
                order_id: Some(pending.event.subject.to_string()),
                reason: format!("not published after {attempts} attempts: {reason}"),
                attempts,
                x_death: serde_json::Value::Null,
                first_failure_at: pending.event.time,
                last_failure_at: now,
                recorded_at: now,
                payload: String::from_utf8_lossy(&pending.event.encode()).into_owned(),
                replays: Vec::new(),
                resolved_at: None,
            })
            .collect();
        if records.is_empty() {
            return;
        }
        let failures = self.failures.clone();
        let written = tokio::task::spawn_blocking(move || {
            for record in &records {
                failures.append(record)?;
            }
            Ok::<_, FailureLogError>(records)
        })
        .await;
        match written {
            Ok(Ok(records)) => {
                tracing::error!(
                    events = records.len(),
                    "events recorded in failure.json; the relay keeps trying"
                );
                unresolved
                    .recorded
                    .extend(records.into_iter().filter_map(|record| record.event_id));
            }
            Ok(Err(error)) => tracing::error!(error = %error, "cannot write failure.json"),
            Err(error) => tracing::error!(error = %error, "failure.json writer panicked"),
        }
    }

    /// Marks recorded failures as published, in one rewrite of `failure.json`.
    async fn resolve(&self, unresolved: &mut Unresolved) {
        if unresolved.published.is_empty() {
            return;
        }
        let published: HashSet<String> = std::mem::take(&mut unresolved.published)
            .into_iter()
            .collect();
        let failures = self.failures.clone();
        let now = Utc::now();
        let result = tokio::task::spawn_blocking(move || {
            failures.update(|record| {
                let matches = record.queue == OUTBOX
                    && record.resolved_at.is_none()
                    && record
                        .event_id
                        .as_ref()
                        .is_some_and(|id| published.contains(id));
                if matches {
                    record.resolved_at = Some(now);
                }
                matches
            })
        })
        .await;
        match result {
            Ok(Ok(count)) => {
                tracing::info!(events = count, "recorded failures were published after all")
            }
            Ok(Err(error)) => tracing::error!(error = %error, "cannot update failure.json"),
            Err(error) => tracing::error!(error = %error, "failure.json writer panicked"),
        }
    }

    fn update_status(&self, change: impl FnOnce(&mut RelayStatus)) {
        change(
            &mut self
                .status
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
    }
}
