//! Which orders a list asks for, read from the text of a query, and the page that answers it.
//! The API's `GET /orders` and the page's order list read the same parameters the same way, and
//! their cursors are the same, so a cursor from one continues the other.

use std::sync::Arc;

use shared_events::contract::page_cursor::PageCursor;
use shared_events::{Order, OrderStatus};
use uuid::Uuid;

use crate::domain::FieldError;

/// Which orders a list request wants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// At most this many orders.
    pub limit: usize,
    /// Only orders created before this one (the cursor).
    pub before: Option<Uuid>,
    /// Only orders in this status.
    pub status: Option<OrderStatus>,
    /// Only orders whose customer name or email contains this text, ignoring case.
    pub customer: Option<String>,
}

/// One page of orders, newest first.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// The orders.
    pub orders: Vec<Arc<Order>>,
    /// The last order's id when more orders match.
    pub next: Option<Uuid>,
}

/// An order list's parameters as text, as the API's query and the page's both carry them.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ListText<'a> {
    pub(crate) limit: Option<&'a str>,
    pub(crate) cursor: Option<&'a str>,
    pub(crate) status: Option<&'a str>,
    pub(crate) customer: Option<&'a str>,
}

/// The cursor of every order list: the id of the last order shown.
const CURSOR: PageCursor = PageCursor::new("o1:");

/// The largest page of any order list.
const MAX_LIMIT: usize = 500;

impl ListQuery {
    /// The query `text` asks for (`default_limit` when it names none); the error names the
    /// parameter that is wrong. An empty cursor, status or customer means none.
    pub(crate) fn parse(text: ListText<'_>, default_limit: usize) -> Result<ListQuery, FieldError> {
        let limit = match text.limit {
            None => default_limit,
            Some(text) => text
                .parse::<usize>()
                .ok()
                .filter(|limit| (1..=MAX_LIMIT).contains(limit))
                .ok_or_else(|| {
                    FieldError::new(
                        "limit",
                        format!("must be a whole number from 1 to {MAX_LIMIT}"),
                    )
                })?,
        };
        let before =
            match text.cursor.filter(|text| !text.is_empty()) {
                None => None,
                Some(text) => Some(CURSOR.decode(text).ok_or_else(|| {
                    FieldError::new("cursor", "is not one this service gave out")
                })?),
            };
        let status = match text.status.filter(|text| !text.is_empty()) {
            None => None,
            Some(text) => Some(
                text.parse::<OrderStatus>()
                    .map_err(|error| FieldError::new("status", error.to_string()))?,
            ),
        };
        let customer = text
            .customer
            .map(|text| text.trim().to_owned())
            .filter(|text| !text.is_empty());
        Ok(ListQuery {
            limit,
            before,
            status,
            customer,
        })
    }
}

impl Page {
    /// The cursor of the next page, when more orders match.
    pub(crate) fn next_cursor(&self) -> Option<String> {
        self.next.map(|last| CURSOR.encode(last))
    }
}
