//! The embedded transport: order events delivered in one process, with the promises RabbitMQ
//! gives the distributed platform.
//!
//! The order journal is the log. Each consumer reads it from a durable offset of its own, hands
//! every event to the same [`EventHandler`](crate::runtime::EventHandler) the broker would, retries
//! failures with the same delay tiers, and records what it gives up on in its `failure.json`.
//! The offset is saved only after the events before it are handled, so a crash redelivers (the
//! handlers drop duplicates by version): at-least-once, as with the broker. The log keeps an
//! event until every consumer's saved offset has passed it.
//!
//! # Layout
//!
//! - [`event_log`]: what a consumer reads: [`EventLog`], implemented by the order store.
//! - [`offset`]: the consumer's saved position in the log.
//! - [`inbox`]: replayed failures waiting to be handled again (what `failures replay` writes).
//! - [`replay`](mod@replay): `failures replay` on this transport: into the inbox.
//! - [`consumer`]: the runner: read, handle, retry, dead-letter, report, save the offset.

pub mod consumer;
pub mod event_log;
pub mod inbox;
pub mod offset;
pub mod replay;

use std::sync::Arc;

use tokio::sync::watch;

pub use self::consumer::run_embedded_consumer;
pub use self::event_log::{EventLog, LoggedEvent};

use crate::runtime::outcome_sink::OutcomeSink;
use crate::runtime::retry::RetryPolicy;

/// What connects a consumer to the embedded transport.
#[derive(Clone)]
pub struct EmbeddedLink {
    /// The log of order events.
    pub log: Arc<dyn EventLog>,
    /// Where outcomes go (the order service's delivery timeline).
    pub outcomes: Arc<dyn OutcomeSink>,
    /// Retry tiers and attempts, as over the broker.
    pub retry: RetryPolicy,
    /// The consumer's saved offset, for the log's retention.
    pub saved_offset: watch::Sender<u64>,
}

impl std::fmt::Debug for EmbeddedLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedLink").finish_non_exhaustive()
    }
}
