//! What both transports do with an event the handler did not apply: retry it after a delay
//! tier, or give up on it; and the outcome a service reports for every attempt.

use serde::Deserialize;

use crate::contract::event::OrderEvent;
use crate::contract::outcome::{DeliveryOutcome, OutcomeStatus};
use crate::runtime::handler::{Handled, HandlerError};

/// How a failing event is retried (`ORDERS__AMQP__RETRY_DELAYS_MS`, `..._MAX_ATTEMPTS`), the
/// same on either transport.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RetryPolicy {
    /// Delay tiers in milliseconds: attempt n waits the n-th (the last repeats).
    pub delays_ms: Vec<u64>,
    /// Handler attempts before the event is given up on.
    pub max_attempts: u32,
}

/// Where a delivery goes after its handler failed (or it could not be decoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Into the retry queue of `delay_ms`, with `attempts` failures so far.
    Retry {
        attempts: u32,
        delay_ms: u64,
        error: String,
    },
    /// To the dead-letter exchange, after `attempts` failures.
    DeadLetter { attempts: u32, reason: String },
}

impl RetryPolicy {
    /// Decides after the handler's `error`, given the failures before this one.
    pub fn after_failure(&self, prior_attempts: u32, error: &HandlerError) -> Disposition {
        let attempts = prior_attempts.saturating_add(1);
        match error {
            HandlerError::Retryable(message) => match self.delay(attempts) {
                Some(delay_ms) if attempts < self.max_attempts => Disposition::Retry {
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
    pub fn delay(&self, attempts: u32) -> Option<u64> {
        let tiers = &self.delays_ms;
        let tier = usize::try_from(attempts.saturating_sub(1)).unwrap_or(usize::MAX);
        tiers.get(tier.min(tiers.len().checked_sub(1)?)).copied()
    }
}

/// What the service reports for `event`, given the handler's result and what became of it.
pub(crate) fn outcome(
    service: &'static str,
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
    metrics::counter!("consumer_events_total", "service" => service, "outcome" => status.as_str())
        .increment(1);
    DeliveryOutcome::of(service, event, status, detail, attempts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(max_attempts: u32, delays: &[u64]) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            delays_ms: delays.to_vec(),
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
            let got = settings.after_failure(prior, &retry);
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
        let permanent =
            settings(5, &[100]).after_failure(0, &HandlerError::Permanent("bad".to_owned()));
        assert!(
            matches!(permanent, Disposition::DeadLetter { attempts: 1, .. }),
            "{permanent:?}"
        );
        let no_tiers = settings(5, &[]).after_failure(0, &HandlerError::Retryable("x".to_owned()));
        assert!(
            matches!(no_tiers, Disposition::DeadLetter { attempts: 1, .. }),
            "{no_tiers:?}"
        );
        let single = settings(1, &[100]).after_failure(0, &HandlerError::Retryable("x".to_owned()));
        assert!(
            matches!(single, Disposition::DeadLetter { attempts: 1, .. }),
            "{single:?}"
        );
    }
}
