//! The order API's errors are the shared [`ApiError`]; here is how the order domain's and the
//! store's failures map onto it.

pub use shared_events::app::api_error::ApiError;

use crate::domain::{FieldError, PatchRejected};
use crate::store::WriteError;

impl From<FieldError> for ApiError {
    fn from(error: FieldError) -> ApiError {
        ApiError::InvalidField {
            field: error.field,
            message: error.message,
        }
    }
}

impl From<WriteError> for ApiError {
    fn from(error: WriteError) -> ApiError {
        match error {
            WriteError::NotFound(_) => ApiError::NotFound(error.to_string()),
            WriteError::Rejected(PatchRejected(reason)) => ApiError::Conflict(reason),
            WriteError::PreconditionFailed { .. } => {
                ApiError::PreconditionFailed(error.to_string())
            }
            WriteError::IdempotencyKeyReused(_) => ApiError::Unprocessable {
                code: "idempotency_key_reused",
                field: "Idempotency-Key".to_owned(),
                message: error.to_string(),
            },
            WriteError::Unavailable(_) => ApiError::Unavailable(error.to_string()),
            // WriteError is non-exhaustive; anything new is a server-side failure until mapped.
            #[allow(unreachable_patterns)]
            other => ApiError::Internal(anyhow::Error::new(other)),
        }
    }
}
