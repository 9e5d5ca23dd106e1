//! Exact decimal amounts of money.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::de::{self, MapAccess, Visitor};
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

    /// Parses the text of a JSON number, which may have an exponent (`1e2`, `0.125e2`): exact
    /// like any other, so it is taken when its value has at most two decimal places.
    pub fn parse_number(text: &str) -> Result<Money, MoneyError> {
        if !text.contains(['e', 'E']) {
            return Money::parse(text);
        }
        let value =
            Decimal::from_scientific(text).map_err(|_| MoneyError::NotANumber(text.to_owned()))?;
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

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Money, A::Error> {
        // serde_json with arbitrary precision hands a number over as a one-entry map whose value
        // is the number's text as an owned `String`. A JSON object that spells that map out
        // (`{"$serde_json::private::Number": "5"}`) has its value read from the input as a
        // borrowed or copied `str` instead, so it is refused like any other object.
        let not_a_number = || de::Error::invalid_type(de::Unexpected::Map, &MoneyVisitor);
        if map.next_key::<de::IgnoredAny>()?.is_none() {
            return Err(not_a_number());
        }
        let NumberText(Some(text)) = map.next_value::<NumberText>()? else {
            return Err(not_a_number());
        };
        if map.next_key::<de::IgnoredAny>()?.is_some() {
            return Err(not_a_number());
        }
        Money::parse_number(&text).map_err(de::Error::custom)
    }
}

/// The text of an arbitrary-precision JSON number: `Some` only when handed over as an owned
/// `String`, as serde_json does for numbers and never for strings of the input.
struct NumberText(Option<String>);

impl<'de> Deserialize<'de> for NumberText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<NumberText, D::Error> {
        struct NumberTextVisitor;

        impl<'de> Visitor<'de> for NumberTextVisitor {
            type Value = NumberText;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("the text of a number")
            }

            fn visit_string<E: de::Error>(self, text: String) -> Result<NumberText, E> {
                Ok(NumberText(Some(text)))
            }

            fn visit_str<E: de::Error>(self, _: &str) -> Result<NumberText, E> {
                Ok(NumberText(None))
            }

            // Anything else is not a number either; read to its end, so that the error the
            // caller reports is its own and not one of this value's.
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<NumberText, E> {
                Ok(NumberText(None))
            }

            fn visit_i64<E: de::Error>(self, _: i64) -> Result<NumberText, E> {
                Ok(NumberText(None))
            }

            fn visit_u64<E: de::Error>(self, _: u64) -> Result<NumberText, E> {
                Ok(NumberText(None))
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<NumberText, E> {
                Ok(NumberText(None))
            }

            fn visit_unit<E: de::Error>(self) -> Result<NumberText, E> {
                Ok(NumberText(None))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NumberText, A::Error> {
                while map
                    .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(NumberText(None))
            }

            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<NumberText, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(NumberText(None))
            }
        }

        deserializer.deserialize_any(NumberTextVisitor)
    }
}

impl utoipa::PartialSchema for Money {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Number)
            .description(Some(
                "An exact amount of money with two decimal places, written as a JSON number \
                 (`12.50`); never a floating-point approximation.",
            ))
            .examples([serde_json::json!(12.5)])
            .into()
    }
}

impl utoipa::ToSchema for Money {}

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
    fn numbers_with_an_exponent_are_exact_numbers_too() {
        for (json, text) in [
            ("1e2", "100.00"),
            ("0.1e1", "1.00"),
            ("1.25E1", "12.50"),
            ("125e-2", "1.25"),
            ("5E+0", "5.00"),
        ] {
            let money: Money = serde_json::from_str(json).expect(json);
            assert_eq!(money.to_string(), text, "{json}");
        }
        for json in ["1e-3", "1e99999999999", "\"1e2\""] {
            assert!(
                serde_json::from_str::<Money>(json).is_err(),
                "{json} should be refused"
            );
        }
    }

    #[test]
    fn the_private_form_of_a_number_written_as_an_object_is_refused() {
        for json in [
            r#"{"$serde_json::private::Number": "5"}"#,
            r#"{"$serde_json::private::Number": "5.00"}"#,
            r#"{"$serde_json\u003a:private::Number": "5"}"#,
            r#"{"$serde_json::private::Number": 5}"#,
            r#"{}"#,
            r#"{"amount": 5}"#,
        ] {
            let error = serde_json::from_str::<Money>(json).expect_err(json);
            assert!(
                error.to_string().contains("invalid type: map"),
                "{json}: {error}"
            );
        }
        // Read through a reader, strings are copied rather than borrowed: refused the same.
        let json = r#"{"$serde_json::private::Number": "5"}"#;
        assert!(serde_json::from_reader::<_, Money>(json.as_bytes()).is_err());
        // A number inside a document read into a `Value` first stays a number.
        let value: serde_json::Value = serde_json::from_str(r#"{"a": 12.5}"#).expect("parses");
        let money: Money = serde_json::from_value(value["a"].clone()).expect("a number");
        assert_eq!(money.to_string(), "12.50");
    }

    #[test]
    fn negative_is_detected() {
        assert!(Money::parse("-0.01").expect("parses").is_negative());
        assert!(!Money::parse("-0").expect("parses").is_negative());
    }
}
