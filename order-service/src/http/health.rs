//! Liveness and readiness probes.

use actix_web::{HttpResponse, web};
use serde_json::json;

use shared_events::app::error_envelope::ErrorEnvelope;

use crate::http::ApiError;
use crate::outbox_relay::SharedRelayStatus;
use crate::store::OrderStore;

/// `GET /health/ready`: the store can take changes; also how far the outbox is.
#[utoipa::path(
    get,
    path = "/health/ready",
    tag = "health",
    responses(
        (status = 200, description = "The store can take changes: `{\"status\": \"ready\", \"orders\": N, \"outbox\": {...}}` with the outbox's progress. It stays ready while the broker is away: the outbox keeps what it cannot publish yet.", body = Object),
        (status = 503, description = "The store cannot write.", body = ErrorEnvelope),
    )
)]
pub(crate) async fn ready(
    store: web::Data<OrderStore>,
    relay: web::Data<SharedRelayStatus>,
) -> Result<HttpResponse, ApiError> {
    if store.is_writable() {
        let relay = relay
            .lock()
            .map(|status| status.clone())
            .unwrap_or_default();
        Ok(HttpResponse::Ok().json(json!({
            "status": "ready",
            "orders": store.len(),
            "outbox": {
                "pending": store.pending_count(),
                "published_through": store.published_through(),
                "relay": relay,
            },
        })))
    } else {
        Err(ApiError::Unavailable(
            "the order store cannot write".to_owned(),
        ))
    }
}
