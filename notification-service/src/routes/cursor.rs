//! The opaque `cursor` of `GET /notifications`: where the previous page ended.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::ledger::Position;

const PREFIX: &str = "n1:";

/// The cursor that continues after the notification at `last`.
pub(crate) fn encode(last: Position) -> String {
    URL_SAFE_NO_PAD.encode(format!("{PREFIX}{}", last.0))
}

/// The position a cursor continues after, or `None` when the text is not a cursor of ours.
pub(crate) fn decode(cursor: &str) -> Option<Position> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = std::str::from_utf8(&bytes).ok()?;
    text.strip_prefix(PREFIX)?.parse().ok().map(Position)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_strangers() {
        assert_eq!(decode(&encode(Position(42))), Some(Position(42)));
        assert_eq!(decode("not a cursor"), None);
        assert_eq!(decode(&URL_SAFE_NO_PAD.encode("o1:42")), None);
        assert_eq!(decode(&URL_SAFE_NO_PAD.encode("n1:-1")), None);
    }
}
