//! Every service's HTTP server, from the one [`HttpSettings`] shape: address, workers, body
//! limit, TLS. Signals are not the server's business: the service stops it.

use std::fmt;
use std::net::TcpListener;

use actix_http::{Request, Response};
use actix_service::IntoServiceFactory;
use actix_web::HttpServer;
use actix_web::body::MessageBody;
use actix_web::dev::{AppConfig, Server, ServiceFactory};
use anyhow::Context;

use crate::app::settings::HttpSettings;
use crate::app::tls;

/// How long a graceful stop waits for in-flight requests.
const SHUTDOWN_TIMEOUT_SECS: u64 = 10;

/// A bound server, not yet serving until awaited.
pub struct BoundServer {
    /// The server; await it to serve.
    pub server: Server,
    /// The base URL, such as `http://127.0.0.1:8081` or `https://[::1]:8443`.
    pub url: String,
    /// The port it listens on.
    pub port: u16,
}

/// Binds `settings.addr` (port 0 picks one) and serves what `factory` builds, over HTTPS when
/// `settings.tls` names a certificate and key.
pub fn bind<F, I, S, B>(settings: &HttpSettings, factory: F) -> anyhow::Result<BoundServer>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    B: MessageBody + 'static,
{
    let listener = TcpListener::bind(settings.addr)
        .with_context(|| format!("failed to bind {}", settings.addr))?;
    let address = listener
        .local_addr()
        .context("failed to read the bound address")?;
    let mut server = HttpServer::new(factory)
        // The service decides when to stop (after its consumers, say), not a signal.
        .disable_signals()
        .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS);
    if let Some(workers) = settings.workers {
        server = server.workers(workers.max(1));
    }
    let (server, scheme) = match (&settings.tls.cert_file, &settings.tls.key_file) {
        (Some(cert), Some(key)) => {
            let config = tls::server_config(cert, key)?;
            let server = server
                .listen_rustls_0_23(listener, config)
                .context("failed to listen with TLS")?;
            (server, "https")
        }
        (None, None) => (server.listen(listener).context("failed to listen")?, "http"),
        _ => anyhow::bail!("HTTPS needs both http.tls.cert_file and http.tls.key_file"),
    };
    let host = match address.ip() {
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        std::net::IpAddr::V4(ip) => ip.to_string(),
    };
    Ok(BoundServer {
        server: server.run(),
        url: format!("{scheme}://{host}:{}", address.port()),
        port: address.port(),
    })
}
