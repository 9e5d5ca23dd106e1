//! The HTTP API: the notification list, health probes, errors as JSON.

mod error;
mod health;
mod notifications;

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

pub use self::error::ApiError;

/// Registers every route of the service.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .app_data(notifications::query_config())
        .service(
            web::resource("/notifications")
                .route(web::get().to(notifications::list))
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
