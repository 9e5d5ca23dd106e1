//! The consumer runner: feeds a service's work queue to its [`EventHandler`], one message at a
//! time, and owns acks, retries and dead-lettering.
//!
//! Per delivery: decode (undecodable: dead-letter at once), handle, then
//! - `Ok` → ack;
//! - `Retryable` → publish a copy to the retry queue of the next delay tier (confirmed), then ack
//!   the original; after `max_attempts` failures dead-letter instead;
//! - `Permanent` → dead-letter.
//!
//! Whatever the result, the service's outcome goes to the outcomes exchange (confirmed) before
//! the ack, for the order service's delivery timeline.
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

use crate::amqp::disposition::{self, Disposition};
use crate::amqp::handler::{EventHandler, Handled, HandlerError};
use crate::amqp::headers::{self, ATTEMPTS};
use crate::amqp::publisher::{ConfirmedPublisher, OutgoingMessage};
use crate::amqp::subscription::{Next, Subscription};
use crate::amqp::supervisor::{Session, SessionError, set_up, supervise};
use crate::amqp::topology::Topology;
use crate::event::OrderEvent;
use crate::outcome::{DeliveryOutcome, OutcomeStatus};
use crate::settings::AmqpSettings;

/// On shutdown, how long the runner keeps handling messages the broker already sent (and
/// would otherwise redeliver with a raised delivery count).
const SHUTDOWN_DRAIN: Duration = Duration::from_secs(10);

/// Consumes `NS.<H::SERVICE>` until `shutdown`, reconnecting after any failure; declares the
/// topology for the service on every connection. Returns `Ok` after a clean stop (the message
/// in flight finished, the channel and connection closed) and `Err` only for configuration
/// mistakes (an invalid URL or name).
pub async fn run_consumer<H: EventHandler>(
    settings: AmqpSettings,
    handler: Arc<H>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let service = H::SERVICE;
    let publisher =
        ConfirmedPublisher::new(settings.clone(), &format!("{service}-consumer-publisher"));
    let mut session = ConsumerSession {
        topology: Topology::new(&settings.namespace),
        settings: settings.clone(),
        handler,
        publisher: publisher.clone(),
        shutdown: shutdown.clone(),
    };
    let result = supervise(
        &settings,
        &format!("{service}-consumer"),
        &shutdown,
        &mut session,
    )
    .await;
    publisher.close().await;
    tracing::info!(service, "consumer stopped");
    result
}

struct ConsumerSession<H> {
    topology: Topology,
    settings: AmqpSettings,
    handler: Arc<H>,
    /// Carries retries and dead letters, over a connection of its own so that flow control on
    /// publishing never stalls consuming.
    publisher: ConfirmedPublisher,
    shutdown: CancellationToken,
}

impl<H: EventHandler> Session for ConsumerSession<H> {
    async fn run(&mut self, connection: &Connection) -> Result<(), SessionError> {
        let service = H::SERVICE;
        let queue = self.topology.work_queue(service);
        let work = async {
            self.topology
                .declare_consumer_on(connection, service, &self.settings)
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
        tracing::info!(service, queue, "consuming");
        while let Next::Delivery(delivery) = subscription.next(&self.shutdown).await? {
            self.process(&subscription, &delivery).await?;
        }
        self.stop(subscription).await;
        Ok(())
    }
}

impl<H: EventHandler> ConsumerSession<H> {
    /// Handles one delivery to its end: applied and acked, or retried or dead-lettered and acked.
    async fn process(
        &self,
        subscription: &Subscription<'_>,
        delivery: &Delivery,
    ) -> Result<(), SessionError> {
        let span = tracing::info_span!(
            "delivery",
            service = H::SERVICE,
            message_id = field::Empty,
            event_id = field::Empty,
            order_id = field::Empty,
            traceparent = field::Empty,
            redelivered = delivery.redelivered,
        );
        if let Some(message_id) = delivery.properties.message_id() {
            span.record("message_id", message_id.as_str());
        }
        self.process_in(subscription, delivery, &span)
            .instrument(span.clone())
            .await
    }

    async fn process_in(
        &self,
        subscription: &Subscription<'_>,
        delivery: &Delivery,
        span: &tracing::Span,
    ) -> Result<(), SessionError> {
        let prior_attempts = headers::count(&delivery.properties, ATTEMPTS).unwrap_or(0);
        let attempts = prior_attempts.saturating_add(1);
        let mut outcome = None;
        let disposition = match OrderEvent::decode(&delivery.data) {
            Err(error) => Some(Disposition::DeadLetter {
                attempts,
                reason: format!("undecodable message: {error}"),
            }),
            Ok(event) => {
                span.record("event_id", field::display(event.id));
                span.record("order_id", field::display(event.subject));
                if let Some(traceparent) = &event.traceparent {
                    span.record("traceparent", traceparent.as_str());
                }
                let handled = self.handler.handle(&event).await;
                let disposition = match &handled {
                    Ok(handled) => {
                        tracing::debug!(?handled, "event handled");
                        None
                    }
                    Err(error) => Some(disposition::after_failure(
                        prior_attempts,
                        error,
                        &self.settings,
                    )),
                };
                outcome = Some(outcome_of(
                    H::SERVICE,
                    &event,
                    handled,
                    disposition.as_ref(),
                    attempts,
                ));
                disposition
            }
        };
        let now = Utc::now();
        match disposition {
            None => {}
            Some(Disposition::Retry {
                attempts,
                delay_ms,
                error,
            }) => {
                tracing::warn!(attempts, delay_ms, %error, "handler failed; retrying later");
                let copy = disposition::retry_copy(
                    delivery,
                    &self.topology,
                    H::SERVICE,
                    attempts,
                    delay_ms,
                    &error,
                    now,
                )?;
                self.publisher.publish_envelopes(&[copy]).await?;
            }
            Some(Disposition::DeadLetter { attempts, reason }) => {
                tracing::error!(attempts, %reason, "giving up on the message; dead-lettering it");
                let copy = disposition::dead_letter_copy(
                    delivery,
                    &self.topology,
                    H::SERVICE,
                    attempts,
                    &reason,
                    now,
                )?;
                self.publisher.publish_envelopes(&[copy]).await?;
            }
        }
        if let Some(outcome) = outcome {
            self.publisher
                .publish(&outcome_message(&self.topology, &outcome))
                .await?;
        }
        subscription
            .ack(
                delivery,
                Duration::from_millis(self.settings.publish_timeout_ms),
            )
            .await?;
        Ok(())
    }

    /// Stops cleanly: cancels the consumer, handles what the broker had already sent (for up to
    /// [`SHUTDOWN_DRAIN`]), and closes the channel. Failures here only end the stop early: what
    /// was not acked is redelivered to the next consumer.
    async fn stop(&self, mut subscription: Subscription<'_>) {
        if subscription.cancel().await {
            let deadline = Instant::now() + SHUTDOWN_DRAIN;
            while let Some(delivery) = subscription.next_prefetched(deadline).await {
                if let Err(error) = self.process(&subscription, &delivery).await {
                    tracing::warn!(%error, "stopped handling prefetched messages");
                    break;
                }
            }
        }
        subscription.close().await;
    }
}

/// What the service reports for `event`, given the handler's result and what became of it.
fn outcome_of(
    service: &str,
    event: &OrderEvent,
    handled: Result<Handled, HandlerError>,
    disposition: Option<&Disposition>,
    attempts: u32,
) -> DeliveryOutcome {
    let (status, detail) = match (handled, disposition) {
        (Ok(Handled::Applied), _) => (OutcomeStatus::Applied, None),
        (Ok(Handled::Duplicate), _) => (OutcomeStatus::Duplicate, None),
        (Ok(Handled::Skipped(reason)), _) => (OutcomeStatus::Skipped, Some(reason)),
        (Err(_), Some(Disposition::Retry { error, .. })) => {
            (OutcomeStatus::Retrying, Some(error.clone()))
        }
        (Err(_), Some(Disposition::DeadLetter { reason, .. })) => {
            (OutcomeStatus::Failed, Some(reason.clone()))
        }
        (Err(error), None) => (OutcomeStatus::Failed, Some(error.to_string())),
    };
    DeliveryOutcome::of(service, event, status, detail, attempts)
}

/// The message that reports `outcome` to the order service.
fn outcome_message(topology: &Topology, outcome: &DeliveryOutcome) -> OutgoingMessage {
    OutgoingMessage {
        exchange: topology.outcomes_exchange(),
        routing_key: String::new(),
        message_id: format!(
            "{}:{}:{}",
            outcome.event_id, outcome.service, outcome.attempts
        ),
        body: serde_json::to_vec(outcome).expect("an outcome is plain data with string keys"),
        headers: Vec::new(),
    }
}
