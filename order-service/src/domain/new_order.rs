//! A valid request to create an order.

use chrono::{DateTime, Utc};
use shared_events::{Order, OrderStatus};
use uuid::Uuid;

use crate::domain::{CustomerEmail, CustomerName, OrderLines};

/// Everything a new order needs, already checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    /// Who ordered.
    pub customer_name: CustomerName,
    /// Where notifications go.
    pub customer_email: Option<CustomerEmail>,
    /// What was ordered.
    pub lines: OrderLines,
}

impl NewOrder {
    /// The order at version 1, `pending`, with its total computed.
    pub fn into_order(self, order_id: Uuid, now: DateTime<Utc>) -> Order {
        Order {
            order_id,
            customer_name: self.customer_name.into_inner(),
            customer_email: self.customer_email.map(CustomerEmail::into_inner),
            total_amount: self.lines.total(),
            items: self.lines.into_stored(),
            status: OrderStatus::Pending,
            order_date: now,
            order_update: now,
            version: 1,
            changed_by: None,
        }
    }
}
