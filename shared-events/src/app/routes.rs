//! Route helpers every service's API uses: the liveness probe and what it checks, JSON 404 and 405 answers, and the
//! JSON body limit.

use std::sync::Arc;

use actix_web::http::header::{ALLOW, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde::Serialize;

use crate::app::api_error::ApiError;

/// What `GET /health/live` checks besides the process answering: a service whose store has
/// failed a write registers one, so that an orchestrator restarts it and it recovers from its
/// files. A write that failed is never tried again in place (PostgreSQL learnt that a failed
/// fsync may have dropped the data it was given).
#[derive(Clone)]
pub struct Liveness(Arc<dyn Fn() -> Option<String> + Send + Sync>);

impl Liveness {
    /// `failure` names why the process must be restarted, or `None` while it need not be.
    pub fn new(failure: impl Fn() -> Option<String> + Send + Sync + 'static) -> Liveness {
        Liveness(Arc::new(failure))
    }
}

/// The answer of `GET /health/live`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LiveAnswer {
    /// `live`, or `failed` once the process must be restarted.
    #[schema(example = "live")]
    pub status: &'static str,
    /// Why it must be restarted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `GET /health/live`: 200 while the process answers and its [`Liveness`] (if any) finds
/// nothing wrong; 503 with the reason once it does.
#[utoipa::path(
    get,
    path = "/health/live",
    tag = "health",
    responses(
        (status = 200, description = "The process answers.", body = LiveAnswer),
        (status = 503, description = "The store has failed a write or an fsync: restart the process.", body = LiveAnswer),
    )
)]
pub async fn live(liveness: Option<web::Data<Liveness>>) -> HttpResponse {
    match liveness.and_then(|liveness| (liveness.0)()) {
        None => HttpResponse::Ok().json(LiveAnswer {
            status: "live",
            reason: None,
        }),
        Some(reason) => HttpResponse::ServiceUnavailable().json(LiveAnswer {
            status: "failed",
            reason: Some(reason),
        }),
    }
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

/// The probes at `/health/live` and `/health/ready` (answered by `ready`), and the metrics at
/// `/metrics`: what an orchestrator and Prometheus read, open to them alike.
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
        )
        .service(
            web::resource("/metrics")
                .route(web::get().to(crate::app::metrics::render))
                .default_service(allowing("GET")),
        );
}
