//! Logs through `tracing` (human-readable by default, JSON for collectors) and, when an OTLP
//! endpoint is configured, traces over OTLP/HTTP with the OpenTelemetry SDK.
//!
//! # Layout
//!
//! - [`context`]: the W3C trace context a request, an event or a message carries
//!   ([`TraceContext`]), and making a span continue it for the service it belongs to.
//! - [`messaging`]: the publish and process spans of the messaging semantic conventions.
//! - `otlp`: the `OTEL_*` configuration, the tracer providers (one per service of the process)
//!   and their exporters.
//! - `log_ids`: `trace_id` and `span_id` on every log line written in a span.
//! - `client_errors`: keeping the HTTP layer's lines about clients' malformed or slow requests
//!   out of the log, below debug level.
//!
//! Without an endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`)
//! no exporter is built and the OpenTelemetry layer is not installed: spans cost what they
//! cost for the logs, and a caller's trace context is passed on unchanged to the events.

mod client_errors;
pub mod context;
mod log_ids;
pub mod messaging;
mod otlp;

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry::trace::Status;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::FilterExt;
use tracing_subscriber::filter::{EnvFilter, LevelFilter, Targets};
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

pub use self::context::TraceContext;
use crate::app::settings::{LogFormat, LogSettings};

/// lapin logs every channel the broker closes at ERROR, a passive declaration's expected "no
/// such queue" included (the shard-count check makes one at every start), and every channel
/// still closing when its connection goes. The services report the broker's errors that matter
/// themselves, with what they were doing.
const QUIET_LAPIN: &str = "lapin::channel=off,lapin::channels=off";

/// The target of spans that exist for the log lines only (a request's id): they are never
/// exported, and the lines written in them carry the ids of the exported span around them.
pub const LOG_ONLY: &str = "log_only";

/// How long a stop waits for the spans still queued to reach the collector.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether the OpenTelemetry layer is installed, and so whether spans are exported.
static EXPORTING: AtomicBool = AtomicBool::new(false);

/// The services a process runs, and so the `service.name` its spans report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceNames {
    /// One service (a service binary): every span is reported as `OTEL_SERVICE_NAME`, else as
    /// this name.
    One(&'static str),
    /// Several services in one process (`order-platform`): a span of a service's work (`order`,
    /// `inventory`, ...) is reported as that service (`order-service`, `inventory-service`, ...);
    /// any other span as `OTEL_SERVICE_NAME`, else as `process`.
    Several {
        /// The name of the process's spans that belong to none of `services`.
        process: &'static str,
        /// The services, by the short names their spans are tagged with.
        services: &'static [&'static str],
    },
}

/// The process's tracer providers, to flush and stop when the process stops.
#[must_use = "call `shutdown` as the process stops, or the last spans are lost"]
#[derive(Debug, Default)]
pub struct Telemetry {
    providers: Vec<SdkTracerProvider>,
}

/// True when spans are exported over OTLP: what only tracing needs is skipped otherwise.
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// `make()`, a span that only tracing needs, when spans are exported; otherwise a disabled
/// span, which costs nothing.
pub fn when_exporting(make: impl FnOnce() -> tracing::Span) -> tracing::Span {
    if exporting() {
        make()
    } else {
        tracing::Span::none()
    }
}

/// Marks `span` (a publish, a processing, a send) as failed with `error`; does nothing unless
/// traces are exported.
pub fn failed(span: &tracing::Span, error: &dyn std::fmt::Display) {
    if exporting() {
        span.set_status(Status::error(error.to_string()));
    }
}

/// The span of one durable transaction on a consumer's `ledger` (`stock`, `invoices`, ...),
/// when traces are exported.
pub fn ledger_span(ledger: &'static str) -> tracing::Span {
    when_exporting(|| tracing::info_span!("ledger write", ledger))
}

/// Installs the global subscriber for logs only (tests); `RUST_LOG`, when set, overrides the
/// configured level.
pub fn init(settings: &LogSettings) {
    // A second call (tests start several services) keeps the first subscriber.
    let _ = Registry::default()
        .with(log_layer(settings, false))
        .try_init();
}

/// Installs the global subscriber: logs as `settings` say and, when the `OTEL_*` variables name
/// an endpoint, traces exported over OTLP as `names` say. A configuration the exporter cannot
/// work with (an unsupported protocol or sampler) is an error; a collector that cannot be
/// reached is not (its spans are dropped, and a warning logged once).
pub fn start(settings: &LogSettings, names: ServiceNames) -> anyhow::Result<Telemetry> {
    let Some(exporting) = otlp::from_env(names)? else {
        init(settings);
        return Ok(Telemetry::default());
    };
    // What the spans record is decided apart from the log level: warnings-only logs still
    // export every span.
    let spans = Targets::new()
        .with_default(tracing::Level::INFO)
        .with_target("lapin", tracing::Level::WARN)
        .with_target(LOG_ONLY, LevelFilter::OFF);
    let layer = tracing_opentelemetry::layer()
        .with_tracer(exporting.tracer)
        .with_tracked_inactivity(false)
        .with_filter(spans);
    let installed = Registry::default()
        .with(log_layer(settings, true))
        .with(layer)
        .try_init();
    if installed.is_ok() {
        EXPORTING.store(true, Ordering::Relaxed);
    }
    Ok(Telemetry {
        providers: exporting.providers,
    })
}

impl Telemetry {
    /// Exports the spans still queued and stops the exporters, waiting at most
    /// [`FLUSH_TIMEOUT`]: a collector that does not answer never holds the stop up.
    pub async fn shutdown(self) {
        if self.providers.is_empty() {
            return;
        }
        // Returns within FLUSH_TIMEOUT: a provider that takes longer is left behind.
        let stopped = tokio::task::spawn_blocking(move || otlp::shutdown(self.providers)).await;
        if !stopped.unwrap_or(false) {
            tracing::warn!("the trace exporter did not stop in time; its last spans are lost");
        }
    }
}

/// The log layer: text or JSON on standard output, filtered by `RUST_LOG` or the configured
/// level; with `trace_ids`, every line written in an exported span names it.
fn log_layer(
    settings: &LogSettings,
    trace_ids: bool,
) -> Box<dyn Layer<Registry> + Send + Sync + 'static> {
    let levels = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{},{QUIET_LAPIN}", settings.level)));
    let show = levels
        .max_level_hint()
        .is_some_and(|level| level >= LevelFilter::DEBUG);
    let filter = levels.and(client_errors::ClientConnectionErrors { show });
    let ansi = std::io::stdout().is_terminal();
    let layer = tracing_subscriber::fmt::layer()
        .with_span_events(FmtSpan::NONE)
        .with_ansi(ansi);
    match (settings.format, trace_ids) {
        (LogFormat::Text, false) => layer.with_filter(filter).boxed(),
        (LogFormat::Text, true) => layer
            .map_event_format(|format| log_ids::WithTraceIds::new(format.with_ansi(ansi)))
            .with_filter(filter)
            .boxed(),
        (LogFormat::Json, trace_ids) => {
            let layer = layer
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false);
            if trace_ids {
                layer
                    .map_event_format(log_ids::WithTraceIds::new)
                    .with_filter(filter)
                    .boxed()
            } else {
                layer.with_filter(filter).boxed()
            }
        }
    }
}
