//! Prometheus metrics: one recorder per process, rendered at `GET /metrics` on every service's
//! HTTP port (routes::probes adds the route), and the HTTP server's own request metrics.
//!
//! Every series carries a `service` label, so that the services of `order-platform`, which
//! share a process and so a recorder, stay apart.

use std::sync::OnceLock;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, web};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Buckets of every `..._seconds` histogram: 1 ms to 10 s.
const SECONDS_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Buckets of `journal_commit_records`: a group commit of 1 to 1024 records.
const RECORDS_BUCKETS: [f64; 11] = [
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
];

/// The process's recorder, installed on first use; `None` if another recorder was installed
/// first (metrics then go to that one).
fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS_BUCKETS)
                .ok()?
                .set_buckets_for_metric(
                    Matcher::Full("journal_commit_records".into()),
                    &RECORDS_BUCKETS,
                )
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            Some(handle)
        })
        .as_ref()
}

/// Installs the recorder now. Call it before anything records or registers a series: what is
/// recorded before goes nowhere, and a handle registered before (a journal's) never records.
pub fn install() {
    handle();
}

/// The service whose series a port's `/metrics` shows: an App registers it as app data, so
/// that in `order-platform`, where four services share one process and its recorder, each
/// port shows its own service's series and Prometheus counts each once.
#[derive(Debug, Clone, Copy)]
pub struct ExposedService(pub &'static str);

/// `GET /metrics`: in Prometheus' text format, the series of the App's [`ExposedService`], or
/// every series without one.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "health",
    responses(
        (status = 200, description = "The service's metrics in Prometheus' text format (docs/operations.md).", content_type = "text/plain; version=0.0.4; charset=utf-8", body = String),
        (status = 503, description = "The metrics are recorded by another part of this process.", content_type = "text/plain; charset=utf-8", body = String),
    )
)]
pub async fn render(exposed: Option<web::Data<ExposedService>>) -> HttpResponse {
    match handle() {
        Some(handle) => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4; charset=utf-8")
            .body(match exposed {
                Some(exposed) => only_service(&handle.render(), exposed.0),
                None => handle.render(),
            }),
        None => HttpResponse::ServiceUnavailable()
            .content_type("text/plain; charset=utf-8")
            .body("metrics are recorded elsewhere in this process\n"),
    }
}

/// The samples of `text` (Prometheus' text format) labelled `service="<service>"`, each
/// family's `# TYPE` and `# HELP` lines kept only where a sample of it is.
fn only_service(text: &str, service: &str) -> String {
    let label = format!("service=\"{service}\"");
    let mut kept = String::with_capacity(text.len());
    let mut comments = String::new();
    for line in text.lines() {
        if line.starts_with("# TYPE ") && comments.starts_with("# HELP ") {
            comments.push_str(line);
            comments.push('\n');
        } else if line.starts_with('#') {
            // A new family: the last one's comments go unless a sample of it was kept.
            comments = format!("{line}\n");
        } else if line.is_empty() {
            comments.clear();
        } else if sample_labels(line)
            .is_some_and(|labels| labels.split(',').any(|pair| pair == label))
        {
            kept.push_str(&comments);
            comments.clear();
            kept.push_str(line);
            kept.push('\n');
        }
    }
    kept
}

/// The `{...}` part of a sample line, if it has one.
fn sample_labels(line: &str) -> Option<&str> {
    let start = line.find('{')?;
    let end = line.rfind('}')?;
    line.get(start + 1..end)
}

/// Middleware: counts each request by `service`, method, route pattern and status
/// (`http_requests_total`) and times it (`http_request_duration_seconds`). Routes are the
/// patterns (`/orders/{id}`), never the paths, so that ids do not make a series each.
pub async fn record_requests(
    service: &'static str,
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let response = next.call(request).await?;
    let status = response.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "service" => service, "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "service" => service, "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_sees_its_own_series_with_their_type_lines() {
        let text = "# TYPE http_requests_total counter\n\
            http_requests_total{service=\"order\",route=\"/orders\"} 3\n\
            http_requests_total{service=\"inventory\",route=\"/stock\"} 2\n\
            \n\
            # TYPE consumer_shards_owned gauge\n\
            consumer_shards_owned{service=\"inventory\"} 8\n\
            \n\
            # TYPE journal_size_bytes gauge\n\
            journal_size_bytes{journal=\"orders\",service=\"order\"} 10\n\
            journal_size_bytes{journal=\"x\",service=\"orders\"} 1\n";
        assert_eq!(
            only_service(text, "order"),
            "# TYPE http_requests_total counter\n\
             http_requests_total{service=\"order\",route=\"/orders\"} 3\n\
             # TYPE journal_size_bytes gauge\n\
             journal_size_bytes{journal=\"orders\",service=\"order\"} 10\n"
        );
        assert_eq!(
            only_service(text, "inventory"),
            "# TYPE http_requests_total counter\n\
             http_requests_total{service=\"inventory\",route=\"/stock\"} 2\n\
             # TYPE consumer_shards_owned gauge\n\
             consumer_shards_owned{service=\"inventory\"} 8\n"
        );
    }
}
