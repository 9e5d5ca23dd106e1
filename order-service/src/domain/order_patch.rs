//! A valid change to an order, and whether the order's state allows it.

use chrono::{DateTime, Utc};
use shared_events::{Order, OrderStatus};

use crate::domain::{CustomerEmail, CustomerName, OrderLines};

/// A JSON merge patch of an order, already checked field by field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderPatch {
    /// A new name.
    pub customer_name: Option<CustomerName>,
    /// A new address (`Some(None)` removes it).
    pub customer_email: Option<Option<CustomerEmail>>,
    /// New items, replacing the old ones as a whole.
    pub lines: Option<OrderLines>,
    /// A new status.
    pub status: Option<OrderStatus>,
}

/// The order's state does not allow the change; the HTTP layer answers it with 409.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PatchRejected(pub String);

impl OrderPatch {
    /// The order after the patch, or `None` when the patch changes nothing.
    pub fn apply(&self, order: &Order, now: DateTime<Utc>) -> Result<Option<Order>, PatchRejected> {
        let mut next = order.clone();
        if let Some(name) = &self.customer_name {
            next.customer_name = name.clone().into_inner();
        }
        if let Some(email) = &self.customer_email {
            next.customer_email = email.clone().map(CustomerEmail::into_inner);
        }
        if let Some(lines) = &self.lines {
            let items = lines.clone().into_stored();
            if items != order.items {
                if !order.status.allows_item_changes() {
                    return Err(PatchRejected(format!(
                        "items can change only while the order is pending or confirmed; it is {}",
                        order.status
                    )));
                }
                next.items = items;
                next.total_amount = lines.total();
            }
        }
        if let Some(status) = self.status
            && status != order.status
        {
            if !order.status.can_become(status) {
                return Err(PatchRejected(format!(
                    "an order cannot go from {} to {status}",
                    order.status
                )));
            }
            next.status = status;
        }
        if next == *order {
            return Ok(None);
        }
        if order.status.is_final() {
            return Err(PatchRejected(format!(
                "the order is {}, which is final",
                order.status
            )));
        }
        next.version += 1;
        next.order_update = now;
        Ok(Some(next))
    }
}

#[cfg(test)]
mod tests {
    use shared_events::Money;
    use uuid::Uuid;

    use super::*;
    use crate::domain::{NewOrder, NewOrderLine, ProductName, Quantity, UnitPrice};

    fn lines(quantity: u32) -> OrderLines {
        OrderLines::new(vec![NewOrderLine {
            product: ProductName::parse(0, "widget").expect("valid"),
            quantity: Quantity::parse(0, quantity).expect("valid"),
            amount: UnitPrice::parse(0, Money::from_cents(250)).expect("valid"),
        }])
        .expect("valid")
    }

    fn order(status: OrderStatus) -> Order {
        let mut order = NewOrder {
            customer_name: CustomerName::parse("Ada").expect("valid"),
            customer_email: None,
            lines: lines(1),
        }
        .into_order(Uuid::now_v7(), Utc::now());
        order.status = status;
        order
    }

    #[test]
    fn a_change_bumps_version_and_recomputes_the_total() {
        let patch = OrderPatch {
            lines: Some(lines(4)),
            ..OrderPatch::default()
        };
        let next = patch
            .apply(&order(OrderStatus::Confirmed), Utc::now())
            .expect("legal")
            .expect("changed");
        assert_eq!(next.version, 2);
        assert_eq!(next.total_amount.to_string(), "10.00");
    }

    #[test]
    fn nothing_to_change_is_no_change() {
        let patch = OrderPatch {
            status: Some(OrderStatus::Pending),
            lines: Some(lines(1)),
            ..OrderPatch::default()
        };
        assert_eq!(
            patch.apply(&order(OrderStatus::Pending), Utc::now()),
            Ok(None)
        );
    }

    #[test]
    fn illegal_changes_are_rejected() {
        let ship = OrderPatch {
            status: Some(OrderStatus::Shipped),
            ..OrderPatch::default()
        };
        assert!(
            ship.apply(&order(OrderStatus::Pending), Utc::now())
                .is_err()
        );
        let relist = OrderPatch {
            lines: Some(lines(2)),
            ..OrderPatch::default()
        };
        assert!(
            relist
                .apply(&order(OrderStatus::Shipped), Utc::now())
                .is_err()
        );
        let rename = OrderPatch {
            customer_name: Some(CustomerName::parse("Bob").expect("valid")),
            ..OrderPatch::default()
        };
        assert!(
            rename
                .apply(&order(OrderStatus::Delivered), Utc::now())
                .is_err()
        );
    }
}
