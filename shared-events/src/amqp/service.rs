//! What every consuming service's `Application` shares: its data files, its listener, and the
//! lifecycle in which its HTTP server and its transport's workers ([`run_consumer`] and
//! [`run_failure_drain`] over RabbitMQ, or [`run_embedded_consumer`] in one process) run side by
//! side until a signal, the shutdown token, or one of them stops on its own; then the rest are
//! stopped gracefully.

use std::collections::HashMap;
use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};
use tokio::task::{self, JoinSet};
use tokio_util::sync::CancellationToken;

use crate::amqp::consumer::run_consumer;
use crate::amqp::failure_drain::run_failure_drain;
use crate::amqp::handler::EventHandler;
use crate::durable_state::{DurableState, StateMachine};
use crate::embedded::{EmbeddedLink, run_embedded_consumer};
use crate::failure_log::FailureLog;
use crate::settings::AmqpSettings;

/// A consuming service's bound address, data directory, failure log, transport and shutdown
/// token: all it needs, besides its HTTP server and its handler, to run.
pub struct ConsumerService {
    address: SocketAddr,
    data_dir: PathBuf,
    failure_log: Arc<FailureLog>,
    transport: Transport,
    shutdown: CancellationToken,
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

/// A freshly opened consuming service: the parts its `Application` is built from.
pub struct Opened<S: StateMachine> {
    /// The lifecycle's part, see [`ConsumerService::run`].
    pub service: ConsumerService,
    /// The service's state, named by `state_name` in the data directory.
    pub state: DurableState<S>,
    /// The bound HTTP listener, for the service's server.
    pub listener: TcpListener,
}

impl ConsumerService {
    /// Opens the state `state_name` in `data_dir` and the failure log at `failure_log_path`, then
    /// binds `http` (port 0 picks one). Nothing runs until [`ConsumerService::run`].
    pub async fn open<S: StateMachine>(
        data_dir: &Path,
        state_name: &'static str,
        failure_log_path: PathBuf,
        http: SocketAddr,
        amqp: AmqpSettings,
    ) -> anyhow::Result<Opened<S>> {
        let dir = data_dir.to_owned();
        let data_dir = data_dir.to_owned();
        let (state, failure_log) = tokio::task::spawn_blocking(move || {
            // The state locks the directory, so it goes first: a second process stops here.
            let state = DurableState::open(&data_dir, state_name).with_context(|| {
                format!(
                    "failed to open the {state_name} ledger in {}",
                    data_dir.display()
                )
            })?;
            let failure_log = FailureLog::open(&failure_log_path).with_context(|| {
                format!(
                    "failed to open the failure log {}",
                    failure_log_path.display()
                )
            })?;
            anyhow::Ok((state, failure_log))
        })
        .await
        .context("the ledger opener panicked")??;
        let listener = TcpListener::bind(http).with_context(|| format!("failed to bind {http}"))?;
        let address = listener
            .local_addr()
            .context("failed to read the bound address")?;
        let service = ConsumerService {
            address,
            data_dir: dir,
            failure_log: Arc::new(failure_log),
            transport: Transport::Amqp(amqp),
            shutdown: CancellationToken::new(),
        };
        Ok(Opened {
            service,
            state,
            listener,
        })
    }

    /// Takes events from the embedded transport instead of the broker.
    pub fn use_embedded(&mut self, link: EmbeddedLink) {
        self.transport = Transport::Embedded(link);
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// The base URL, such as `http://127.0.0.1:8081` (or `http://[::1]:8081`).
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The token that stops the service when cancelled, as SIGTERM and SIGINT do.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Runs the service with [`run_consumer_service`] until it is stopped.
    pub async fn run<H, Stop>(
        self,
        handler: Arc<H>,
        http: impl Future<Output = std::io::Result<()>> + Send + 'static,
        stop_http: impl FnOnce() -> Stop,
    ) -> anyhow::Result<()>
    where
        H: EventHandler,
        Stop: Future<Output = ()>,
    {
        let ConsumerService {
            data_dir,
            failure_log,
            transport,
            shutdown,
            ..
        } = self;
        let consumer = ConsumerParts {
            transport,
            data_dir,
            failure_log,
        };
        run_consumer_service(handler, consumer, http, stop_http, shutdown).await
    }
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

/// Serves `http`, consumes the service's events with `handler` and records what it gives up on
/// in the failure log until SIGTERM, SIGINT or `shutdown` is cancelled, or until one of them stops on
/// its own (an error). Then cancels `shutdown`, calls `stop_http` (which should stop the server
/// gracefully, answering in-flight requests) and waits for everything to end: the message being
/// handled is finished and acknowledged. The first failure becomes the result.
///
/// The server must not handle signals itself: they stop the whole service, not only the server.
pub async fn run_consumer_service<H, Stop>(
    handler: Arc<H>,
    consumer: ConsumerParts,
    http: impl Future<Output = std::io::Result<()>> + Send + 'static,
    stop_http: impl FnOnce() -> Stop,
    shutdown: CancellationToken,
) -> anyhow::Result<()>
where
    H: EventHandler,
    Stop: Future<Output = ()>,
{
    let mut tasks = Tasks::default();
    tasks.spawn("HTTP server", async move {
        http.await.context("the HTTP server failed")
    });
    let ConsumerParts {
        transport,
        data_dir,
        failure_log,
    } = consumer;
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

    let mut outcome = Ok(());
    tokio::select! {
        reason = stop_requested(&shutdown) => tracing::info!(reason, "stopping"),
        Some((task, result)) = tasks.next() => match result {
            // Asked to stop, it was merely quicker than this select to notice.
            Ok(()) if shutdown.is_cancelled() => tracing::info!(task, "stopped"),
            result => {
                let error = result.err().unwrap_or_else(|| anyhow::anyhow!("it stopped without being asked"));
                tracing::error!(task, error = format!("{error:#}"), "stopped first; stopping the rest");
                outcome = Err(error.context(format!("the {task} stopped")));
            }
        }
    }
    shutdown.cancel();
    stop_http().await;
    while let Some((task, result)) = tasks.next().await {
        match result {
            Ok(()) => tracing::info!(task, "stopped"),
            Err(error) => {
                tracing::error!(task, error = format!("{error:#}"), "failed while stopping");
                if outcome.is_ok() {
                    outcome = Err(error.context(format!("the {task} failed while stopping")));
                }
            }
        }
    }
    outcome
}

/// The service's long-running parts, by name, so that whichever ends can be named.
#[derive(Default)]
struct Tasks {
    set: JoinSet<anyhow::Result<()>>,
    names: HashMap<task::Id, &'static str>,
}

impl Tasks {
    fn spawn(
        &mut self,
        name: &'static str,
        task: impl Future<Output = anyhow::Result<()>> + Send + 'static,
    ) {
        let id = self.set.spawn(task).id();
        self.names.insert(id, name);
    }

    /// The next task to end, by name, with its result (a panic as an error).
    async fn next(&mut self) -> Option<(&'static str, anyhow::Result<()>)> {
        let (id, result) = match self.set.join_next_with_id().await? {
            Ok((id, result)) => (id, result),
            Err(error) => (error.id(), Err(anyhow::anyhow!("it panicked: {error}"))),
        };
        Some((self.names.get(&id).copied().unwrap_or("task"), result))
    }
}

/// Waits for SIGTERM, SIGINT or the token, and says which came.
async fn stop_requested(shutdown: &CancellationToken) -> &'static str {
    tokio::select! {
        () = shutdown.cancelled() => "shutdown requested",
        () = signalled(SignalKind::terminate()) => "SIGTERM",
        () = signalled(SignalKind::interrupt()) => "SIGINT",
    }
}

async fn signalled(kind: SignalKind) {
    match signal(kind) {
        Ok(mut signals) => {
            signals.recv().await;
        }
        Err(error) => {
            // Without the handler the signal keeps its default effect, which also stops us.
            tracing::warn!(error = %error, "cannot listen for a signal");
            std::future::pending::<()>().await;
        }
    }
}
