//! A hot standby: a second order service started on a data directory that another process
//! holds. It answers on the service's address at once (live, not ready; every other request a
//! 503 with `Retry-After`), looks every 200 ms whether the directory's lock is free, and when
//! the process that held it is gone (the kernel releases the lock of a process that dies), opens
//! the store from the files and becomes the service on the same listening socket.

use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::http::header::{HeaderValue, RETRY_AFTER};
use actix_web::{App, HttpResponse, ResponseError, web};
use anyhow::{Context, anyhow};
use serde_json::json;
use shared_events::app::routes::probes;
use shared_events::app::server;
use shared_events::storage::data_dir::{DataDirError, DataDirLock};
use shared_events::storage::durable_state::DurableStateError;
use tokio::task::JoinHandle;

use crate::http::ApiError;
use crate::settings::{HttpSettings, Settings};
use crate::startup::Application;
use crate::store::StoreError;

/// How often a standby looks whether the data directory is free.
const POLL: Duration = Duration::from_millis(200);

/// How long a standby that has stopped accepting leaves its worker to take up the connections
/// already accepted, before it stops. The service serves meanwhile, so this delays no one.
const HANDOVER_DRAIN: Duration = Duration::from_millis(500);

/// How many seconds a standby's 503s ask clients to wait before they try again.
const RETRY_AFTER_SECS: &str = "1";

/// Builds the service as [`Application::build`] does, but while another process holds the data
/// directory, waits as a standby on the service's address, then builds the service on the
/// standby's listening socket. Dropping the future (a signal during the wait) stops the standby.
pub async fn build_when_free(settings: Settings) -> anyhow::Result<Application> {
    match Application::build(settings.clone()).await {
        Err(error) if held_elsewhere(&error) => {}
        built => return built,
    }
    let mut standby = Standby::serve(&settings.http)?;
    tracing::info!(
        "waiting as a standby: data directory {} is held by another process",
        settings.data_dir.display()
    );
    loop {
        standby.until_released(&settings.data_dir).await?;
        tracing::info!("taking over");
        match Application::build_on(settings.clone(), standby.listener()?).await {
            // Another standby was quicker; the one that lost goes on waiting.
            Err(error) if held_elsewhere(&error) => {
                tracing::info!("another process took the data directory first; waiting again");
            }
            built => {
                standby.stop().await;
                return built;
            }
        }
    }
}

/// The standby's HTTP server: the probes, and a 503 for every other request.
struct Standby {
    /// A handle on the listening socket, kept for the service that takes over.
    listener: TcpListener,
    handle: ServerHandle,
    server: JoinHandle<anyhow::Result<()>>,
}

impl Standby {
    /// Binds the service's address and answers as a standby there, with one worker.
    fn serve(http: &HttpSettings) -> anyhow::Result<Standby> {
        let http = HttpSettings {
            workers: Some(1),
            ..http.clone()
        };
        // No request-id middleware: it logs every 5xx as an error, and a standby's 503s are
        // what it is for.
        let bound = server::bind(&http, || App::new().configure(routes))?;
        let listener = bound.listener()?;
        tracing::info!(url = %bound.url, "standby listening on {}", bound.url);
        let handle = bound.server.handle();
        let server = tokio::spawn(async move {
            bound
                .server
                .await
                .context("the standby's HTTP server failed")
        });
        Ok(Standby {
            listener,
            handle,
            server,
        })
    }

    /// Waits until no process holds `dir`; an error if the standby's server stops first.
    async fn until_released(&mut self, dir: &Path) -> anyhow::Result<()> {
        let released = async {
            while !is_free(dir).await? {
                tokio::time::sleep(POLL).await;
            }
            anyhow::Ok(())
        };
        tokio::select! {
            released = released => released,
            ended = &mut self.server => Err(match ended {
                Ok(Ok(())) => anyhow!("the standby's HTTP server stopped on its own"),
                Ok(Err(error)) => error,
                Err(panic) => anyhow!("the standby's HTTP server panicked: {panic}"),
            }),
        }
    }

    /// Another handle on the listening socket, for the service to serve on.
    fn listener(&self) -> anyhow::Result<TcpListener> {
        self.listener
            .try_clone()
            .context("failed to share the standby's listening socket")
    }

    /// Stops answering without dropping a connection; the service already serves on the same
    /// socket. actix drops the connections that its accept thread has queued for a worker when
    /// the server stops, so the standby first stops accepting (every new connection then goes
    /// to the service), gives its worker [`HANDOVER_DRAIN`] to take up what was queued, and
    /// only then stops, letting the answers in flight finish.
    async fn stop(self) {
        self.handle.pause().await;
        tokio::time::sleep(HANDOVER_DRAIN).await;
        self.handle.stop(true).await;
    }
}

impl Drop for Standby {
    fn drop(&mut self) {
        // Dropped while it waits: the process is stopping, the answers in flight need not end.
        drop(self.handle.stop(false));
    }
}

/// Every route of a standby.
fn routes(config: &mut web::ServiceConfig) {
    config
        .configure(|config| probes(config, standby_ready))
        .default_service(web::to(unavailable));
}

/// `GET /health/ready` on a standby: 503, `{"status": "standby"}`.
async fn standby_ready() -> HttpResponse {
    retry_later(HttpResponse::ServiceUnavailable().json(json!({ "status": "standby" })))
}

/// Any request but the probes: 503 in the error envelope.
async fn unavailable() -> HttpResponse {
    retry_later(
        ApiError::Unavailable(
            "this order service is a standby; it serves once the active one stops".to_owned(),
        )
        .error_response(),
    )
}

/// `response` with a `Retry-After` header.
fn retry_later(mut response: HttpResponse) -> HttpResponse {
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECS));
    response
}

/// Whether no process holds `dir`: takes its lock and lets go at once, on a blocking thread,
/// since a lock on shared storage may be slow to answer.
async fn is_free(dir: &Path) -> anyhow::Result<bool> {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || match DataDirLock::acquire(&dir) {
        Ok(_released) => Ok(true),
        Err(DataDirError::InUse(_)) => Ok(false),
        Err(error) => Err(error),
    })
    .await
    .context("the data directory probe panicked")?
    .context("failed to look at the data directory")
}

/// Whether `error` says that another process holds the data directory, or the delivery
/// timelines' directory inside it (held a moment longer by a process that stops gracefully).
fn held_elsewhere(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        matches!(
            cause.downcast_ref(),
            Some(StoreError::DataDir(DataDirError::InUse(_)))
        ) || matches!(
            cause.downcast_ref(),
            Some(DurableStateError::DataDir(DataDirError::InUse(_)))
        )
    })
}
