//! Sending an email: to a mail server over SMTP, or into an outbox folder as `.eml` files.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use shared_events::app::telemetry;
use shared_events::storage::atomic_file::{sync_parent, write_atomically};
use tracing::Instrument;
use uuid::Uuid;

use crate::settings::SmtpSettings;
use crate::smtp_transport;

/// Where emails go.
#[derive(Clone)]
pub enum Mailer {
    /// A mail server; one connection per email.
    Smtp {
        /// The transport.
        transport: AsyncSmtpTransport<Tokio1Executor>,
        /// The server's URL without its password, for logs.
        url: String,
        /// How long one whole conversation may take: lettre bounds only each read and write,
        /// so a server that trickles its answers, or a stalled TLS handshake, would hold the
        /// email (and a shutdown waiting for it) indefinitely.
        timeout: Duration,
    },
    /// `<event id>.eml` files in this folder, for development and for a mail system that picks
    /// them up itself.
    Outbox(PathBuf),
}

/// Why an email was not sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// A failure that may pass: the server is unreachable, slow, or answers 4xx; or the outbox
    /// cannot be written.
    #[error("{0}")]
    Transient(String),
    /// The server refuses the email for good (5xx): sending it again unchanged would fail again.
    #[error("{0}")]
    Permanent(String),
}

impl Mailer {
    /// The mailer the settings describe; without an SMTP URL, the outbox in `data_dir`.
    pub fn from_settings(settings: &SmtpSettings, data_dir: &Path) -> anyhow::Result<Mailer> {
        match &settings.url {
            Some(url) => Ok(Mailer::Smtp {
                transport: smtp_transport::transport(url, settings)?,
                url: url.to_string(),
                timeout: settings.timeout(),
            }),
            None => {
                let outbox = data_dir.join("outbox");
                std::fs::create_dir_all(&outbox)
                    .and_then(|()| sync_parent(&outbox))
                    .with_context(|| format!("failed to create the outbox {}", outbox.display()))?;
                Ok(Mailer::Outbox(outbox))
            }
        }
    }

    /// Sends `email`, the notification about the event `event_id`.
    pub async fn send(&self, event_id: Uuid, email: &Message) -> Result<(), SendError> {
        match self {
            Mailer::Smtp {
                transport,
                url,
                timeout,
            } => {
                let started = std::time::Instant::now();
                let span = telemetry::when_exporting(
                    || tracing::info_span!("smtp send", otel.kind = "client", smtp.server = %url),
                );
                let sent = tokio::time::timeout(*timeout, transport.send(email.clone()))
                    .instrument(span.clone())
                    .await;
                metrics::histogram!("smtp_send_duration_seconds", "service" => "notification")
                    .record(started.elapsed().as_secs_f64());
                let outcome = match &sent {
                    Ok(Ok(_)) => None,
                    Ok(Err(error)) if error.is_permanent() => Some("refused"),
                    Ok(Err(_)) => Some("failed"),
                    Err(_) => Some("timed_out"),
                };
                if let Some(kind) = outcome {
                    telemetry::failed(&span, &kind);
                    metrics::counter!("smtp_send_errors_total", "service" => "notification", "kind" => kind)
                        .increment(1);
                }
                let sent = sent.map_err(|_| {
                    SendError::Transient(format!(
                        "the mail server {url} did not finish the conversation within {} ms",
                        timeout.as_millis()
                    ))
                })?;
                sent.map_err(|error| {
                    let reason = format!("the mail server {url} did not take the email: {error}");
                    if error.is_permanent() {
                        SendError::Permanent(reason)
                    } else {
                        SendError::Transient(reason)
                    }
                })?;
                Ok(())
            }
            Mailer::Outbox(outbox) => {
                let path = outbox.join(format!("{event_id}.eml"));
                let bytes = email.formatted();
                let written = tokio::task::spawn_blocking(move || {
                    write_atomically(&path, |out| out.write_all(&bytes))
                        .map_err(|error| format!("failed to write {}: {error}", path.display()))
                })
                .await
                .map_err(|error| format!("the outbox writer failed: {error}"));
                written
                    .and_then(|result| result)
                    .map_err(SendError::Transient)
            }
        }
    }
}

impl fmt::Display for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mailer::Smtp { url, .. } => write!(f, "SMTP {url}"),
            Mailer::Outbox(outbox) => write!(f, "outbox {}", outbox.display()),
        }
    }
}
