//! The timelines' state machine and the views it gives.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared_events::EventType;
use shared_events::contract::outcome::{DeliveryOutcome, OutcomeStatus};
use shared_events::storage::durable_state::StateMachine;
use uuid::Uuid;

/// One thing learnt about an event's delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryEntry {
    /// The event reached the transport.
    Published {
        /// The event's id.
        event_id: Uuid,
        /// The event's type.
        event_type: EventType,
        /// The order.
        order_id: Uuid,
        /// The order's version the event carries.
        sequence: u64,
        /// When the change was accepted.
        event_time: DateTime<Utc>,
        /// Who made the change, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        changed_by: Option<String>,
        /// When it was published.
        at: DateTime<Utc>,
    },
    /// A consumer's outcome.
    Outcome(DeliveryOutcome),
}

impl DeliveryEntry {
    /// The order the entry is about.
    pub fn order_id(&self) -> Uuid {
        match self {
            DeliveryEntry::Published { order_id, .. } => *order_id,
            DeliveryEntry::Outcome(outcome) => outcome.order_id,
        }
    }
}

/// An order's delivery timeline, as `GET /orders/{id}/deliveries` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderTimeline {
    /// The order.
    pub order_id: Uuid,
    /// One entry per event (per version of the order), oldest first.
    pub events: Vec<EventTimeline>,
}

/// One event's delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventTimeline {
    /// The event's id.
    pub event_id: Uuid,
    /// The event's type.
    pub event_type: EventType,
    /// The order's version the event carries.
    pub sequence: u64,
    /// When the change was accepted.
    pub event_time: DateTime<Utc>,
    /// Who made the change: an API token's or a signed-in person's name; absent when the
    /// service ran without authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_by: Option<String>,
    /// When the event reached the transport, once it has.
    pub published_at: Option<DateTime<Utc>>,
    /// Each expected service's delivery, then any other service that reported.
    pub services: Vec<ServiceDelivery>,
}

/// What one service did with one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ServiceDelivery {
    /// The service.
    pub service: String,
    /// `pending` until the service reports, then its current outcome (`applied`, `duplicate`,
    /// `skipped`, `retrying`, `failed`).
    pub status: String,
    /// When the current outcome was reached.
    pub at: Option<DateTime<Utc>>,
    /// Attempts made so far.
    pub attempts: u32,
    /// The reason, for a skip, a retry or a failure.
    pub detail: Option<String>,
    /// Every outcome reported, in the order they arrived.
    pub history: Vec<Attempt>,
}

/// One reported outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Attempt {
    /// What happened.
    pub status: OutcomeStatus,
    /// When.
    pub at: DateTime<Utc>,
    /// Attempts made by then.
    pub attempts: u32,
    /// The reason, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Every order's timeline, as stored.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Timelines {
    orders: HashMap<Uuid, Vec<StoredEvent>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredEvent {
    event_id: Uuid,
    event_type: EventType,
    sequence: u64,
    event_time: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    changed_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    published_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    outcomes: Vec<(String, Attempt)>,
}

impl StateMachine for Timelines {
    type Change = Vec<DeliveryEntry>;

    fn apply(&mut self, change: &Vec<DeliveryEntry>) {
        for entry in change {
            self.apply_entry(entry);
        }
    }
}

impl Timelines {
    fn apply_entry(&mut self, entry: &DeliveryEntry) {
        match entry {
            DeliveryEntry::Published {
                event_id,
                event_type,
                order_id,
                sequence,
                event_time,
                changed_by,
                at,
            } => {
                let event = self.event(*order_id, *event_id, *event_type, *sequence, *event_time);
                // Published again after a crash or a replay: the first time is the one that counts.
                event.published_at.get_or_insert(*at);
                if event.changed_by.is_none() {
                    event.changed_by.clone_from(changed_by);
                }
            }
            DeliveryEntry::Outcome(outcome) => {
                let event = self.event(
                    outcome.order_id,
                    outcome.event_id,
                    outcome.event_type,
                    outcome.sequence,
                    outcome.event_time,
                );
                event.outcomes.push((
                    outcome.service.clone(),
                    Attempt {
                        status: outcome.status,
                        at: outcome.at,
                        attempts: outcome.attempts,
                        detail: outcome.detail.clone(),
                    },
                ));
            }
        }
    }

    /// The stored event, created in its place (by version) if it is new.
    fn event(
        &mut self,
        order_id: Uuid,
        event_id: Uuid,
        event_type: EventType,
        sequence: u64,
        event_time: DateTime<Utc>,
    ) -> &mut StoredEvent {
        let events = self.orders.entry(order_id).or_default();
        let index = match events.iter().position(|event| event.event_id == event_id) {
            Some(index) => index,
            None => {
                let index = events.partition_point(|event| event.sequence <= sequence);
                events.insert(
                    index,
                    StoredEvent {
                        event_id,
                        event_type,
                        sequence,
                        event_time,
                        changed_by: None,
                        published_at: None,
                        outcomes: Vec::new(),
                    },
                );
                index
            }
        };
        &mut events[index]
    }

    /// The view of `order_id`'s timeline, with a column for each of `services`.
    pub(crate) fn order(&self, order_id: Uuid, services: &[String]) -> Option<OrderTimeline> {
        let events = self.orders.get(&order_id)?;
        Some(OrderTimeline {
            order_id,
            events: events.iter().map(|event| event.view(services)).collect(),
        })
    }
}

impl StoredEvent {
    fn view(&self, services: &[String]) -> EventTimeline {
        let mut names: Vec<&str> = services.iter().map(String::as_str).collect();
        for (service, _) in &self.outcomes {
            if !names.contains(&service.as_str()) {
                names.push(service);
            }
        }
        EventTimeline {
            event_id: self.event_id,
            event_type: self.event_type,
            sequence: self.sequence,
            event_time: self.event_time,
            changed_by: self.changed_by.clone(),
            published_at: self.published_at,
            services: names.into_iter().map(|name| self.delivery(name)).collect(),
        }
    }

    fn delivery(&self, service: &str) -> ServiceDelivery {
        let history: Vec<Attempt> = self
            .outcomes
            .iter()
            .filter(|(name, _)| name == service)
            .map(|(_, attempt)| attempt.clone())
            .collect();
        let current = history
            .iter()
            .fold(None::<&Attempt>, |current, next| match current {
                Some(current) if supersedes(current.status, next.status) => Some(current),
                _ => Some(next),
            });
        ServiceDelivery {
            service: service.to_owned(),
            status: current
                .map_or("pending", |attempt| attempt.status.as_str())
                .to_owned(),
            at: current.map(|attempt| attempt.at),
            attempts: history
                .iter()
                .map(|attempt| attempt.attempts)
                .max()
                .unwrap_or(0),
            detail: current.and_then(|attempt| attempt.detail.clone()),
            history,
        }
    }
}

/// Whether the outcome shown so far stays when `next` arrives: a redelivery's "duplicate" does
/// not hide that the event was applied, and a late retry report does not undo a final outcome.
fn supersedes(current: OutcomeStatus, next: OutcomeStatus) -> bool {
    let settled = current.is_final() && current != OutcomeStatus::Duplicate;
    settled && matches!(next, OutcomeStatus::Duplicate | OutcomeStatus::Retrying)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(service: &str, status: OutcomeStatus, at: i64) -> DeliveryEntry {
        DeliveryEntry::Outcome(DeliveryOutcome {
            service: service.to_owned(),
            event_id: Uuid::from_u128(7),
            event_type: EventType::Created,
            order_id: Uuid::from_u128(1),
            sequence: 1,
            event_time: DateTime::from_timestamp(0, 0).unwrap_or_default(),
            status,
            detail: None,
            attempts: 1,
            at: DateTime::from_timestamp(at, 0).unwrap_or_default(),
        })
    }

    #[test]
    fn every_flipped_byte_of_the_timeline_files_opens_the_same_timelines_or_is_refused() {
        use shared_events::storage::durable_state::DurableState;
        use test_support::damage::flip_files;
        let dir = tempfile::tempdir().expect("temp dir");
        let state =
            DurableState::<Timelines>::open_with(dir.path(), "deliveries", 1024).expect("opens");
        for n in 0..8u128 {
            let published = DeliveryEntry::Published {
                event_id: Uuid::from_u128(100 + n),
                event_type: EventType::Created,
                order_id: Uuid::from_u128(n),
                sequence: 1,
                event_time: DateTime::from_timestamp(0, 0).unwrap_or_default(),
                changed_by: None,
                at: DateTime::from_timestamp(1, 0).unwrap_or_default(),
            };
            let applied = outcome("billing", OutcomeStatus::Applied, 2);
            state
                .transact_blocking(|_| (Some(vec![published, applied]), ()))
                .expect("durable");
        }
        // Compared as JSON: the maps inside have no order of their own.
        let as_json = |timelines: &Timelines| serde_json::to_value(timelines).expect("JSON");
        let expected = state.read(as_json);
        drop(state);
        let open = |copy: &std::path::Path| {
            DurableState::<Timelines>::open(copy, "deliveries")
                .map(|state| state.read(as_json))
                .map_err(|error| error.to_string())
        };
        let files = ["deliveries.json", "deliveries-journal.jsonl"];
        flip_files(dir.path(), &files, 150, open, &expected);
    }

    #[test]
    fn the_current_status_is_the_last_that_says_something_new() {
        let cases = [
            (
                vec![OutcomeStatus::Retrying, OutcomeStatus::Applied],
                "applied",
                "a retry then success",
            ),
            (
                vec![OutcomeStatus::Applied, OutcomeStatus::Duplicate],
                "applied",
                "a redelivery",
            ),
            (
                vec![OutcomeStatus::Failed, OutcomeStatus::Applied],
                "applied",
                "a replay that worked",
            ),
            (
                vec![OutcomeStatus::Applied, OutcomeStatus::Retrying],
                "applied",
                "a late retry report",
            ),
            (
                vec![OutcomeStatus::Duplicate],
                "duplicate",
                "only a duplicate",
            ),
            (
                vec![OutcomeStatus::Retrying, OutcomeStatus::Failed],
                "failed",
                "gave up",
            ),
        ];
        for (statuses, expected, message) in cases {
            let mut timelines = Timelines::default();
            let entries: Vec<DeliveryEntry> = statuses
                .iter()
                .enumerate()
                .map(|(n, status)| outcome("billing", *status, n as i64))
                .collect();
            timelines.apply(&entries);
            let services = ["inventory".to_owned(), "billing".to_owned()];
            let view = timelines
                .order(Uuid::from_u128(1), &services)
                .expect(message);
            let billing = &view.events[0].services[1];
            assert_eq!(billing.status, expected, "{message}");
            assert_eq!(billing.history.len(), statuses.len(), "{message}");
            assert_eq!(view.events[0].services[0].status, "pending", "{message}");
        }
    }

    #[test]
    fn events_are_kept_in_version_order_and_published_once() {
        let mut timelines = Timelines::default();
        let published = |sequence: u64, at: i64| DeliveryEntry::Published {
            event_id: Uuid::from_u128(u128::from(sequence)),
            event_type: EventType::Updated,
            order_id: Uuid::from_u128(1),
            sequence,
            event_time: DateTime::from_timestamp(0, 0).unwrap_or_default(),
            changed_by: Some(format!("clerk-{sequence}")),
            at: DateTime::from_timestamp(at, 0).unwrap_or_default(),
        };
        timelines.apply(&vec![published(3, 10), published(2, 11), published(3, 12)]);
        let view = timelines.order(Uuid::from_u128(1), &[]).expect("an order");
        let sequences: Vec<u64> = view.events.iter().map(|event| event.sequence).collect();
        assert_eq!(sequences, [2, 3]);
        assert_eq!(view.events[1].published_at, DateTime::from_timestamp(10, 0));
        let authors: Vec<Option<&str>> = view
            .events
            .iter()
            .map(|event| event.changed_by.as_deref())
            .collect();
        assert_eq!(
            authors,
            [Some("clerk-2"), Some("clerk-3")],
            "who made each version"
        );
    }
}
