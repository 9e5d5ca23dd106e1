//! `GET /notifications`: what was sent or skipped, newest first.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use shared_events::contract::page_cursor::PageCursor;
use uuid::Uuid;

use crate::handler::Notifier;
use crate::ledger::{Notification, PageQuery, Position};
use shared_events::app::api_error::ApiError;
use shared_events::app::paging::{invalid_query, page_params};

/// The cursors of `GET /notifications`: the position of the last notification shown.
const CURSOR: PageCursor = PageCursor::new("n1:");

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
    let (before, limit) = page_params(params.limit.as_deref(), params.cursor.as_deref(), &CURSOR)?;
    let order_id = match params.order_id.as_deref().filter(|text| !text.is_empty()) {
        None => None,
        Some(text) => Some(
            text.parse::<Uuid>()
                .map_err(|_| invalid_query(format!("order_id `{text}` is not a UUID")))?,
        ),
    };
    Ok(PageQuery {
        limit,
        before: before.map(Position),
        order_id,
    })
}
