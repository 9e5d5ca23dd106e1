//! One consumer on one queue over its own channel, watched so that a dead connection always
//! ends it.
//!
//! lapin does not guarantee that: an ack issued while the connection dies can be dropped by its
//! internal dispatcher without ever resolving, so every ack is bounded by a timeout; and the
//! connection's state is checked periodically in case a dead connection wakes nobody.

use std::time::Duration;

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, Consumer};
use tokio::time::{Instant, Interval, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::runtime::amqp::error::AmqpError;
use crate::runtime::amqp::names::short;

/// How often an idle subscription checks that its connection and channel are still open.
const LIVENESS_CHECK: Duration = Duration::from_secs(2);

/// How long cancelling the consumer or closing the channel may take on the way out.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// A consumer of `queue` on a channel of its own.
pub struct Subscription<'a> {
    connection: &'a Connection,
    channel: Channel,
    consumer: Consumer,
    queue: String,
    liveness: Interval,
}

/// What [`Subscription::next`] got.
pub enum Next {
    /// A message.
    Delivery(Box<Delivery>),
    /// Shutdown was requested.
    Shutdown,
}

impl<'a> Subscription<'a> {
    /// Opens a channel on `connection`, sets the prefetch and starts consuming `queue` with a
    /// recognisable consumer tag (`<service>-<uuid>`).
    pub async fn start(
        connection: &'a Connection,
        queue: &str,
        service: &str,
        prefetch: u16,
    ) -> Result<Subscription<'a>, AmqpError> {
        let channel = connection
            .create_channel()
            .await
            .map_err(AmqpError::channel("opening the consumer channel"))?;
        channel
            .basic_qos(prefetch, BasicQosOptions::default())
            .await
            .map_err(AmqpError::channel("setting the prefetch"))?;
        let tag = format!("{service}-{}", uuid::Uuid::now_v7());
        let consumer = channel
            .basic_consume(
                short(queue)?,
                short(&tag)?,
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(AmqpError::channel("starting to consume"))?;
        let mut liveness =
            tokio::time::interval_at(Instant::now() + LIVENESS_CHECK, LIVENESS_CHECK);
        liveness.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Ok(Subscription {
            connection,
            channel,
            consumer,
            queue: queue.to_owned(),
            liveness,
        })
    }

    /// The next delivery, or [`Next::Shutdown`] as soon as `shutdown` is cancelled; an error
    /// when the consumer, its channel or the connection ends.
    pub async fn next(&mut self, shutdown: &CancellationToken) -> Result<Next, AmqpError> {
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => return Ok(Next::Shutdown),
                next = self.consumer.next() => {
                    return match next {
                        Some(Ok(delivery)) => Ok(Next::Delivery(Box::new(delivery))),
                        Some(Err(error)) => Err(AmqpError::channel("consuming")(error)),
                        None => Err(AmqpError::ConsumerCancelled(self.queue.clone())),
                    };
                }
                _ = self.liveness.tick() => {
                    if !self.connection.status().connected() || !self.channel.status().connected() {
                        return Err(AmqpError::ConnectionLost);
                    }
                }
            }
        }
    }

    /// Stops the broker from sending more (basic.cancel); returns false if that failed, in
    /// which case nothing more should be read.
    pub async fn cancel(&mut self) -> bool {
        let cancel = self
            .channel
            .basic_cancel(self.consumer.tag(), BasicCancelOptions::default());
        match tokio::time::timeout(STOP_TIMEOUT, cancel).await {
            Ok(Ok(())) => true,
            Ok(Err(error)) => {
                tracing::warn!(%error, queue = self.queue, "cancelling the consumer failed");
                false
            }
            Err(_) => {
                tracing::warn!(queue = self.queue, "cancelling the consumer timed out");
                false
            }
        }
    }

    /// After [`Subscription::cancel`]: the next message the broker had already sent, until
    /// there is none or `deadline` passes.
    pub async fn next_prefetched(&mut self, deadline: Instant) -> Option<Delivery> {
        match tokio::time::timeout_at(deadline, self.consumer.next()).await {
            Ok(Some(Ok(delivery))) => Some(delivery),
            _ => None,
        }
    }

    /// Closes the channel; unacked deliveries go back to the queue.
    pub async fn close(self) {
        if self.channel.status().connected()
            && let Ok(Err(error)) =
                tokio::time::timeout(STOP_TIMEOUT, self.channel.close(200, "OK".into())).await
        {
            tracing::debug!(%error, queue = self.queue, "closing the consumer channel failed");
        }
    }
}

impl Subscription<'_> {
    /// Acks `delivery`. lapin's `Ok(false)` (a stale acker whose channel is gone) is a failure,
    /// and so is a connection that dies before the ack completes: lapin may then drop the ack
    /// without ever resolving it, so the wait ends as soon as the connection or channel is seen
    /// closed, and after `timeout` at the latest. Either way the session must end, and the
    /// broker redelivers the message unless the ack reached it.
    pub async fn ack(&self, delivery: &Delivery, timeout: Duration) -> Result<(), AmqpError> {
        let ack = delivery.acker.ack(BasicAckOptions::default());
        let lost = async {
            loop {
                tokio::time::sleep(Duration::from_millis(50)).await;
                if !self.connection.status().connected() || !self.channel.status().connected() {
                    return;
                }
            }
        };
        tokio::select! {
            acked = tokio::time::timeout(timeout, ack) => match acked {
                Ok(Ok(true)) => Ok(()),
                Ok(Ok(false)) => Err(AmqpError::AckLost),
                Ok(Err(error)) => Err(AmqpError::channel("ack")(error)),
                Err(_) => Err(AmqpError::Timeout {
                    operation: "ack",
                    after: timeout,
                }),
            },
            () = lost => Err(AmqpError::ConnectionLost),
        }
    }
}
