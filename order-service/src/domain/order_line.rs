//! What is ordered: products, quantities, unit prices.

use shared_events::{Money, OrderLine};

use crate::domain::field_error::{FieldError, bounded_text};

/// A product's name or SKU: 1 to 200 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductName(String);

/// How many units: a whole number from 1 to 10,000.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity(u32);

/// The price of one unit: not negative, at most two decimals, at most one billion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnitPrice(Money);

/// One valid line of a new or changed order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrderLine {
    /// What.
    pub product: ProductName,
    /// How many.
    pub quantity: Quantity,
    /// At what unit price.
    pub amount: UnitPrice,
}

/// The lines of an order: 1 to 100 of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLines(Vec<NewOrderLine>);

impl ProductName {
    /// Parses the product of line `index`.
    pub fn parse(index: usize, text: &str) -> Result<ProductName, FieldError> {
        bounded_text(&format!("items[{index}].product"), text, 200).map(ProductName)
    }
}

impl Quantity {
    /// The largest quantity on one line.
    pub const MAX: u32 = 10_000;

    /// Parses the quantity of line `index`.
    pub fn parse(index: usize, value: u32) -> Result<Quantity, FieldError> {
        if (1..=Self::MAX).contains(&value) {
            Ok(Quantity(value))
        } else {
            Err(FieldError::new(
                format!("items[{index}].quantity"),
                format!("must be a whole number from 1 to {}", Self::MAX),
            ))
        }
    }
}

impl UnitPrice {
    /// Parses the unit price of line `index`; two decimals at most is already Money's rule.
    pub fn parse(index: usize, amount: Money) -> Result<UnitPrice, FieldError> {
        let field = || format!("items[{index}].amount");
        if amount.is_negative() {
            return Err(FieldError::new(field(), "must not be negative"));
        }
        if amount > Money::from_cents(100_000_000_000) {
            return Err(FieldError::new(field(), "must be at most 1000000000.00"));
        }
        Ok(UnitPrice(amount))
    }
}

impl OrderLines {
    /// The most lines one order may have.
    pub const MAX: usize = 100;

    /// Checks the number of lines.
    pub fn new(lines: Vec<NewOrderLine>) -> Result<OrderLines, FieldError> {
        match lines.len() {
            0 => Err(FieldError::new("items", "must hold at least one item")),
            n if n > Self::MAX => Err(FieldError::new(
                "items",
                format!("must hold at most {} items", Self::MAX),
            )),
            _ => Ok(OrderLines(lines)),
        }
    }

    /// The exact sum of quantity times unit price.
    pub fn total(&self) -> Money {
        // Bounded inputs (100 lines x 10,000 units x 10^9) stay far inside Decimal's 28 digits.
        self.0.iter().fold(Money::ZERO, |sum, line| {
            let subtotal = line
                .amount
                .0
                .checked_mul(line.quantity.0)
                .unwrap_or(Money::ZERO);
            sum.checked_add(subtotal).unwrap_or(sum)
        })
    }

    /// The lines as stored.
    pub fn into_stored(self) -> Vec<OrderLine> {
        self.0
            .into_iter()
            .map(|line| OrderLine {
                product: line.product.0,
                quantity: line.quantity.0,
                amount: line.amount.0,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(quantity: u32, amount: &str) -> NewOrderLine {
        NewOrderLine {
            product: ProductName::parse(0, "widget").expect("valid"),
            quantity: Quantity::parse(0, quantity).expect("valid"),
            amount: UnitPrice::parse(0, Money::parse(amount).expect("money")).expect("valid"),
        }
    }

    #[test]
    fn total_is_exact() {
        let lines = OrderLines::new(vec![line(1, "0.10"), line(1, "0.10"), line(1, "0.10")])
            .expect("valid");
        assert_eq!(lines.total().to_string(), "0.30");
        let lines =
            OrderLines::new(vec![line(3, "19.99"), line(10_000, "1000000000")]).expect("valid");
        assert_eq!(lines.total().to_string(), "10000000000059.97");
    }

    #[test]
    fn bounds_name_the_field() {
        assert_eq!(
            Quantity::parse(4, 0).expect_err("zero").field,
            "items[4].quantity"
        );
        assert!(Quantity::parse(0, 10_001).is_err());
        assert_eq!(
            UnitPrice::parse(2, Money::parse("-1").expect("money"))
                .expect_err("negative")
                .field,
            "items[2].amount"
        );
        assert!(OrderLines::new(vec![]).is_err());
        assert!(OrderLines::new(vec![line(1, "1"); 101]).is_err());
        assert!(OrderLines::new(vec![line(1, "1"); 100]).is_ok());
    }
}
