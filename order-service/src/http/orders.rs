//! The `/orders` routes.

use actix_web::http::header::{ETAG, LOCATION};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use shared_events::Order;
use shared_events::app::request_trace::RequestTrace;
use uuid::Uuid;

use crate::domain::{BodyLimit, CreateOrderBody, NewOrder, OrderPatch, PatchOrderBody};
use crate::http::conditional::{etag, if_match};
use crate::http::json_body::{parse_json, read_body};
use crate::http::{ApiError, idempotency};
use crate::store::{ListQuery, ListText, OrderStore, WriteError};

/// The page size of `GET /orders` unless `limit` says otherwise.
const DEFAULT_LIMIT: usize = 50;

/// `POST /orders`: 201 with the order, `Location` and `ETag`, once it is durable.
pub(crate) async fn create(
    request: HttpRequest,
    payload: web::Payload,
    store: web::Data<OrderStore>,
    limit: web::Data<BodyLimit>,
    trace: Option<web::ReqData<RequestTrace>>,
) -> Result<HttpResponse, ApiError> {
    let traceparent = trace.and_then(|trace| trace.traceparent());
    let key = idempotency::key(&request)?;
    let body = read_body(&request, payload, **limit).await?;
    let order = NewOrder::try_from(parse_json::<CreateOrderBody>(&body)?)?;
    let stamp = key.map(|key| idempotency::stamp(key, &body));
    let created = store.create(order, stamp, traceparent).await?;
    let mut response = HttpResponse::Created();
    response
        .insert_header((LOCATION, format!("/orders/{}", created.order.order_id)))
        .insert_header((ETAG, etag(created.order.version)));
    if created.replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(response.json(created.order.as_ref()))
}

/// The query of `GET /orders`; unknown parameters are refused so that typos do not pass silently.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListParams {
    limit: Option<String>,
    cursor: Option<String>,
    status: Option<String>,
    customer: Option<String>,
}

#[derive(Serialize)]
struct OrderPage<'a> {
    orders: Vec<&'a Order>,
    next_cursor: Option<String>,
}

/// `GET /orders`: a page of orders, newest first.
pub(crate) async fn list(
    params: web::Query<ListParams>,
    store: web::Data<OrderStore>,
) -> Result<HttpResponse, ApiError> {
    let query = list_query(params.into_inner())?;
    let page = store.list(&query);
    Ok(HttpResponse::Ok().json(OrderPage {
        orders: page.orders.iter().map(AsRef::as_ref).collect(),
        next_cursor: page.next_cursor(),
    }))
}

fn list_query(params: ListParams) -> Result<ListQuery, ApiError> {
    let text = ListText {
        limit: params.limit.as_deref(),
        cursor: params.cursor.as_deref(),
        status: params.status.as_deref(),
        customer: params.customer.as_deref(),
    };
    ListQuery::parse(text, DEFAULT_LIMIT).map_err(|message| ApiError::Unprocessable {
        code: "invalid_query",
        message,
    })
}

/// Query errors (`?limit=1&limit=2`, unknown parameters) are 422 like other bad parameters.
pub(crate) fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error, _| {
        ApiError::Unprocessable {
            code: "invalid_query",
            message: error.to_string(),
        }
        .into()
    })
}

/// `GET /orders/{id}`.
pub(crate) async fn get(
    id: web::Path<String>,
    store: web::Data<OrderStore>,
) -> Result<HttpResponse, ApiError> {
    let id = order_id(&id)?;
    let order = store.get(id).ok_or(WriteError::NotFound(id))?;
    Ok(HttpResponse::Ok()
        .insert_header((ETAG, etag(order.version)))
        .json(order.as_ref()))
}

/// `PATCH /orders/{id}`: a JSON merge patch; 409 if the order's state forbids it, 412 if
/// `If-Match` is stale.
pub(crate) async fn update(
    request: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
    store: web::Data<OrderStore>,
    limit: web::Data<BodyLimit>,
    trace: Option<web::ReqData<RequestTrace>>,
) -> Result<HttpResponse, ApiError> {
    let traceparent = trace.and_then(|trace| trace.traceparent());
    let id = order_id(&id)?;
    let condition = if_match(&request)?;
    let body = read_body(&request, payload, **limit).await?;
    let patch = OrderPatch::try_from(parse_json::<PatchOrderBody>(&body)?)?;
    let order = store.update(id, patch, condition, traceparent).await?;
    Ok(HttpResponse::Ok()
        .insert_header((ETAG, etag(order.version)))
        .json(order.as_ref()))
}

#[derive(Serialize)]
struct Deletion<'a> {
    order_id: &'a str,
    deleted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<shared_events::app::error_envelope::ErrorDetail<'a>>,
}

/// `DELETE /orders/{id}`: 200 `{"order_id", "deleted": true}`, 404 with `"deleted": false`.
pub(crate) async fn delete(
    request: HttpRequest,
    id: web::Path<String>,
    store: web::Data<OrderStore>,
    trace: Option<web::ReqData<RequestTrace>>,
) -> Result<HttpResponse, ApiError> {
    let traceparent = trace.and_then(|trace| trace.traceparent());
    let condition = if_match(&request)?;
    let result = match order_id(&id) {
        Ok(parsed) => store
            .delete(parsed, condition, traceparent)
            .await
            .map_err(ApiError::from),
        Err(error) => Err(error),
    };
    match result {
        Ok(_) => Ok(HttpResponse::Ok().json(Deletion {
            order_id: &id,
            deleted: true,
            error: None,
        })),
        Err(error @ ApiError::NotFound(_)) => Ok(HttpResponse::NotFound().json(Deletion {
            order_id: &id,
            deleted: false,
            error: Some(error.detail()),
        })),
        Err(error) => Err(error),
    }
}

/// An id that is not a UUID names no order: 404, like any other unknown id.
pub(crate) fn order_id(text: &str) -> Result<Uuid, ApiError> {
    text.parse::<Uuid>()
        .map_err(|_| ApiError::NotFound(format!("no order with id {text}")))
}
