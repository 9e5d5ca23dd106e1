//! A decided change to an order, as the event that announces it. The domain says what a change
//! does to an order; the store only appends the event it is given.

use chrono::{DateTime, Utc};
use shared_events::{EventType, Order, OrderEvent};
use uuid::Uuid;

use crate::domain::{NewOrder, OrderPatch, PatchRejected};

/// The `source` of every event this service emits.
const EVENT_SOURCE: &str = "order-service";

/// Where a change comes from: who asked for it and the trace of the request that asked. Every
/// version of an order records the first; every event carries the second.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeOrigin {
    /// The `traceparent` of the request, so that a consumer's work joins the request's trace.
    pub traceparent: Option<String>,
    /// The caller's name (an API token's or a signed-in person's); `None` when the service runs
    /// without authentication.
    pub changed_by: Option<String>,
}

/// When a change is made and where it comes from: what every event of the change carries
/// besides the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeStamp {
    /// When the change is made: the event's time, and the order's `order_update`.
    pub now: DateTime<Utc>,
    /// Who asked, and the request's trace.
    pub origin: ChangeOrigin,
}

impl ChangeStamp {
    /// The event that creates `order` under `order_id`, at version 1.
    pub fn created(self, order: NewOrder, order_id: Uuid) -> OrderEvent {
        let order = order.into_order(order_id, self.now);
        self.event(EventType::Created, order, None)
    }

    /// The event that applies `patch` to `current`, or `None` when the patch changes nothing.
    pub fn updated(
        self,
        current: &Order,
        patch: &OrderPatch,
    ) -> Result<Option<OrderEvent>, PatchRejected> {
        let Some(next) = patch.apply(current, self.now)? else {
            return Ok(None);
        };
        Ok(Some(self.event(
            EventType::Updated,
            next,
            Some(current.clone()),
        )))
    }

    /// The event that deletes `current`: its last state, at a version of its own so that
    /// consumers tell the deletion from the change before it.
    pub fn deleted(self, current: &Order) -> OrderEvent {
        let mut last = current.clone();
        last.version += 1;
        last.order_update = self.now;
        self.event(EventType::Deleted, last, None)
    }

    /// The event of `order`'s new version, which records who made it.
    fn event(self, kind: EventType, mut order: Order, previous: Option<Order>) -> OrderEvent {
        order.changed_by = self.origin.changed_by;
        let mut event = OrderEvent::new(kind, EVENT_SOURCE, order, previous, self.now);
        event.traceparent = self.origin.traceparent;
        event
    }
}

#[cfg(test)]
mod tests {
    use shared_events::{Money, OrderStatus};

    use super::*;
    use crate::domain::{CustomerName, NewOrderLine, OrderLines, ProductName, Quantity, UnitPrice};

    const TRACE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn new_order() -> NewOrder {
        NewOrder {
            customer_name: CustomerName::parse("Ada").expect("valid"),
            customer_email: None,
            lines: OrderLines::new(vec![NewOrderLine {
                product: ProductName::parse(0, "widget").expect("valid"),
                quantity: Quantity::parse(0, 2).expect("valid"),
                amount: UnitPrice::parse(0, Money::from_cents(250)).expect("valid"),
            }])
            .expect("valid"),
        }
    }

    fn stamp() -> ChangeStamp {
        ChangeStamp {
            now: Utc::now(),
            origin: ChangeOrigin {
                traceparent: Some(TRACE.to_owned()),
                changed_by: Some("clerk-ada".to_owned()),
            },
        }
    }

    #[test]
    fn every_version_records_who_made_it() {
        let order = stamp().created(new_order(), Uuid::now_v7()).data.order;
        assert_eq!(order.changed_by.as_deref(), Some("clerk-ada"));
        let by_bob = |stamp: ChangeStamp| ChangeStamp {
            origin: ChangeOrigin {
                changed_by: Some("bob".to_owned()),
                ..stamp.origin
            },
            ..stamp
        };
        let patch = OrderPatch {
            status: Some(OrderStatus::Confirmed),
            ..OrderPatch::default()
        };
        let updated = by_bob(stamp())
            .updated(&order, &patch)
            .expect("legal")
            .expect("changed");
        assert_eq!(updated.data.order.changed_by.as_deref(), Some("bob"));
        assert_eq!(
            updated
                .data
                .previous
                .and_then(|previous| previous.changed_by),
            Some("clerk-ada".to_owned()),
            "the version before keeps its own author"
        );
        let open = ChangeStamp {
            origin: ChangeOrigin::default(),
            ..stamp()
        };
        let deleted = open.deleted(&updated.data.order);
        assert_eq!(deleted.data.order.changed_by, None, "no caller, no name");
    }

    #[test]
    fn every_event_carries_the_source_time_and_trace() {
        let id = Uuid::now_v7();
        let created = stamp().created(new_order(), id);
        let order = created.data.order.clone();
        let deleted = stamp().deleted(&order);
        for event in [&created, &deleted] {
            assert_eq!(event.source, EVENT_SOURCE);
            assert_eq!(event.traceparent.as_deref(), Some(TRACE));
            assert_eq!(event.data.order.order_id, id);
        }
        assert_eq!(created.kind, EventType::Created);
        assert_eq!(order.version, 1);
    }

    #[test]
    fn an_update_carries_the_order_before_it() {
        let order = stamp().created(new_order(), Uuid::now_v7()).data.order;
        let patch = OrderPatch {
            status: Some(OrderStatus::Confirmed),
            ..OrderPatch::default()
        };
        let event = stamp()
            .updated(&order, &patch)
            .expect("legal")
            .expect("changed");
        assert_eq!(event.kind, EventType::Updated);
        assert_eq!(event.data.order.version, 2);
        assert_eq!(event.data.previous.as_ref(), Some(&order));
        assert_eq!(
            stamp().updated(&order, &OrderPatch::default()),
            Ok(None),
            "a patch that changes nothing is no event"
        );
    }

    #[test]
    fn a_deletion_has_a_version_of_its_own() {
        let order = stamp().created(new_order(), Uuid::now_v7()).data.order;
        let stamp = stamp();
        let now = stamp.now;
        let event = stamp.deleted(&order);
        assert_eq!(event.kind, EventType::Deleted);
        assert_eq!(event.data.order.version, order.version + 1);
        assert_eq!(event.data.order.order_update, now);
        assert_eq!(event.data.previous, None);
    }
}
