//! URLs that carry credentials (the broker's, the mail server's): they print with the password
//! replaced by `***`, so that no log line or error message reveals it.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// A URL whose password never prints: `Display` and `Debug` show `user:***@`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(String);

impl SecretUrl {
    /// Wraps a URL.
    pub fn new(url: impl Into<String>) -> SecretUrl {
        SecretUrl(url.into())
    }

    /// The URL, password included: only for connecting.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redacted(&self.0))
    }
}

impl<'de> Deserialize<'de> for SecretUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<SecretUrl, D::Error> {
        String::deserialize(deserializer).map(SecretUrl)
    }
}

/// `url` with any password replaced by `***`; of a URL that does not parse, only the scheme
/// is shown.
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if !parsed.cannot_be_a_base() && url.contains("://") => {
            if parsed.password().is_some() && parsed.set_password(Some("***")).is_ok() {
                return parsed.to_string().replacen("%2A%2A%2A", "***", 1);
            }
            if url.contains('@') {
                // Credentials the parser did not take as such (in the path, say) still hide.
                return format!("{}://***", parsed.scheme());
            }
            url.to_owned()
        }
        _ => match url.split_once("://").or_else(|| url.split_once(':')) {
            Some((scheme, _))
                if scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
            {
                format!("{scheme}://***")
            }
            _ => "***".to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_do_not_print() {
        let cases = [
            (
                "amqp://app:s3cret@broker:5672/%2f",
                "amqp://app:***@broker:5672/%2f",
            ),
            (
                "smtps://mailer:s3cret@mail.example.com:465",
                "smtps://mailer:***@mail.example.com:465",
            ),
            ("smtp://127.0.0.1:2525", "smtp://127.0.0.1:2525"),
            ("amqp:app:s3cret@broker", "amqp://***"),
            ("amqp:///app:s3cret@", "amqp://***"),
            ("not a url: s3cret@", "***"),
        ];
        for (url, shown) in cases {
            let secret = SecretUrl::new(url);
            assert_eq!(secret.to_string(), shown, "{url}");
            assert_eq!(format!("{secret:?}"), shown, "{url}");
        }
    }
}
