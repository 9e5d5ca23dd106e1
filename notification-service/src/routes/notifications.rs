//! `GET /notifications`: what was sent or skipped, newest first, over every shard.

use std::fmt;
use std::str::FromStr;

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use shared_events::app::api_error::ApiError;
use shared_events::app::error_envelope::ErrorEnvelope;
use shared_events::app::paging::{invalid_query, page_params};
use shared_events::app::strict_query::StrictQuery;
use shared_events::contract::page_cursor::PageCursor;
use shared_events::runtime::shards::ShardLedgers;
use uuid::Uuid;

use crate::ledger::{Ledger, Notification, PageQuery, Position};

/// The cursors of `GET /notifications`: where the last page stopped in each shard.
const CURSOR: PageCursor = PageCursor::new("n2:");

/// The query; unknown parameters are refused so that typos do not pass silently.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// Page size, 1 to 500 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Only this order's notifications: its id (a UUID, in any of its usual spellings); empty
    /// for every order's.
    order_id: Option<String>,
}

/// A page of notifications, newest first.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct NotificationPage {
    /// The notifications.
    notifications: Vec<Notification>,
    /// The cursor of the next page; `null` on the last.
    next_cursor: Option<String>,
}

/// Per shard, the position the next page starts before (`None`: from the newest). Written
/// `12.7.-`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ShardPositions(Vec<Option<Position>>);

/// `GET /notifications?limit=&cursor=&order_id=`: a page of notifications, newest first.
#[utoipa::path(
    get,
    path = "/notifications",
    operation_id = "listNotifications",
    tag = "notifications",
    params(ListParams),
    responses(
        (status = 200, description = "A page of notifications, newest first.", body = NotificationPage),
        (status = 400, description = "The query string is not UTF-8 once its percent-escapes are decoded.", body = ErrorEnvelope),
        (status = 422, description = "A parameter breaks a rule, is unknown or repeated (`field` names it).", body = ErrorEnvelope),
        (status = 503, description = "A shard's notifications cannot be read now.", body = ErrorEnvelope),
    )
)]
pub(crate) async fn list(
    params: StrictQuery<ListParams>,
    ledgers: web::Data<ShardLedgers<Ledger>>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner();
    let (before, limit) =
        page_params::<ShardPositions>(params.limit.as_deref(), params.cursor.as_deref(), &CURSOR)?;
    let shard_count = usize::from(ledgers.shards().get());
    let mut positions = before.map_or_else(|| vec![None; shard_count], |before| before.0);
    if positions.len() != shard_count {
        return Err(invalid_query("cursor", "is not one of this service's"));
    }
    let page = match order_id(params.order_id.as_deref())? {
        // One order's notifications are all in its shard.
        Some(order_id) => {
            let shard = ledgers.shards().shard_of(order_id);
            let query = PageQuery {
                limit,
                before: positions[usize::from(shard)],
                order_id: Some(order_id),
            };
            let page = ledgers
                .read(shard, |ledger| ledger.page(&query))
                .map_err(unreadable)?;
            let next = page.next.map(|last| {
                positions[usize::from(shard)] = Some(last);
                ShardPositions(positions)
            });
            (page.notifications, next)
        }
        None => {
            let mut heads = Vec::with_capacity(shard_count);
            for (shard, before) in ledgers.shards().all().zip(&positions) {
                let newest = ledgers
                    .read(shard, |ledger| ledger.newest(*before, limit + 1))
                    .map_err(unreadable)?;
                heads.push(newest.into_iter().peekable());
            }
            // Each shard's list runs newest first by position; taking always the newest
            // head takes a prefix of every list, so a shard's cursor is the last one taken.
            let mut notifications = Vec::with_capacity(limit);
            while notifications.len() < limit {
                let newest = heads
                    .iter_mut()
                    .enumerate()
                    .filter_map(|(shard, head)| {
                        let (_, notification) = head.peek()?;
                        Some(((notification.at, notification.event_id), shard))
                    })
                    .max();
                let Some((_, shard)) = newest else {
                    break;
                };
                let (position, notification) = heads[shard].next().expect("a peeked head");
                positions[shard] = Some(position);
                notifications.push(notification);
            }
            let more = heads.iter_mut().any(|head| head.peek().is_some());
            (notifications, more.then_some(ShardPositions(positions)))
        }
    };
    Ok(HttpResponse::Ok().json(NotificationPage {
        notifications: page.0,
        next_cursor: page.1.map(|next| CURSOR.encode(next)),
    }))
}

fn order_id(text: Option<&str>) -> Result<Option<Uuid>, ApiError> {
    match text.filter(|text| !text.is_empty()) {
        None => Ok(None),
        Some(text) => text
            .parse::<Uuid>()
            .map(Some)
            .map_err(|_| invalid_query("order_id", format!("`{text}` is not a UUID"))),
    }
}

/// A shard's ledger cannot be read: the service cannot answer now.
fn unreadable(error: impl fmt::Display) -> ApiError {
    ApiError::Unavailable(format!("the notifications cannot be read: {error}"))
}

impl fmt::Display for ShardPositions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, position) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str(".")?;
            }
            match position {
                Some(position) => write!(f, "{}", position.0)?,
                None => f.write_str("-")?,
            }
        }
        Ok(())
    }
}

impl FromStr for ShardPositions {
    type Err = std::num::ParseIntError;

    fn from_str(text: &str) -> Result<ShardPositions, Self::Err> {
        text.split('.')
            .map(|part| match part {
                "-" => Ok(None),
                number => number.parse().map(|position| Some(Position(position))),
            })
            .collect::<Result<_, _>>()
            .map(ShardPositions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_positions_read_back_what_they_write() {
        let positions = ShardPositions(vec![Some(Position(12)), None, Some(Position(0))]);
        assert_eq!(positions.to_string(), "12.-.0");
        assert_eq!("12.-.0".parse::<ShardPositions>(), Ok(positions));
        assert!("12.x".parse::<ShardPositions>().is_err());
    }
}
