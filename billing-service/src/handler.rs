//! The billing's business logic for one order event: open, amend or void its invoice.

use shared_events::OrderEvent;
use shared_events::app::consumer::Consumer;
use shared_events::app::telemetry::ledger_span;
use shared_events::runtime::{EventHandler, Handled, HandlerError};
use shared_events::storage::durable_state::DurableState;
use tracing::Instrument;

use crate::Billing;
use crate::ledger::{EntryKind, InvoiceLedger, InvoiceTarget, Outcome};

/// Applies order events to the invoice ledger, each as one durable transaction.
#[derive(Clone)]
pub struct InvoiceHandler {
    ledger: DurableState<InvoiceLedger>,
}

impl InvoiceHandler {
    /// A handler that keeps its invoices in `ledger`.
    pub fn new(ledger: DurableState<InvoiceLedger>) -> InvoiceHandler {
        InvoiceHandler { ledger }
    }
}

impl EventHandler for InvoiceHandler {
    const SERVICE: &'static str = "billing";

    async fn handle(&self, event: &OrderEvent) -> Result<Handled, HandlerError> {
        let target = InvoiceTarget::from_event(event);
        let outcome = self
            .ledger
            .transact(move |ledger| ledger.decide(target))
            .instrument(ledger_span(Billing::LEDGER))
            .await
            // The ledger refuses writes only after a disk failure; a retry may find it repaired
            // by a restart, and otherwise the event ends in failure.json to be replayed.
            .map_err(|error| {
                HandlerError::Retryable(format!("the invoice ledger cannot write: {error}"))
            })?;
        match outcome {
            Outcome::Stale { last } => {
                tracing::debug!(order_id = %event.subject, version = event.sequence, last, "stale or duplicate event");
                Ok(Handled::Duplicate)
            }
            Outcome::Applied { step } => {
                let step = step.map_or("none", EntryKind::as_str);
                tracing::info!(
                    order_id = %event.subject,
                    version = event.sequence,
                    amount = %event.data.order.total_amount,
                    step,
                    "invoice updated"
                );
                Ok(Handled::Applied)
            }
        }
    }
}
