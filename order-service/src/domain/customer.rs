//! Who an order is for.

use crate::domain::field_error::{FieldError, bounded_text};

/// A customer's name: 1 to 200 characters after trimming, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerName(String);

/// A customer's email address, checked for a plausible shape (at most 254 characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerEmail(String);

impl CustomerName {
    /// The longest name accepted.
    pub const MAX_CHARS: usize = 200;

    /// Parses the value of the field `customer_name`.
    pub fn parse(text: &str) -> Result<CustomerName, FieldError> {
        bounded_text("customer_name", text, Self::MAX_CHARS).map(CustomerName)
    }

    /// The name.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl CustomerEmail {
    /// The longest address accepted (RFC 5321's path limit).
    pub const MAX_CHARS: usize = 254;

    /// Parses the value of the field `customer_email`.
    pub fn parse(text: &str) -> Result<CustomerEmail, FieldError> {
        let error = |message: &str| FieldError::new("customer_email", message);
        let address = text.trim();
        if address.chars().count() > Self::MAX_CHARS {
            return Err(error("must be at most 254 characters"));
        }
        let Some((local, domain)) = address.rsplit_once('@') else {
            return Err(error("must be an email address like name@example.com"));
        };
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local.chars().all(|c| {
                c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c) || !c.is_ascii()
            });
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            })
            && labels
                .last()
                .is_some_and(|tld| tld.len() >= 2 && !tld.chars().all(|c| c.is_ascii_digit()));
        if local_ok && domain_ok {
            Ok(CustomerEmail(address.to_owned()))
        } else {
            Err(error("must be an email address like name@example.com"))
        }
    }

    /// The address.
    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            CustomerName::parse("  Ada  ").expect("valid").into_inner(),
            "Ada"
        );
        for bad in ["", "   ", "a\u{7}b"] {
            assert!(CustomerName::parse(bad).is_err(), "{bad:?}");
        }
        assert!(CustomerName::parse(&"x".repeat(200)).is_ok());
        assert!(CustomerName::parse(&"x".repeat(201)).is_err());
    }

    #[test]
    fn emails_need_a_plausible_shape() {
        for good in [
            "ada@example.com",
            "a.b+tag@sub.example.co.uk",
            "x@bücher.de",
        ] {
            assert!(CustomerEmail::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "ada@@example.com",
            "a da@example.com",
            "ada@-x.com",
            "ada@example.123",
            ".ada@example.com",
            "a..b@example.com",
        ] {
            assert!(CustomerEmail::parse(bad).is_err(), "{bad}");
        }
    }
}
