//! The embedded consumer runner: a service's [`EventHandler`] fed from the log, with the
//! broker's promises (at-least-once, retries with backoff, dead letters into `failure.json`).
//!
//! Events are handled in log order. A failed event waits for its retry in a timer set while
//! the events after it go on, as with the broker's delay queues; the saved offset stops just
//! before the oldest event still waiting, so a crash hands it (and what followed) over again.
//!
//! A write that fails in the consumer's own storage (a ledger, the offset, `failure.json`, the
//! inbox) ends a run with an I/O error ([`is_disk_failure`]): the events it concerned are
//! neither retried in place (a ledger that failed a write refuses changes until it is opened
//! again from its files) nor given up on (the disk, not the event, is at fault). The caller
//! opens the storage again once the disk takes writes and starts a new run, which reads the log
//! from the saved offset.
//!
//! [`is_disk_failure`]: crate::runtime::disk_health::is_disk_failure

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::app::telemetry::messaging::{self, Processing};
use crate::app::telemetry::{self, TraceContext};
use crate::contract::event::OrderEvent;
use crate::runtime::disk_health::DiskHealth;
use crate::runtime::embedded::EmbeddedLink;
use crate::runtime::embedded::inbox::Inbox;
use crate::runtime::embedded::offset::OffsetFile;
use crate::runtime::handler::{EventHandler, Handled, HandlerError, handle_timed};
use crate::runtime::per_order::per_order;
use crate::runtime::retry::{self, Disposition};
use crate::storage::failure_log::{FailureLog, FailureRecord};

/// Events read from the log at a time.
const BATCH: usize = 256;
/// How often the replay inbox is looked at.
const INBOX_INTERVAL: Duration = Duration::from_secs(1);
/// How long handled events may wait before the offset is saved while the log is quiet. Saving
/// after every event would cost three fsyncs each; a crash only repeats what was not saved.
const SAVE_INTERVAL: Duration = Duration::from_millis(200);

/// Consumes the log with `handler` from the offset saved in `data_dir` until `shutdown`.
/// Returns `Err` when the consumer's storage fails: something that must not be lost cannot be
/// written (the offset, a failure record), or a handler failed while `ledgers_writable` says a
/// ledger has failed a write. The events concerned are not passed: the offset saved on the way
/// out stops before them, so the next run hands them over again. Once a run has handled a
/// batch and saved its offset, `disk` is marked recovered.
pub async fn run_embedded_consumer<H: EventHandler>(
    handler: Arc<H>,
    link: EmbeddedLink,
    data_dir: &Path,
    failure_log: Arc<FailureLog>,
    ledgers_writable: &(dyn Fn() -> bool + Sync),
    disk: &DiskHealth,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let service = H::SERVICE;
    let offset = OffsetFile::in_dir(data_dir);
    let saved = {
        let offset = offset.clone();
        tokio::task::spawn_blocking(move || offset.load())
            .await
            .context("the offset reader panicked")?
            .with_context(|| format!("failed to read the {service} offset"))?
    };
    link.saved_offset.send_replace(saved);
    let mut runner = Runner {
        handler,
        link,
        failure_log,
        ledgers_writable,
        disk,
        offset,
        inbox: Inbox::in_dir(data_dir),
        read: saved,
        saved,
        saved_at: Instant::now(),
        waiting: BTreeMap::new(),
        waiting_seqs: BTreeSet::new(),
        next_key: 0,
    };
    tracing::info!(service, offset = saved, "consuming the embedded log");
    let result = runner.run(&shutdown).await;
    // Whatever happened, keep the progress made.
    let saved = runner.save(true).await;
    tracing::info!(service, "embedded consumer stopped");
    result.and(saved)
}

struct Runner<'a, H> {
    handler: Arc<H>,
    link: EmbeddedLink,
    failure_log: Arc<FailureLog>,
    /// False once a ledger of the handler's has failed a write.
    ledgers_writable: &'a (dyn Fn() -> bool + Sync),
    disk: &'a DiskHealth,
    offset: OffsetFile,
    inbox: Inbox,
    /// The last log position handed to the handler.
    read: u64,
    /// The last position saved.
    saved: u64,
    saved_at: Instant,
    /// Deliveries waiting for their retry, by due time.
    waiting: BTreeMap<(Instant, u64), Delivery>,
    /// Log positions of the deliveries waiting: the offset cannot pass the first.
    waiting_seqs: BTreeSet<u64>,
    next_key: u64,
}

/// One event on its way through the handler.
struct Delivery {
    event: Arc<OrderEvent>,
    /// Where it came from: its log position, or its replay inbox file.
    origin: Origin,
    /// Failed attempts so far.
    attempts: u32,
    first_failure_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
enum Origin {
    Log(u64),
    Inbox(PathBuf),
}

impl<H: EventHandler> Runner<'_, H> {
    async fn run(&mut self, shutdown: &CancellationToken) -> anyhow::Result<()> {
        let mut next_inbox_look = Instant::now();
        loop {
            if shutdown.is_cancelled() {
                return Ok(());
            }
            self.retry_due().await?;
            if Instant::now() >= next_inbox_look {
                self.take_inbox().await?;
                next_inbox_look = Instant::now() + INBOX_INTERVAL;
            }
            let batch = self.link.log.events_after(self.read, BATCH);
            let full = batch.len() == BATCH;
            if let Some(last) = batch.last() {
                self.read = last.seq;
            }
            let deliveries = batch
                .into_iter()
                .map(|logged| Delivery {
                    event: logged.event,
                    origin: Origin::Log(logged.seq),
                    attempts: 0,
                    first_failure_at: None,
                })
                .collect();
            self.attempt_all(deliveries).await?;
            self.save(false).await?;
            self.disk.recovered();
            if full {
                continue;
            }
            let mut wake = next_inbox_look;
            if let Some(((due, _), _)) = self.waiting.first_key_value() {
                wake = wake.min(*due);
            }
            if self.committable() > self.saved {
                wake = wake.min(self.saved_at + SAVE_INTERVAL);
            }
            let log = Arc::clone(&self.link.log);
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = log.wait_for_events(self.read) => {}
                () = tokio::time::sleep_until(wake) => {}
            }
        }
    }

    /// Hands deliveries to the handler: one order's events one after another, in order,
    /// different orders side by side (so that their durable writes share fsyncs); then deals
    /// with each result in the order the deliveries came.
    async fn attempt_all(&mut self, deliveries: Vec<Delivery>) -> anyhow::Result<()> {
        let handler = &self.handler;
        let handled = per_order(
            deliveries.len(),
            |index| Some(deliveries[index].event.subject),
            |index| {
                let event = &deliveries[index].event;
                let span = delivery_span::<H>(event);
                async move {
                    let handled = handle_timed(handler.as_ref(), event)
                        .instrument(span.clone())
                        .await;
                    (handled, span)
                }
            },
        )
        .await;
        // A handler that failed while a ledger refuses writes failed for the ledger's sake:
        // its event waits for the ledger to be opened again, whatever the error said.
        let ledger_failed =
            handled.iter().any(|(result, _)| result.is_err()) && !(self.ledgers_writable)();
        let mut held = None;
        for (delivery, (result, span)) in deliveries.into_iter().zip(handled) {
            match result {
                Err(error) if ledger_failed => {
                    self.hold(delivery, &error, &span);
                    held.get_or_insert(error);
                }
                result => self.settle(delivery, result).instrument(span).await?,
            }
        }
        match held {
            // The ledger's own error, an I/O error, reached here as the handler's text.
            Some(error) => Err(anyhow::Error::new(io::Error::other(format!(
                "a {} ledger failed a write: {error}",
                H::SERVICE
            )))),
            None => Ok(()),
        }
    }

    /// Keeps `delivery`, which failed with `error` because its ledger cannot write, for the
    /// next run: reported as retrying with the error (what the order page shows), its attempt
    /// not counted, and waiting, so that the offset saved on the way out stops before it.
    fn hold(&mut self, delivery: Delivery, error: &HandlerError, span: &tracing::Span) {
        telemetry::failed(span, error);
        let attempts = delivery.attempts.saturating_add(1);
        let disposition = Disposition::Retry {
            attempts,
            delay_ms: 0,
            error: error.to_string(),
        };
        let outcome = retry::outcome(
            H::SERVICE,
            &delivery.event,
            Err(error.clone()),
            Some(&disposition),
            attempts,
        );
        self.link.outcomes.report(outcome);
        self.wait(delivery, Duration::ZERO);
    }

    /// Deals with the handler's result for `delivery`: reports it, then finishes the delivery,
    /// schedules its retry, or records it as failed.
    async fn settle(
        &mut self,
        mut delivery: Delivery,
        result: Result<Handled, HandlerError>,
    ) -> anyhow::Result<()> {
        let event = Arc::clone(&delivery.event);
        let disposition = result
            .as_ref()
            .err()
            .map(|error| self.link.retry.after_failure(delivery.attempts, error));
        let attempts = delivery.attempts.saturating_add(1);
        let outcome = retry::outcome(H::SERVICE, &event, result, disposition.as_ref(), attempts);
        match disposition {
            None => {}
            Some(Disposition::Retry {
                attempts,
                delay_ms,
                error,
            }) => {
                tracing::warn!(attempts, delay_ms, %error, "handler failed; retrying later");
                telemetry::failed(&tracing::Span::current(), &error);
                self.link.outcomes.report(outcome);
                delivery.attempts = attempts;
                delivery.first_failure_at.get_or_insert_with(Utc::now);
                self.wait(delivery, Duration::from_millis(delay_ms));
                return Ok(());
            }
            Some(Disposition::DeadLetter { attempts, reason }) => {
                tracing::error!(attempts, %reason, "giving up on the event; recording it in failure.json");
                if let Err(error) = self.dead_letter(&delivery, attempts, &reason).await {
                    // Not recorded, so not passed: the next run hands it over again.
                    self.wait(delivery, Duration::ZERO);
                    return Err(error);
                }
            }
        }
        self.link.outcomes.report(outcome);
        self.finish(delivery.origin).await
    }

    fn wait(&mut self, delivery: Delivery, delay: Duration) {
        if let Origin::Log(seq) = delivery.origin {
            self.waiting_seqs.insert(seq);
        }
        // A counter keeps keys unique when two retries fall due at the same instant.
        self.next_key += 1;
        self.waiting
            .insert((Instant::now() + delay, self.next_key), delivery);
    }

    async fn retry_due(&mut self) -> anyhow::Result<()> {
        let mut due = Vec::new();
        while let Some(entry) = self.waiting.first_entry() {
            if entry.key().0 > Instant::now() {
                break;
            }
            let delivery = entry.remove();
            if let Origin::Log(seq) = delivery.origin {
                self.waiting_seqs.remove(&seq);
            }
            due.push(delivery);
        }
        self.attempt_all(due).await
    }

    /// The event's fate is final: a replayed event leaves the inbox.
    async fn finish(&mut self, origin: Origin) -> anyhow::Result<()> {
        if let Origin::Inbox(path) = origin {
            tokio::fs::remove_file(&path)
                .await
                .with_context(|| format!("failed to remove {}", path.display()))?;
        }
        Ok(())
    }

    async fn dead_letter(
        &self,
        delivery: &Delivery,
        attempts: u32,
        reason: &str,
    ) -> anyhow::Result<()> {
        let now = Utc::now();
        let event = &delivery.event;
        let record = FailureRecord {
            id: uuid::Uuid::now_v7().to_string(),
            service: H::SERVICE.to_owned(),
            queue: H::SERVICE.to_owned(),
            event_id: Some(event.id.to_string()),
            order_id: Some(event.subject.to_string()),
            reason: reason.to_owned(),
            attempts,
            x_death: serde_json::Value::Null,
            first_failure_at: delivery.first_failure_at.unwrap_or(now),
            last_failure_at: now,
            recorded_at: now,
            payload: String::from_utf8_lossy(&event.encode()).into_owned(),
            replays: Vec::new(),
            resolved_at: None,
        };
        self.failure_log
            .append_async(record)
            .await
            .context("failed to record a failed event in failure.json")
    }

    /// Picks up replayed events. A file that is not an event (written by hand, say) is set
    /// aside with a `.rejected` suffix and an error in the log, rather than retried forever.
    async fn take_inbox(&mut self) -> anyhow::Result<()> {
        let inbox = self.inbox.clone();
        let entries = tokio::task::spawn_blocking(move || inbox.entries())
            .await
            .context("the inbox reader panicked")?
            .context("failed to read the replay inbox")?;
        let waiting: BTreeSet<PathBuf> = self
            .waiting
            .values()
            .filter_map(|delivery| match &delivery.origin {
                Origin::Inbox(path) => Some(path.clone()),
                Origin::Log(_) => None,
            })
            .collect();
        for entry in entries {
            if waiting.contains(&entry.path) {
                continue;
            }
            match entry.event {
                Ok(event) => {
                    tracing::info!(event_id = %event.id, "handling a replayed event");
                    let delivery = Delivery {
                        event: Arc::new(event),
                        origin: Origin::Inbox(entry.path),
                        attempts: 0,
                        first_failure_at: None,
                    };
                    self.attempt_all(vec![delivery]).await?;
                }
                Err(error) => {
                    tracing::error!(path = %entry.path.display(), %error, "not an event; setting it aside");
                    let mut rejected = entry.path.clone().into_os_string();
                    rejected.push(".rejected");
                    tokio::fs::rename(&entry.path, &rejected).await?;
                }
            }
        }
        Ok(())
    }

    /// The position every event up to which is handled for good.
    fn committable(&self) -> u64 {
        match self.waiting_seqs.first() {
            Some(first) => first.saturating_sub(1).min(self.read),
            None => self.read,
        }
    }

    /// Saves the offset if it moved and (unless `now`) the last save is old enough or much
    /// was handled since, then tells the log's retention.
    async fn save(&mut self, now: bool) -> anyhow::Result<()> {
        let through = self.committable();
        if through <= self.saved {
            return Ok(());
        }
        let due =
            now || self.saved_at.elapsed() >= SAVE_INTERVAL || through - self.saved >= BATCH as u64;
        if !due {
            return Ok(());
        }
        let offset = self.offset.clone();
        tokio::task::spawn_blocking(move || offset.save(through))
            .await
            .context("the offset writer panicked")?
            .context("failed to save the offset")?;
        self.saved = through;
        self.saved_at = Instant::now();
        self.link.saved_offset.send_replace(through);
        Ok(())
    }
}

/// The span one delivery is handled in: when traces are exported, the processing span of the
/// messaging conventions, a child of the context the event carries.
fn delivery_span<H: EventHandler>(event: &OrderEvent) -> tracing::Span {
    let span = tracing::info_span!(
        "embedded delivery",
        service = H::SERVICE,
        event_id = %event.id,
        order_id = %event.subject,
        traceparent = event.traceparent.as_deref().unwrap_or(""),
        otel.name = tracing::field::Empty,
        otel.kind = tracing::field::Empty,
    );
    if telemetry::exporting() {
        let message_id = event.id.to_string();
        let processing = Processing {
            service: H::SERVICE,
            system: messaging::EMBEDDED,
            destination: H::SERVICE,
            message_id: Some(&message_id),
        };
        let parent = TraceContext::from_traceparent(event.traceparent.as_deref());
        messaging::process(&span, processing, &parent);
    }
    span
}
