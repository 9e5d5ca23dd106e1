//! Exact decimal amounts of money.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::de::{self, MapAccess, Visitor, value::MapAccessDeserializer};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An exact amount of money with at most two decimal places; never a floating-point number.
///
/// In JSON it is a number written with exactly two decimals (`12.50`); a decimal string
/// (`"12.50"`) is accepted on input too. The text of the number is read exactly, so `0.1` is one
/// tenth, not the nearest binary fraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(Decimal);

/// Why a text is not an amount of money.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MoneyError {
    /// The text is not a decimal number.
    #[error("`{0}` is not a decimal number")]
    NotANumber(String),
    /// The number has more than two decimal places.
    #[error("`{0}` has more than 2 decimal places")]
    TooPrecise(String),
}

impl Money {
    /// Zero.
    pub const ZERO: Money = Money(Decimal::ZERO);

    /// Parses a decimal text with at most two decimal places (`"12"`, `"12.5"`, `"12.50"`).
    pub fn parse(text: &str) -> Result<Money, MoneyError> {
        let value = Decimal::from_str_exact(text.trim())
            .map_err(|_| MoneyError::NotANumber(text.to_owned()))?;
        Money::from_decimal(value).ok_or_else(|| MoneyError::TooPrecise(text.to_owned()))
    }

    /// The amount of `cents` hundredths.
    pub fn from_cents(cents: i64) -> Money {
        Money(Decimal::new(cents, 2))
    }

    /// The decimal as money, or `None` when it has more than two significant decimal places.
    pub fn from_decimal(value: Decimal) -> Option<Money> {
        let mut value = value.normalize();
        if value.scale() > 2 {
            return None;
        }
        value.rescale(2);
        Some(Money(value))
    }

    /// The exact decimal value.
    pub fn as_decimal(self) -> Decimal {
        self.0
    }

    /// True when the amount is below zero.
    pub fn is_negative(self) -> bool {
        self.0.is_sign_negative() && !self.0.is_zero()
    }

    /// `self + other`, or `None` on overflow.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    /// `self - other`, or `None` on overflow.
    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).map(Money)
    }

    /// `self * quantity`, or `None` on overflow.
    pub fn checked_mul(self, quantity: u32) -> Option<Money> {
        self.0.checked_mul(Decimal::from(quantity)).map(Money)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2}", self.0)
    }
}

impl FromStr for Money {
    type Err = MoneyError;

    fn from_str(text: &str) -> Result<Money, MoneyError> {
        Money::parse(text)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // serde_json's arbitrary-precision numbers keep this exact text, so `0.30` stays `0.30`.
        let number =
            serde_json::Number::from_str(&self.to_string()).map_err(serde::ser::Error::custom)?;
        number.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Money, D::Error> {
        deserializer.deserialize_any(MoneyVisitor)
    }
}

struct MoneyVisitor;

impl<'de> Visitor<'de> for MoneyVisitor {
    type Value = Money;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a decimal number with at most 2 decimal places")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Money, E> {
        Money::parse(text).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Money, E> {
        Ok(Money(Decimal::from(value)).rescaled())
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Money, E> {
        Ok(Money(Decimal::from(value)).rescaled())
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Money, E> {
        // Only reached by deserialisers without exact numbers; the shortest text that reads back
        // as the same float is the decimal the writer meant.
        self.visit_str(&value.to_string())
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Money, A::Error> {
        // serde_json with arbitrary precision hands numbers over as a one-entry map.
        let number = serde_json::Number::deserialize(MapAccessDeserializer::new(map))?;
        self.visit_str(&number.to_string())
    }
}

impl Money {
    fn rescaled(mut self) -> Money {
        self.0.rescale(2);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_tenths_are_exact() {
        let tenth: Money = serde_json::from_str("0.10").expect("parses");
        let total = tenth
            .checked_add(tenth)
            .and_then(|sum| sum.checked_add(tenth))
            .expect("no overflow");
        assert_eq!(serde_json::to_string(&total).expect("serialises"), "0.30");
        assert_eq!(total, Money::parse("0.3").expect("parses"));
    }

    #[test]
    fn accepts_integers_decimals_and_strings() {
        for (json, text) in [
            ("12", "12.00"),
            ("12.5", "12.50"),
            ("\"7.25\"", "7.25"),
            ("0", "0.00"),
        ] {
            let money: Money = serde_json::from_str(json).expect(json);
            assert_eq!(money.to_string(), text, "{json}");
        }
    }

    #[test]
    fn rejects_more_than_two_decimals_and_non_numbers() {
        for json in ["0.123", "\"1.001\"", "\"abc\"", "true", "1e400"] {
            assert!(
                serde_json::from_str::<Money>(json).is_err(),
                "{json} should be refused"
            );
        }
        // Trailing zeros are not extra precision.
        assert_eq!(Money::parse("1.500").expect("parses").to_string(), "1.50");
    }

    #[test]
    fn negative_is_detected() {
        assert!(Money::parse("-0.01").expect("parses").is_negative());
        assert!(!Money::parse("-0").expect("parses").is_negative());
    }
}
