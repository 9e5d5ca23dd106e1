//! Opaque paging cursors: where the previous page of a list ended.

use std::fmt::Display;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The cursors of one list: the position of the last item shown, behind a prefix naming the
/// list and the format's version, in URL-safe base64, so clients treat them as opaque.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageCursor {
    prefix: &'static str,
}

impl PageCursor {
    /// Cursors marked with `prefix` (such as `"o1:"`), so one list's cursor is refused by another.
    pub const fn new(prefix: &'static str) -> PageCursor {
        PageCursor { prefix }
    }

    /// The cursor that continues after `last`.
    pub fn encode(&self, last: impl Display) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}{last}", self.prefix))
    }

    /// The position a cursor continues after, or `None` when the text is not one of these cursors.
    pub fn decode<T: FromStr>(&self, cursor: &str) -> Option<T> {
        let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
        std::str::from_utf8(&bytes)
            .ok()?
            .strip_prefix(self.prefix)?
            .parse()
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    #[test]
    fn round_trips_and_refuses_strangers() {
        let orders = PageCursor::new("o1:");
        let id = Uuid::now_v7();
        assert_eq!(orders.decode(&orders.encode(id)), Some(id));
        assert_eq!(orders.decode::<Uuid>("not a cursor"), None);
        assert_eq!(
            orders.decode::<Uuid>(&URL_SAFE_NO_PAD.encode("o2:whatever")),
            None
        );
        let other = PageCursor::new("n1:");
        assert_eq!(
            other.decode::<u64>(&orders.encode(7)),
            None,
            "another list's cursor"
        );
        assert_eq!(other.decode::<u64>(&other.encode(7)), Some(7));
    }
}
