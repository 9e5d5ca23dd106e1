//! Liveness and readiness probes.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::http::ApiError;
use crate::store::OrderStore;

/// `GET /health/live`: the process answers.
pub(crate) async fn live() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "live" }))
}

/// `GET /health/ready`: the store can take changes.
pub(crate) async fn ready(store: web::Data<OrderStore>) -> Result<HttpResponse, ApiError> {
    if store.is_writable() {
        Ok(HttpResponse::Ok().json(json!({ "status": "ready", "orders": store.len() })))
    } else {
        Err(ApiError::Unavailable(
            "the order store cannot write".to_owned(),
        ))
    }
}
