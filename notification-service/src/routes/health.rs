//! Liveness and readiness probes.

use actix_web::{HttpResponse, web};
use serde_json::json;
use shared_events::app::api_error::ApiError;
use shared_events::app::error_envelope::ErrorEnvelope;
use shared_events::app::replica_health::ReplicaHealth;
use shared_events::runtime::shards::ShardLedgers;
use shared_events::storage::durable_state::DurableStateError;

use crate::handler::Postman;
use crate::ledger::Ledger;

/// `GET /health/ready`: the replica consumes, and the owned shards' ledgers can record
/// notifications; with what was handled since start.
#[utoipa::path(
    get,
    path = "/health/ready",
    tag = "health",
    responses(
        (status = 200, description = "The replica consumes: `{\"status\": \"ready\", \"notifications\": N, \"mailer\": ..., \"events\": {...}}`.", body = Object),
        (status = 503, description = "The broker is unreachable, the replica owns no shard, or its ledgers or data directory cannot write (a full disk).", body = ErrorEnvelope),
    )
)]
pub(crate) async fn ready(
    replica: web::Data<ReplicaHealth>,
    ledgers: web::Data<ShardLedgers<Ledger>>,
    postman: web::Data<Postman>,
) -> Result<HttpResponse, ApiError> {
    replica.ready()?;
    if !ledgers.is_writable() {
        return Err(ApiError::Unavailable(format!(
            "the ledger cannot record: {}",
            DurableStateError::Failed
        )));
    }
    // A shard of another replica that cannot be read now is that replica's concern, not a
    // reason to take this one out of service: the count is left out instead.
    let notifications: Option<usize> = ledgers
        .read_each(Ledger::len)
        .ok()
        .map(|counts| counts.into_iter().sum());
    Ok(HttpResponse::Ok().json(json!({
        "status": "ready",
        "notifications": notifications,
        "mailer": postman.mailer().to_string(),
        "events": postman.counts(),
    })))
}
