//! `GET /orders/{id}/deliveries`: the order's delivery timeline.

use actix_web::{HttpResponse, web};

use shared_events::app::error_envelope::ErrorEnvelope;

use crate::deliveries::{Deliveries, OrderTimeline};
use crate::http::ApiError;
use crate::http::orders::order_id;
use crate::store::{OrderStore, WriteError};

/// The timeline of every event of the order, oldest first: when it was published and what each
/// consuming service did with it. A deleted order keeps its timeline; an order nobody has heard
/// of is a 404.
#[utoipa::path(
    get,
    path = "/orders/{id}/deliveries",
    operation_id = "getOrderDeliveries",
    tag = "orders",
    params(("id" = String, Path, description = "The order's id.")),
    responses(
        (status = 200, description = "The delivery timeline, oldest event first.", body = OrderTimeline),
        (status = 404, description = "No order ever had this id.", body = ErrorEnvelope),
    )
)]
pub(crate) async fn timeline(
    id: web::Path<String>,
    store: web::Data<OrderStore>,
    deliveries: web::Data<Deliveries>,
) -> Result<HttpResponse, ApiError> {
    let id = order_id(&id)?;
    let timeline = match deliveries.timeline(id) {
        Some(timeline) => timeline,
        None if store.get(id).is_some() => OrderTimeline {
            order_id: id,
            events: Vec::new(),
        },
        None => return Err(WriteError::NotFound(id).into()),
    };
    Ok(HttpResponse::Ok().json(timeline))
}
