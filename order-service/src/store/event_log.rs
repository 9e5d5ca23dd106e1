//! The order store as the embedded transport's log: its outbox holds every event that some
//! consumer has not yet passed.

use std::future::Future;
use std::pin::Pin;

use shared_events::runtime::embedded::{EventLog, LoggedEvent};

use crate::store::OrderStore;

impl EventLog for OrderStore {
    fn events_after(&self, after: u64, limit: usize) -> Vec<LoggedEvent> {
        self.pending_events(after, limit)
            .into_iter()
            .map(|pending| LoggedEvent {
                seq: pending.seq,
                event: pending.event,
            })
            .collect()
    }

    fn wait_for_events(&self, after: u64) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(OrderStore::wait_for_events(self, after))
    }
}
