//! The inventory's business logic for one order event: reserve, adjust or release stock.

use shared_events::OrderEvent;
use shared_events::app::consumer::Consumer;
use shared_events::app::telemetry::ledger_span;
use shared_events::runtime::{EventHandler, Handled, HandlerError};
use shared_events::storage::durable_state::DurableState;
use tracing::Instrument;

use crate::Inventory;
use crate::ledger::{OrderTarget, Outcome, StockLedger};

/// Applies order events to one shard's stock ledger, each as one durable transaction.
#[derive(Clone)]
pub struct StockHandler {
    ledger: DurableState<StockLedger>,
}

impl StockHandler {
    /// A handler that keeps its reservations in `ledger`.
    pub fn new(ledger: DurableState<StockLedger>) -> StockHandler {
        StockHandler { ledger }
    }
}

impl EventHandler for StockHandler {
    const SERVICE: &'static str = "inventory";

    async fn handle(&self, event: &OrderEvent) -> Result<Handled, HandlerError> {
        let target = OrderTarget::from_event(event);
        let outcome = self
            .ledger
            .transact(move |ledger| ledger.decide(target))
            .instrument(ledger_span(Inventory::LEDGER))
            .await
            // The ledger refuses writes only after a disk failure; a retry may find it repaired
            // by a restart, and otherwise the event ends in failure.json to be replayed.
            .map_err(|error| {
                HandlerError::Retryable(format!("the stock ledger cannot write: {error}"))
            })?;
        let moves = match outcome {
            Outcome::Stale { last } => {
                tracing::debug!(order_id = %event.subject, version = event.sequence, last, "stale or duplicate event");
                return Ok(Handled::Duplicate);
            }
            Outcome::Applied { moves } => moves,
        };
        for change in &moves {
            tracing::info!(
                order_id = %event.subject,
                version = event.sequence,
                product = %change.product,
                delta = change.delta,
                "reservation changed"
            );
        }
        Ok(Handled::Applied)
    }
}
