//! The spans of the messaging semantic conventions: publishing an event (kind producer) and
//! processing it in a consumer (kind consumer), the consumer's span a child of the producer's
//! context that the event or its message carries.

use lapin::BasicProperties;
use tracing::field;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::app::telemetry::context::{TRACEPARENT, TRACESTATE, TraceContext, continue_in};
use crate::app::telemetry::exporting;
use crate::contract::event::OrderEvent;
use crate::runtime::amqp::headers;

/// `messaging.system` of the broker.
pub const RABBITMQ: &str = "rabbitmq";
/// `messaging.system` of the embedded transport, where the order journal is the log.
pub const EMBEDDED: &str = "order-journal";

/// The span of publishing `event` to `exchange` with `routing_key` for `service`: kind
/// producer, a child of the context the event carries. A disabled span unless spans are
/// exported.
pub fn publish_span(
    service: &'static str,
    exchange: &str,
    routing_key: &str,
    event: &OrderEvent,
) -> tracing::Span {
    if !exporting() {
        return tracing::Span::none();
    }
    let span = tracing::info_span!(
        "publish",
        otel.name = %format_args!("publish {exchange}"),
        otel.kind = "producer",
        event_id = %event.id,
        order_id = %event.subject,
    );
    span.set_attribute("messaging.system", RABBITMQ);
    span.set_attribute("messaging.operation.type", "publish");
    span.set_attribute("messaging.operation.name", "publish");
    span.set_attribute("messaging.destination.name", exchange.to_owned());
    span.set_attribute(
        "messaging.rabbitmq.destination.routing_key",
        routing_key.to_owned(),
    );
    span.set_attribute("messaging.message.id", event.id.to_string());
    continue_in(
        &span,
        service,
        &TraceContext::from_traceparent(event.traceparent.as_deref()),
    );
    span
}

/// What a consumer's processing span says about the message it handles.
#[derive(Debug, Clone, Copy)]
pub struct Processing<'a> {
    /// The consuming service (`inventory`): its spans are reported under its name.
    pub service: &'static str,
    /// `messaging.system`: [`RABBITMQ`] or [`EMBEDDED`].
    pub system: &'static str,
    /// Where the message was taken from: the queue, or the log.
    pub destination: &'a str,
    /// The message's id (the event id), when known.
    pub message_id: Option<&'a str>,
}

/// Makes `span`, a consumer's span for one message, declared with `otel.name` and `otel.kind`
/// empty, the processing span of the conventions (kind consumer) and a child of `parent`, the
/// producer's context; does nothing unless spans are exported. Call it before the span is
/// first entered.
pub fn process(span: &tracing::Span, processing: Processing<'_>, parent: &TraceContext) {
    if !exporting() {
        return;
    }
    span.record(
        "otel.name",
        field::display(format_args!("process {}", processing.destination)),
    );
    span.record("otel.kind", "consumer");
    span.set_attribute("messaging.system", processing.system);
    span.set_attribute("messaging.operation.type", "process");
    span.set_attribute("messaging.operation.name", "process");
    span.set_attribute(
        "messaging.destination.name",
        processing.destination.to_owned(),
    );
    span.set_attribute("messaging.consumer.group.name", processing.service);
    if let Some(message_id) = processing.message_id {
        span.set_attribute("messaging.message.id", message_id.to_owned());
    }
    continue_in(span, processing.service, parent);
}

/// The producer's context a message carries: its `traceparent` and `tracestate` headers (the
/// span that published it), else the `traceparent` of the event in it.
pub fn amqp_parent(properties: &BasicProperties, event: Option<&OrderEvent>) -> TraceContext {
    let from_headers = TraceContext::from_fields(
        headers::text(properties, TRACEPARENT).as_deref(),
        headers::text(properties, TRACESTATE).as_deref(),
    );
    if from_headers.is_valid() {
        return from_headers;
    }
    TraceContext::from_traceparent(event.and_then(|event| event.traceparent.as_deref()))
}
