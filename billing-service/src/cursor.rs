//! The opaque `cursor` of `GET /invoices`: where the previous page ended.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

const PREFIX: &str = "i1:";

/// The cursor that continues after the invoice of order `last`.
pub fn encode(last: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("{PREFIX}{last}"))
}

/// The order id a cursor continues after, or `None` when the text is not a cursor of ours.
pub fn decode(cursor: &str) -> Option<Uuid> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = std::str::from_utf8(&bytes).ok()?;
    text.strip_prefix(PREFIX)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_strangers() {
        let id = Uuid::now_v7();
        assert_eq!(decode(&encode(id)), Some(id));
        assert_eq!(decode("not a cursor"), None);
        assert_eq!(decode(&URL_SAFE_NO_PAD.encode("o1:whatever")), None);
    }
}
