//! Route helpers every service's API uses: the liveness probe, JSON 404 and 405 answers, and the
//! JSON body limit.

use actix_web::http::header::{ALLOW, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde_json::json;

use crate::app::api_error::ApiError;

/// `GET /health/live`: the process answers.
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "live" }))
}

/// The JSON 404 for a path no route serves.
pub async fn not_found(request: HttpRequest) -> HttpResponse {
    ApiError::NotFound(format!(
        "no route for {} {}",
        request.method(),
        request.path()
    ))
    .error_response()
}

/// A resource's fallback: a JSON 405 that names the `methods` allowed in `Allow`.
pub fn allowing(methods: &'static str) -> actix_web::Route {
    allowing_with(methods, |request| {
        ApiError::MethodNotAllowed(format!(
            "{} is not allowed on {}",
            request.method(),
            request.path()
        ))
        .error_response()
    })
}

/// A resource's fallback: the 405 that `answer` makes, with the `Allow` header RFC 9110 asks for.
pub fn allowing_with(
    methods: &'static str,
    answer: fn(&HttpRequest) -> HttpResponse,
) -> actix_web::Route {
    web::to(move |request: HttpRequest| async move {
        let mut response = answer(&request);
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static(methods));
        response
    })
}

/// JSON bodies up to `limit` bytes, their errors in the error envelope.
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(move |error, _| ApiError::from_json(&error, limit).into())
}

/// The probes at `/health/live` and `/health/ready` (answered by `ready`).
pub fn probes<F, Args>(config: &mut web::ServiceConfig, ready: F)
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    config
        .service(
            web::resource("/health/live")
                .route(web::get().to(live))
                .route(web::head().to(live))
                .default_service(allowing("GET, HEAD")),
        )
        .service(
            web::resource("/health/ready")
                .route(web::get().to(ready.clone()))
                .route(web::head().to(ready))
                .default_service(allowing("GET, HEAD")),
        );
}
