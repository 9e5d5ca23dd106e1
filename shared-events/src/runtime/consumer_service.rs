//! A consuming service's workers on either transport: the transport is chosen in one place, by
//! one value ([`Transport`]), and the rest of the service does not know which it is.

use std::path::PathBuf;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::app::settings::AmqpSettings;
use crate::runtime::amqp::consumer::run_consumer;
use crate::runtime::amqp::failure_drain::run_failure_drain;
use crate::runtime::embedded::{EmbeddedLink, run_embedded_consumer};
use crate::runtime::handler::EventHandler;
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

/// What a consumer needs besides its handler: where events come from, and where it keeps its
/// files.
#[derive(Debug, Clone)]
pub struct ConsumerParts {
    /// Where events come from.
    pub transport: Transport,
    /// The service's data directory (the embedded transport keeps its offset there).
    pub data_dir: PathBuf,
    /// The service's `failure.json`.
    pub failure_log: Arc<FailureLog>,
}

/// Starts, in `tasks`, the workers that feed `handler` from the transport and record what it
/// gives up on in the failure log, until `shutdown`: the consumer and the failure drain over
/// RabbitMQ, the log reader in process. Each finishes the events in hand before it ends.
pub fn spawn_consumer<H: EventHandler>(
    tasks: &mut Tasks,
    handler: Arc<H>,
    parts: ConsumerParts,
    shutdown: &CancellationToken,
) {
    let ConsumerParts {
        transport,
        data_dir,
        failure_log,
    } = parts;
    match transport {
        Transport::Amqp(amqp) => {
            tasks.spawn(
                "consumer",
                run_consumer(amqp.clone(), handler, shutdown.clone()),
            );
            tasks.spawn(
                "failure drain",
                run_failure_drain(amqp, H::SERVICE, failure_log, shutdown.clone()),
            );
        }
        Transport::Embedded(link) => {
            let shutdown = shutdown.clone();
            tasks.spawn("embedded consumer", async move {
                run_embedded_consumer(handler, link, &data_dir, failure_log, shutdown).await
            });
        }
    }
}
