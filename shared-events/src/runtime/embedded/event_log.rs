//! The log a consumer of the embedded transport reads.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::contract::event::OrderEvent;

/// An event and its position in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedEvent {
    /// The position: increasing, not necessarily contiguous.
    pub seq: u64,
    /// The event.
    pub event: Arc<OrderEvent>,
}

/// An ordered, durable log of order events that keeps what consumers have not passed yet.
pub trait EventLog: Send + Sync + 'static {
    /// Up to `limit` events after position `after`, oldest first.
    fn events_after(&self, after: u64, limit: usize) -> Vec<LoggedEvent>;

    /// Resolves once the log holds an event after position `after`.
    fn wait_for_events(&self, after: u64) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}
