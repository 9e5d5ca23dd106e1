//! A request id on every request: taken from `X-Request-Id` or made up, put on the request's
//! span (so every log line of the request carries it) and echoed in the response. The request's
//! W3C trace context (continued from `traceparent`, or new) is kept beside it for the events.

use std::time::Instant;

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;
use uuid::Uuid;

use crate::domain::TraceContext;

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
    let trace = TraceContext::continue_or_start(
        request
            .headers()
            .get("traceparent")
            .and_then(|value| value.to_str().ok()),
    );
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        trace_id = %trace.trace_id(),
        method = %request.method(),
        path = %request.path()
    );
    request.extensions_mut().insert(trace);
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
