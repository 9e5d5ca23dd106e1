//! What a consuming service implements: business logic only.

use std::future::Future;
use std::time::Instant;

use crate::contract::event::OrderEvent;

/// A consumer's business logic. The runner owns acks, retries, and dead-lettering; a handler
/// only applies an event's effect, durably, and says how it went.
pub trait EventHandler: Send + Sync + 'static {
    /// The consuming service's name (`inventory`, `billing`, `notification`); its queue is
    /// `<namespace>.<SERVICE>`.
    const SERVICE: &'static str;

    /// Applies `event`. `Ok` means its effect is durable (or it needs none) and the message may be
    /// acknowledged; `Err` asks the runner to retry or dead-letter it.
    fn handle(
        &self,
        event: &OrderEvent,
    ) -> impl Future<Output = Result<Handled, HandlerError>> + Send;
}

/// Runs `handler` on `event`, as both transports do, timing it in
/// `consumer_handling_duration_seconds`.
pub async fn handle_timed<H: EventHandler>(
    handler: &H,
    event: &OrderEvent,
) -> Result<Handled, HandlerError> {
    let started = Instant::now();
    let handled = handler.handle(event).await;
    metrics::histogram!("consumer_handling_duration_seconds", "service" => H::SERVICE)
        .record(started.elapsed().as_secs_f64());
    handled
}

/// How a handler dealt with an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// The effect was applied.
    Applied,
    /// The event's version is not newer than the last one applied for its order: a duplicate or
    /// a stale event, acknowledged without effect.
    Duplicate,
    /// Nothing to do, for the reason given (an order without an email address, say).
    Skipped(String),
}

/// Why a handler could not apply an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandlerError {
    /// A failure that may pass (a mail server that refuses, a full disk): retry with backoff.
    #[error("{0}")]
    Retryable(String),
    /// A failure that retrying cannot fix (an event this handler cannot make sense of):
    /// dead-letter at once.
    #[error("{0}")]
    Permanent(String),
}
