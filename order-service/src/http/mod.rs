//! The HTTP API: routes, request parsing, errors as JSON, request ids.
//!
//! [`routes`] registers every route of the service, the web page's too: it mounts
//! [`crate::web`]. The page takes nothing from this module, so the two are not a circle; what
//! both need lives below them, in [`crate::domain`] (the order bodies, [`BodyLimit`], the trace
//! context) and [`crate::store`] (list queries).
//!
//! # Layout
//!
//! - `orders`: `/orders` and `/orders/{id}`: create, list, read, update, delete.
//! - `deliveries`: `GET /orders/{id}/deliveries`, an order's delivery timeline.
//! - `health`: `/health/live` and `/health/ready`.
//! - `json_body`: reading a JSON body: content type, size limit, syntax (400) versus fields (422).
//! - `conditional`: `ETag` and `If-Match`.
//! - `idempotency`: `Idempotency-Key`.
//! - `request_id`: [`request_id`], the middleware that gives each request an id and a trace.
//! - `error`: [`ApiError`], every error as `{"error": {"code", "message"}}`.

mod conditional;
mod deliveries;
mod error;
mod health;
mod idempotency;
mod json_body;
mod orders;
mod request_id;

use actix_web::http::header::{ALLOW, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

pub use self::error::ApiError;
pub use self::request_id::request_id;
pub use crate::domain::BodyLimit;

/// Registers every route of the service.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .app_data(orders::query_config())
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
        .configure(crate::web::routes)
        .service(
            web::resource("/health/live")
                .route(web::get().to(health::live))
                .route(web::head().to(health::live))
                .default_service(allowing("GET, HEAD")),
        )
        .service(
            web::resource("/health/ready")
                .route(web::get().to(health::ready))
                .route(web::head().to(health::ready))
                .default_service(allowing("GET, HEAD")),
        )
        .default_service(web::to(not_found));
}

async fn not_found(request: HttpRequest) -> HttpResponse {
    ApiError::NotFound(format!(
        "no route for {} {}",
        request.method(),
        request.path()
    ))
    .error_response()
}

/// The fallback of a resource: a JSON 405 with the `Allow` header RFC 9110 asks for.
fn allowing(methods: &'static str) -> actix_web::Route {
    web::to(move |request: HttpRequest| async move {
        let mut response = ApiError::MethodNotAllowed(format!(
            "{} is not allowed on {}",
            request.method(),
            request.path()
        ))
        .error_response();
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static(methods));
        response
    })
}
