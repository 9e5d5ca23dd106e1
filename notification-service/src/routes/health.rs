//! Liveness and readiness probes.

use actix_web::{HttpResponse, web};
use serde_json::json;

use shared_events::storage::durable_state::DurableStateError;

use crate::handler::Notifier;
use shared_events::app::api_error::ApiError;

/// `GET /health/ready`: the ledger can record notifications; with what was handled since start.
pub(crate) async fn ready(notifier: web::Data<Notifier>) -> Result<HttpResponse, ApiError> {
    let ledger = notifier.ledger();
    if !ledger.is_writable() {
        return Err(ApiError::Unavailable(format!(
            "the ledger cannot record: {}",
            DurableStateError::Failed
        )));
    }
    Ok(HttpResponse::Ok().json(json!({
        "status": "ready",
        "notifications": ledger.read(|ledger| ledger.len()),
        "mailer": notifier.mailer().to_string(),
        "events": notifier.counts(),
    })))
}
