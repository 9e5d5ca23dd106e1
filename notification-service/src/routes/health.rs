//! Liveness and readiness probes.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::handler::Notifier;
use crate::routes::ApiError;

/// `GET /health/live`: the process answers.
pub(crate) async fn live() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "live" }))
}

/// `GET /health/ready`: the ledger can record notifications; with what was handled since start.
pub(crate) async fn ready(notifier: web::Data<Notifier>) -> Result<HttpResponse, ApiError> {
    // A decision without a change writes nothing, but fails once an earlier write has failed.
    notifier
        .ledger()
        .transact(|ledger| (None, ledger.len()))
        .await
        .map(|notifications| {
            HttpResponse::Ok().json(json!({
                "status": "ready",
                "notifications": notifications,
                "mailer": notifier.mailer().to_string(),
                "events": notifier.counts(),
            }))
        })
        .map_err(|error| ApiError::Unavailable(format!("the ledger cannot record: {error}")))
}
