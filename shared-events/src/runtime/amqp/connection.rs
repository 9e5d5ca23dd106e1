//! Opening and closing broker connections, within bounded time.
//!
//! lapin's own recovery stays off: it leaves consumer streams hanging after a broker
//! channel-close, replays topology in an order that races with publishes, and a dropped connect
//! future keeps retrying in the background. Instead a failed connection is dropped whole and the
//! caller connects anew (see the supervisor behind [`run_consumer`](crate::runtime::amqp::run_consumer) and
//! [`ConfirmedPublisher`](crate::runtime::amqp::publisher::ConfirmedPublisher)).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use lapin::uri::AMQPUri;
use lapin::{Channel, Connection, ConnectionProperties};

use crate::app::secret_url::SecretUrl;
use crate::app::settings::AmqpSettings;
use crate::runtime::amqp::error::AmqpError;
use crate::runtime::amqp::tls::tls_config;

/// How long connecting (TCP, TLS, AMQP handshake) may take; lapin's own bound is minutes.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a clean close may take before the connection is simply dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens a connection named `connection_name` (shown in the broker's management UI), without
/// lapin's automatic recovery. With several broker addresses, tries each in turn, beginning with
/// the one that answered last, so that a node that went away costs one failed attempt; each
/// attempt fails after [`CONNECT_TIMEOUT`].
pub async fn connect(
    settings: &AmqpSettings,
    connection_name: &str,
) -> Result<Connection, AmqpError> {
    let addresses = settings.url.addresses();
    let first = LAST_ANSWERED.load(Ordering::Relaxed);
    let mut failure = None;
    for offset in 0..addresses.len() {
        let index = (first + offset) % addresses.len();
        match connect_to(&addresses[index], settings, connection_name).await {
            Ok(connection) => {
                LAST_ANSWERED.store(index, Ordering::Relaxed);
                return Ok(connection);
            }
            Err(error) if !error.is_transient() => return Err(error),
            Err(error) => {
                if addresses.len() > 1 {
                    tracing::warn!(broker = %addresses[index], %error, "a broker node did not answer; trying the next");
                }
                failure = Some(error);
            }
        }
    }
    Err(failure.unwrap_or_else(|| AmqpError::InvalidUrl("no broker URL is configured".into())))
}

/// The index of the broker address that answered last, shared by every connection of the
/// process: they all move together to a node that works.
static LAST_ANSWERED: AtomicUsize = AtomicUsize::new(0);

async fn connect_to(
    address: &SecretUrl,
    settings: &AmqpSettings,
    connection_name: &str,
) -> Result<Connection, AmqpError> {
    let uri: AMQPUri = address
        .expose()
        .parse()
        // Some of the parser's messages quote the URL: show it without its password.
        .map_err(|message: String| {
            AmqpError::InvalidUrl(message.replace(address.expose(), &address.to_string()))
        })?;
    let properties = ConnectionProperties::default().with_connection_name(connection_name.into());
    let tls = tls_config(&settings.tls)?;
    let runtime = lapin::runtime::default_runtime().map_err(AmqpError::Connect)?;
    let connecting = Connection::connect_uri_with_config(uri, properties, tls, runtime);
    match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(error)) => Err(AmqpError::Connect(error)),
        Err(_) => Err(AmqpError::ConnectTimeout(CONNECT_TIMEOUT)),
    }
}

/// The pauses between reconnection attempts: exponential from 200 ms to 1 s, with jitter so that
/// services restarted together do not reconnect in lockstep (up to twice the pause), never
/// giving up. Short, so that a broker that comes back is used again within about two seconds; a
/// refused connection costs the broker next to nothing.
pub fn reconnect_backoff() -> ExponentialBackoff {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(1))
        .with_factor(2.0)
        .with_jitter()
        .without_max_times()
        .build()
}

/// Whether the `failures`-th failure in a row is worth a log line: the 1st, 2nd, 4th, 8th...,
/// so that an outage of minutes, retried every second by every connection, logs a few lines
/// rather than thousands.
pub fn worth_logging(failures: u64) -> bool {
    failures.is_power_of_two()
}

/// Closes `channel` and then `connection` cleanly, as far as they still can be, in bounded time.
/// Channels first: closing the connection while a channel is closing fails in lapin.
pub(crate) async fn close(connection: &Connection, channels: &[&Channel]) {
    for channel in channels {
        if channel.status().connected() {
            let closed = tokio::time::timeout(CLOSE_TIMEOUT, channel.close(200, "OK".into())).await;
            if let Ok(Err(error)) = closed {
                tracing::debug!(%error, "closing a channel failed");
            }
        }
    }
    if connection.status().connected() {
        let closed = tokio::time::timeout(CLOSE_TIMEOUT, connection.close(200, "OK".into())).await;
        if let Ok(Err(error)) = closed {
            tracing::debug!(%error, "closing the connection failed");
        }
    }
}
