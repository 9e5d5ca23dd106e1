//! The notification service's OpenAPI document, generated from its handlers' annotations.

use shared_events::app::consumer::ConsumerApi;
use utoipa::OpenApi;

use super::{health, notifications};

/// The notification API's own routes.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Notification service",
        description = "An email to the customer for every order event, over SMTP (or as .eml files without a mail server), and the record of each."
    ),
    paths(notifications::list, health::ready),
    tags(
        (name = "notifications", description = "What was sent or skipped."),
        (name = "health", description = "Probes and metrics, open to orchestrators and Prometheus."),
        (name = "documentation", description = "This document.")
    )
)]
struct NotificationApi;

/// The document the service serves: its own routes and `GET /shards`.
pub(super) fn document() -> utoipa::openapi::OpenApi {
    NotificationApi::openapi().merge_from(ConsumerApi::openapi())
}
