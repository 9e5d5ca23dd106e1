//! The W3C trace context (`traceparent`, `tracestate`) that crosses process boundaries: in an
//! HTTP request's headers, in an event's `traceparent`, in a message's headers. OpenTelemetry's
//! [`TraceContextPropagator`] reads and writes it; a span continues it with [`continue_in`].

use std::collections::HashMap;

use actix_web::http::header::HeaderMap;
use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::app::telemetry::exporting;

/// The header (and event field) naming the trace and the parent span.
pub const TRACEPARENT: &str = "traceparent";
/// The header carrying vendors' trace state along with [`TRACEPARENT`].
pub const TRACESTATE: &str = "tracestate";

/// A trace context: the remote parent a caller sent, or a span of this process to hand on.
/// Empty when there is none.
#[derive(Debug, Clone, Default)]
pub struct TraceContext(Context);

/// The service a span's work belongs to (`order`, `inventory`, ...), carried in the context of
/// the span that starts that work, so that its spans are reported under that service's name
/// when several services share a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ServiceTag(pub(crate) &'static str);

impl TraceContext {
    /// The context an event's `traceparent` names (empty if absent or malformed).
    pub fn from_traceparent(traceparent: Option<&str>) -> TraceContext {
        TraceContext::from_fields(traceparent, None)
    }

    /// The context of a `traceparent` and its `tracestate`, as message headers carry them.
    pub fn from_fields(traceparent: Option<&str>, tracestate: Option<&str>) -> TraceContext {
        let Some(traceparent) = traceparent else {
            return TraceContext::default();
        };
        TraceContext(TraceContextPropagator::new().extract(&Fields {
            traceparent,
            tracestate,
        }))
    }

    /// The context of an HTTP request's `traceparent` and `tracestate` headers.
    pub fn from_http(headers: &HeaderMap) -> TraceContext {
        if !headers.contains_key(TRACEPARENT) {
            return TraceContext::default();
        }
        TraceContext(TraceContextPropagator::new().extract(&HttpHeaders(headers)))
    }

    /// The context of `span`, when spans are exported: the span itself, which its children
    /// and the events it emits name as their parent.
    pub fn of(span: &tracing::Span) -> TraceContext {
        if exporting() {
            TraceContext(span.context())
        } else {
            TraceContext::default()
        }
    }

    /// True when there is a trace to continue.
    pub fn is_valid(&self) -> bool {
        self.0.span().span_context().is_valid()
    }

    /// The trace id, for logs.
    pub fn trace_id(&self) -> Option<String> {
        let span = self.0.span();
        let context = span.span_context();
        context.is_valid().then(|| context.trace_id().to_string())
    }

    /// The `traceparent` that names this context, for an event.
    pub fn traceparent(&self) -> Option<String> {
        if !self.is_valid() {
            return None;
        }
        let mut traceparent = OnlyTraceparent(None);
        TraceContextPropagator::new().inject_context(&self.0, &mut traceparent);
        traceparent.0
    }

    /// `traceparent` and, when there is one, `tracestate`, for a message's headers.
    pub fn fields(&self) -> Vec<(String, String)> {
        if !self.is_valid() {
            return Vec::new();
        }
        let mut fields = HashMap::with_capacity(2);
        TraceContextPropagator::new().inject_context(&self.0, &mut fields);
        let mut fields: Vec<(String, String)> = fields
            .into_iter()
            .filter(|(_, value)| !value.is_empty())
            .collect();
        fields.sort();
        fields
    }
}

/// Makes `span` continue `parent` (a new trace when `parent` is empty) as work of `service`;
/// does nothing unless spans are exported. Call it before the span is first entered.
pub fn continue_in(span: &tracing::Span, service: &'static str, parent: &TraceContext) {
    if exporting() {
        let _ = span.set_parent(parent.0.with_value(ServiceTag(service)));
    }
}

/// Adds to `span` a link to `other`, another trace's span its work also serves (a group
/// commit serves several requests); does nothing unless spans are exported.
pub fn link(span: &tracing::Span, other: &TraceContext) {
    if exporting() && other.is_valid() {
        span.add_link(other.0.span().span_context().clone());
    }
}

/// A `traceparent` and perhaps a `tracestate`, read by the propagator.
struct Fields<'a> {
    traceparent: &'a str,
    tracestate: Option<&'a str>,
}

impl Extractor for Fields<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            TRACEPARENT => Some(self.traceparent),
            TRACESTATE => self.tracestate,
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        vec![TRACEPARENT, TRACESTATE]
    }
}

/// Takes the `traceparent` the propagator writes, and nothing else.
struct OnlyTraceparent(Option<String>);

impl Injector for OnlyTraceparent {
    fn set(&mut self, key: &str, value: String) {
        if key == TRACEPARENT {
            self.0 = Some(value);
        }
    }
}

/// An actix request's headers, read by the propagator.
struct HttpHeaders<'a>(&'a HeaderMap);

impl Extractor for HttpHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INCOMING: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_traceparent_is_read_and_written_back_unchanged() {
        let context = TraceContext::from_traceparent(Some(INCOMING));
        assert!(context.is_valid());
        assert_eq!(
            context.trace_id().as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(context.traceparent().as_deref(), Some(INCOMING));
    }

    #[test]
    fn a_missing_or_malformed_traceparent_is_no_context() {
        for traceparent in [
            None,
            Some("garbage"),
            Some("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"),
            Some("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"),
        ] {
            let context = TraceContext::from_traceparent(traceparent);
            assert!(!context.is_valid(), "{traceparent:?}");
            assert_eq!(context.traceparent(), None, "{traceparent:?}");
            assert!(context.fields().is_empty(), "{traceparent:?}");
        }
    }

    #[test]
    fn the_trace_state_travels_with_the_parent() {
        let context = TraceContext::from_fields(Some(INCOMING), Some("vendor=value"));
        assert_eq!(
            context.fields(),
            vec![
                (TRACEPARENT.to_owned(), INCOMING.to_owned()),
                (TRACESTATE.to_owned(), "vendor=value".to_owned()),
            ]
        );
    }

    #[test]
    fn http_headers_are_read_by_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            actix_web::http::header::HeaderName::from_static(TRACEPARENT),
            actix_web::http::header::HeaderValue::from_static(INCOMING),
        );
        assert_eq!(
            TraceContext::from_http(&headers).traceparent().as_deref(),
            Some(INCOMING)
        );
        assert!(!TraceContext::from_http(&HeaderMap::new()).is_valid());
    }
}
