//! One shard's reservations: units reserved per product, and what each order holds.
//!
//! Every order event is applied as the difference between what the order holds now (its last
//! applied snapshot) and what its new snapshot says it should hold, and only if its version is
//! newer. So a duplicate changes nothing, a version 3 that overtakes version 2 makes version 2
//! stale, and a lost middle event is made good by the next one. Units on hand are not kept per
//! shard but once per product for the whole service ([`crate::on_hand`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared_events::storage::durable_state::StateMachine;
use shared_events::{EventType, OrderEvent};
use uuid::Uuid;

/// Units reserved per product in one shard, and the reservations each of its orders holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLedger {
    reserved: BTreeMap<String, u64>,
    orders: BTreeMap<Uuid, OrderHold>,
}

/// One durable change to the ledger, as the journal stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StockChange {
    /// The order's reservations become what `target` says.
    Order(OrderTarget),
}

/// What an order event says the order should hold, worked out before the ledger is locked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderTarget {
    /// The order.
    pub order_id: Uuid,
    /// The order's version after the event.
    pub version: u64,
    /// Units per product the order reserves: none once it is cancelled or deleted.
    pub held: BTreeMap<String, u64>,
    /// True for a deletion; the order's entry stays as a tombstone.
    pub deleted: bool,
    /// When the order changed.
    pub at: DateTime<Utc>,
}

/// What applying an order event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The event's version is not newer than `last`, the version already applied.
    Stale {
        /// The order's last applied version.
        last: u64,
    },
    /// The event was applied; `moves` lists the products whose reservation changed.
    Applied {
        /// The changed reservations, by product.
        moves: Vec<Move>,
    },
}

/// A change of one product's reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    /// The product.
    pub product: String,
    /// Units reserved (positive) or released (negative).
    pub delta: i64,
}

/// What an order unknown to the ledger holds.
static NOTHING: BTreeMap<String, u64> = BTreeMap::new();

/// What the ledger remembers of an order: the version last applied and the units it holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct OrderHold {
    version: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    held: BTreeMap<String, u64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    deleted: bool,
}

impl StockLedger {
    /// Decides what `target` changes: nothing if its version is not newer than the order's last
    /// applied one, else the difference between what the order holds and what it should hold.
    pub fn decide(&self, target: OrderTarget) -> (Option<StockChange>, Outcome) {
        let hold = self.orders.get(&target.order_id);
        if let Some(hold) = hold
            && target.version <= hold.version
        {
            return (None, Outcome::Stale { last: hold.version });
        }
        let moves = differences(hold.map_or(&NOTHING, |hold| &hold.held), &target.held)
            .map(|(product, delta)| Move {
                product: product.to_owned(),
                delta,
            })
            .collect();
        (Some(StockChange::Order(target)), Outcome::Applied { moves })
    }

    /// Units of `product` this shard's orders reserve.
    pub fn reserved(&self, product: &str) -> u64 {
        self.reserved.get(product).copied().unwrap_or(0)
    }

    /// Units reserved per product, every product this shard has heard of included.
    pub fn reservations(&self) -> &BTreeMap<String, u64> {
        &self.reserved
    }

    /// The last version applied for `order_id`, deletions included.
    pub fn order_version(&self, order_id: Uuid) -> Option<u64> {
        self.orders.get(&order_id).map(|hold| hold.version)
    }
}

impl StateMachine for StockLedger {
    type Change = StockChange;

    fn apply(&mut self, change: &StockChange) {
        match change {
            StockChange::Order(target) => {
                let hold = self.orders.entry(target.order_id).or_default();
                for (product, delta) in differences(&hold.held, &target.held) {
                    let reserved = self.reserved.entry(product.to_owned()).or_default();
                    *reserved = shifted(*reserved, delta);
                }
                *hold = OrderHold {
                    version: target.version,
                    held: target.held.clone(),
                    deleted: target.deleted,
                };
            }
        }
    }
}

impl OrderTarget {
    /// What `event` says its order should hold: its items, unless it is cancelled or deleted.
    pub fn from_event(event: &OrderEvent) -> OrderTarget {
        let order = &event.data.order;
        let deleted = event.kind == EventType::Deleted;
        let mut held = BTreeMap::new();
        if !deleted && !order.status.is_cancelled() {
            // One product on two lines is one reservation of their sum.
            for (product, quantity) in order.quantities() {
                *held.entry(product.to_owned()).or_insert(0) += u64::from(quantity);
            }
        }
        OrderTarget {
            order_id: event.subject,
            version: event.sequence,
            held,
            deleted,
            at: event.time,
        }
    }
}

/// The change per product from holding `before` to holding `after`, zeros left out.
fn differences<'a>(
    before: &'a BTreeMap<String, u64>,
    after: &'a BTreeMap<String, u64>,
) -> impl Iterator<Item = (&'a str, i64)> + 'a {
    let released = before
        .iter()
        .filter(|(product, _)| !after.contains_key(*product))
        .map(|(product, units)| (product.as_str(), -signed(*units)));
    let adjusted = after.iter().map(|(product, units)| {
        let old = before.get(product).copied().unwrap_or(0);
        (product.as_str(), signed(*units) - signed(old))
    });
    released.chain(adjusted).filter(|(_, delta)| *delta != 0)
}

fn signed(units: u64) -> i64 {
    i64::try_from(units).unwrap_or(i64::MAX)
}

fn shifted(reserved: u64, delta: i64) -> u64 {
    if delta >= 0 {
        reserved.saturating_add(delta.unsigned_abs())
    } else {
        reserved.saturating_sub(delta.unsigned_abs())
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use shared_events::{Money, Order, OrderLine, OrderStatus};

    use super::*;

    fn at(second: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, second)
            .single()
            .expect("a valid time")
    }

    fn order(id: Uuid, version: u64, status: OrderStatus, items: &[(&str, u32)]) -> Order {
        Order {
            order_id: id,
            customer_name: "Ada".to_owned(),
            customer_email: None,
            items: items
                .iter()
                .map(|(product, quantity)| OrderLine {
                    product: (*product).to_owned(),
                    quantity: *quantity,
                    amount: Money::from_cents(100),
                })
                .collect(),
            total_amount: Money::ZERO,
            status,
            order_date: at(0),
            order_update: at(0),
            version,
            changed_by: None,
        }
    }

    fn created(id: Uuid, items: &[(&str, u32)]) -> OrderEvent {
        let order = order(id, 1, OrderStatus::Pending, items);
        OrderEvent::new(EventType::Created, "test", order, None, at(1))
    }

    fn updated(id: Uuid, version: u64, status: OrderStatus, items: &[(&str, u32)]) -> OrderEvent {
        let order = order(id, version, status, items);
        let previous = Order {
            version: version - 1,
            ..order.clone()
        };
        OrderEvent::new(EventType::Updated, "test", order, Some(previous), at(2))
    }

    fn deleted(id: Uuid, version: u64, items: &[(&str, u32)]) -> OrderEvent {
        let order = order(id, version, OrderStatus::Pending, items);
        OrderEvent::new(EventType::Deleted, "test", order, None, at(3))
    }

    /// Applies `event` as the handler does and says what happened.
    fn handle(ledger: &mut StockLedger, event: &OrderEvent) -> Outcome {
        let (change, outcome) = ledger.decide(OrderTarget::from_event(event));
        if let Some(change) = change {
            ledger.apply(&change);
        }
        outcome
    }

    /// `(product, reserved)` of every product.
    fn stock(ledger: &StockLedger) -> Vec<(String, u64)> {
        ledger
            .reservations()
            .iter()
            .map(|(product, units)| (product.clone(), *units))
            .collect()
    }

    fn reserved(items: &[(&str, u64)]) -> Vec<(String, u64)> {
        items
            .iter()
            .map(|(product, units)| ((*product).to_owned(), *units))
            .collect()
    }

    #[test]
    fn create_reserves_and_sums_lines_of_one_product() {
        let mut ledger = StockLedger::default();
        let id = Uuid::now_v7();

        let outcome = handle(
            &mut ledger,
            &created(id, &[("widget", 2), ("gadget", 1), ("widget", 3)]),
        );

        assert!(matches!(outcome, Outcome::Applied { .. }), "{outcome:?}");
        assert_eq!(stock(&ledger), reserved(&[("gadget", 1), ("widget", 5)]));
        assert_eq!(ledger.order_version(id), Some(1));
    }

    #[test]
    fn update_moves_only_the_difference() {
        // (case, the order's new items, the reservations expected after it)
        type Case = (
            &'static str,
            &'static [(&'static str, u32)],
            &'static [(&'static str, u64)],
        );
        let cases: [Case; 4] = [
            (
                "more of one",
                &[("widget", 5), ("gadget", 1)],
                &[("gadget", 1), ("widget", 5)],
            ),
            (
                "fewer of one",
                &[("widget", 1), ("gadget", 1)],
                &[("gadget", 1), ("widget", 1)],
            ),
            (
                "one removed",
                &[("widget", 2)],
                &[("gadget", 0), ("widget", 2)],
            ),
            (
                "one added",
                &[("widget", 2), ("gadget", 1), ("gizmo", 4)],
                &[("gadget", 1), ("gizmo", 4), ("widget", 2)],
            ),
        ];
        for (case, items, expected) in cases {
            let mut ledger = StockLedger::default();
            let id = Uuid::now_v7();
            handle(&mut ledger, &created(id, &[("widget", 2), ("gadget", 1)]));

            let outcome = handle(&mut ledger, &updated(id, 2, OrderStatus::Pending, items));

            assert!(
                matches!(outcome, Outcome::Applied { .. }),
                "{case}: {outcome:?}"
            );
            assert_eq!(stock(&ledger), reserved(expected), "{case}");
        }
    }

    #[test]
    fn delete_and_cancel_release_everything_the_order_held() {
        for cancel in [false, true] {
            let mut ledger = StockLedger::default();
            let (id, other) = (Uuid::now_v7(), Uuid::now_v7());
            handle(&mut ledger, &created(other, &[("widget", 1)]));
            handle(&mut ledger, &created(id, &[("widget", 2), ("gadget", 1)]));

            let event = if cancel {
                updated(
                    id,
                    2,
                    OrderStatus::Cancelled,
                    &[("widget", 2), ("gadget", 1)],
                )
            } else {
                deleted(id, 2, &[("widget", 2), ("gadget", 1)])
            };
            handle(&mut ledger, &event);

            assert_eq!(
                stock(&ledger),
                reserved(&[("gadget", 0), ("widget", 1)]),
                "cancel: {cancel}"
            );
        }
    }

    #[test]
    fn a_status_change_without_item_changes_moves_nothing_but_the_version() {
        let mut ledger = StockLedger::default();
        let id = Uuid::now_v7();
        handle(&mut ledger, &created(id, &[("widget", 2)]));

        let outcome = handle(
            &mut ledger,
            &updated(id, 2, OrderStatus::Confirmed, &[("widget", 2)]),
        );

        assert_eq!(outcome, Outcome::Applied { moves: vec![] });
        assert_eq!(stock(&ledger), reserved(&[("widget", 2)]));
        assert_eq!(ledger.order_version(id), Some(2));
    }

    #[test]
    fn duplicates_change_nothing() {
        let mut ledger = StockLedger::default();
        let id = Uuid::now_v7();
        let create = created(id, &[("widget", 2)]);
        let update = updated(id, 2, OrderStatus::Pending, &[("widget", 3)]);
        handle(&mut ledger, &create);
        handle(&mut ledger, &update);
        let before = ledger.clone();

        for event in [&create, &update, &update] {
            let outcome = handle(&mut ledger, event);

            assert_eq!(
                outcome,
                Outcome::Stale { last: 2 },
                "version {}",
                event.sequence
            );
        }
        assert_eq!(ledger, before);
    }

    #[test]
    fn version_3_before_version_2_ends_at_version_3() {
        let mut ledger = StockLedger::default();
        let id = Uuid::now_v7();
        handle(&mut ledger, &created(id, &[("widget", 2)]));
        let v2 = updated(id, 2, OrderStatus::Pending, &[("widget", 5)]);
        let v3 = updated(id, 3, OrderStatus::Pending, &[("widget", 1), ("gadget", 2)]);

        handle(&mut ledger, &v3);
        let late = handle(&mut ledger, &v2);

        assert_eq!(late, Outcome::Stale { last: 3 });
        assert_eq!(stock(&ledger), reserved(&[("gadget", 2), ("widget", 1)]));
    }

    #[test]
    fn a_lost_middle_event_is_made_good_by_the_next() {
        let mut ledger = StockLedger::default();
        let id = Uuid::now_v7();
        handle(&mut ledger, &created(id, &[("widget", 2)]));
        // Version 2 (widget 7) never arrives.

        handle(
            &mut ledger,
            &updated(id, 3, OrderStatus::Pending, &[("widget", 4)]),
        );

        assert_eq!(stock(&ledger), reserved(&[("widget", 4)]));
    }

    #[test]
    fn an_update_for_an_unknown_order_reserves_its_snapshot() {
        let mut ledger = StockLedger::default();
        let id = Uuid::now_v7();

        handle(
            &mut ledger,
            &updated(id, 2, OrderStatus::Confirmed, &[("widget", 3)]),
        );
        let late_create = handle(&mut ledger, &created(id, &[("widget", 2)]));

        assert_eq!(late_create, Outcome::Stale { last: 2 });
        assert_eq!(stock(&ledger), reserved(&[("widget", 3)]));
    }

    #[test]
    fn a_deleted_order_stays_deleted_when_older_events_arrive_late() {
        let mut ledger = StockLedger::default();
        let id = Uuid::now_v7();
        handle(&mut ledger, &created(id, &[("widget", 2)]));
        handle(&mut ledger, &deleted(id, 3, &[("widget", 2)]));

        let late = handle(
            &mut ledger,
            &updated(id, 2, OrderStatus::Pending, &[("widget", 9)]),
        );

        assert_eq!(late, Outcome::Stale { last: 3 });
        assert_eq!(stock(&ledger), reserved(&[("widget", 0)]));
    }

    #[test]
    fn replaying_the_changes_rebuilds_the_same_ledger() {
        let mut ledger = StockLedger::default();
        let mut changes = Vec::new();
        let id = Uuid::now_v7();
        for event in [
            created(id, &[("widget", 2)]),
            updated(id, 2, OrderStatus::Pending, &[("gadget", 1)]),
            deleted(id, 3, &[("gadget", 1)]),
        ] {
            let (change, _) = ledger.decide(OrderTarget::from_event(&event));
            let change = change.expect("newer");
            ledger.apply(&change);
            changes.push(change);
        }

        let json = serde_json::to_string(&changes).expect("serialises");
        let mut replayed = StockLedger::default();
        for change in serde_json::from_str::<Vec<StockChange>>(&json).expect("parses") {
            replayed.apply(&change);
        }

        assert_eq!(replayed, ledger);
    }
}
