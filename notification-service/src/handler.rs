//! The notification service's [`EventHandler`]: one email per order event, never two.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::Utc;
use lettre::Message;
use lettre::message::Mailbox;
use serde::Serialize;
use shared_events::app::consumer::Consumer;
use shared_events::app::telemetry::ledger_span;
use shared_events::runtime::{EventHandler, Handled, HandlerError};
use shared_events::storage::durable_state::{DurableState, DurableStateError};
use shared_events::{Order, OrderEvent};
use tracing::Instrument;

use crate::Notification as NotificationService;
use crate::ledger::{Ledger, LedgerChange, Notification, Status};
use crate::mailer::{Mailer, SendError};
use crate::message;

/// Emails the customer about every order event, recording each in the ledger.
///
/// The order of operations is: decide and record the intent ("sending", durably), send, record
/// "sent" (durably), acknowledge. A crash or a failed send between the intent and "sent" leaves
/// the intent behind; when the event comes again (redelivery, retry, replay) the email is sent
/// again, byte for byte the same, with the same `Message-ID`. So an email may reach the mail
/// server twice but is never lost; the receiving system can drop the copy by its `Message-ID`.
/// Recording "sent" before sending would trade that duplicate for a silently lost email.
pub struct Notifier {
    ledger: DurableState<Ledger>,
    postman: Arc<Postman>,
}

/// What the notifiers of every shard share: the mailer, the `From`, and the counts.
pub struct Postman {
    mailer: Mailer,
    from: Mailbox,
    counts: Counters,
}

/// How many events the handler has dealt with since start, by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Emails sent.
    pub sent: u64,
    /// Events already applied, or older than what was applied.
    pub duplicate: u64,
    /// Events without a usable address.
    pub skipped: u64,
    /// Attempts that failed (each retry counts).
    pub failed: u64,
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    duplicate: AtomicU64,
    skipped: AtomicU64,
    failed: AtomicU64,
}

/// What the ledger said about an event.
enum Decision {
    /// Applied before, or older than what was applied.
    Duplicate,
    /// Recorded as skipped now.
    Skipped(String),
    /// Recorded as "sending" (now or by an earlier, interrupted attempt): send the email.
    Send,
}

impl Postman {
    /// Sends through `mailer` as `from`.
    pub fn new(mailer: Mailer, from: Mailbox) -> Postman {
        Postman {
            mailer,
            from,
            counts: Counters::default(),
        }
    }

    /// How many events the handlers have dealt with since start, by outcome.
    pub fn counts(&self) -> Counts {
        Counts {
            sent: self.counts.sent.load(Ordering::Relaxed),
            duplicate: self.counts.duplicate.load(Ordering::Relaxed),
            skipped: self.counts.skipped.load(Ordering::Relaxed),
            failed: self.counts.failed.load(Ordering::Relaxed),
        }
    }

    /// Where emails go.
    pub fn mailer(&self) -> &Mailer {
        &self.mailer
    }
}

impl Notifier {
    /// A handler that records in `ledger` (one shard's) and sends through `postman`.
    pub fn new(ledger: DurableState<Ledger>, postman: Arc<Postman>) -> Notifier {
        Notifier { ledger, postman }
    }

    async fn notify(&self, event: &OrderEvent) -> Result<Handled, HandlerError> {
        let content = message::compose(event);
        let email = recipient(&event.data.order).and_then(|to| {
            message::email(event, &self.postman.from, to, &content)
                .map_err(|error| format!("the email cannot be built: {error}"))
        });
        let notification = Notification {
            event_id: event.id,
            order_id: event.subject,
            event_type: event.kind,
            order_version: event.sequence,
            recipient: event.data.order.customer_email.clone(),
            subject: content.subject,
            status: if email.is_ok() {
                Status::Sending
            } else {
                Status::Skipped
            },
            reason: email.as_ref().err().cloned(),
            at: Utc::now(),
        };
        let decision = self
            .ledger
            .transact(move |ledger| decide(ledger, notification))
            .instrument(ledger_span(NotificationService::LEDGER))
            .await
            .map_err(ledger_error)?;
        let email = match (decision, email) {
            (Decision::Duplicate, _) => return Ok(Handled::Duplicate),
            (Decision::Skipped(reason), _) => {
                tracing::info!(
                    event_id = %event.id,
                    order_id = %event.subject,
                    %reason,
                    "notification skipped"
                );
                return Ok(Handled::Skipped(reason));
            }
            (Decision::Send, Ok(email)) => email,
            // An earlier attempt recorded "sending" for this very event, so its email could be
            // built then; it is built from the event alone, so this cannot happen.
            (Decision::Send, Err(reason)) => return Err(HandlerError::Permanent(reason)),
        };
        self.send(event, &email).await?;
        let event_id = event.id;
        self.ledger
            .transact(move |_| {
                let sent = LedgerChange::Sent {
                    event_id,
                    at: Utc::now(),
                };
                (Some(sent), ())
            })
            .instrument(ledger_span(NotificationService::LEDGER))
            .await
            .map_err(ledger_error)?;
        tracing::info!(
            event_id = %event.id,
            order_id = %event.subject,
            mailer = %self.postman.mailer,
            "notification sent"
        );
        Ok(Handled::Applied)
    }

    async fn send(&self, event: &OrderEvent, email: &Message) -> Result<(), HandlerError> {
        self.postman
            .mailer
            .send(event.id, email)
            .await
            .map_err(|error| match error {
                SendError::Permanent(reason) => HandlerError::Permanent(reason),
                other => HandlerError::Retryable(other.to_string()),
            })
    }
}

impl EventHandler for Notifier {
    const SERVICE: &'static str = "notification";

    async fn handle(&self, event: &OrderEvent) -> Result<Handled, HandlerError> {
        let outcome = self.notify(event).await;
        let counter = match &outcome {
            Ok(Handled::Applied) => &self.postman.counts.sent,
            Ok(Handled::Duplicate) => &self.postman.counts.duplicate,
            Ok(Handled::Skipped(_)) => &self.postman.counts.skipped,
            Err(_) => &self.postman.counts.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        outcome
    }
}

/// Looks the event up and, if it is new, records its notification.
fn decide(ledger: &Ledger, notification: Notification) -> (Option<LedgerChange>, Decision) {
    if let Some(earlier) = ledger.notification(notification.event_id) {
        let decision = match earlier.status {
            Status::Sending => Decision::Send,
            Status::Sent | Status::Skipped => Decision::Duplicate,
        };
        return (None, decision);
    }
    let stale = ledger
        .last_version(notification.order_id)
        .is_some_and(|last| last >= notification.order_version);
    if stale {
        return (None, Decision::Duplicate);
    }
    let decision = match notification.status {
        Status::Skipped => Decision::Skipped(notification.reason.clone().unwrap_or_default()),
        Status::Sending | Status::Sent => Decision::Send,
    };
    (Some(LedgerChange::Recorded(notification)), decision)
}

/// The mailbox an order's notifications go to, or why there is none.
fn recipient(order: &Order) -> Result<Mailbox, String> {
    let Some(email) = order.customer_email.as_deref() else {
        return Err(format!("order {} has no customer_email", order.order_id));
    };
    let address = email
        .parse()
        .map_err(|_| format!("customer_email `{email}` is not an address the mailer accepts"))?;
    Ok(Mailbox::new(Some(order.customer_name.clone()), address))
}

fn ledger_error(error: DurableStateError) -> HandlerError {
    HandlerError::Retryable(format!(
        "the ledger cannot record the notification: {error}"
    ))
}
