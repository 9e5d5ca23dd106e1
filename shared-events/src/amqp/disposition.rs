//! What becomes of a delivery the handler did not apply: a delayed retry or a dead letter, and
//! the copy of the message that carries it there; and the outcome a service reports, on either
//! transport.

use chrono::{DateTime, Utc};
use lapin::message::Delivery;

use crate::amqp::error::AmqpError;
use crate::amqp::handler::{Handled, HandlerError};
use crate::amqp::headers::{
    self, ATTEMPTS, DELIVERY_COUNT, FAILURE_ID, FAILURE_REASON, FIRST_FAILURE_AT,
};
use crate::amqp::headers::{LAST_ERROR, LAST_FAILURE_AT, ORIGINAL_QUEUE};
use crate::amqp::names::short;
use crate::amqp::publisher::Envelope;
use crate::amqp::topology::Topology;
use crate::event::OrderEvent;
use crate::outcome::{DeliveryOutcome, OutcomeStatus};
use crate::settings::AmqpSettings;

/// Header texts are cut to this many bytes: headers must fit in one AMQP frame.
const MAX_HEADER_TEXT: usize = 1_000;

/// Where a delivery goes after its handler failed (or it could not be decoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Disposition {
    /// Into the retry queue of `delay_ms`, with `attempts` failures so far.
    Retry {
        attempts: u32,
        delay_ms: u64,
        error: String,
    },
    /// To the dead-letter exchange, after `attempts` failures.
    DeadLetter { attempts: u32, reason: String },
}

/// Decides after the handler's `error`, given the failures before this one.
pub(crate) fn after_failure(
    prior_attempts: u32,
    error: &HandlerError,
    settings: &AmqpSettings,
) -> Disposition {
    let attempts = prior_attempts.saturating_add(1);
    match error {
        HandlerError::Retryable(message) => match retry_delay(attempts, settings) {
            Some(delay_ms) if attempts < settings.max_attempts => Disposition::Retry {
                attempts,
                delay_ms,
                error: message.clone(),
            },
            Some(_) => Disposition::DeadLetter {
                attempts,
                reason: format!("gave up after {attempts} attempts: {message}"),
            },
            None => Disposition::DeadLetter {
                attempts,
                reason: format!("no retry delays configured: {message}"),
            },
        },
        HandlerError::Permanent(message) => Disposition::DeadLetter {
            attempts,
            reason: format!("permanent failure: {message}"),
        },
    }
}

/// The delay before retry number `attempts` (1-based): the n-th tier, the last one repeating.
pub(crate) fn retry_delay(attempts: u32, settings: &AmqpSettings) -> Option<u64> {
    let tiers = &settings.retry_delays_ms;
    let tier = usize::try_from(attempts.saturating_sub(1)).unwrap_or(usize::MAX);
    tiers.get(tier.min(tiers.len().checked_sub(1)?)).copied()
}

/// A copy of `delivery` for the retry queue of `delay_ms`, sent through the default exchange.
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
        (DELIVERY_COUNT, None),
    ];
    copy(
        delivery,
        "",
        &topology.retry_queue(service, delay_ms),
        changes,
    )
}

/// A copy of `delivery` for the dead-letter exchange, routed to `service`'s dead-letter queue.
/// Keeps the original headers, the broker's `x-death` history among them.
pub(crate) fn dead_letter_copy<'a>(
    delivery: &'a Delivery,
    topology: &Topology,
    service: &str,
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
        (
            ORIGINAL_QUEUE,
            Some(headers::string(&topology.work_queue(service))),
        ),
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

/// What the service reports for `event`, given the handler's result and what became of it.
pub(crate) fn outcome(
    service: &str,
    event: &OrderEvent,
    handled: Result<Handled, HandlerError>,
    disposition: Option<&Disposition>,
    attempts: u32,
) -> DeliveryOutcome {
    let (status, detail) = match (handled, disposition) {
        (Ok(Handled::Applied), _) => (OutcomeStatus::Applied, None),
        (Ok(Handled::Duplicate), _) => (OutcomeStatus::Duplicate, None),
        (Ok(Handled::Skipped(reason)), _) => (OutcomeStatus::Skipped, Some(reason)),
        (Err(_), Some(Disposition::Retry { error, .. })) => {
            (OutcomeStatus::Retrying, Some(error.clone()))
        }
        (Err(_), Some(Disposition::DeadLetter { reason, .. })) => {
            (OutcomeStatus::Failed, Some(reason.clone()))
        }
        (Err(error), None) => (OutcomeStatus::Failed, Some(error.to_string())),
    };
    DeliveryOutcome::of(service, event, status, detail, attempts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(max_attempts: u32, delays: &[u64]) -> AmqpSettings {
        AmqpSettings {
            max_attempts,
            retry_delays_ms: delays.to_vec(),
            ..AmqpSettings::for_tests("unit")
        }
    }

    #[test]
    fn retries_walk_the_tiers_then_dead_letter() {
        let settings = settings(5, &[100, 200, 400]);
        let retry = HandlerError::Retryable("smtp down".to_owned());
        let cases = [
            (0, Some(100)),
            (1, Some(200)),
            (2, Some(400)),
            (3, Some(400)), // the last tier repeats
            (4, None),      // the fifth failure is the last attempt
        ];
        for (prior, delay) in cases {
            let got = after_failure(prior, &retry, &settings);
            match delay {
                Some(delay_ms) => assert_eq!(
                    got,
                    Disposition::Retry {
                        attempts: prior + 1,
                        delay_ms,
                        error: "smtp down".to_owned()
                    },
                    "after {prior} prior failures"
                ),
                None => assert!(
                    matches!(got, Disposition::DeadLetter { attempts: 5, .. }),
                    "after {prior} prior failures: {got:?}"
                ),
            }
        }
    }

    #[test]
    fn permanent_failures_and_missing_tiers_dead_letter_at_once() {
        let permanent = after_failure(
            0,
            &HandlerError::Permanent("bad".to_owned()),
            &settings(5, &[100]),
        );
        assert!(
            matches!(permanent, Disposition::DeadLetter { attempts: 1, .. }),
            "{permanent:?}"
        );
        let no_tiers = after_failure(
            0,
            &HandlerError::Retryable("x".to_owned()),
            &settings(5, &[]),
        );
        assert!(
            matches!(no_tiers, Disposition::DeadLetter { attempts: 1, .. }),
            "{no_tiers:?}"
        );
        let single = after_failure(
            0,
            &HandlerError::Retryable("x".to_owned()),
            &settings(1, &[100]),
        );
        assert!(
            matches!(single, Disposition::DeadLetter { attempts: 1, .. }),
            "{single:?}"
        );
    }

    #[test]
    fn long_texts_are_cut_at_a_character_boundary() {
        let text = "é".repeat(MAX_HEADER_TEXT);
        let cut = truncate(&text);
        assert!(cut.len() <= MAX_HEADER_TEXT);
        assert!(cut.chars().all(|c| c == 'é'));
        assert_eq!(truncate("short"), "short");
    }
}
