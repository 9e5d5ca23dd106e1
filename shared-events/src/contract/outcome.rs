//! What a consumer did with an event, reported back to the order service so that it can show
//! each change's delivery timeline.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::contract::event::{EventType, OrderEvent};

/// One consumer's outcome for one event (one attempt, or its final word).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DeliveryOutcome {
    /// The consuming service (`inventory`, `billing`, `notification`).
    pub service: String,
    /// The event's id.
    pub event_id: Uuid,
    /// The event's type.
    pub event_type: EventType,
    /// The order the event is about.
    pub order_id: Uuid,
    /// The order's version the event carries.
    pub sequence: u64,
    /// When the change was accepted (the event's `time`).
    pub event_time: DateTime<Utc>,
    /// What happened.
    pub status: OutcomeStatus,
    /// The reason, for a skip, a retry or a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    // Absent when `None`, never `null`.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub detail: Option<String>,
    /// Attempts made so far (1 for the first).
    pub attempts: u32,
    /// When the consumer reached this outcome.
    pub at: DateTime<Utc>,
}

/// What a consumer did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum OutcomeStatus {
    /// The effect was applied.
    Applied,
    /// Already applied earlier (or superseded by a newer version): nothing to do.
    Duplicate,
    /// Nothing to do, for the reason in `detail`.
    Skipped,
    /// The attempt failed; it will be tried again later.
    Retrying,
    /// Given up on: recorded in the service's `failure.json`, replayable.
    Failed,
}

impl OutcomeStatus {
    /// Whether the service is done with the event for good (a retry is not).
    pub fn is_final(self) -> bool {
        !matches!(self, OutcomeStatus::Retrying)
    }

    /// The status as written in JSON (`applied`, `failed`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeStatus::Applied => "applied",
            OutcomeStatus::Duplicate => "duplicate",
            OutcomeStatus::Skipped => "skipped",
            OutcomeStatus::Retrying => "retrying",
            OutcomeStatus::Failed => "failed",
        }
    }
}

impl DeliveryOutcome {
    /// `service`'s outcome for `event`, now.
    pub fn of(
        service: &str,
        event: &OrderEvent,
        status: OutcomeStatus,
        detail: Option<String>,
        attempts: u32,
    ) -> DeliveryOutcome {
        DeliveryOutcome {
            service: service.to_owned(),
            event_id: event.id,
            event_type: event.kind,
            order_id: event.subject,
            sequence: event.sequence,
            event_time: event.time,
            status,
            detail,
            attempts,
            at: Utc::now(),
        }
    }
}
