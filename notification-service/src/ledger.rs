//! The notification ledger: every notification decided on, and what became of it.
//!
//! Kept as a [`DurableState`](shared_events::storage::durable_state::DurableState), so a decision is on
//! disk before the email goes out, and "sent" is on disk before the event is acknowledged.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, Serializer};
use shared_events::EventType;
use shared_events::storage::durable_state::StateMachine;
use uuid::Uuid;

/// Every notification, in the order they were decided on, with indexes by event and order.
///
/// Only the list is stored; the indexes and each order's last applied version follow from it,
/// since every applied event leaves exactly one notification.
#[derive(Debug, Default, Deserialize)]
#[serde(from = "StoredLedger")]
pub struct Ledger {
    notifications: Vec<Notification>,
    by_event: HashMap<Uuid, usize>,
    by_order: HashMap<Uuid, OrderEntry>,
}

/// One event's notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Notification {
    /// The event it is about; also the source of the email's `Message-ID`.
    pub event_id: Uuid,
    /// The order the event is about.
    pub order_id: Uuid,
    /// What happened to the order.
    pub event_type: EventType,
    /// The order's version after the event.
    pub order_version: u64,
    /// The address the email goes to; `None` when there is none.
    pub recipient: Option<String>,
    /// The email's subject.
    pub subject: String,
    /// Where the notification is.
    pub status: Status,
    /// Why it was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When it reached its status.
    pub at: DateTime<Utc>,
}

/// Where a notification is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = NotificationStatus)]
pub enum Status {
    /// Decided on; the email is being sent, or a crash or failure interrupted the sending.
    Sending,
    /// The mail server (or the outbox) took the email.
    Sent,
    /// No email: the order has no usable address.
    Skipped,
}

/// A change to the ledger, as its journal stores it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum LedgerChange {
    /// A new notification (`sending` or `skipped`): the event is applied.
    Recorded(Notification),
    /// The email of the event was sent.
    Sent {
        /// The event.
        event_id: Uuid,
        /// When.
        at: DateTime<Utc>,
    },
}

/// Which notifications a page shows.
#[derive(Debug, Clone, Default)]
pub struct PageQuery {
    /// At most this many.
    pub limit: usize,
    /// Only those older than this position (a cursor of an earlier page).
    pub before: Option<Position>,
    /// Only those about this order.
    pub order_id: Option<Uuid>,
}

/// A notification's place in the ledger, as a cursor carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position(pub u64);

/// A page of notifications, newest first.
#[derive(Debug, Clone)]
pub struct Page {
    /// The notifications.
    pub notifications: Vec<Notification>,
    /// Where the next page starts, if there is one.
    pub next: Option<Position>,
}

#[derive(Debug, Default)]
struct OrderEntry {
    last_version: u64,
    positions: Vec<usize>,
}

impl Ledger {
    /// The notification about the event `event_id`, if the event was applied.
    pub fn notification(&self, event_id: Uuid) -> Option<&Notification> {
        self.by_event
            .get(&event_id)
            .map(|&position| &self.notifications[position])
    }

    /// The version of the last event applied for `order_id`.
    pub fn last_version(&self, order_id: Uuid) -> Option<u64> {
        self.by_order.get(&order_id).map(|entry| entry.last_version)
    }

    /// How many notifications there are.
    pub fn len(&self) -> usize {
        self.notifications.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.notifications.is_empty()
    }

    /// A page of notifications, newest first.
    pub fn page(&self, query: &PageQuery) -> Page {
        let len = self.notifications.len();
        let end = query
            .before
            .and_then(|before| usize::try_from(before.0).ok())
            .map_or(len, |before| before.min(len));
        let mut positions: Box<dyn Iterator<Item = usize> + '_> = match query.order_id {
            None => Box::new((0..end).rev()),
            Some(order_id) => {
                let positions = self
                    .by_order
                    .get(&order_id)
                    .map_or(&[][..], |entry| &entry.positions[..]);
                let end = positions.partition_point(|&position| position < end);
                Box::new(positions[..end].iter().rev().copied())
            }
        };
        let page: Vec<usize> = positions.by_ref().take(query.limit).collect();
        let next = match (positions.next(), page.last()) {
            (Some(_), Some(&last)) => Some(Position(last as u64)),
            _ => None,
        };
        Page {
            notifications: page
                .into_iter()
                .map(|position| self.notifications[position].clone())
                .collect(),
            next,
        }
    }

    /// Up to `limit` notifications before `before` (all if `None`), newest first, with their
    /// positions: a shard's part of a page of the whole service.
    pub fn newest(&self, before: Option<Position>, limit: usize) -> Vec<(Position, Notification)> {
        let len = self.notifications.len();
        let end = before
            .and_then(|before| usize::try_from(before.0).ok())
            .map_or(len, |before| before.min(len));
        (0..end)
            .rev()
            .take(limit)
            .map(|position| {
                (
                    Position(position as u64),
                    self.notifications[position].clone(),
                )
            })
            .collect()
    }

    fn record(&mut self, notification: Notification) {
        let position = self.notifications.len();
        let entry = self.by_order.entry(notification.order_id).or_default();
        entry.last_version = entry.last_version.max(notification.order_version);
        entry.positions.push(position);
        self.by_event.insert(notification.event_id, position);
        self.notifications.push(notification);
    }
}

impl StateMachine for Ledger {
    type Change = LedgerChange;

    fn apply(&mut self, change: &LedgerChange) {
        match change {
            LedgerChange::Recorded(notification) => self.record(notification.clone()),
            LedgerChange::Sent { event_id, at } => {
                if let Some(&position) = self.by_event.get(event_id) {
                    let notification = &mut self.notifications[position];
                    notification.status = Status::Sent;
                    notification.at = *at;
                }
            }
        }
    }
}

/// The ledger as its snapshot stores it: the list alone.
#[derive(Deserialize)]
struct StoredLedger {
    notifications: Vec<Notification>,
}

impl From<StoredLedger> for Ledger {
    fn from(stored: StoredLedger) -> Ledger {
        let mut ledger = Ledger::default();
        for notification in stored.notifications {
            ledger.record(notification);
        }
        ledger
    }
}

impl Serialize for Ledger {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct StoredLedgerRef<'a> {
            notifications: &'a [Notification],
        }
        StoredLedgerRef {
            notifications: &self.notifications,
        }
        .serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notification(order_id: Uuid, version: u64) -> Notification {
        Notification {
            event_id: Uuid::now_v7(),
            order_id,
            event_type: EventType::Updated,
            order_version: version,
            recipient: Some("ada@example.com".to_owned()),
            subject: format!("v{version}"),
            status: Status::Sending,
            reason: None,
            at: Utc::now(),
        }
    }

    fn ledger_of(notifications: &[Notification]) -> Ledger {
        let mut ledger = Ledger::default();
        for notification in notifications {
            ledger.apply(&LedgerChange::Recorded(notification.clone()));
        }
        ledger
    }

    fn subjects(page: &Page) -> Vec<&str> {
        page.notifications
            .iter()
            .map(|n| n.subject.as_str())
            .collect()
    }

    #[test]
    fn pages_go_newest_first_and_end_with_no_cursor() {
        let order = Uuid::now_v7();
        let ledger = ledger_of(&(1..=5).map(|v| notification(order, v)).collect::<Vec<_>>());
        let mut query = PageQuery {
            limit: 2,
            ..PageQuery::default()
        };

        let first = ledger.page(&query);
        query.before = first.next;
        let second = ledger.page(&query);
        query.before = second.next;
        let third = ledger.page(&query);

        assert_eq!(subjects(&first), ["v5", "v4"]);
        assert_eq!(subjects(&second), ["v3", "v2"]);
        assert_eq!(subjects(&third), ["v1"]);
        assert_eq!(third.next, None);
    }

    #[test]
    fn the_order_filter_pages_through_that_order_only() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let ledger = ledger_of(&[
            notification(a, 1),
            notification(b, 1),
            notification(a, 2),
            notification(b, 2),
            notification(a, 3),
        ]);
        let mut query = PageQuery {
            limit: 2,
            before: None,
            order_id: Some(a),
        };

        let first = ledger.page(&query);
        query.before = first.next;
        let second = ledger.page(&query);

        assert_eq!(subjects(&first), ["v3", "v2"]);
        assert!(first.notifications.iter().all(|n| n.order_id == a));
        assert_eq!(subjects(&second), ["v1"]);
        assert_eq!(second.next, None);
    }

    #[test]
    fn the_snapshot_round_trip_rebuilds_the_indexes() {
        let order = Uuid::now_v7();
        let first = notification(order, 1);
        let mut ledger = ledger_of(&[first.clone(), notification(order, 2)]);
        ledger.apply(&LedgerChange::Sent {
            event_id: first.event_id,
            at: Utc::now(),
        });

        let json = serde_json::to_string(&ledger).expect("serialises");
        let back: Ledger = serde_json::from_str(&json).expect("deserialises");

        assert_eq!(back.last_version(order), Some(2));
        assert_eq!(
            back.notification(first.event_id).map(|n| n.status),
            Some(Status::Sent)
        );
        assert_eq!(back.len(), 2);
    }
}
