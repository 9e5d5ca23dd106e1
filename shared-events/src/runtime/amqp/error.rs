//! Why talking to the broker failed: connecting, declaring, consuming.

use std::time::Duration;

/// A failure at the broker boundary other than a publish (see
/// [`PublishError`](crate::runtime::amqp::publisher::PublishError) for those).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AmqpError {
    /// The broker URL does not parse; the message never contains the password.
    #[error("invalid broker URL: {0}")]
    InvalidUrl(String),
    /// A TLS file of the broker settings is missing or holds no usable certificate or key.
    #[error("unusable broker TLS settings: {0}")]
    InvalidTls(String),
    /// A queue, exchange, routing key or header name is longer than AMQP's 255 bytes.
    #[error("AMQP name is longer than 255 bytes: {0:.60}...")]
    InvalidName(String),
    /// The TCP connection or the AMQP handshake failed.
    #[error("cannot connect to the broker: {0}")]
    Connect(#[source] lapin::Error),
    /// The broker did not complete the handshake in time.
    #[error("connecting to the broker timed out after {0:?}")]
    ConnectTimeout(Duration),
    /// Declaring or binding an exchange or a queue failed (for example because it exists with
    /// other arguments: the broker then closes the channel).
    #[error("cannot declare {what}: {source}")]
    Declare {
        /// The exchange, queue or binding.
        what: String,
        /// The broker's answer.
        source: lapin::Error,
    },
    /// An operation on a channel failed (open, qos, consume, ack, close).
    #[error("{operation} failed: {source}")]
    Channel {
        /// What was attempted.
        operation: &'static str,
        /// The broker's or the connection's error.
        source: lapin::Error,
    },
    /// An acknowledgement could not be delivered: the channel it belongs to is gone, so the
    /// broker will redeliver the message.
    #[error("acknowledgement lost: the delivery's channel is closed")]
    AckLost,
    /// The connection or the consumer's channel closed while the consumer was waiting.
    #[error("the connection to the broker or the consumer's channel closed")]
    ConnectionLost,
    /// A broker operation did not complete in time (lapin can leave some waiting forever when
    /// the connection dies at the wrong moment).
    #[error("{operation} did not complete within {after:?}")]
    Timeout {
        /// What was attempted.
        operation: &'static str,
        /// How long it was given.
        after: Duration,
    },
    /// The broker's queues were declared for another shard count than this service's.
    #[error("{0}")]
    ShardCount(String),
    /// The broker cancelled the consumer (its queue was deleted) or the connection closed.
    #[error("the consumer of {0} was cancelled by the broker or the connection closed")]
    ConsumerCancelled(String),
}

impl AmqpError {
    /// True for failures that reconnecting may cure; false for configuration mistakes that only
    /// a person can fix, so supervisors stop instead of retrying forever.
    pub fn is_transient(&self) -> bool {
        !matches!(
            self,
            AmqpError::InvalidUrl(_)
                | AmqpError::InvalidTls(_)
                | AmqpError::InvalidName(_)
                | AmqpError::ShardCount(_)
        )
    }

    /// Wraps a failed channel operation.
    pub fn channel(operation: &'static str) -> impl FnOnce(lapin::Error) -> AmqpError {
        move |source| AmqpError::Channel { operation, source }
    }
}
