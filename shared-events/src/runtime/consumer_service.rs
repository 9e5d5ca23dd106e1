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
use crate::runtime::disk_health::{DiskHealth, is_disk_failure};
use crate::runtime::embedded::offset::OffsetFile;
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
    /// Whether its data directory takes writes, kept up to date (in process).
    pub disk: DiskHealth,
}

/// Starts, in `tasks`, the workers that feed the shards `opener` opens from the transport and
/// record what they give up on in the failure log, until `shutdown`. Over RabbitMQ: the shard
/// owner, which takes this replica's share of the shards and consumes each one's queue, and
/// the failure drain. In process: every shard is this replica's, and one reader of the log
/// routes each event to its shard; when the service's storage fails a write, the reader stops,
/// closes the shards and opens them again from their files once the disk takes writes, `disk`
/// saying meanwhile that it does not. Each finishes the events in hand before it ends.
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
        disk,
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
            let reader = EmbeddedReader {
                opener,
                link,
                data_dir,
                failure_log,
                shards,
                owned,
                disk,
            };
            let shutdown = shutdown.clone();
            tasks.spawn("embedded consumer", async move {
                let result = reader.consume(&shutdown).await;
                membership.leave();
                result
            });
        }
    }
}

/// The one reader of the log in process, and the shards it feeds.
struct EmbeddedReader<O: ShardOpener> {
    opener: Arc<O>,
    link: EmbeddedLink,
    data_dir: PathBuf,
    failure_log: Arc<FailureLog>,
    shards: ShardCount,
    owned: OwnedShards,
    disk: DiskHealth,
}

impl<O: ShardOpener> EmbeddedReader<O> {
    /// Consumes until `shutdown`, through failures of the disk: a run that ends on one marks
    /// the disk failed (which the readiness probe tells) and closes every shard; after a pause
    /// (the shard owner's pause-and-retry, in short: a full disk may have room again within
    /// seconds) the next run opens them again from their files and reads the log from the
    /// saved offset. The events meanwhile wait in the log, which keeps what this consumer has
    /// not passed; the other services go on. Any other failure (a damaged file) is returned.
    async fn consume(&self, shutdown: &CancellationToken) -> anyhow::Result<()> {
        loop {
            let result = self.run(shutdown).await;
            for shard in self.shards.all() {
                self.owned.set(shard, false);
                self.opener.close(shard);
            }
            match result {
                Ok(()) => return Ok(()),
                Err(error) if is_disk_failure(&error) => {
                    self.disk.failed(&error);
                    if shutdown.is_cancelled() || !self.disk.pause(shutdown).await {
                        return Ok(());
                    }
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// One run: opens every shard and reads the log until `shutdown` or a storage failure.
    /// After a failure, the offset is written again first: until that succeeds, nothing is
    /// opened (opening a large ledger reads it all).
    async fn run(&self, shutdown: &CancellationToken) -> anyhow::Result<()> {
        if self.disk.is_failed() {
            let offset = OffsetFile::in_dir(&self.data_dir);
            tokio::task::spawn_blocking(move || offset.rewrite())
                .await
                .context("the offset writer panicked")?
                .context("the data directory does not take writes yet")?;
        }
        let router = open_every_shard(&self.opener, self.shards, &self.owned).await?;
        let opener = &self.opener;
        let shards = self.shards;
        let ledgers_writable = move || shards.all().all(|shard| opener.is_healthy(shard));
        run_embedded_consumer(
            Arc::new(router),
            self.link.clone(),
            &self.data_dir,
            Arc::clone(&self.failure_log),
            &ledgers_writable,
            &self.disk,
            shutdown.clone(),
        )
        .await
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
