//! A request id on every request: taken from `X-Request-Id` or made up, put on the request's
//! span (so every log line of the request carries it) and echoed in the response. When traces
//! are not exported, the span also names the caller's trace, if it sent one; when they are,
//! every log line names its trace and span already.

use std::time::Instant;

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use shared_events::app::request_trace::RequestTrace;
use shared_events::app::telemetry;
use tracing::{Instrument, field};
use uuid::Uuid;

const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The middleware; install with `actix_web::middleware::from_fn(request_id)`.
pub async fn request_id(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = request
        .headers()
        .get(&HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|value| {
            (1..=128).contains(&value.len()) && value.bytes().all(|byte| byte.is_ascii_graphic())
        })
        .map(str::to_owned)
        .unwrap_or_else(|| Uuid::now_v7().to_string());
    let span = tracing::info_span!(
        target: telemetry::LOG_ONLY,
        "request",
        request_id = %id,
        trace_id = field::Empty,
        method = %request.method(),
        path = %request.path()
    );
    if !telemetry::exporting()
        && let Some(trace_id) = request
            .extensions()
            .get::<RequestTrace>()
            .and_then(|trace| trace.0.trace_id())
    {
        span.record("trace_id", trace_id);
    }
    let started = Instant::now();
    let mut response = next.call(request).instrument(span.clone()).await?;
    let status = response.status();
    span.in_scope(|| {
        let elapsed_us = started.elapsed().as_micros() as u64;
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), elapsed_us, "request failed");
        } else {
            tracing::info!(status = status.as_u16(), elapsed_us, "request finished");
        }
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, value);
    }
    Ok(response)
}
