//! Liveness and readiness probes.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::http::ApiError;
use crate::outbox_relay::SharedRelayStatus;
use crate::store::OrderStore;

/// `GET /health/ready`: the store can take changes; also how far the outbox is.
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
