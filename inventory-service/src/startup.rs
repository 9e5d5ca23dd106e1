//! Building and running the service: open the ledger, bind, then serve and consume until stopped.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use shared_events::amqp::service::{ConsumerService, Opened};
use shared_events::durable_state::DurableState;
use shared_events::embedded::EmbeddedLink;
use shared_events::settings::ConsumerSettings;
use tokio_util::sync::CancellationToken;

use crate::handler::StockHandler;
use crate::ledger::StockLedger;
use crate::routes;

/// The name of the ledger's files in the data directory (`stock.json`, `stock-journal.jsonl`).
pub const LEDGER_NAME: &str = "stock";

/// A bound, ready-to-run inventory service.
pub struct Application {
    service: ConsumerService,
    server: Server,
    ledger: DurableState<StockLedger>,
}

impl Application {
    /// Opens the ledger and the failure log in the data directory and binds the HTTP listener
    /// (port 0 picks one). Nothing is consumed until [`Application::run_until_stopped`].
    pub async fn build(settings: ConsumerSettings) -> anyhow::Result<Application> {
        let failure_log_path = failure_log_path(&settings.data_dir);
        let Opened {
            service,
            state: ledger,
            listener,
        } = ConsumerService::open(
            &settings.data_dir,
            LEDGER_NAME,
            failure_log_path,
            settings.http.addr,
            settings.amqp,
        )
        .await?;
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
            service,
            server,
            ledger,
        })
    }

    /// Takes order events from the embedded transport (the all-in-one platform) instead of
    /// RabbitMQ.
    pub fn use_embedded(&mut self, link: EmbeddedLink) {
        self.service.use_embedded(link);
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.service.port()
    }

    /// The base URL, such as `http://127.0.0.1:8081`.
    pub fn url(&self) -> String {
        self.service.url()
    }

    /// The token that stops the application when cancelled, as SIGTERM and SIGINT do.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.service.shutdown_token()
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
        let server_handle = self.server.handle();
        let ledger = self.ledger.clone();
        let handler = Arc::new(StockHandler::new(self.ledger));
        let stop_server = move || async move { server_handle.stop(true).await };
        let result = self.service.run(handler, self.server, stop_server).await;
        // Releases the data directory even if a clone of the ledger outlives the service.
        ledger.close();
        result
    }
}

/// The failure log's path in `data_dir`: dead-lettered events, replayable with `failures`.
pub fn failure_log_path(data_dir: &Path) -> PathBuf {
    data_dir.join("failure.json")
}
