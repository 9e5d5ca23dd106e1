//! Building and running the service: open the ledger, bind, then serve and consume until stopped.

use std::collections::HashMap;
use std::future::Future;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use shared_events::amqp::EventHandler;
use shared_events::amqp::consumer::run_consumer;
use shared_events::amqp::failure_drain::run_failure_drain;
use shared_events::durable_state::DurableState;
use shared_events::failure_log::FailureLog;
use shared_events::settings::{AmqpSettings, ConsumerSettings};
use tokio::signal::unix::{SignalKind, signal};
use tokio::task::{self, JoinSet};
use tokio_util::sync::CancellationToken;

use crate::handler::StockHandler;
use crate::ledger::StockLedger;
use crate::routes;

/// The name of the ledger's files in the data directory (`stock.json`, `stock-journal.jsonl`).
pub const LEDGER_NAME: &str = "stock";

/// A bound, ready-to-run inventory service.
pub struct Application {
    port: u16,
    host: String,
    server: Server,
    ledger: DurableState<StockLedger>,
    failure_log: Arc<FailureLog>,
    amqp: AmqpSettings,
    shutdown: CancellationToken,
}

/// The application's long-running parts, by name, so that whichever ends can be named.
#[derive(Default)]
struct Tasks {
    set: JoinSet<anyhow::Result<()>>,
    names: HashMap<task::Id, &'static str>,
}

impl Application {
    /// Opens the ledger and the failure log in the data directory and binds the HTTP listener
    /// (port 0 picks one). Nothing is consumed until [`Application::run_until_stopped`].
    pub async fn build(settings: ConsumerSettings) -> anyhow::Result<Application> {
        let data_dir = settings.data_dir.clone();
        let (ledger, failure_log) = tokio::task::spawn_blocking(move || open_files(&data_dir))
            .await
            .context("the ledger opener panicked")??;
        let listener = TcpListener::bind(settings.http.addr)
            .with_context(|| format!("failed to bind {}", settings.http.addr))?;
        let address = listener
            .local_addr()
            .context("failed to read the bound address")?;
        let ledger_data = web::Data::new(ledger.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(ledger_data.clone())
                .configure(routes::configure)
        })
        // Signals stop the whole application, not only the server: see `run_until_stopped`.
        .disable_signals()
        .shutdown_timeout(10)
        .listen(listener)
        .context("failed to listen")?
        .run();
        Ok(Application {
            port: address.port(),
            host: address.ip().to_string(),
            server,
            ledger,
            failure_log: Arc::new(failure_log),
            amqp: settings.amqp,
            shutdown: CancellationToken::new(),
        })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The base URL, such as `http://127.0.0.1:8081`.
    pub fn url(&self) -> String {
        if self.host.contains(':') {
            format!("http://[{}]:{}", self.host, self.port)
        } else {
            format!("http://{}:{}", self.host, self.port)
        }
    }

    /// The token that stops the application when cancelled, as SIGTERM and SIGINT do.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// The stock ledger the application keeps.
    pub fn ledger(&self) -> &DurableState<StockLedger> {
        &self.ledger
    }

    /// Serves HTTP, consumes order events and drains dead letters into `failure.json` until
    /// SIGTERM, SIGINT or [`Application::shutdown_token`] is cancelled, or until one of them
    /// stops on its own (an error). Then stops the others gracefully: the message being handled
    /// is finished and acknowledged, and in-flight requests are answered.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let Application {
            server,
            ledger,
            failure_log,
            amqp,
            shutdown,
            ..
        } = self;
        let server_handle = server.handle();
        let handler = Arc::new(StockHandler::new(ledger));
        let mut tasks = Tasks::default();
        tasks.spawn("HTTP server", async move {
            server.await.context("the HTTP server failed")
        });
        tasks.spawn(
            "consumer",
            run_consumer(amqp.clone(), handler, shutdown.clone()),
        );
        tasks.spawn(
            "failure drain",
            run_failure_drain(amqp, StockHandler::SERVICE, failure_log, shutdown.clone()),
        );

        let mut outcome = Ok(());
        tokio::select! {
            reason = stop_requested(&shutdown) => tracing::info!(reason, "stopping"),
            Some((task, result)) = tasks.next() => {
                let error = result.err().unwrap_or_else(|| anyhow::anyhow!("it stopped without being asked"));
                tracing::error!(task, error = format!("{error:#}"), "stopped first; stopping the rest");
                outcome = Err(error.context(format!("the {task} stopped")));
            }
        }
        shutdown.cancel();
        server_handle.stop(true).await;
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
}

/// The failure log's path in `data_dir`: dead-lettered events, replayable with `failures`.
pub fn failure_log_path(data_dir: &Path) -> PathBuf {
    data_dir.join("failure.json")
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

fn open_files(data_dir: &Path) -> anyhow::Result<(DurableState<StockLedger>, FailureLog)> {
    // The ledger locks the directory, so it goes first: a second process stops here.
    let ledger = DurableState::open(data_dir, LEDGER_NAME)
        .with_context(|| format!("failed to open the stock ledger in {}", data_dir.display()))?;
    let path = failure_log_path(data_dir);
    let failure_log = FailureLog::open(&path)
        .with_context(|| format!("failed to open the failure log {}", path.display()))?;
    Ok((ledger, failure_log))
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
