//! Removing a namespace's queues and exchanges: for tests, and for operators retiring one.

use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};

use crate::app::settings::AmqpSettings;
use crate::contract::shard::BUCKETS;
use crate::runtime::amqp::connection::{close, connect};
use crate::runtime::amqp::error::AmqpError;
use crate::runtime::amqp::names::short;
use crate::runtime::amqp::topology::Topology;

/// Deletes every queue (shards, dead-letter, retry tiers) of `services`, the outcomes queue, and
/// the exchanges of the namespace in `settings`, messages included. Names that do not exist are skipped.
pub async fn delete_namespace(settings: &AmqpSettings, services: &[&str]) -> Result<(), AmqpError> {
    let topology = Topology::new(&settings.namespace);
    let connection = connect(settings, "namespace-teardown").await?;
    let channel = connection
        .create_channel()
        .await
        .map_err(AmqpError::channel("opening a channel to delete on"))?;
    let mut queues = vec![topology.outcomes_queue()];
    for service in services {
        // However many shards the service had: deleting a missing queue costs little.
        queues.extend((0..BUCKETS).map(|shard| topology.shard_queue(service, shard)));
        queues.push(topology.dead_letter_queue(service));
        queues.extend(
            settings
                .retry_delays_ms
                .iter()
                .map(|delay| topology.retry_queue(service, *delay)),
        );
    }
    for queue in queues {
        // Deleting a queue that does not exist succeeds in RabbitMQ.
        channel
            .queue_delete(short(&queue)?, QueueDeleteOptions::default())
            .await
            .map_err(AmqpError::channel("deleting a queue"))?;
    }
    let mut exchanges = vec![
        topology.exchange(),
        topology.dead_letter_exchange(),
        topology.outcomes_exchange(),
    ];
    for service in services {
        exchanges.push(topology.shard_exchange(service));
        exchanges.push(topology.retry_exchange(service));
    }
    for exchange in exchanges {
        channel
            .exchange_delete(short(&exchange)?, ExchangeDeleteOptions::default())
            .await
            .map_err(AmqpError::channel("deleting an exchange"))?;
    }
    close(&connection, &[&channel]).await;
    Ok(())
}
