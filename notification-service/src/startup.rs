//! Building and running the service: open the ledger, bind, then serve, consume and drain dead
//! letters until told to stop.

use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use shared_events::amqp::service::{ConsumerService, Opened};
use shared_events::embedded::EmbeddedLink;
use tokio_util::sync::CancellationToken;

use crate::handler::Notifier;
use crate::mailer::Mailer;
use crate::routes;
use crate::settings::Settings;

/// The ledger's files are `notifications.json` and `notifications-journal.jsonl`.
const LEDGER_NAME: &str = "notifications";

/// A bound, ready-to-run notification service.
pub struct Application {
    service: ConsumerService,
    server: Server,
    notifier: Arc<Notifier>,
}

impl Application {
    /// Opens the ledger and the failure log in the data directory, sets up the mailer and binds
    /// the HTTP listener (port 0 picks one). Nothing is consumed before
    /// [`Application::run_until_stopped`].
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let Opened {
            service,
            state: ledger,
            listener,
        } = ConsumerService::open(
            &settings.data_dir,
            LEDGER_NAME,
            settings.failure_log_path(),
            settings.http.addr,
            settings.amqp.clone(),
        )
        .await?;
        let mailer = Mailer::from_settings(&settings.smtp, &settings.data_dir)?;
        tracing::info!("emails go to {mailer}");
        let notifier = Arc::new(Notifier::new(ledger, mailer, settings.smtp.from.clone()));

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
            service,
            server,
            notifier,
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

    /// The base URL, such as `http://127.0.0.1:8083`.
    pub fn url(&self) -> String {
        self.service.url()
    }

    /// A token that stops the service when cancelled, as SIGTERM does.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.service.shutdown_token()
    }

    /// The event handler, with the ledger.
    pub fn notifier(&self) -> Arc<Notifier> {
        Arc::clone(&self.notifier)
    }

    /// Serves HTTP, consumes order events and drains dead letters into `failure.json`, until
    /// SIGINT, SIGTERM, the shutdown token, or one of them stopping. Then stops the others:
    /// the consumer finishes the event in hand, in-flight requests complete.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let server_handle = self.server.handle();
        let stop_server = move || async move { server_handle.stop(true).await };
        let notifier = Arc::clone(&self.notifier);
        let result = self
            .service
            .run(self.notifier, self.server, stop_server)
            .await;
        // Releases the data directory even if a clone of the ledger outlives the service.
        notifier.ledger().close();
        result
    }
}
