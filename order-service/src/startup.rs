//! Building and running the service: open the store, bind, serve, shut down cleanly.

use std::net::TcpListener;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;

use crate::http::{self, BodyLimit};
use crate::settings::Settings;
use crate::store::OrderStore;
use crate::tls;

/// A bound, ready-to-run order service.
pub struct Application {
    port: u16,
    scheme: &'static str,
    host: String,
    server: Server,
    store: OrderStore,
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
        let listener = TcpListener::bind(settings.http.addr)
            .with_context(|| format!("failed to bind {}", settings.http.addr))?;
        let address = listener
            .local_addr()
            .context("failed to read the bound address")?;

        let store_data = web::Data::new(store.clone());
        let limit = web::Data::new(BodyLimit(settings.http.max_body_bytes));
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(from_fn(http::request_id))
                .app_data(store_data.clone())
                .app_data(limit.clone())
                .configure(http::routes)
        })
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

    /// A handle that stops the server.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// The order store the server uses.
    pub fn store(&self) -> &OrderStore {
        &self.store
    }

    /// Serves until SIGINT, SIGTERM or [`ServerHandle::stop`]; then lets in-flight requests
    /// finish and closes the store, so the data directory is released.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let served = self.server.await;
        self.store.shutdown().await;
        served.context("the HTTP server failed")
    }
}
