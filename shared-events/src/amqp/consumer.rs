//! The consumer runner: feeds a service's work queue to its [`EventHandler`], one message at a
//! time, and owns acks, retries and dead-lettering.
//!
//! Per delivery: decode (undecodable: dead-letter at once), handle, then
//! - `Ok` → ack;
//! - `Retryable` → publish a copy to the retry queue of the next delay tier (confirmed), then ack
//!   the original; after `max_attempts` failures dead-letter instead;
//! - `Permanent` → dead-letter.
//!
//! Dead-lettering publishes a copy (confirmed) to the dead-letter exchange and then acks. The ack
//! always follows the handler and the copy, so a crash in between redelivers the message rather
//! than losing it; nothing is ever requeued in a loop. The quorum queue's delivery limit catches
//! messages that crash the consumer itself.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, Consumer};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, field};

use crate::amqp::disposition::{self, Disposition};
use crate::amqp::error::AmqpError;
use crate::amqp::handler::EventHandler;
use crate::amqp::headers::{self, ATTEMPTS};
use crate::amqp::names::short;
use crate::amqp::publisher::ConfirmedPublisher;
use crate::amqp::supervisor::{Session, SessionError, supervise};
use crate::amqp::topology::Topology;
use crate::event::OrderEvent;
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
        self.topology
            .declare_consumer_on(connection, service, &self.settings)
            .await?;
        // Retries and dead letters need it: better to know now than at the first failure.
        self.publisher.connect().await?;
        let channel = connection
            .create_channel()
            .await
            .map_err(AmqpError::channel("opening the consumer channel"))?;
        let mut consumer = consume(&channel, &queue, service, self.settings.prefetch).await?;
        tracing::info!(service, queue, "consuming");
        loop {
            let next = tokio::select! {
                biased;
                () = self.shutdown.cancelled() => break,
                next = consumer.next() => next,
            };
            let delivery = match next {
                Some(Ok(delivery)) => delivery,
                Some(Err(error)) => return Err(AmqpError::channel("consuming")(error).into()),
                None => return Err(AmqpError::ConsumerCancelled(queue).into()),
            };
            self.process(delivery).await?;
        }
        self.stop(&channel, consumer).await;
        Ok(())
    }
}

impl<H: EventHandler> ConsumerSession<H> {
    /// Handles one delivery to its end: applied and acked, or retried or dead-lettered and acked.
    async fn process(&self, delivery: Delivery) -> Result<(), SessionError> {
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
        self.process_in(&delivery, &span)
            .instrument(span.clone())
            .await
    }

    async fn process_in(
        &self,
        delivery: &Delivery,
        span: &tracing::Span,
    ) -> Result<(), SessionError> {
        let prior_attempts = headers::count(&delivery.properties, ATTEMPTS).unwrap_or(0);
        let disposition = match OrderEvent::decode(&delivery.data) {
            Err(error) => Some(Disposition::DeadLetter {
                attempts: prior_attempts.saturating_add(1),
                reason: format!("undecodable message: {error}"),
            }),
            Ok(event) => {
                span.record("event_id", field::display(event.id));
                span.record("order_id", field::display(event.subject));
                if let Some(traceparent) = &event.traceparent {
                    span.record("traceparent", traceparent.as_str());
                }
                match self.handler.handle(&event).await {
                    Ok(handled) => {
                        tracing::debug!(?handled, "event handled");
                        None
                    }
                    Err(error) => Some(disposition::after_failure(
                        prior_attempts,
                        &error,
                        &self.settings,
                    )),
                }
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
        ack(delivery).await?;
        Ok(())
    }

    /// Stops cleanly: cancels the consumer, handles what the broker had already sent (for up to
    /// [`SHUTDOWN_DRAIN`]), and closes the channel. Failures here only end the stop early: what
    /// was not acked is redelivered to the next consumer.
    async fn stop(&self, channel: &Channel, mut consumer: Consumer) {
        let cancel = channel.basic_cancel(consumer.tag(), BasicCancelOptions::default());
        match tokio::time::timeout(Duration::from_secs(5), cancel).await {
            Ok(Ok(())) => {
                let deadline = tokio::time::Instant::now() + SHUTDOWN_DRAIN;
                // After the cancel, the stream yields what was prefetched and then ends.
                while let Ok(Some(Ok(delivery))) =
                    tokio::time::timeout_at(deadline, consumer.next()).await
                {
                    if let Err(error) = self.process(delivery).await {
                        tracing::warn!(%error, "stopped handling prefetched messages");
                        break;
                    }
                }
            }
            Ok(Err(error)) => tracing::warn!(%error, "cancelling the consumer failed"),
            Err(_) => tracing::warn!("cancelling the consumer timed out"),
        }
        if channel.status().connected()
            && let Err(error) = channel.close(200, "OK".into()).await
        {
            tracing::debug!(%error, "closing the consumer channel failed");
        }
    }
}

/// Sets the prefetch and starts consuming `queue` with a recognisable consumer tag.
pub(crate) async fn consume(
    channel: &Channel,
    queue: &str,
    service: &str,
    prefetch: u16,
) -> Result<Consumer, AmqpError> {
    channel
        .basic_qos(prefetch, BasicQosOptions::default())
        .await
        .map_err(AmqpError::channel("setting the prefetch"))?;
    let tag = format!("{service}-{}", uuid::Uuid::now_v7());
    channel
        .basic_consume(
            short(queue)?,
            short(&tag)?,
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(AmqpError::channel("starting to consume"))
}

/// Acks `delivery`, treating lapin's `Ok(false)` (a stale acker whose channel is gone) as the
/// failure it is.
pub(crate) async fn ack(delivery: &Delivery) -> Result<(), AmqpError> {
    match delivery.acker.ack(BasicAckOptions::default()).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(AmqpError::AckLost),
        Err(error) => Err(AmqpError::channel("ack")(error)),
    }
}
