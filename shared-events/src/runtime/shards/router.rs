//! One handler for every shard, for a transport that reads all of a service's events in one
//! stream (the embedded one): each event goes to its shard's handler, so its effect lands in
//! the same ledger whichever transport carried it.

use std::sync::Arc;

use crate::contract::event::OrderEvent;
use crate::contract::shard::ShardCount;
use crate::runtime::handler::{EventHandler, Handled, HandlerError};

/// Sends each event to the handler of the shard that holds its order.
pub struct ShardRouter<H> {
    shards: ShardCount,
    handlers: Vec<Arc<H>>,
}

impl<H: EventHandler> ShardRouter<H> {
    /// A router over one handler per shard, in shard order.
    pub fn new(shards: ShardCount, handlers: Vec<Arc<H>>) -> ShardRouter<H> {
        assert_eq!(
            handlers.len(),
            usize::from(shards.get()),
            "one handler per shard"
        );
        ShardRouter { shards, handlers }
    }
}

impl<H: EventHandler> EventHandler for ShardRouter<H> {
    const SERVICE: &'static str = H::SERVICE;

    async fn handle(&self, event: &OrderEvent) -> Result<Handled, HandlerError> {
        let shard = self.shards.shard_of(event.subject);
        self.handlers[usize::from(shard)].handle(event).await
    }
}
