//! `Idempotency-Key`: a retried create answers like the first one and creates nothing.

use actix_web::HttpRequest;
use sha2::{Digest, Sha256};

use crate::http::ApiError;
use crate::store::IdempotencyStamp;

/// The header's name.
pub(crate) const HEADER: &str = "idempotency-key";

/// The request's key, if it sent one; 1 to 255 visible ASCII characters.
pub(crate) fn key(request: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = request.headers().get(HEADER) else {
        return Ok(None);
    };
    let key = value.to_str().ok().filter(|key| {
        (1..=255).contains(&key.len()) && key.bytes().all(|byte| byte.is_ascii_graphic())
    });
    match key {
        Some(key) => Ok(Some(key.to_owned())),
        None => Err(ApiError::BadRequest {
            code: "malformed_idempotency_key",
            message: "Idempotency-Key must be 1 to 255 visible ASCII characters".to_owned(),
        }),
    }
}

/// Binds `key` to the body: the JSON in canonical form (keys sorted, no spaces), hashed, so that
/// the same order sent with other spacing or key order counts as the same request.
pub(crate) fn stamp(key: String, body: &[u8]) -> IdempotencyStamp {
    let canonical = serde_json::from_slice::<serde_json::Value>(body)
        .and_then(|value| serde_json::to_vec(&value))
        .unwrap_or_else(|_| body.to_vec());
    let digest = Sha256::digest(&canonical);
    let fingerprint = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    IdempotencyStamp { key, fingerprint }
}
