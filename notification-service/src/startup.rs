//! Building and running the service: open the ledger, bind, then serve, consume and drain dead
//! letters until told to stop.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use shared_events::amqp::EventHandler;
use shared_events::amqp::consumer::run_consumer;
use shared_events::amqp::failure_drain::run_failure_drain;
use shared_events::durable_state::DurableState;
use shared_events::failure_log::FailureLog;
use shared_events::settings::AmqpSettings;
use tokio::task::{JoinError, JoinSet};
use tokio_util::sync::CancellationToken;

use crate::handler::Notifier;
use crate::ledger::Ledger;
use crate::mailer::Mailer;
use crate::routes;
use crate::settings::Settings;

/// The ledger's files are `notifications.json` and `notifications-journal.jsonl`.
const LEDGER_NAME: &str = "notifications";

/// A bound, ready-to-run notification service.
pub struct Application {
    port: u16,
    host: String,
    server: Server,
    notifier: Arc<Notifier>,
    failure_log: Arc<FailureLog>,
    amqp: AmqpSettings,
    shutdown: CancellationToken,
}

impl Application {
    /// Opens the ledger and the failure log in the data directory, sets up the mailer and binds
    /// the HTTP listener (port 0 picks one). Nothing is consumed before
    /// [`Application::run_until_stopped`].
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let data_dir = settings.data_dir.clone();
        let failure_log_path = settings.failure_log_path();
        let (ledger, failure_log) = tokio::task::spawn_blocking(move || {
            let ledger = DurableState::<Ledger>::open(&data_dir, LEDGER_NAME)
                .with_context(|| format!("failed to open the ledger in {}", data_dir.display()))?;
            let failure_log = FailureLog::open(&failure_log_path)
                .with_context(|| format!("failed to open {}", failure_log_path.display()))?;
            anyhow::Ok((ledger, failure_log))
        })
        .await
        .context("the ledger opener panicked")??;
        let mailer = Mailer::from_settings(&settings.smtp, &settings.data_dir)?;
        tracing::info!("emails go to {mailer}");
        let notifier = Arc::new(Notifier::new(ledger, mailer, settings.smtp.from.clone()));

        let listener = TcpListener::bind(settings.http.addr)
            .with_context(|| format!("failed to bind {}", settings.http.addr))?;
        let address = listener
            .local_addr()
            .context("failed to read the bound address")?;
        let notifier_data = web::Data::from(Arc::clone(&notifier));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(notifier_data.clone())
                .configure(routes::routes)
        })
        .workers(settings.http.workers.max(1))
        // Signals are handled in `run_until_stopped`, which stops the consumer as well.
        .disable_signals()
        .shutdown_timeout(10)
        .listen(listener)
        .context("failed to listen")?
        .run();
        Ok(Application {
            port: address.port(),
            host: address.ip().to_string(),
            server,
            notifier,
            failure_log: Arc::new(failure_log),
            amqp: settings.amqp,
            shutdown: CancellationToken::new(),
        })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The base URL, such as `http://127.0.0.1:8083`.
    pub fn url(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("http://{}:{}", host, self.port)
    }

    /// A token that stops the service when cancelled, as SIGTERM does.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// The event handler, with the ledger.
    pub fn notifier(&self) -> Arc<Notifier> {
        Arc::clone(&self.notifier)
    }

    /// Serves HTTP, consumes order events and drains dead letters into `failure.json`, until
    /// SIGINT, SIGTERM, the shutdown token, or one of them stopping. Then stops the others:
    /// the consumer finishes the event in hand, in-flight requests complete.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let Application {
            server,
            notifier,
            failure_log,
            amqp,
            shutdown,
            ..
        } = self;
        let server_handle = server.handle();
        let mut workers = JoinSet::new();
        workers.spawn(async move {
            (
                "HTTP server",
                server.await.context("the HTTP server failed"),
            )
        });
        workers.spawn({
            let (amqp, shutdown) = (amqp.clone(), shutdown.clone());
            async move { ("consumer", run_consumer(amqp, notifier, shutdown).await) }
        });
        workers.spawn({
            let shutdown = shutdown.clone();
            async move {
                let drained =
                    run_failure_drain(amqp, Notifier::SERVICE, failure_log, shutdown).await;
                ("failure drain", drained)
            }
        });

        let first = tokio::select! {
            Some(stopped) = workers.join_next() => Some(stopped),
            () = shutdown_signal() => {
                tracing::info!("signal received, stopping");
                None
            }
            () = shutdown.cancelled() => {
                tracing::info!("stop requested");
                None
            }
        };
        let mut failure = FirstFailure::default();
        if let Some(stopped) = first {
            if let Ok((name, _)) = &stopped {
                tracing::warn!("the {name} stopped first; stopping the others");
            }
            failure.record(stopped);
        }
        shutdown.cancel();
        server_handle.stop(true).await;
        while let Some(stopped) = workers.join_next().await {
            failure.record(stopped);
        }
        failure.into_result()
    }
}

/// How a worker ended: its name and result, or its panic.
type Stopped = Result<(&'static str, anyhow::Result<()>), JoinError>;

/// The first error among the stopped workers, which becomes the service's result.
#[derive(Default)]
struct FirstFailure(Option<anyhow::Error>);

impl FirstFailure {
    fn record(&mut self, stopped: Stopped) {
        let error = match stopped {
            Ok((name, Ok(()))) => {
                tracing::info!("the {name} stopped");
                return;
            }
            Ok((name, Err(error))) => error.context(format!("the {name} failed")),
            Err(panic) => anyhow::Error::new(panic).context("a worker panicked"),
        };
        tracing::error!(error = ?error, "stopped with an error");
        self.0.get_or_insert(error);
    }

    fn into_result(self) -> anyhow::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
            }
            Err(error) => {
                tracing::warn!(error = %error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
