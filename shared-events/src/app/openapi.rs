//! Each service's API as an OpenAPI 3.1 document generated from its code with utoipa, served at
//! `GET /openapi.json`, and a page at `GET /api-docs` that renders it in the browser from two
//! files built into the binary (nothing is fetched from elsewhere).
//!
//! A service describes its own routes (`#[utoipa::path]` on each handler) and passes its
//! document to [`documents`], which adds what every service shares: the probes, the metrics,
//! the document itself and the error envelope.

use actix_web::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY};
use actix_web::{HttpResponse, web};
use utoipa::OpenApi;

use crate::app::error_envelope::{ErrorDetail, ErrorEnvelope};
use crate::app::routes::allowing;

const PAGE: &str = include_str!("../../assets/api-docs.html");
const SCRIPT: &str = include_str!("../../assets/api-docs.js");

/// The page may run its own script, read the document and use its inline style; nothing else.
const PAGE_POLICY: &str =
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'";

/// The paths and schemas every service shares.
#[derive(OpenApi)]
#[openapi(
    paths(crate::app::routes::live, crate::app::metrics::render, openapi_json),
    components(schemas(ErrorEnvelope, ErrorDetail))
)]
struct SharedApi;

/// The document as served, rendered when the service's routes are registered.
#[derive(Clone)]
struct Document(web::Bytes);

/// Serves `api` (a service's own paths, with what every service shares added) at
/// `/openapi.json` and the page that renders it at `/api-docs`.
pub fn documents(config: &mut web::ServiceConfig, api: utoipa::openapi::OpenApi) {
    let json = complete(api)
        .to_pretty_json()
        .expect("an OpenAPI document is plain data with string keys");
    config
        .app_data(web::Data::new(Document(web::Bytes::from(json))))
        .service(
            web::resource("/openapi.json")
                .route(web::get().to(openapi_json))
                .default_service(allowing("GET")),
        )
        .service(
            web::resource("/api-docs")
                .route(web::get().to(|| asset("text/html; charset=utf-8", PAGE)))
                .default_service(allowing("GET")),
        )
        .service(
            web::resource("/api-docs.js")
                .route(web::get().to(|| asset("text/javascript; charset=utf-8", SCRIPT)))
                .default_service(allowing("GET")),
        );
}

/// `api` with the shared paths and schemas.
fn complete(api: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    api.merge_from(SharedApi::openapi())
}

/// `GET /openapi.json`.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "documentation",
    responses((status = 200, description = "This document (OpenAPI 3.1).", content_type = "application/json", body = Object))
)]
async fn openapi_json(document: web::Data<Document>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((CACHE_CONTROL, "no-cache"))
        .body(document.0.clone())
}

fn asset(content_type: &'static str, body: &'static str) -> std::future::Ready<HttpResponse> {
    std::future::ready(
        HttpResponse::Ok()
            .content_type(content_type)
            .insert_header((CACHE_CONTROL, "no-cache"))
            .insert_header((CONTENT_SECURITY_POLICY, PAGE_POLICY))
            .body(body),
    )
}
