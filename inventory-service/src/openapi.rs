//! The inventory service's OpenAPI document, generated from its handlers' annotations.

use shared_events::app::consumer::ConsumerApi;
use utoipa::OpenApi;

use crate::routes;

/// The inventory API's own routes.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Inventory service",
        description = "Stock per product: the units on hand as counted, and the units open orders reserve, kept from the order events."
    ),
    paths(routes::list, routes::get, routes::count, routes::ready),
    tags(
        (name = "stock", description = "Stock levels and counts."),
        (name = "health", description = "Probes and metrics, open to orchestrators and Prometheus."),
        (name = "documentation", description = "This document.")
    )
)]
pub(crate) struct InventoryApi;

/// The document the service serves: its own routes and `GET /shards`.
pub(crate) fn document() -> utoipa::openapi::OpenApi {
    InventoryApi::openapi().merge_from(ConsumerApi::openapi())
}
