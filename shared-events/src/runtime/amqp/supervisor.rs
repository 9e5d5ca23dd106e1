//! Keeps a consuming session alive: connect, run, and after any failure drop everything and
//! connect again with capped, jittered exponential backoff, until shutdown.

use std::future::Future;
use std::time::{Duration, Instant};

use lapin::Connection;
use tokio_util::sync::CancellationToken;

use crate::app::settings::AmqpSettings;
use crate::runtime::amqp::broker_link::BrokerLink;
use crate::runtime::amqp::connection::{self, connect, reconnect_backoff};
use crate::runtime::amqp::error::AmqpError;
use crate::runtime::amqp::publisher::PublishError;
use crate::storage::failure_log::FailureLogError;

/// How long setting a session up (declaring, opening channels, starting to consume) may take.
const SET_UP_TIMEOUT: Duration = Duration::from_secs(30);

/// A session that ran this long was healthy: the next failure starts the backoff afresh.
const HEALTHY_SESSION: Duration = Duration::from_secs(10);

/// Work done over one connection: declare, consume, until shutdown or failure.
pub trait Session: Send {
    /// Runs until `shutdown` (then `Ok`, after stopping cleanly) or a failure (`Err`: the caller
    /// drops the connection and connects again). Closes its own channels.
    fn run(
        &mut self,
        connection: &Connection,
    ) -> impl Future<Output = Result<(), SessionError>> + Send;
}

/// Why a session ended early.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The broker, the connection or a channel failed.
    #[error(transparent)]
    Amqp(#[from] AmqpError),
    /// Publishing a retry or a dead letter failed.
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// The failure log refused a record.
    #[error(transparent)]
    FailureLog(#[from] FailureLogError),
    /// A store the session writes to (the delivery timeline) refused a write.
    #[error("{0}")]
    Store(String),
}

impl SessionError {
    fn is_transient(&self) -> bool {
        match self {
            SessionError::Amqp(error) | SessionError::Publish(PublishError::Connect(error)) => {
                error.is_transient()
            }
            SessionError::Publish(PublishError::Invalid(_)) => false,
            SessionError::Publish(_) | SessionError::FailureLog(_) | SessionError::Store(_) => true,
        }
    }
}

/// Runs a session's set-up within [`SET_UP_TIMEOUT`] (a connection that dies mid-way can leave
/// lapin's replies pending forever); `None` if `shutdown` came first.
pub async fn set_up<T>(
    operation: &'static str,
    shutdown: &CancellationToken,
    work: impl Future<Output = Result<T, SessionError>>,
) -> Result<Option<T>, SessionError> {
    tokio::select! {
        biased;
        () = shutdown.cancelled() => Ok(None),
        done = tokio::time::timeout(SET_UP_TIMEOUT, work) => match done {
            Ok(result) => result.map(Some),
            Err(_) => Err(SessionError::Amqp(AmqpError::Timeout {
                operation,
                after: SET_UP_TIMEOUT,
            })),
        },
    }
}

/// Runs `session` over fresh connections named `connection_name` until `shutdown`, and tells
/// `link` whether it holds one. Returns `Ok` on shutdown and `Err` only for configuration
/// mistakes that reconnecting cannot cure.
pub async fn supervise(
    settings: &AmqpSettings,
    connection_name: &str,
    link: &BrokerLink,
    shutdown: &CancellationToken,
    session: &mut impl Session,
) -> anyhow::Result<()> {
    let mut backoff = reconnect_backoff();
    let mut failures_in_a_row = 0_u64;
    let mut link = link.session();
    loop {
        let connected = tokio::select! {
            biased;
            () = shutdown.cancelled() => return Ok(()),
            connected = connect(settings, connection_name) => connected,
        };
        let error = match connected {
            Ok(connection) => {
                tracing::info!(connection = connection_name, "connected to the broker");
                link.set_connected(true);
                let started = Instant::now();
                let result = session.run(&connection).await;
                link.set_connected(false);
                connection::close(&connection, &[]).await;
                match result {
                    Ok(()) => return Ok(()),
                    Err(error) => {
                        if started.elapsed() >= HEALTHY_SESSION {
                            backoff = reconnect_backoff();
                            failures_in_a_row = 0;
                        }
                        error
                    }
                }
            }
            Err(error) => SessionError::Amqp(error),
        };
        if !error.is_transient() {
            return Err(anyhow::Error::new(error).context(format!("{connection_name} cannot run")));
        }
        let delay = backoff.next().unwrap_or(Duration::from_secs(1));
        if shutdown.is_cancelled() {
            return Ok(());
        }
        failures_in_a_row += 1;
        if !connection::worth_logging(failures_in_a_row) {
            tracing::debug!(connection = connection_name, %error, ?delay, failures_in_a_row, "broker session failed again; reconnecting");
        } else if matches!(error, SessionError::Amqp(AmqpError::Declare { .. })) {
            // Typically a queue that exists with other arguments: only a person can fix that.
            tracing::error!(connection = connection_name, %error, ?delay, failures_in_a_row, "cannot declare the topology; trying again");
        } else {
            tracing::warn!(connection = connection_name, %error, ?delay, failures_in_a_row, "broker session failed; reconnecting");
        }
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(delay) => {}
        }
    }
}
