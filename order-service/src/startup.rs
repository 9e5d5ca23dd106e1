//! Building and running the service: open the store, bind, then serve, publish and listen for
//! outcomes until told to stop.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::ServerHandle;
use actix_web::middleware::from_fn;
use actix_web::{App, web};
use anyhow::Context;
use shared_events::app::auth::Permission;
use shared_events::app::auth::authentication::{Authentication, SignInPage};
use shared_events::app::request_guard::RequestGuard;
use shared_events::app::routes::Liveness;
use shared_events::app::server::{self, BoundServer};
use shared_events::app::settings::AmqpSettings;
use shared_events::app::{metrics, request_trace};
use shared_events::runtime::Tasks;
use shared_events::storage::failure_log::FailureLog;
use tokio_util::sync::CancellationToken;

use crate::SERVICE;
use crate::deliveries::Deliveries;
use crate::http::{self, BodyLimit};
use crate::outbox_relay::{OutboxRelay, SharedRelayStatus};
use crate::outcome_listener::run_outcome_listener;
use crate::settings::{Settings, TransportKind};
use crate::store::OrderStore;
use crate::web::{self as page, Stopping};

/// A bound, ready-to-run order service.
pub struct Application {
    server: BoundServer,
    store: OrderStore,
    deliveries: Deliveries,
    relay: Option<OutboxRelay>,
    /// The broker the consumers' outcomes come back over, when it is the transport.
    outcomes: Option<AmqpSettings>,
    stopping: CancellationToken,
}

impl Application {
    /// Opens the store in the data directory and binds the HTTP(S) listener (port 0 picks one).
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        Application::build_with(settings, None).await
    }

    /// [`Application::build`] on a `listener` already bound: a standby's, as it takes over.
    pub async fn build_on(
        settings: Settings,
        listener: TcpListener,
    ) -> anyhow::Result<Application> {
        Application::build_with(settings, Some(listener)).await
    }

    async fn build_with(
        settings: Settings,
        listener: Option<TcpListener>,
    ) -> anyhow::Result<Application> {
        // First: a damaged tokens file stops the service before it touches anything else.
        let sign_in = SignInPage {
            prefix: page::PREFIX,
            https: settings.http.tls.cert_file.is_some(),
        };
        let authentication =
            Authentication::with_page(&settings.auth, Permission::ChangeOrders, Some(sign_in))
                .context("failed to read the tokens file")?;
        // Before the store and the timelines register their journals' series: a series
        // registered before the recorder is installed records nothing.
        metrics::install();
        let data_dir = settings.data_dir.clone();
        let options = settings.store_options();
        let store = tokio::task::spawn_blocking(move || OrderStore::open(&data_dir, options))
            .await
            .context("the store opener panicked")?
            .with_context(|| {
                format!(
                    "failed to open the order store in {}",
                    settings.data_dir.display()
                )
            })?;
        let deliveries_dir = settings.data_dir.join(crate::deliveries::DIR);
        let consumers: Vec<String> = settings
            .outbox
            .consumers
            .iter()
            .map(|consumer| consumer.service.clone())
            .collect();
        let deliveries = tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&deliveries_dir)?;
            anyhow::Ok(Deliveries::open(&deliveries_dir, &consumers)?)
        })
        .await
        .context("the delivery timeline opener panicked")?
        .context("failed to open the delivery timelines")?;

        let failure_path = settings.data_dir.join("failure.json");
        let failures =
            tokio::task::spawn_blocking(move || FailureLog::open_reporting(&failure_path, "order"))
                .await
                .context("the failure log opener panicked")?
                .context("failed to open failure.json")?;
        let over_broker = settings.transport == TransportKind::Amqp;
        let relay = (over_broker && settings.outbox.enabled).then(|| {
            OutboxRelay::new(
                store.clone(),
                &settings.amqp,
                failures,
                settings.outbox.clone(),
                &settings.consumers(),
                deliveries.clone(),
            )
        });
        let relay_status = web::Data::new(
            relay
                .as_ref()
                .map(OutboxRelay::status)
                .unwrap_or_else(SharedRelayStatus::default),
        );

        let stopping = CancellationToken::new();
        let stopping_data = web::Data::new(Stopping(stopping.clone()));
        let store_data = web::Data::new(store.clone());
        let deliveries_data = web::Data::new(deliveries.clone());
        let limit = web::Data::new(BodyLimit(settings.http.max_body_bytes));
        let written = store.clone();
        let liveness = web::Data::new(Liveness::new(move || {
            written.has_failed_a_write().then(|| {
                "the order store failed a write; a restart recovers it from its files".to_owned()
            })
        }));
        let guard = RequestGuard::new(&settings.http);
        let authentication_data = web::Data::new(authentication.clone());
        let app = move || {
            let guard = guard.clone();
            let authentication = authentication.clone();
            App::new()
                // Innermost: what they refuse is still counted, traced and given a request id;
                // the request's host and origin are checked before its token.
                .wrap(from_fn(move |request, next| {
                    authentication.clone().check(request, next)
                }))
                .wrap(from_fn(move |request, next| {
                    guard.clone().check(request, next)
                }))
                .wrap(from_fn(http::request_id))
                .wrap(from_fn(|request, next| {
                    request_trace::trace_requests(SERVICE, request, next)
                }))
                .wrap(from_fn(|request, next| {
                    metrics::record_requests(SERVICE, request, next)
                }))
                .app_data(authentication_data.clone())
                .app_data(store_data.clone())
                .app_data(deliveries_data.clone())
                .app_data(stopping_data.clone())
                .app_data(relay_status.clone())
                .app_data(limit.clone())
                .app_data(liveness.clone())
                .app_data(web::Data::new(metrics::ExposedService(SERVICE)))
                .configure(page::routes)
                .configure(http::routes)
        };
        let server = match listener {
            Some(listener) => server::bind_listener(&settings.http, listener, app)?,
            None => server::bind(&settings.http, app)?,
        };
        Ok(Application {
            server,
            store,
            deliveries,
            relay,
            outcomes: over_broker.then(|| settings.amqp.clone()),
            stopping,
        })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.server.port
    }

    /// The base URL, such as `http://127.0.0.1:8080`.
    pub fn url(&self) -> String {
        self.server.url.clone()
    }

    /// The order store the server uses.
    pub fn store(&self) -> &OrderStore {
        &self.store
    }

    /// The delivery timelines the server shows.
    pub fn deliveries(&self) -> &Deliveries {
        &self.deliveries
    }

    /// Serves until `shutdown` is cancelled, with the outbox relay and the outcome listener
    /// beside the server when the broker is the transport; if any of them stops on its own, the
    /// rest are stopped too and that is the result. Then ends the page's live streams, lets
    /// in-flight requests finish, stops the relay, and closes the store and the timelines so
    /// that their directories are released.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let Application {
            server,
            store,
            deliveries,
            relay,
            outcomes,
            stopping,
        } = self;
        let mut tasks = Tasks::default();
        let handle = server.serve_in(&mut tasks);
        if let Some(relay) = relay {
            tasks.spawn("outbox relay", relay.run(shutdown.clone()));
        }
        if let Some(amqp) = outcomes {
            let deliveries = Arc::new(deliveries.clone());
            tasks.spawn(
                "outcome listener",
                run_outcome_listener(amqp, deliveries, shutdown.clone()),
            );
        }
        let result = tasks
            .run_until_stopped(shutdown, || stop_server(&stopping, &handle))
            .await;
        store.shutdown().await;
        deliveries.close().await;
        result
    }
}

/// Ends the web page's live streams (which would otherwise hold a graceful stop for the whole
/// shutdown timeout), then stops the server, letting in-flight requests finish.
async fn stop_server(stopping: &CancellationToken, server: &ServerHandle) {
    stopping.cancel();
    server.stop(true).await;
}
