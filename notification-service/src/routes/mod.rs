//! The HTTP API: the notification list and the health probes.
//!
//! # Layout
//!
//! - `notifications`: `GET /notifications`, newest first, by page, for one order or all.
//! - `health`: the readiness probe (the liveness probe is the shared one).
//! - `openapi`: the API's OpenAPI document, from the handlers' annotations.

mod health;
mod notifications;
mod openapi;

use actix_web::web;
use shared_events::app::openapi::documents;
use shared_events::app::paging::query_config;
use shared_events::app::routes::{allowing, probes};

/// Registers every route of the service.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .app_data(query_config())
        .service(
            web::resource("/notifications")
                .route(web::get().to(notifications::list))
                .default_service(allowing("GET")),
        )
        .configure(|config| probes(config, health::ready))
        .configure(|config| documents(config, openapi::document()));
}
