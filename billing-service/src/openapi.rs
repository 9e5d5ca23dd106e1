//! The billing service's OpenAPI document, generated from its handlers' annotations.

use shared_events::app::consumer::ConsumerApi;
use utoipa::OpenApi;

use crate::routes;

/// The billing API's own routes.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Billing service",
        description = "The invoice of every order, kept from the order events: opened on creation, amended on changes, voided on cancellation or deletion."
    ),
    paths(routes::list, routes::get, routes::ready),
    tags(
        (name = "invoices", description = "An invoice per order."),
        (name = "health", description = "Probes and metrics, open to orchestrators and Prometheus."),
        (name = "documentation", description = "This document.")
    )
)]
pub(crate) struct BillingApi;

/// The document the service serves: its own routes and `GET /shards`.
pub(crate) fn document() -> utoipa::openapi::OpenApi {
    BillingApi::openapi().merge_from(ConsumerApi::openapi())
}
