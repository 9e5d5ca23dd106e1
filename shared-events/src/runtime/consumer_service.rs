//! A consuming service's workers on either transport: the transport is chosen in one place, by
//! one value ([`Transport`]), and the rest of the service does not know which it is.

use std::path::PathBuf;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use anyhow::Context;

use crate::app::settings::AmqpSettings;
use crate::contract::shard::ShardCount;
use crate::runtime::amqp::BrokerLink;
use crate::runtime::amqp::consumer::run_consumer;
use crate::runtime::amqp::failure_drain::run_failure_drain;
use crate::runtime::embedded::{EmbeddedLink, run_embedded_consumer};
use crate::runtime::handler::EventHandler;
use crate::runtime::shards::{Membership, OwnedShards, ShardOpener, ShardRouter, run_shard_owner};
use crate::runtime::tasks::Tasks;
use crate::storage::failure_log::FailureLog;

/// Which way events travel: the one value that chooses the transport for every service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    /// In one process: the order journal is the log, each consumer keeps a durable offset.
    Embedded,
    /// Through RabbitMQ.
    Amqp,
}

/// How order events reach a consuming service.
#[derive(Debug, Clone)]
pub enum Transport {
    /// From its RabbitMQ work queue; dead letters come back through the dead-letter queue and
    /// outcomes go to the outcomes exchange.
    Amqp(AmqpSettings),
    /// From the order journal in the same process.
    Embedded(EmbeddedLink),
}

/// What a consumer needs besides its shards: where events come from, and where it keeps its
/// files.
#[derive(Debug)]
pub struct ConsumerParts {
    /// Where events come from.
    pub transport: Transport,
    /// The service's data directory (the embedded transport keeps its offset there).
    pub data_dir: PathBuf,
    /// The service's `failure.json`.
    pub failure_log: Arc<FailureLog>,
    /// How many shards the service has.
    pub shards: ShardCount,
    /// This replica among the service's replicas.
    pub membership: Membership,
    /// The shards this replica owns, kept up to date.
    pub owned: OwnedShards,
    /// Whether its broker sessions are connected, kept up to date (over RabbitMQ).
    pub broker: BrokerLink,
}

/// Starts, in `tasks`, the workers that feed the shards `opener` opens from the transport and
/// record what they give up on in the failure log, until `shutdown`. Over RabbitMQ: the shard
/// owner, which takes this replica's share of the shards and consumes each one's queue, and
/// the failure drain. In process: every shard is this replica's, and one reader of the log
/// routes each event to its shard. Each finishes the events in hand before it ends.
pub fn spawn_consumer<O: ShardOpener>(
    tasks: &mut Tasks,
    opener: Arc<O>,
    parts: ConsumerParts,
    shutdown: &CancellationToken,
) {
    let ConsumerParts {
        transport,
        data_dir,
        failure_log,
        shards,
        membership,
        owned,
        broker,
    } = parts;
    let service = <O::Handler as EventHandler>::SERVICE;
    match transport {
        Transport::Amqp(amqp) => {
            let consumers = amqp.clone();
            let consumers_link = broker.clone();
            tasks.spawn(
                "shard owner",
                run_shard_owner(
                    opener,
                    membership,
                    shards,
                    owned,
                    move |shard, handler, stop| {
                        run_consumer(
                            consumers.clone(),
                            handler,
                            shards,
                            shard,
                            consumers_link.clone(),
                            stop,
                        )
                    },
                    shutdown.clone(),
                ),
            );
            tasks.spawn(
                "failure drain",
                run_failure_drain(amqp, service, shards, failure_log, broker, shutdown.clone()),
            );
        }
        Transport::Embedded(link) => {
            let shutdown = shutdown.clone();
            tasks.spawn("embedded consumer", async move {
                let router = open_every_shard(&opener, shards, &owned).await?;
                let result =
                    run_embedded_consumer(Arc::new(router), link, &data_dir, failure_log, shutdown)
                        .await;
                for shard in shards.all() {
                    owned.set(shard, false);
                    opener.close(shard);
                }
                membership.leave();
                result
            });
        }
    }
}

/// Opens every shard for the one reader of the embedded transport.
async fn open_every_shard<O: ShardOpener>(
    opener: &Arc<O>,
    shards: ShardCount,
    owned: &OwnedShards,
) -> anyhow::Result<ShardRouter<O::Handler>> {
    let mut handlers = Vec::with_capacity(usize::from(shards.get()));
    for shard in shards.all() {
        let opening = Arc::clone(opener);
        let handler = tokio::task::spawn_blocking(move || opening.open(shard))
            .await
            .context("opening a shard panicked")??
            .with_context(|| format!("shard {shard} is held by another process"))?;
        owned.set(shard, true);
        handlers.push(handler);
    }
    Ok(ShardRouter::new(shards, handlers))
}
