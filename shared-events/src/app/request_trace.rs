//! Every service's HTTP server span, beside [`crate::app::metrics::record_requests`]: the
//! request's trace context taken from its `traceparent` and `tracestate` headers, and, when
//! spans are exported, a server span per request after the HTTP semantic conventions
//! (`METHOD /route`, its method, route, path and status, an error for a 5xx). Probes and
//! metric scrapes are not traced.
//!
//! Each request gets a [`RequestTrace`] in its extensions: the context its changes hand on to
//! their events.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use opentelemetry::trace::Status;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::app::telemetry::context::{TraceContext, continue_in};
use crate::app::telemetry::exporting;

/// The routes whose requests get no span: probes and scrapes, which come every few seconds
/// and would be most of the traces.
const UNTRACED: [&str; 3] = ["/health/live", "/health/ready", "/metrics"];

/// The trace context of a request, in its extensions: the server span when spans are exported;
/// otherwise the caller's context, passed on unchanged (or none).
#[derive(Debug, Clone, Default)]
pub struct RequestTrace(pub TraceContext);

impl RequestTrace {
    /// The `traceparent` an event of the request's changes carries.
    pub fn traceparent(&self) -> Option<String> {
        self.0.traceparent()
    }
}

/// Middleware: puts the request's [`RequestTrace`] in its extensions and, when spans are
/// exported, runs the request in a server span of `service`.
pub async fn trace_requests(
    service: &'static str,
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let caller = TraceContext::from_http(request.headers());
    // `None`: no span, for traces are not exported or the route is a probe's; `Some(None)`: a
    // span for a path no route matched.
    let route = exporting().then(|| request.match_pattern());
    let Some(route) = route.filter(|route| !route.as_deref().is_some_and(is_untraced)) else {
        request.extensions_mut().insert(RequestTrace(caller));
        return next.call(request).await;
    };
    let method = method_name(request.method());
    let name = match &route {
        Some(route) => format!("{method} {route}"),
        None => method.to_owned(),
    };
    let span = tracing::info_span!("HTTP request", otel.name = %name, otel.kind = "server");
    span.set_attribute("http.request.method", method);
    if method == "_OTHER" {
        span.set_attribute("http.request.method_original", request.method().to_string());
    }
    if let Some(route) = route {
        span.set_attribute("http.route", route);
    }
    span.set_attribute("url.path", request.path().to_owned());
    span.set_attribute("url.scheme", request.connection_info().scheme().to_owned());
    continue_in(&span, service, &caller);
    request
        .extensions_mut()
        .insert(RequestTrace(TraceContext::of(&span)));
    let result = next.call(request).instrument(span.clone()).await;
    let status = match &result {
        Ok(response) => response.status(),
        Err(error) => error.as_response_error().status_code(),
    };
    span.set_attribute("http.response.status_code", i64::from(status.as_u16()));
    if status.is_server_error() {
        span.set_status(Status::error(status_text(status)));
    }
    result
}

fn is_untraced(route: &str) -> bool {
    UNTRACED.contains(&route)
}

/// The method as the conventions name it: a known method, or `_OTHER`.
fn method_name(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "_OTHER",
    }
}

fn status_text(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}
