//! The `/orders` routes.

use actix_web::http::header::{ETAG, LOCATION};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use shared_events::app::error_envelope::{ErrorDetail, ErrorEnvelope};
use shared_events::app::paging::invalid_query;
use shared_events::app::strict_query::StrictQuery;
use shared_events::{Order, OrderStatus};
use uuid::Uuid;

use crate::domain::{
    BodyLimit, ChangeOrigin, CreateOrderBody, NewOrder, OrderPatch, PatchOrderBody,
};
use crate::http::conditional::{etag, if_match};
use crate::http::json_body::{parse_json, read_body};
use crate::http::{ApiError, idempotency};
use crate::store::{ListQuery, ListText, OrderStore, WriteError};

/// The page size of `GET /orders` unless `limit` says otherwise.
const DEFAULT_LIMIT: usize = 50;

/// `POST /orders`: 201 with the order, `Location` and `ETag`, once it is durable.
#[utoipa::path(
    post,
    path = "/orders",
    operation_id = "createOrder",
    tag = "orders",
    params(
        ("Idempotency-Key" = Option<String>, Header, pattern = r"^[\x21-\x7E]{1,255}$", description = "1 to 255 visible ASCII characters. A retry with the same key and body answers like the first request and creates nothing; kept 24 hours."),
    ),
    request_body(content = CreateOrderBody, content_type = "application/json"),
    responses(
        (status = 201, description = "The order, once durable.", body = Order, headers(
            ("Location" = String, description = "`/orders/{order_id}`"),
            ("ETag" = String, description = "The order's version as a strong entity tag: `\"1\"`."),
            ("Idempotent-Replayed" = Option<String>, description = "`true` when this answers an earlier request with the same `Idempotency-Key`."),
        ), links(
            ("GetOrder" = (operation_id = "getOrder", parameters(("id" = "$response.body#/order_id")))),
            ("UpdateOrder" = (operation_id = "updateOrder", parameters(("id" = "$response.body#/order_id")))),
            ("DeleteOrder" = (operation_id = "deleteOrder", parameters(("id" = "$response.body#/order_id")))),
            ("GetOrderDeliveries" = (operation_id = "getOrderDeliveries", parameters(("id" = "$response.body#/order_id")))),
        )),
        (status = 400, description = "Malformed JSON, a content type other than JSON, or a malformed `Idempotency-Key`.", body = ErrorEnvelope),
        (status = 409, description = "The `Idempotency-Key` created an order that has since been deleted.", body = ErrorEnvelope),
        (status = 413, description = "The body is over the limit (64 KiB by default).", body = ErrorEnvelope),
        (status = 422, description = "A field breaks a rule (`field` names it), or the `Idempotency-Key` was used with another body.", body = ErrorEnvelope),
        (status = 503, description = "The store cannot write now.", body = ErrorEnvelope),
    )
)]
pub(crate) async fn create(
    request: HttpRequest,
    payload: web::Payload,
    store: web::Data<OrderStore>,
    limit: web::Data<BodyLimit>,
    origin: ChangeOrigin,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency::key(&request)?;
    let body = read_body(&request, payload, **limit).await?;
    let order = NewOrder::try_from(parse_json::<CreateOrderBody>(&body)?)?;
    let stamp = key.map(|key| idempotency::stamp(key, &body));
    let created = store.create(order, stamp, origin).await?;
    if created.replayed && store.get(created.order.order_id).is_none() {
        // A replay would answer 201 for an order that no longer exists.
        return Err(ApiError::Conflict(format!(
            "the order this Idempotency-Key created, {}, has since been deleted",
            created.order.order_id
        )));
    }
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
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// How many orders at most: 1 to 500, 50 by default.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    limit: Option<String>,
    /// The `next_cursor` of the page before.
    cursor: Option<String>,
    /// Only orders in this status; empty for any.
    #[param(schema_with = status_filter_schema)]
    status: Option<String>,
    /// Only orders whose customer name or email contains this, ignoring case.
    customer: Option<String>,
}

/// A status to filter by, or empty for any (as the page's filter sends "any status").
fn status_filter_schema() -> utoipa::openapi::schema::Object {
    let names = OrderStatus::ALL.map(OrderStatus::as_str);
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(std::iter::once("").chain(names)))
        .build()
}

/// A page of orders, newest first.
#[derive(Serialize, utoipa::ToSchema)]
struct OrderPage<'a> {
    /// The orders.
    orders: Vec<&'a Order>,
    /// The cursor of the next page; `null` on the last.
    next_cursor: Option<String>,
}

/// `GET /orders`: a page of orders, newest first.
#[utoipa::path(
    get,
    path = "/orders",
    operation_id = "listOrders",
    tag = "orders",
    params(ListParams),
    responses(
        (status = 200, description = "A page of orders, newest first.", body = OrderPage),
        (status = 400, description = "The query string is not UTF-8 once its percent-escapes are decoded.", body = ErrorEnvelope),
        (status = 422, description = "A parameter breaks a rule, is unknown or repeated (`field` names it).", body = ErrorEnvelope),
    )
)]
pub(crate) async fn list(
    params: StrictQuery<ListParams>,
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
    ListQuery::parse(text, DEFAULT_LIMIT)
        .map_err(|error| invalid_query(&error.field, error.message))
}

/// `GET /orders/{id}`.
#[utoipa::path(
    get,
    path = "/orders/{id}",
    operation_id = "getOrder",
    tag = "orders",
    params(("id" = String, Path, description = "The order's id (a UUID; any other text names no order).")),
    responses(
        (status = 200, description = "The order.", body = Order, headers(
            ("ETag" = String, description = "The order's version as a strong entity tag: `\"3\"`."),
        )),
        (status = 404, description = "No such order.", body = ErrorEnvelope),
    )
)]
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
#[utoipa::path(
    patch,
    path = "/orders/{id}",
    operation_id = "updateOrder",
    tag = "orders",
    params(
        ("id" = String, Path, description = "The order's id."),
        ("If-Match" = Option<String>, Header, pattern = r#"^[ \t,]*((\*|(W/)?"[\x21\x23-\x7E]*")[ \t]*(,[ \t,]*|$))*$"#, description = "`*` or the entity tags (`\"3\"`) the change is for: another version answers 412."),
    ),
    request_body(content(
        (PatchOrderBody = "application/merge-patch+json"),
        (PatchOrderBody = "application/json"),
    )),
    responses(
        (status = 200, description = "The order after the change (unchanged if the patch changes nothing).", body = Order, headers(
            ("ETag" = String, description = "The order's new version as a strong entity tag."),
        )),
        (status = 400, description = "Malformed JSON, a content type other than JSON, or a malformed `If-Match`.", body = ErrorEnvelope),
        (status = 404, description = "No such order.", body = ErrorEnvelope),
        (status = 409, description = "The order's status does not allow the change.", body = ErrorEnvelope),
        (status = 412, description = "`If-Match` names another version: someone changed the order first.", body = ErrorEnvelope),
        (status = 413, description = "The body is over the limit.", body = ErrorEnvelope),
        (status = 422, description = "A field breaks a rule (`field` names it).", body = ErrorEnvelope),
        (status = 503, description = "The store cannot write now.", body = ErrorEnvelope),
    )
)]
pub(crate) async fn update(
    request: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
    store: web::Data<OrderStore>,
    limit: web::Data<BodyLimit>,
    origin: ChangeOrigin,
) -> Result<HttpResponse, ApiError> {
    let id = order_id(&id)?;
    let condition = if_match(&request)?;
    let body = read_body(&request, payload, **limit).await?;
    let patch = OrderPatch::try_from(parse_json::<PatchOrderBody>(&body)?)?;
    let order = store.update(id, patch, condition, origin).await?;
    Ok(HttpResponse::Ok()
        .insert_header((ETAG, etag(order.version)))
        .json(order.as_ref()))
}

/// The answer of `DELETE /orders/{id}`.
#[derive(Serialize, utoipa::ToSchema)]
struct Deletion<'a> {
    /// The id as given.
    order_id: &'a str,
    /// Whether the order was deleted now.
    deleted: bool,
    /// Why not.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorDetail<'a>>,
}

/// `DELETE /orders/{id}`: 200 `{"order_id", "deleted": true}`, 404 with `"deleted": false`.
#[utoipa::path(
    delete,
    path = "/orders/{id}",
    operation_id = "deleteOrder",
    tag = "orders",
    params(
        ("id" = String, Path, description = "The order's id."),
        ("If-Match" = Option<String>, Header, pattern = r#"^[ \t,]*((\*|(W/)?"[\x21\x23-\x7E]*")[ \t]*(,[ \t,]*|$))*$"#, description = "`*` or the entity tags the deletion is for: another version answers 412."),
    ),
    responses(
        (status = 200, description = "Deleted; its delivery timeline stays.", body = Deletion),
        (status = 400, description = "A malformed `If-Match`.", body = ErrorEnvelope),
        (status = 404, description = "No such order.", body = Deletion),
        (status = 412, description = "`If-Match` names another version.", body = ErrorEnvelope),
        (status = 503, description = "The store cannot write now.", body = ErrorEnvelope),
    )
)]
pub(crate) async fn delete(
    request: HttpRequest,
    id: web::Path<String>,
    store: web::Data<OrderStore>,
    origin: ChangeOrigin,
) -> Result<HttpResponse, ApiError> {
    let condition = if_match(&request)?;
    let result = match order_id(&id) {
        Ok(parsed) => store
            .delete(parsed, condition, origin)
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
