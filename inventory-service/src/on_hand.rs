//! Units on hand: one count per product for the whole service, whichever replica it was set
//! through, kept in `<data_dir>/on-hand.json` that every replica shares; and a product's stock
//! as the API shows it, from that count and the reservations of every shard.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared_events::storage::shared_document::{DocumentError, SharedDocument};

/// The units on hand of every counted product, shared by the service's replicas.
pub struct OnHandBook {
    document: SharedDocument<BTreeMap<String, Count>>,
}

/// A product's last count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Count {
    /// The units on hand.
    pub on_hand: OnHand,
    /// When they were counted.
    pub at: DateTime<Utc>,
}

/// A quantity on hand: a whole number from 0 to `i64::MAX`, so `available` always fits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct OnHand(u64);

/// The quantity is above [`OnHand::MAX`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("on_hand must be a whole number from 0 to {}", OnHand::MAX)]
pub struct OnHandTooLarge;

/// A product's stock as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StockLevel {
    /// The product's name, as orders spell it.
    pub product: String,
    /// Units on hand, as last counted.
    pub on_hand: u64,
    /// Units reserved by open orders, over every shard.
    pub reserved: u64,
    /// `on_hand - reserved`; negative when reservations outrun stock.
    pub available: i64,
    /// Units reserved beyond what is on hand: `max(0, reserved - on_hand)`.
    pub backordered: u64,
}

impl OnHandBook {
    /// The book in `data_dir`.
    pub fn new(data_dir: &Path) -> OnHandBook {
        OnHandBook {
            document: SharedDocument::new(&data_dir.join("on-hand.json")),
        }
    }

    /// Every product's count, as the file holds them now.
    pub fn counts(&self) -> Result<BTreeMap<String, Count>, DocumentError> {
        self.document.read()
    }

    /// Records `product`'s count durably, in turn with every other replica's. Blocks on file
    /// I/O.
    pub fn count(&self, product: &str, count: Count) -> Result<(), DocumentError> {
        self.document.update(|counts| {
            counts.insert(product.to_owned(), count);
            Ok::<_, DocumentError>(())
        })
    }
}

impl StockLevel {
    /// `product`'s stock from its units on hand and its reservations.
    pub fn new(product: &str, on_hand: OnHand, reserved: u64) -> StockLevel {
        let on_hand = on_hand.get();
        // on_hand is at most i64::MAX, so only `reserved` needs clamping.
        let signed_reserved = i64::try_from(reserved).unwrap_or(i64::MAX);
        StockLevel {
            product: product.to_owned(),
            on_hand,
            reserved,
            available: (on_hand as i64).saturating_sub(signed_reserved),
            backordered: reserved.saturating_sub(on_hand),
        }
    }
}

impl OnHand {
    /// The largest quantity on hand.
    pub const MAX: u64 = i64::MAX as u64;

    /// The number of units.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl TryFrom<u64> for OnHand {
    type Error = OnHandTooLarge;

    fn try_from(units: u64) -> Result<OnHand, OnHandTooLarge> {
        if units <= OnHand::MAX {
            Ok(OnHand(units))
        } else {
            Err(OnHandTooLarge)
        }
    }
}

impl From<OnHand> for u64 {
    fn from(on_hand: OnHand) -> u64 {
        on_hand.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_hand_refuses_what_available_could_not_show() {
        assert!(OnHand::try_from(OnHand::MAX).is_ok());
        assert_eq!(OnHand::try_from(OnHand::MAX + 1), Err(OnHandTooLarge));
    }

    #[test]
    fn a_shortage_is_a_backorder_and_a_negative_availability() {
        let level = StockLevel::new("widget", OnHand(3), 5);
        assert_eq!((level.available, level.backordered), (-2, 2));
        let level = StockLevel::new("widget", OnHand(10), 5);
        assert_eq!((level.available, level.backordered), (5, 0));
    }

    #[test]
    fn counts_through_two_books_on_one_folder_are_one_value() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (first, second) = (OnHandBook::new(dir.path()), OnHandBook::new(dir.path()));
        let count = |units| Count {
            on_hand: OnHand(units),
            at: Utc::now(),
        };
        first.count("widget", count(4)).expect("count");
        second.count("widget", count(7)).expect("count");
        let counts = first.counts().expect("read");
        assert_eq!(counts["widget"].on_hand, OnHand(7));
    }
}
