//! Replaying recorded failures: their payload goes back to the queue they failed in, and the
//! record keeps the replay's outcome.

use std::collections::HashMap;

use crate::app::settings::AmqpSettings;
use crate::contract::shard;
use crate::runtime::amqp::publisher::{ConfirmedPublisher, OutgoingMessage};
use crate::runtime::amqp::topology::Topology;
use crate::runtime::replay_log::{ReplaySelection, choose, note_outcomes};
use crate::storage::failure_log::{FailureLog, FailureRecord, ReplayOutcome};

/// Where a replayed event goes: the service that recorded the failure says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayTarget {
    /// A consuming service, by name: through its shard exchange, to the shard that holds the
    /// event's order.
    Service(String),
    /// The fanout exchange, to every consumer: what a publisher that gave up replays into.
    Exchange,
}

/// Republishes the selected records' payloads, confirmed, with `message_id` = the event id, to
/// `target`, on a connection named `connection_name`. Records every attempt in its record's
/// `replays`. Returns how many were published; fails for an unknown id or when replaying `One`
/// failed.
///
/// The failure log's file I/O runs on tokio's blocking pool.
pub async fn replay(
    settings: &AmqpSettings,
    target: &ReplayTarget,
    connection_name: &str,
    log: &FailureLog,
    which: ReplaySelection,
) -> anyhow::Result<usize> {
    let chosen = choose(log, &which).await?;
    if chosen.is_empty() {
        return Ok(0);
    }

    let topology = Topology::new(&settings.namespace);
    let publisher = ConfirmedPublisher::new(settings.clone(), connection_name);
    let mut outcomes = HashMap::new();
    for record in &chosen {
        let outcome = match publisher
            .publish(&replay_message(&topology, target, record))
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

/// The message that replays `record`.
fn replay_message(
    topology: &Topology,
    target: &ReplayTarget,
    record: &FailureRecord,
) -> OutgoingMessage {
    // The order's bucket routes the event to its shard; a record that names no order (an
    // undecodable message) goes to bucket 0, where it is dead-lettered again.
    let routing_key = record
        .order_id
        .as_deref()
        .and_then(|id| id.parse().ok())
        .map_or_else(|| "0".to_owned(), shard::routing_key);
    let exchange = match target {
        ReplayTarget::Exchange => topology.exchange(),
        ReplayTarget::Service(service) => topology.shard_exchange(service),
    };
    OutgoingMessage {
        exchange,
        routing_key,
        message_id: record.event_id.clone().unwrap_or_else(|| record.id.clone()),
        body: record.payload.clone().into_bytes(),
        headers: vec![("x-replay-of".to_owned(), record.id.clone())],
    }
}
