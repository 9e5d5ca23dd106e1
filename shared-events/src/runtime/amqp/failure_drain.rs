//! The failure drain: moves a service's dead letters into its `failure.json`.
//!
//! Two kinds arrive in `NS.<service>.dead-letter`: the runner's own (with `x-failure-reason`,
//! `x-attempts` and failure times in their headers) and the broker's, dead-lettered when the
//! quorum queue's delivery limit ran out (only `x-death` says why). Each becomes one record,
//! appended durably before the message is acked; a runner's dead letter delivered twice is
//! recognised by its `x-failure-id` and recorded once.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lapin::Connection;
use lapin::message::Delivery;
use tokio_util::sync::CancellationToken;

use crate::app::settings::AmqpSettings;
use crate::contract::shard::ShardCount;
use crate::runtime::amqp::broker_link::BrokerLink;
use crate::runtime::amqp::connection::{reconnect_backoff, worth_logging};
use crate::runtime::amqp::headers::{
    self, ATTEMPTS, FAILURE_ID, FAILURE_REASON, FIRST_FAILURE_AT, LAST_FAILURE_AT, ORIGINAL_QUEUE,
};
use crate::runtime::amqp::subscription::{Next, Subscription};
use crate::runtime::amqp::supervisor::{Session, SessionError, set_up, supervise};
use crate::runtime::amqp::topology::Topology;
use crate::storage::failure_log::{FailureLog, FailureRecord};

/// The `x-death` reason RabbitMQ gives when a quorum queue's delivery limit is exceeded.
const DELIVERY_LIMIT: &str = "delivery_limit";

/// Consumes `NS.<service>.dead-letter` until `shutdown`, reconnecting after failures, and
/// appends one record per message to `log` before acking it. Declares the service's whole
/// topology, for its `shards`, on every connection (after checking the broker's shard count).
/// Every replica of a service runs one: `failure.json` takes appends from several processes.
/// Tells `link` whether it is connected.
pub async fn run_failure_drain(
    settings: AmqpSettings,
    service: &'static str,
    shards: ShardCount,
    log: Arc<FailureLog>,
    link: BrokerLink,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut session = DrainSession {
        topology: Topology::new(&settings.namespace),
        settings: settings.clone(),
        service,
        shards,
        log,
        shutdown: shutdown.clone(),
    };
    let result = supervise(
        &settings,
        &format!("{service}-failure-drain"),
        &link,
        &shutdown,
        &mut session,
    )
    .await;
    tracing::info!(service, "failure drain stopped");
    result
}

struct DrainSession {
    topology: Topology,
    settings: AmqpSettings,
    service: &'static str,
    shards: ShardCount,
    log: Arc<FailureLog>,
    shutdown: CancellationToken,
}

impl Session for DrainSession {
    async fn run(&mut self, connection: &Connection) -> Result<(), SessionError> {
        let queue = self.topology.dead_letter_queue(self.service);
        let work = async {
            self.topology
                .declare_consumer_on(connection, self.service, self.shards, &self.settings)
                .await?;
            let subscription =
                Subscription::start(connection, &queue, self.service, self.settings.prefetch)
                    .await?;
            Ok::<_, SessionError>(subscription)
        };
        let Some(mut subscription) =
            set_up("setting up the failure drain", &self.shutdown, work).await?
        else {
            return Ok(());
        };
        tracing::info!(service = self.service, queue, "draining dead letters");
        let ack_timeout = Duration::from_millis(self.settings.publish_timeout_ms);
        while let Next::Delivery(delivery) = subscription.next(&self.shutdown).await? {
            let record = failure_record(
                &delivery,
                self.service,
                &self.topology,
                &self.settings,
                Utc::now(),
            );
            if !self.record(record).await {
                // Shutdown came while the log refused the record: the message stays unacked
                // and returns to its queue when the channel closes.
                break;
            }
            subscription.ack(&delivery, ack_timeout).await?;
        }
        // Prefetched dead letters go back to their queue, which has no delivery limit.
        subscription.close().await;
        Ok(())
    }
}

impl DrainSession {
    /// Appends `record`, retrying with backoff while the log fails (a full disk, say); returns
    /// false if shutdown came first.
    async fn record(&self, record: FailureRecord) -> bool {
        let mut backoff = reconnect_backoff();
        let mut failures_in_a_row = 0_u64;
        loop {
            match self.log.append_unique_async(record.clone()).await {
                Ok(appended) => {
                    tracing::error!(
                        service = self.service,
                        failure_id = %record.id,
                        event_id = ?record.event_id,
                        order_id = ?record.order_id,
                        reason = %record.reason,
                        attempts = record.attempts,
                        duplicate = !appended,
                        "message recorded in the failure log"
                    );
                    return true;
                }
                Err(error) => {
                    let delay = backoff.next().unwrap_or(Duration::from_secs(1));
                    failures_in_a_row += 1;
                    if worth_logging(failures_in_a_row) {
                        tracing::error!(%error, ?delay, failures_in_a_row, "cannot append to the failure log; trying again");
                    }
                    tokio::select! {
                        () = self.shutdown.cancelled() => return false,
                        () = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }
}

/// The record for a dead letter, from its headers and body.
pub(crate) fn failure_record(
    delivery: &Delivery,
    service: &str,
    topology: &Topology,
    settings: &AmqpSettings,
    now: DateTime<Utc>,
) -> FailureRecord {
    let properties = &delivery.properties;
    let deaths = headers::deaths(properties);
    let death_times = deaths.iter().filter_map(|death| death.time);
    let prior_attempts = headers::count(properties, ATTEMPTS);
    let (reason, queue, attempts) = match headers::text(properties, FAILURE_REASON) {
        Some(reason) => (
            reason,
            headers::text(properties, ORIGINAL_QUEUE)
                .unwrap_or_else(|| topology.shard_exchange(service)),
            prior_attempts.unwrap_or(1),
        ),
        // Dead-lettered by the broker: x-death's newest entry says from where and why.
        None => match deaths.first() {
            Some(death) => {
                // A delivery limit of n means n + 1 deliveries, each one a handler attempt;
                // the broker resets x-delivery-count when it dead-letters, so count from the
                // setting, on top of the attempts of earlier retry rounds.
                let deliveries = if death.reason == DELIVERY_LIMIT {
                    settings.delivery_limit.saturating_add(1)
                } else {
                    1
                };
                (
                    format!(
                        "{} (dead-lettered by the broker from {})",
                        death.reason, death.queue
                    ),
                    death.queue.clone(),
                    prior_attempts.unwrap_or(0).saturating_add(deliveries),
                )
            }
            None => (
                "dead-lettered without a reason".to_owned(),
                topology.shard_exchange(service),
                prior_attempts.unwrap_or(1),
            ),
        },
    };
    let body: Option<serde_json::Value> = serde_json::from_slice(&delivery.data).ok();
    let body_field = |key: &str| {
        body.as_ref()
            .and_then(|body| body.get(key))
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    FailureRecord {
        id: headers::text(properties, FAILURE_ID)
            .unwrap_or_else(|| uuid::Uuid::now_v7().to_string()),
        service: service.to_owned(),
        queue,
        event_id: properties
            .message_id()
            .as_ref()
            .map(ToString::to_string)
            .or_else(|| body_field("id")),
        order_id: body_field("subject"),
        reason,
        attempts,
        x_death: headers::x_death_json(properties),
        first_failure_at: headers::time(properties, FIRST_FAILURE_AT)
            .or_else(|| death_times.clone().min())
            .unwrap_or(now),
        last_failure_at: headers::time(properties, LAST_FAILURE_AT)
            .or_else(|| death_times.max())
            .unwrap_or(now),
        recorded_at: now,
        payload: String::from_utf8_lossy(&delivery.data).into_owned(),
        replays: Vec::new(),
        resolved_at: None,
    }
}
