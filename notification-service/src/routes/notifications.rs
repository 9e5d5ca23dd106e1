//! `GET /notifications`: what was sent or skipped, newest first.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use shared_events::contract::page_cursor::PageCursor;
use uuid::Uuid;

use crate::handler::Notifier;
use crate::ledger::{Notification, PageQuery, Position};
use shared_events::app::api_error::ApiError;

/// The cursors of `GET /notifications`: the position of the last notification shown.
const CURSOR: PageCursor = PageCursor::new("n1:");

/// The default and the largest page size.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 500;

/// The query; unknown parameters are refused so that typos do not pass silently.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListParams {
    limit: Option<String>,
    cursor: Option<String>,
    order_id: Option<String>,
}

#[derive(Serialize)]
struct NotificationPage {
    notifications: Vec<Notification>,
    next_cursor: Option<String>,
}

/// `GET /notifications?limit=&cursor=&order_id=`: a page of notifications, newest first.
pub(crate) async fn list(
    params: web::Query<ListParams>,
    notifier: web::Data<Notifier>,
) -> Result<HttpResponse, ApiError> {
    let query = page_query(params.into_inner())?;
    let page = notifier.ledger().read(|ledger| ledger.page(&query));
    Ok(HttpResponse::Ok().json(NotificationPage {
        notifications: page.notifications,
        next_cursor: page.next.map(|last| CURSOR.encode(last.0)),
    }))
}

fn page_query(params: ListParams) -> Result<PageQuery, ApiError> {
    let limit = match params.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|limit| (1..=MAX_LIMIT).contains(limit))
            .ok_or_else(|| {
                invalid_query(format!(
                    "limit must be a whole number from 1 to {MAX_LIMIT}"
                ))
            })?,
    };
    let before =
        match params.cursor.as_deref().filter(|text| !text.is_empty()) {
            None => None,
            Some(text) => Some(CURSOR.decode(text).map(Position).ok_or_else(|| {
                invalid_query("cursor is not one this service gave out".to_owned())
            })?),
        };
    let order_id = match params.order_id.as_deref().filter(|text| !text.is_empty()) {
        None => None,
        Some(text) => Some(
            text.parse::<Uuid>()
                .map_err(|_| invalid_query(format!("order_id `{text}` is not a UUID")))?,
        ),
    };
    Ok(PageQuery {
        limit,
        before,
        order_id,
    })
}

/// Query errors (`?limit=1&limit=2`, unknown parameters) are 422 like other bad parameters.
pub(crate) fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error, _| invalid_query(error.to_string()).into())
}

/// A 422 for a query parameter that breaks a rule.
fn invalid_query(message: String) -> ApiError {
    ApiError::Unprocessable {
        code: "invalid_query",
        message,
    }
}
