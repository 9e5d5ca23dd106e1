//! Replaying recorded failures on the embedded transport: each payload goes into the service's
//! replay inbox, and the record keeps the replay's outcome, as a broker replay does.

use std::collections::HashMap;

use crate::contract::event::OrderEvent;
use crate::runtime::embedded::inbox::Inbox;
use crate::runtime::replay_log::{ReplaySelection, choose, note_outcomes};
use crate::storage::failure_log::{FailureLog, ReplayOutcome};

/// Puts the selected records' events into `inbox`, where the service's consumer picks them up
/// (at once if the platform runs, else at its next start). Returns how many were queued; fails
/// for an unknown id, or when the one replay asked for failed.
pub async fn replay_into_inbox(
    log: &FailureLog,
    inbox: &Inbox,
    which: ReplaySelection,
) -> anyhow::Result<usize> {
    let chosen = choose(log, &which).await?;
    let inbox = inbox.clone();
    let outcomes = tokio::task::spawn_blocking(move || {
        chosen
            .into_iter()
            .map(|record| {
                let outcome = match OrderEvent::decode(record.payload.as_bytes()) {
                    Err(error) => ReplayOutcome::Failed(format!("not an order event: {error}")),
                    Ok(_) => match inbox.put(&record.id, record.payload.as_bytes()) {
                        Ok(()) => ReplayOutcome::Published,
                        Err(error) => ReplayOutcome::Failed(error.to_string()),
                    },
                };
                tracing::info!(failure_id = %record.id, ?outcome, "queued for replay");
                (record.id, outcome)
            })
            .collect::<HashMap<_, _>>()
    })
    .await?;
    note_outcomes(log, &which, outcomes).await
}
