//! One line of the order journal: a change and the event it emits, stored together.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared_events::{Order, OrderEvent};

/// A journal record: an order change, or the outbox's progress.
///
/// For a change, the event is the change: its `data.order` is the order's new state (or, for a
/// deletion, its last one), so one fsync stores the change and its outbox entry at once. A record
/// with `published_through` instead says that the broker confirmed every event up to that
/// sequence number. (Optional fields rather than an enum: serde's tagged enums buffer their
/// content, which loses the exact decimal numbers of amounts.)
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct JournalRecord {
    /// 1, 2, 3 ... across the store's whole history; replay checks there is no gap.
    pub(crate) seq: u64,
    /// The event this change emits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) event: Option<OrderEvent>,
    /// The `Idempotency-Key` of the request that created the order, if it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) idempotency: Option<IdempotencyStamp>,
    /// Every event in a record up to this sequence number has been published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) published_through: Option<u64>,
}

/// An event waiting in the outbox, with the sequence number of its record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingEvent {
    /// The record's sequence number: the outbox publishes in this order.
    pub seq: u64,
    /// The event.
    pub event: Arc<OrderEvent>,
}

/// An `Idempotency-Key` and the fingerprint of the request body it came with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyStamp {
    /// The client's key.
    pub key: String,
    /// SHA-256 of the request body in canonical form, hex.
    pub fingerprint: String,
}

/// What the store remembers of an idempotent create, to answer its retries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct IdempotencyEntry {
    /// The client's key.
    pub(crate) key: String,
    /// The fingerprint of the first request.
    pub(crate) fingerprint: String,
    /// When the first request was stored; entries expire after the configured time.
    pub(crate) created_at: DateTime<Utc>,
    /// The order as the first response showed it.
    pub(crate) order: Arc<Order>,
}
