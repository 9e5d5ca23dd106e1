//! The copy of a delivery the handler did not apply that carries it to its retry queue or to the
//! dead-letter exchange.

use chrono::{DateTime, Utc};
use lapin::message::Delivery;

use crate::runtime::amqp::error::AmqpError;
use crate::runtime::amqp::headers::{
    self, ATTEMPTS, DELIVERY_COUNT, FAILURE_ID, FAILURE_REASON, FIRST_FAILURE_AT,
};
use crate::runtime::amqp::headers::{LAST_ERROR, LAST_FAILURE_AT, ORIGINAL_QUEUE, RETRY_DELAY_MS};
use crate::runtime::amqp::names::short;
use crate::runtime::amqp::publisher::Envelope;
use crate::runtime::amqp::topology::Topology;

/// Header texts are cut to this many bytes: headers must fit in one AMQP frame.
const MAX_HEADER_TEXT: usize = 1_000;

/// A copy of `delivery` for the retry queue of `delay_ms`, sent through the service's retry
/// exchange with the routing key it came with (its bucket), which brings it back to its shard.
pub(crate) fn retry_copy<'a>(
    delivery: &'a Delivery,
    topology: &Topology,
    service: &str,
    attempts: u32,
    delay_ms: u64,
    error: &str,
    now: DateTime<Utc>,
) -> Result<Envelope<'a>, AmqpError> {
    let first_failure = headers::time(&delivery.properties, FIRST_FAILURE_AT).unwrap_or(now);
    let changes = vec![
        (ATTEMPTS, Some(headers::count_value(attempts))),
        (LAST_ERROR, Some(headers::string(truncate(error)))),
        (FIRST_FAILURE_AT, Some(headers::time_value(first_failure))),
        (RETRY_DELAY_MS, Some(headers::string(&delay_ms.to_string()))),
        (DELIVERY_COUNT, None),
    ];
    copy(
        delivery,
        &topology.retry_exchange(service),
        delivery.routing_key.as_str(),
        changes,
    )
}

/// A copy of `delivery`, taken from `queue`, for the dead-letter exchange, routed to
/// `service`'s dead-letter queue. Keeps the original headers, the broker's `x-death` history
/// among them.
pub(crate) fn dead_letter_copy<'a>(
    delivery: &'a Delivery,
    topology: &Topology,
    service: &str,
    queue: &str,
    attempts: u32,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Envelope<'a>, AmqpError> {
    let first_failure = headers::time(&delivery.properties, FIRST_FAILURE_AT).unwrap_or(now);
    let failure_id = uuid::Uuid::now_v7().to_string();
    let changes = vec![
        (FAILURE_REASON, Some(headers::string(truncate(reason)))),
        (ATTEMPTS, Some(headers::count_value(attempts))),
        (FIRST_FAILURE_AT, Some(headers::time_value(first_failure))),
        (LAST_FAILURE_AT, Some(headers::time_value(now))),
        (ORIGINAL_QUEUE, Some(headers::string(queue))),
        (FAILURE_ID, Some(headers::string(&failure_id))),
        (DELIVERY_COUNT, None),
    ];
    copy(delivery, &topology.dead_letter_exchange(), service, changes)
}

fn copy<'a>(
    delivery: &'a Delivery,
    exchange: &str,
    routing_key: &str,
    changes: Vec<(&str, Option<lapin::types::AMQPValue>)>,
) -> Result<Envelope<'a>, AmqpError> {
    let properties = delivery.properties.clone();
    let headers = headers::with(properties.headers().as_ref(), changes);
    Ok(Envelope {
        exchange: short(exchange)?,
        routing_key: short(routing_key)?,
        message_id: properties
            .message_id()
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        properties: properties.with_delivery_mode(2).with_headers(headers),
        body: &delivery.data,
    })
}

/// `text` cut at a character boundary so that it fits in a header.
fn truncate(text: &str) -> &str {
    if text.len() <= MAX_HEADER_TEXT {
        return text;
    }
    let mut end = MAX_HEADER_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_texts_are_cut_at_a_character_boundary() {
        let text = "é".repeat(MAX_HEADER_TEXT);
        let cut = truncate(&text);
        assert!(cut.len() <= MAX_HEADER_TEXT);
        assert!(cut.chars().all(|c| c == 'é'));
        assert_eq!(truncate("short"), "short");
    }
}
