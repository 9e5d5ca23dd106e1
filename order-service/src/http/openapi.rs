//! The order service's OpenAPI document, generated from its handlers' annotations: served at
//! `/openapi.json` (with the page at `/api-docs`) and checked by schemathesis in the tests.

use utoipa::OpenApi;

use crate::http::{deliveries, health, orders};

/// The order API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Order service",
        description = "Create, list, read, change and delete orders. Every change is durable before it is answered and reaches the inventory, billing and notification services as an event; `GET /orders/{id}/deliveries` shows how far."
    ),
    paths(
        orders::create,
        orders::list,
        orders::get,
        orders::update,
        orders::delete,
        deliveries::timeline,
        health::ready
    ),
    tags(
        (name = "orders", description = "Orders and their delivery timelines."),
        (name = "health", description = "Probes and metrics, open to orchestrators and Prometheus."),
        (name = "documentation", description = "This document.")
    )
)]
pub(crate) struct OrderApi;
