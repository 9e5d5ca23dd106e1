//! The consumer runner: feeds one shard's queue of a service to its [`EventHandler`] and owns acks,
//! retries and dead-lettering. What the broker has already sent (up to the prefetch) is handled
//! as one batch: one order's events in order, different orders concurrently, so that their
//! durable writes share fsyncs; then one round of confirmed publishes and the acks.
//!
//! Per delivery: decode (undecodable: dead-letter at once), handle, then
//! - `Ok` → ack;
//! - `Retryable` → publish a copy to the retry queue of the next delay tier (confirmed), then ack
//!   the original; after `max_attempts` failures dead-letter instead;
//! - `Permanent` → dead-letter.
//!
//! Whatever the result, the service's outcomes (one message per batch) go to the outcomes
//! exchange (confirmed) before the ack, for the order service's delivery timeline.
//!
//! Dead-lettering publishes a copy (confirmed) to the dead-letter exchange and then acks. The ack
//! always follows the handler and the copy, so a crash in between redelivers the message rather
//! than losing it; nothing is ever requeued in a loop. The quorum queue's delivery limit catches
//! messages that crash the consumer itself.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use lapin::Connection;
use lapin::message::Delivery;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, field};

use crate::app::settings::AmqpSettings;
use crate::app::telemetry::{self, messaging, messaging::Processing};
use crate::contract::event::{DecodeError, OrderEvent};
use crate::contract::outcome::DeliveryOutcome;
use crate::contract::shard::{Shard, ShardCount};
use crate::runtime::amqp::broker_link::BrokerLink;
use crate::runtime::amqp::disposition;
use crate::runtime::amqp::headers::{self, ATTEMPTS};
use crate::runtime::amqp::publisher::{ConfirmedPublisher, OutgoingMessage};
use crate::runtime::amqp::subscription::{Next, Subscription};
use crate::runtime::amqp::supervisor::{Session, SessionError, set_up, supervise};
use crate::runtime::amqp::topology::Topology;
use crate::runtime::handler::{EventHandler, handle_timed};
use crate::runtime::per_order::per_order;
use crate::runtime::retry::{self, Disposition};

/// On shutdown, how long the runner keeps handling messages the broker already sent (and
/// would otherwise redeliver with a raised delivery count).
const SHUTDOWN_DRAIN: Duration = Duration::from_secs(10);

/// Consumes `shard`'s queue `NS.<H::SERVICE>.shard.<k>` until `shutdown`, reconnecting after
/// any failure; declares the shard's topology on every connection. Returns `Ok` after a clean
/// stop (the messages in hand finished and acked, the channel and connection closed) and `Err`
/// only for configuration mistakes (an invalid URL or name). Tells `link` whether it is
/// connected.
pub async fn run_consumer<H: EventHandler>(
    settings: AmqpSettings,
    handler: Arc<H>,
    shards: ShardCount,
    shard: Shard,
    link: BrokerLink,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let service = H::SERVICE;
    let publisher = ConfirmedPublisher::new(
        settings.clone(),
        &format!("{service}-shard-{shard}-publisher"),
    );
    let mut session = ConsumerSession {
        topology: Topology::new(&settings.namespace),
        settings: settings.clone(),
        handler,
        shards,
        shard,
        publisher: publisher.clone(),
        shutdown: shutdown.clone(),
    };
    let result = supervise(
        &settings,
        &format!("{service}-shard-{shard}"),
        &link,
        &shutdown,
        &mut session,
    )
    .await;
    publisher.close().await;
    tracing::info!(service, shard, "shard consumer stopped");
    result
}

struct ConsumerSession<H> {
    topology: Topology,
    settings: AmqpSettings,
    handler: Arc<H>,
    shards: ShardCount,
    shard: Shard,
    /// Carries retries and dead letters, over a connection of its own so that flow control on
    /// publishing never stalls consuming.
    publisher: ConfirmedPublisher,
    shutdown: CancellationToken,
}

impl<H: EventHandler> Session for ConsumerSession<H> {
    async fn run(&mut self, connection: &Connection) -> Result<(), SessionError> {
        let service = H::SERVICE;
        let queue = self.topology.shard_queue(service, self.shard);
        let work = async {
            self.topology
                .declare_shard_on(connection, service, self.shards, self.shard, &self.settings)
                .await?;
            // Retries and dead letters need it: better to know now than at the first failure.
            self.publisher.connect().await?;
            let subscription =
                Subscription::start(connection, &queue, service, self.settings.prefetch).await?;
            Ok::<_, SessionError>(subscription)
        };
        let Some(mut subscription) =
            set_up("setting up the consumer", &self.shutdown, work).await?
        else {
            return Ok(());
        };
        tracing::info!(service, shard = self.shard, queue, "consuming");
        let batch_limit = usize::from(self.settings.prefetch).max(1);
        while let Next::Delivery(first) = subscription.next(&self.shutdown).await? {
            // What the broker has sent already is handled together: one fsync, one round of
            // confirms and acks for all of it.
            let mut batch = vec![first];
            while batch.len() < batch_limit {
                match subscription.next_prefetched(Instant::now()).await {
                    Some(delivery) => batch.push(Box::new(delivery)),
                    None => break,
                }
            }
            self.process(&subscription, &batch).await?;
        }
        self.stop(subscription).await;
        Ok(())
    }
}

/// What became of one delivery.
struct Handling {
    /// A retry or a dead letter to publish, if the handler did not apply it.
    disposition: Option<Disposition>,
    /// The outcome to report, if the message was an event.
    outcome: Option<DeliveryOutcome>,
}

impl<H: EventHandler> ConsumerSession<H> {
    /// Handles a batch of deliveries to their end: the events of one order one after another in
    /// the order they came, different orders side by side; then every retry, dead letter and
    /// outcome is published (confirmed) and only then is every delivery acked.
    async fn process(
        &self,
        subscription: &Subscription<'_>,
        deliveries: &[Box<Delivery>],
    ) -> Result<(), SessionError> {
        let queue = self.topology.shard_queue(H::SERVICE, self.shard);
        let decoded: Vec<_> = deliveries
            .iter()
            .map(|delivery| OrderEvent::decode(&delivery.data))
            .collect();
        let handled = per_order(
            deliveries.len(),
            |index| decoded[index].as_ref().ok().map(|event| event.subject),
            |index| self.handle(&queue, &deliveries[index], &decoded[index]),
        )
        .await;

        let now = Utc::now();
        let mut copies = Vec::new();
        let mut outcomes = Vec::new();
        for (delivery, handling) in deliveries.iter().zip(handled) {
            match handling.disposition {
                None => {}
                Some(Disposition::Retry {
                    attempts,
                    delay_ms,
                    error,
                }) => copies.push(disposition::retry_copy(
                    delivery,
                    &self.topology,
                    H::SERVICE,
                    attempts,
                    delay_ms,
                    &error,
                    now,
                )?),
                Some(Disposition::DeadLetter { attempts, reason }) => {
                    copies.push(disposition::dead_letter_copy(
                        delivery,
                        &self.topology,
                        H::SERVICE,
                        &queue,
                        attempts,
                        &reason,
                        now,
                    )?);
                }
            }
            outcomes.extend(handling.outcome);
        }
        let report = (!outcomes.is_empty()).then(|| outcome_message(&self.topology, &outcomes));
        if let Some(report) = &report {
            copies.push(report.envelope()?);
        }
        self.publisher.publish_envelopes(&copies).await?;
        let ack_timeout = Duration::from_millis(self.settings.publish_timeout_ms);
        for delivery in deliveries {
            subscription.ack(delivery, ack_timeout).await?;
        }
        Ok(())
    }

    /// Hands one delivery from `queue` to the handler, in a span of its own, and decides what
    /// becomes of it.
    async fn handle(
        &self,
        queue: &str,
        delivery: &Delivery,
        decoded: &Result<OrderEvent, DecodeError>,
    ) -> Handling {
        let span = tracing::info_span!(
            "delivery",
            service = H::SERVICE,
            message_id = field::Empty,
            event_id = field::Empty,
            order_id = field::Empty,
            traceparent = field::Empty,
            redelivered = delivery.redelivered,
            otel.name = field::Empty,
            otel.kind = field::Empty,
        );
        if let Some(message_id) = delivery.properties.message_id() {
            span.record("message_id", message_id.as_str());
        }
        if telemetry::exporting() {
            let processing = Processing {
                service: H::SERVICE,
                system: messaging::RABBITMQ,
                destination: queue,
                message_id: delivery
                    .properties
                    .message_id()
                    .as_ref()
                    .map(|id| id.as_str()),
            };
            let parent = messaging::amqp_parent(&delivery.properties, decoded.as_ref().ok());
            messaging::process(&span, processing, &parent);
        }
        let prior_attempts = headers::count(&delivery.properties, ATTEMPTS).unwrap_or(0);
        let attempts = prior_attempts.saturating_add(1);
        let event = match decoded {
            Err(error) => {
                let reason = format!("undecodable message: {error}");
                span.in_scope(|| tracing::error!(attempts, %reason, "giving up on the message; dead-lettering it"));
                return Handling {
                    disposition: Some(Disposition::DeadLetter { attempts, reason }),
                    outcome: None,
                };
            }
            Ok(event) => event,
        };
        span.record("event_id", field::display(event.id));
        span.record("order_id", field::display(event.subject));
        if let Some(traceparent) = &event.traceparent {
            span.record("traceparent", traceparent.as_str());
        }
        let handled = handle_timed(self.handler.as_ref(), event)
            .instrument(span.clone())
            .await;
        let _entered = span.enter();
        let disposition = match &handled {
            Ok(handled) => {
                tracing::debug!(?handled, "event handled");
                None
            }
            Err(error) => {
                telemetry::failed(&span, error);
                let disposition = self
                    .settings
                    .retry_policy()
                    .after_failure(prior_attempts, error);
                match &disposition {
                    Disposition::Retry {
                        attempts,
                        delay_ms,
                        error,
                    } => {
                        tracing::warn!(attempts, delay_ms, %error, "handler failed; retrying later")
                    }
                    Disposition::DeadLetter { attempts, reason } => {
                        tracing::error!(attempts, %reason, "giving up on the message; dead-lettering it")
                    }
                }
                Some(disposition)
            }
        };
        let outcome = retry::outcome(H::SERVICE, event, handled, disposition.as_ref(), attempts);
        Handling {
            disposition,
            outcome: Some(outcome),
        }
    }

    /// Stops cleanly: cancels the consumer, handles what the broker had already sent (for up to
    /// [`SHUTDOWN_DRAIN`]), and closes the channel. Failures here only end the stop early: what
    /// was not acked is redelivered to the next consumer.
    async fn stop(&self, mut subscription: Subscription<'_>) {
        if subscription.cancel().await {
            let deadline = Instant::now() + SHUTDOWN_DRAIN;
            while let Some(delivery) = subscription.next_prefetched(deadline).await {
                if let Err(error) = self.process(&subscription, &[Box::new(delivery)]).await {
                    tracing::warn!(%error, "stopped handling prefetched messages");
                    break;
                }
            }
        }
        subscription.close().await;
    }
}

/// The message that reports a batch's `outcomes` to the order service: one JSON array, so the
/// broker carries one message per batch rather than one per event.
fn outcome_message(topology: &Topology, outcomes: &[DeliveryOutcome]) -> OutgoingMessage {
    OutgoingMessage {
        exchange: topology.outcomes_exchange(),
        routing_key: String::new(),
        message_id: uuid::Uuid::now_v7().to_string(),
        body: serde_json::to_vec(outcomes).expect("outcomes are plain data with string keys"),
        headers: Vec::new(),
    }
}
