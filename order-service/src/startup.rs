//! Building and running the service: open the store, bind, serve, shut down cleanly.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use shared_events::amqp::outcome_listener::run_outcome_listener;
use shared_events::failure_log::FailureLog;
use shared_events::settings::AmqpSettings;
use tokio_util::sync::CancellationToken;

use crate::deliveries::Deliveries;
use crate::http::{self, BodyLimit};
use crate::outbox_relay::{OutboxRelay, SharedRelayStatus};
use crate::settings::Settings;
use crate::store::OrderStore;
use crate::tls;

/// Stops a running order service: ends the web page's live streams (which would otherwise hold
/// a graceful stop for the whole shutdown timeout), then stops the server, letting in-flight
/// requests finish when `graceful`.
#[derive(Clone)]
pub struct StopHandle {
    stopping: CancellationToken,
    server: ServerHandle,
}

impl StopHandle {
    /// Stops the service; returns once the server has stopped.
    pub async fn stop(&self, graceful: bool) {
        self.stopping.cancel();
        self.server.stop(graceful).await;
    }
}

/// A bound, ready-to-run order service.
pub struct Application {
    port: u16,
    scheme: &'static str,
    host: String,
    server: Server,
    store: OrderStore,
    deliveries: Deliveries,
    relay: Option<OutboxRelay>,
    amqp: AmqpSettings,
    stopping: CancellationToken,
}

impl Application {
    /// Opens the store in the data directory and binds the HTTP(S) listener (port 0 picks one).
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
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
        let deliveries_dir = settings.data_dir.join("deliveries");
        let consumers = settings.outbox.consumers.clone();
        let deliveries = tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&deliveries_dir)?;
            anyhow::Ok(Deliveries::open(&deliveries_dir, &consumers)?)
        })
        .await
        .context("the delivery timeline opener panicked")?
        .context("failed to open the delivery timelines")?;
        let listener = TcpListener::bind(settings.http.addr)
            .with_context(|| format!("failed to bind {}", settings.http.addr))?;
        let address = listener
            .local_addr()
            .context("failed to read the bound address")?;

        let failure_path = settings.data_dir.join("failure.json");
        let failures = tokio::task::spawn_blocking(move || FailureLog::open(&failure_path))
            .await
            .context("the failure log opener panicked")?
            .context("failed to open failure.json")?;
        let relay = settings.outbox.enabled.then(|| {
            OutboxRelay::new(
                store.clone(),
                &settings.amqp,
                failures,
                settings.outbox.clone(),
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
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(from_fn(http::request_id))
                .app_data(store_data.clone())
                .app_data(deliveries_data.clone())
                .app_data(stopping_data.clone())
                .app_data(relay_status.clone())
                .app_data(limit.clone())
                .configure(http::routes)
        })
        // Signals are handled in `run_until_stopped`, which ends the live streams first.
        .disable_signals()
        .shutdown_timeout(10);
        if let Some(workers) = settings.http.workers {
            server = server.workers(workers);
        }
        let (server, scheme) = match (&settings.http.tls.cert_file, &settings.http.tls.key_file) {
            (Some(cert), Some(key)) => {
                let config = tls::server_config(cert, key)?;
                (
                    server
                        .listen_rustls_0_23(listener, config)
                        .context("failed to listen with TLS")?,
                    "https",
                )
            }
            _ => (server.listen(listener).context("failed to listen")?, "http"),
        };
        Ok(Application {
            port: address.port(),
            scheme,
            host: address.ip().to_string(),
            server: server.run(),
            store,
            deliveries,
            relay,
            amqp: settings.amqp.clone(),
            stopping,
        })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The base URL, such as `http://127.0.0.1:8080`.
    pub fn url(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{}://{}:{}", self.scheme, host, self.port)
    }

    /// A handle that stops the service.
    pub fn handle(&self) -> StopHandle {
        StopHandle {
            stopping: self.stopping.clone(),
            server: self.server.handle(),
        }
    }

    /// The order store the server uses.
    pub fn store(&self) -> &OrderStore {
        &self.store
    }

    /// The delivery timelines the server shows.
    pub fn deliveries(&self) -> &Deliveries {
        &self.deliveries
    }

    /// Serves until SIGINT, SIGTERM or [`StopHandle::stop`], with the outbox relay and the
    /// outcome listener beside the server (when the relay is on); then lets in-flight requests
    /// finish, stops the relay and closes the store and the timelines, so their directories are
    /// released.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let shutdown = CancellationToken::new();
        let handle = self.handle();
        tokio::spawn({
            let handle = handle.clone();
            async move {
                let signal = stop_signal(&handle.stopping).await;
                if let Some(signal) = signal {
                    tracing::info!(signal, "stopping");
                    handle.stop(true).await;
                }
            }
        });
        let deliveries = Arc::new(self.deliveries.clone());
        let relay = async {
            match self.relay {
                // With the broker, the consumers' outcomes come back over it.
                Some(relay) => tokio::try_join!(
                    relay.run(shutdown.clone()),
                    run_outcome_listener(self.amqp, deliveries, shutdown.clone()),
                )
                .map(drop),
                None => {
                    shutdown.cancelled().await;
                    Ok(())
                }
            }
        };
        tokio::pin!(relay);
        let mut server = self.server;
        let served = tokio::select! {
            served = &mut server => {
                tracing::info!("the HTTP server stopped");
                shutdown.cancel();
                if let Err(error) = relay.await {
                    tracing::error!(error = %error, "the outbox relay failed while stopping");
                }
                served.context("the HTTP server failed")
            }
            relayed = &mut relay => {
                tracing::error!(result = ?relayed, "the outbox relay stopped; stopping the service");
                handle.stop(true).await;
                let served = server.await;
                relayed.and(served.context("the HTTP server failed"))
            }
        };
        // Ends the signal listener whichever way the server stopped.
        handle.stopping.cancel();
        self.store.shutdown().await;
        self.deliveries.close().await;
        served
    }
}

/// The live streams' signal that the service is stopping.
pub(crate) struct Stopping(pub(crate) CancellationToken);

/// Waits for SIGTERM or SIGINT (`Some`, naming it) or for the service to stop otherwise (`None`).
async fn stop_signal(stopping: &CancellationToken) -> Option<&'static str> {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut terminate), Ok(mut interrupt)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without handlers the signals keep their default effect, which also stops us.
        tracing::warn!("cannot listen for signals");
        stopping.cancelled().await;
        return None;
    };
    tokio::select! {
        () = stopping.cancelled() => None,
        _ = terminate.recv() => Some("SIGTERM"),
        _ = interrupt.recv() => Some("SIGINT"),
    }
}
