//! Where a consumer's outcomes go in process (over the broker they are published instead).

use crate::contract::outcome::DeliveryOutcome;

/// Where a consumer's outcomes go: to the order service's delivery timeline, in process or over
/// the broker. Reporting never fails the delivery: the consumer's own ledger is the truth, the
/// timeline is a view of it.
pub trait OutcomeSink: Send + Sync + 'static {
    /// Reports one outcome.
    fn report(&self, outcome: DeliveryOutcome);
}

/// Outcomes nobody listens to.
#[derive(Debug, Clone, Copy, Default)]
pub struct DiscardOutcomes;

impl OutcomeSink for DiscardOutcomes {
    fn report(&self, _outcome: DeliveryOutcome) {}
}
