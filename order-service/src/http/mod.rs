//! The HTTP API: routes, request parsing, errors as JSON, request ids.

mod conditional;
mod deliveries;
mod error;
mod health;
mod idempotency;
mod json_body;
mod orders;
mod request_id;
mod trace_context;

use actix_web::http::header::{ALLOW, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

pub use self::error::ApiError;
pub use self::json_body::BodyLimit;
pub(crate) use self::orders::traceparent;
pub use self::request_id::request_id;

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
