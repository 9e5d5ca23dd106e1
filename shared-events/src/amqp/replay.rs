//! Replaying recorded failures: their payload goes back to the queue they failed in, and the
//! record keeps the replay's outcome.

use std::collections::HashMap;

use anyhow::{Context, bail};
use chrono::Utc;

use crate::amqp::publisher::{ConfirmedPublisher, OutgoingMessage};
use crate::amqp::topology::Topology;
use crate::failure_log::{FailureLog, FailureRecord, Replay, ReplayOutcome};
use crate::settings::AmqpSettings;

/// The queue name the order service records its publishing failures under.
pub const OUTBOX: &str = "outbox";

/// Which records to replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplaySelection {
    /// The record with this id, whatever its history.
    One(String),
    /// Every record not yet replayed successfully and not resolved.
    All,
}

/// Republishes the selected records' payloads, confirmed, with `message_id` = the event id:
/// to `service`'s work queue (through the default exchange), or for records of the order
/// service's outbox to the fanout exchange. Records every attempt in its record's `replays`.
/// Returns how many were published; fails for an unknown id or when replaying `One` failed.
///
/// The failure log's file I/O runs on tokio's blocking pool.
pub async fn replay(
    settings: &AmqpSettings,
    service: &str,
    log: &FailureLog,
    which: ReplaySelection,
) -> anyhow::Result<usize> {
    let chosen = choose(log, &which).await?;
    if chosen.is_empty() {
        return Ok(0);
    }

    let topology = Topology::new(&settings.namespace);
    let publisher = ConfirmedPublisher::new(settings.clone(), &format!("{service}-replay"));
    let mut outcomes = HashMap::new();
    for record in &chosen {
        let outcome = match publisher
            .publish(&replay_message(&topology, service, record))
            .await
        {
            Ok(()) => ReplayOutcome::Published,
            Err(error) => ReplayOutcome::Failed(error.to_string()),
        };
        tracing::info!(failure_id = %record.id, event_id = ?record.event_id, ?outcome, "replayed");
        outcomes.insert(record.id.clone(), outcome);
    }
    publisher.close().await;
    note_outcomes(log, &which, outcomes).await
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

/// The message that replays `record`.
fn replay_message(topology: &Topology, service: &str, record: &FailureRecord) -> OutgoingMessage {
    let (exchange, routing_key) = if record.queue == OUTBOX {
        (topology.exchange(), String::new())
    } else {
        (String::new(), topology.work_queue(service))
    };
    OutgoingMessage {
        exchange,
        routing_key,
        message_id: record.event_id.clone().unwrap_or_else(|| record.id.clone()),
        body: record.payload.clone().into_bytes(),
        headers: vec![("x-replay-of".to_owned(), record.id.clone())],
    }
}
