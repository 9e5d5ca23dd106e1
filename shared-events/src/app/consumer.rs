//! The one consumer application: a service that consumes order events with its handler, keeps
//! its ledger, and serves its routes. Inventory, billing and notification are each this
//! application with their own [`Consumer`] parts.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use actix_web::{App, web};
use anyhow::Context;
use config::builder::DefaultState;
use config::{ConfigBuilder, ConfigError};
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use crate::app::routes;
use crate::app::server::{self, BoundServer};
use crate::app::settings::{AmqpSettings, ConsumerSettings, HttpSettings, LogSettings};
use crate::runtime::consumer_service::{ConsumerParts, Transport, spawn_consumer};
use crate::runtime::embedded::EmbeddedLink;
use crate::runtime::handler::EventHandler;
use crate::runtime::tasks::Tasks;
use crate::storage::durable_state::{DurableState, StateMachine};
use crate::storage::failure_log::FailureLog;

/// What makes a consumer service itself: its handler, its ledger, its routes and settings.
pub trait Consumer: Send + Sync + 'static {
    /// Applies each event; the routes get it as `web::Data<Self::Handler>`.
    type Handler: EventHandler;
    /// The ledger's state; the routes get it as `web::Data<DurableState<Self::Ledger>>`.
    type Ledger: StateMachine;
    /// Everything the service is configured with.
    type Settings: ServiceSettings;

    /// The name of the ledger's files in the data directory (`stock` for `stock.json`).
    const LEDGER: &'static str;
    /// Where the HTTP server listens unless configured otherwise.
    const DEFAULT_ADDR: &'static str;
    /// One line on what the service does, for `--help`.
    const ABOUT: &'static str;

    /// The service's name (`inventory`): its queue, its outcomes, its data folder.
    fn name() -> &'static str {
        <Self::Handler as EventHandler>::SERVICE
    }

    /// The built-in defaults of [`Consumer::Settings`].
    fn defaults(
        builder: ConfigBuilder<DefaultState>,
    ) -> Result<ConfigBuilder<DefaultState>, ConfigError> {
        ConsumerSettings::defaults(Self::name(), Self::DEFAULT_ADDR, builder)
    }

    /// The handler over the opened ledger.
    fn handler(
        ledger: DurableState<Self::Ledger>,
        settings: &Self::Settings,
    ) -> anyhow::Result<Self::Handler>;

    /// Registers the service's routes (the probes come from [`routes::probes`]).
    fn routes(config: &mut web::ServiceConfig);
}

/// What the consumer application reads from a service's settings.
pub trait ServiceSettings: DeserializeOwned + Clone + fmt::Debug + Send + Sync + 'static {
    /// The HTTP server.
    fn http(&self) -> &HttpSettings;
    /// The folder for the service's files.
    fn data_dir(&self) -> &Path;
    /// Logging.
    fn log(&self) -> &LogSettings;
    /// The broker.
    fn amqp(&self) -> &AmqpSettings;

    /// The failure log: `<data_dir>/failure.json`.
    fn failure_log_path(&self) -> PathBuf {
        self.data_dir().join("failure.json")
    }
}

/// Implements [`ServiceSettings`] for a settings struct with the fields `http`, `data_dir`, `log`
/// and `amqp`.
#[macro_export]
macro_rules! service_settings {
    ($settings:ty) => {
        impl $crate::app::consumer::ServiceSettings for $settings {
            fn http(&self) -> &$crate::app::settings::HttpSettings {
                &self.http
            }
            fn data_dir(&self) -> &::std::path::Path {
                &self.data_dir
            }
            fn log(&self) -> &$crate::app::settings::LogSettings {
                &self.log
            }
            fn amqp(&self) -> &$crate::app::settings::AmqpSettings {
                &self.amqp
            }
        }
    };
}

crate::service_settings!(ConsumerSettings);

/// A bound, ready-to-run consumer service.
pub struct ConsumerApplication<C: Consumer> {
    server: BoundServer,
    handler: Arc<C::Handler>,
    ledger: DurableState<C::Ledger>,
    parts: ConsumerParts,
}

impl<C: Consumer> ConsumerApplication<C> {
    /// Opens the ledger and the failure log in the data directory and binds the HTTP listener
    /// (port 0 picks one). Nothing is consumed until [`ConsumerApplication::run`].
    pub async fn build(settings: C::Settings) -> anyhow::Result<ConsumerApplication<C>> {
        let data_dir = settings.data_dir().to_owned();
        let failure_log_path = settings.failure_log_path();
        let (ledger, failure_log) = tokio::task::spawn_blocking(move || {
            // The ledger locks the directory, so it goes first: a second process stops here.
            let ledger = DurableState::open(&data_dir, C::LEDGER).with_context(|| {
                format!(
                    "failed to open the {} ledger in {}",
                    C::LEDGER,
                    data_dir.display()
                )
            })?;
            let failure_log = FailureLog::open(&failure_log_path).with_context(|| {
                format!(
                    "failed to open the failure log {}",
                    failure_log_path.display()
                )
            })?;
            anyhow::Ok((ledger, failure_log))
        })
        .await
        .context("the ledger opener panicked")??;
        let handler = Arc::new(C::handler(ledger.clone(), &settings)?);

        let handler_data = web::Data::from(Arc::clone(&handler));
        let ledger_data = web::Data::new(ledger.clone());
        let body_limit = settings.http().max_body_bytes;
        let server = server::bind(settings.http(), move || {
            App::new()
                .app_data(handler_data.clone())
                .app_data(ledger_data.clone())
                .app_data(routes::json_config(body_limit))
                .app_data(web::PayloadConfig::new(body_limit))
                .configure(C::routes)
                .default_service(web::to(routes::not_found))
        })?;
        let parts = ConsumerParts {
            transport: Transport::Amqp(settings.amqp().clone()),
            data_dir: settings.data_dir().to_owned(),
            failure_log: Arc::new(failure_log),
        };
        Ok(ConsumerApplication {
            server,
            handler,
            ledger,
            parts,
        })
    }

    /// Takes order events from the embedded transport (the all-in-one platform) instead of
    /// RabbitMQ.
    pub fn use_embedded(&mut self, link: EmbeddedLink) {
        self.parts.transport = Transport::Embedded(link);
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.server.port
    }

    /// The base URL, such as `http://127.0.0.1:8081`.
    pub fn url(&self) -> String {
        self.server.url.clone()
    }

    /// The event handler.
    pub fn handler(&self) -> Arc<C::Handler> {
        Arc::clone(&self.handler)
    }

    /// The ledger the service keeps.
    pub fn ledger(&self) -> &DurableState<C::Ledger> {
        &self.ledger
    }

    /// Serves HTTP, consumes order events and records what it gives up on in `failure.json`
    /// until `shutdown` is cancelled or one of them stops on its own (an error). Then stops the
    /// others gracefully: the events in hand are finished and acknowledged, in-flight requests
    /// answered; and releases the data directory.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let ConsumerApplication {
            server,
            handler,
            ledger,
            parts,
        } = self;
        let mut tasks = Tasks::default();
        let server_handle = server.serve_in(&mut tasks);
        spawn_consumer(&mut tasks, handler, parts, &shutdown);
        let result = tasks
            .run_until_stopped(shutdown, || server_handle.stop(true))
            .await;
        // Releases the data directory even if a clone of the ledger outlives the service.
        ledger.close();
        result
    }
}
