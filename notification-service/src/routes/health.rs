//! Liveness and readiness probes.

use actix_web::{HttpResponse, web};
use serde_json::json;
use shared_events::app::api_error::ApiError;
use shared_events::runtime::shards::ShardLedgers;
use shared_events::storage::durable_state::DurableStateError;

use crate::handler::Postman;
use crate::ledger::Ledger;

/// `GET /health/ready`: the owned shards' ledgers can record notifications; with what was
/// handled since start.
pub(crate) async fn ready(
    ledgers: web::Data<ShardLedgers<Ledger>>,
    postman: web::Data<Postman>,
) -> Result<HttpResponse, ApiError> {
    if !ledgers.is_writable() {
        return Err(ApiError::Unavailable(format!(
            "the ledger cannot record: {}",
            DurableStateError::Failed
        )));
    }
    let notifications: usize = ledgers
        .read_each(Ledger::len)
        .map_err(|error| ApiError::Unavailable(format!("the ledger cannot be read: {error}")))?
        .into_iter()
        .sum();
    Ok(HttpResponse::Ok().json(json!({
        "status": "ready",
        "notifications": notifications,
        "mailer": postman.mailer().to_string(),
        "events": postman.counts(),
    })))
}
