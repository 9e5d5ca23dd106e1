//! The HTTP API: routes, request parsing, errors as JSON, request ids.

mod bodies;
mod conditional;
mod cursor;
mod error;
mod health;
mod idempotency;
mod json_body;
mod orders;
mod request_id;

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

pub use self::error::ApiError;
pub use self::json_body::BodyLimit;
pub use self::request_id::request_id;

/// Registers every route of the service.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .app_data(orders::query_config())
        .service(
            web::resource("/orders")
                .route(web::post().to(orders::create))
                .route(web::get().to(orders::list))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/orders/{id}")
                .route(web::get().to(orders::get))
                .route(web::patch().to(orders::update))
                .route(web::delete().to(orders::delete))
                .default_service(web::to(method_not_allowed)),
        )
        .service(web::resource("/health/live").route(web::get().to(health::live)))
        .service(web::resource("/health/ready").route(web::get().to(health::ready)))
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

async fn method_not_allowed(request: HttpRequest) -> HttpResponse {
    ApiError::MethodNotAllowed(format!(
        "{} is not allowed on {}",
        request.method(),
        request.path()
    ))
    .error_response()
}
