//! The HTTP API: routes, request parsing, errors as JSON, request ids.
//!
//! [`routes`] registers the API's routes; the service mounts the web page's ([`crate::web`])
//! beside them. Neither module imports the other: what both need lives below them, in
//! [`crate::domain`] (the order bodies, [`BodyLimit`]) and [`crate::store`] (list queries).
//!
//! # Layout
//!
//! - `orders`: `/orders` and `/orders/{id}`: create, list, read, update, delete.
//! - `deliveries`: `GET /orders/{id}/deliveries`, an order's delivery timeline.
//! - `health`: `/health/live` and `/health/ready`.
//! - `json_body`: reading a JSON body: content type, size limit, syntax (400) versus fields (422).
//! - `change_origin`: who asks for a change, and the request's trace, as an extractor.
//! - `conditional`: `ETag` and `If-Match`.
//! - `idempotency`: `Idempotency-Key`.
//! - `openapi`: the API's OpenAPI document, from the handlers' annotations.
//! - `request_id`: [`request_id`], the middleware that gives each request an id.
//! - `error`: [`ApiError`], every error as `{"error": {"code", "message"}}`.

mod change_origin;
mod conditional;
mod deliveries;
mod error;
mod health;
mod idempotency;
mod json_body;
mod openapi;
mod orders;
mod request_id;

use actix_web::web;
use shared_events::app::openapi::documents;
use shared_events::app::routes::{allowing, not_found, probes};
use utoipa::OpenApi;

pub use self::error::ApiError;
pub use self::request_id::request_id;
pub use crate::domain::BodyLimit;

/// Registers every route of the service.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .app_data(shared_events::app::paging::query_config())
        .service(
            web::resource("/orders")
                .route(web::post().to(orders::create))
                .route(web::get().to(orders::list))
                .route(web::head().to(orders::list))
                .default_service(allowing("GET, HEAD, POST")),
        )
        .service(
            web::resource("/orders/{id}")
                .route(web::get().to(orders::get))
                .route(web::head().to(orders::get))
                .route(web::patch().to(orders::update))
                .route(web::delete().to(orders::delete))
                .default_service(allowing("GET, HEAD, PATCH, DELETE")),
        )
        .service(
            web::resource("/orders/{id}/deliveries")
                .route(web::get().to(deliveries::timeline))
                .route(web::head().to(deliveries::timeline))
                .default_service(allowing("GET, HEAD")),
        )
        .configure(|config| probes(config, health::ready))
        .configure(|config| documents(config, openapi::OrderApi::openapi()))
        .default_service(web::to(not_found));
}
