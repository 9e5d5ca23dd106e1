//! The order as events carry it, and the rules of its status.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::contract::money::Money;

/// Where an order is in its life.
///
/// `pending -> confirmed -> shipped -> delivered`, and `pending` or `confirmed -> cancelled`;
/// `cancelled` and `delivered` are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Created, not yet confirmed.
    Pending,
    /// Accepted for fulfilment.
    Confirmed,
    /// Handed to the carrier.
    Shipped,
    /// Received by the customer (final).
    Delivered,
    /// Called off (final).
    Cancelled,
}

impl OrderStatus {
    /// Every status, in the order of an order's life.
    pub const ALL: [OrderStatus; 5] = [
        OrderStatus::Pending,
        OrderStatus::Confirmed,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Cancelled,
    ];

    /// Whether an order in this status may move to `next`; the one place that says so.
    pub fn can_become(self, next: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!(
            (self, next),
            (Pending, Confirmed)
                | (Confirmed, Shipped)
                | (Shipped, Delivered)
                | (Pending | Confirmed, Cancelled)
        )
    }

    /// The statuses this one may move to.
    pub fn next_statuses(self) -> impl Iterator<Item = OrderStatus> {
        OrderStatus::ALL
            .into_iter()
            .filter(move |next| self.can_become(*next))
    }

    /// True for `delivered` and `cancelled`, which nothing changes any more.
    pub fn is_final(self) -> bool {
        matches!(self, OrderStatus::Delivered | OrderStatus::Cancelled)
    }

    /// Whether the items of an order in this status may still change.
    pub fn allows_item_changes(self) -> bool {
        matches!(self, OrderStatus::Pending | OrderStatus::Confirmed)
    }

    /// True for `cancelled`: stock and invoice of such an order are released.
    pub fn is_cancelled(self) -> bool {
        self == OrderStatus::Cancelled
    }

    /// The name used in JSON and URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Confirmed => "confirmed",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not one of the statuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a status (pending, confirmed, shipped, delivered, cancelled)")]
pub struct UnknownStatus(pub String);

impl FromStr for OrderStatus {
    type Err = UnknownStatus;

    fn from_str(text: &str) -> Result<OrderStatus, UnknownStatus> {
        OrderStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| UnknownStatus(text.to_owned()))
    }
}

/// One line of an order: a product, how many, and the unit price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct OrderLine {
    /// The product's name or SKU.
    pub product: String,
    /// How many units (1 to 10,000).
    pub quantity: u32,
    /// The price of one unit.
    pub amount: Money,
}

/// An order as stored and as carried by events.
///
/// The order service builds these only from validated input; consumers receive them in events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Order {
    /// UUID v7: ids sort by creation time.
    pub order_id: Uuid,
    /// Who ordered.
    pub customer_name: String,
    /// Where notifications go, if anywhere.
    pub customer_email: Option<String>,
    /// What was ordered.
    pub items: Vec<OrderLine>,
    /// The sum of quantity times unit price over the items, computed by the order service.
    pub total_amount: Money,
    /// Where the order is in its life.
    pub status: OrderStatus,
    /// When the order was created.
    pub order_date: DateTime<Utc>,
    /// When the order last changed.
    pub order_update: DateTime<Utc>,
    /// 1 at creation, one more at every accepted change (a deletion included).
    pub version: u64,
    /// Who made this version: the name of the API token or the signed-in person. Absent when
    /// the service ran without authentication (no tokens file) or for versions made before
    /// it recorded this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_by: Option<String>,
}

impl Order {
    /// The units of each product this order holds, which cancellation and deletion give back.
    pub fn quantities(&self) -> impl Iterator<Item = (&str, u32)> {
        self.items
            .iter()
            .map(|line| (line.product.as_str(), line.quantity))
    }
}

#[cfg(test)]
mod tests {
    use super::OrderStatus::{self, *};

    #[test]
    fn legal_transitions_are_exactly_the_documented_ones() {
        let legal = [
            (Pending, Confirmed),
            (Confirmed, Shipped),
            (Shipped, Delivered),
            (Pending, Cancelled),
            (Confirmed, Cancelled),
        ];
        for from in OrderStatus::ALL {
            for to in OrderStatus::ALL {
                assert_eq!(
                    from.can_become(to),
                    legal.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
        }
    }

    #[test]
    fn final_statuses_go_nowhere() {
        for status in OrderStatus::ALL.into_iter().filter(|s| s.is_final()) {
            assert_eq!(status.next_statuses().count(), 0, "{status}");
        }
    }

    #[test]
    fn parses_its_own_names() {
        for status in OrderStatus::ALL {
            assert_eq!(status.as_str().parse::<OrderStatus>(), Ok(status));
        }
        assert!("Pending".parse::<OrderStatus>().is_err());
    }
}
