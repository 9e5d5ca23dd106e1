//! Replay's bookkeeping on either transport: which records a replay takes, and how each
//! replay's outcome is noted in its record.

use std::collections::HashMap;

use anyhow::{Context, bail};
use chrono::Utc;

use crate::storage::failure_log::{FailureLog, FailureRecord, Replay, ReplayOutcome};

/// Which records to replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplaySelection {
    /// The record with this id, whatever its history.
    One(String),
    /// Every record not yet replayed successfully and not resolved.
    All,
}

/// The records `which` selects.
pub(crate) async fn choose(
    log: &FailureLog,
    which: &ReplaySelection,
) -> anyhow::Result<Vec<FailureRecord>> {
    let records = log
        .records_async()
        .await
        .context("failed to read the failure log")?;
    Ok(match which {
        ReplaySelection::One(id) => match records.into_iter().find(|record| &record.id == id) {
            Some(record) => vec![record],
            None => bail!("no failure with id {id} in {}", log.path().display()),
        },
        ReplaySelection::All => records
            .into_iter()
            .filter(|record| !record.is_replayed() && record.resolved_at.is_none())
            .collect(),
    })
}

/// Records each replay's outcome (by record id) in its record; returns how many were sent, or
/// fails when the one replay asked for failed.
pub(crate) async fn note_outcomes(
    log: &FailureLog,
    which: &ReplaySelection,
    outcomes: HashMap<String, ReplayOutcome>,
) -> anyhow::Result<usize> {
    let published = outcomes
        .values()
        .filter(|outcome| **outcome == ReplayOutcome::Published)
        .count();
    let failed_one = match (which, outcomes.values().next()) {
        (ReplaySelection::One(id), Some(ReplayOutcome::Failed(error))) => {
            Some(format!("replay of {id} failed: {error}"))
        }
        _ => None,
    };
    let at = Utc::now();
    log.update_async(move |record| match outcomes.get(&record.id) {
        Some(outcome) => {
            record.replays.push(Replay {
                at,
                outcome: outcome.clone(),
            });
            true
        }
        None => false,
    })
    .await
    .context("replayed, but failed to note it in the failure log")?;
    if let Some(error) = failed_one {
        bail!(error);
    }
    Ok(published)
}
