//! Every service's HTTP server, from the one [`HttpSettings`] shape: address, workers, body
//! limit, TLS. Signals are not the server's business: the service stops it.
//!
//! [`bind`] turns the settings' address into a listening socket; [`bind_listener`] serves on one
//! that is already bound, so that a server can take over the socket of one that stops (an order
//! service's standby, as it becomes the service) without ever refusing a connection.

use std::fmt;
use std::net::TcpListener;

use actix_http::{Request, Response};
use actix_service::IntoServiceFactory;
use actix_web::HttpServer;
use actix_web::body::MessageBody;
use actix_web::dev::{AppConfig, Server, ServerHandle, ServiceFactory};
use anyhow::Context;

use crate::app::settings::HttpSettings;
use crate::app::tls;
use crate::runtime::tasks::Tasks;

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
    /// The listening socket, kept so that [`BoundServer::listener`] can hand it on.
    listener: TcpListener,
}

impl BoundServer {
    /// Starts serving as the task `HTTP server` among `tasks`; the handle stops it.
    pub fn serve_in(self, tasks: &mut Tasks) -> ServerHandle {
        let handle = self.server.handle();
        let server = self.server;
        tasks.spawn("HTTP server", async move {
            server.await.context("the HTTP server failed")
        });
        handle
    }

    /// The listening socket, for the server that takes over from this one: it stays open, and
    /// connections wait in its queue, while one server stops and the next starts.
    pub fn listener(&self) -> anyhow::Result<TcpListener> {
        share(&self.listener)
    }
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
    bind_listener(settings, listener, factory)
}

/// [`bind`] on a `listener` already bound (from [`BoundServer::listener`]); `settings.addr` is
/// not used.
pub fn bind_listener<F, I, S, B>(
    settings: &HttpSettings,
    listener: TcpListener,
    factory: F,
) -> anyhow::Result<BoundServer>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    B: MessageBody + 'static,
{
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
    let kept = share(&listener)?;
    let (server, scheme) = match (&settings.tls.cert_file, &settings.tls.key_file) {
        (Some(cert), Some(key)) => {
            let config = tls::server_config(cert, key)?;
            let server = server
                .listen_rustls_0_23(listener, config)
                .context("failed to listen with TLS")?;
            (server, "https")
        }
        (None, None) => (server.listen(listener).context("failed to listen")?, "http"),
        _ => anyhow::bail!(
            "HTTPS needs both ORDERS__HTTP__TLS__CERT_FILE and ORDERS__HTTP__TLS__KEY_FILE"
        ),
    };
    let host = match address.ip() {
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        std::net::IpAddr::V4(ip) => ip.to_string(),
    };
    Ok(BoundServer {
        server: server.run(),
        url: format!("{scheme}://{host}:{}", address.port()),
        port: address.port(),
        listener: kept,
    })
}

/// Another handle on `listener`'s socket, which stays open until every handle is dropped.
fn share(listener: &TcpListener) -> anyhow::Result<TcpListener> {
    listener
        .try_clone()
        .context("failed to share the listening socket")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::settings::TlsSettings;

    #[tokio::test]
    async fn half_a_tls_configuration_is_refused_by_name() {
        for tls in [
            TlsSettings {
                cert_file: Some("cert.pem".into()),
                key_file: None,
            },
            TlsSettings {
                cert_file: None,
                key_file: Some("key.pem".into()),
            },
        ] {
            let settings = HttpSettings {
                tls,
                ..HttpSettings::for_tests()
            };
            let error = bind(&settings, actix_web::App::new).err().expect("refused");
            assert!(
                error.to_string().contains("ORDERS__HTTP__TLS__CERT_FILE")
                    && error.to_string().contains("ORDERS__HTTP__TLS__KEY_FILE"),
                "{error}"
            );
        }
    }
}
