//! Every error the API answers, as `{"error": {"code", "message"}}`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use shared_events::app::error_envelope::{ErrorDetail, INTERNAL_MESSAGE};

use crate::domain::{FieldError, PatchRejected};
use crate::store::WriteError;

/// An error answer. Each variant's doc names its HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request cannot be read (malformed JSON, wrong content type, bad header).
    #[error("{message}")]
    BadRequest {
        /// Machine-readable reason.
        code: &'static str,
        /// What is wrong.
        message: String,
    },
    /// 404: no such order or route.
    #[error("{0}")]
    NotFound(String),
    /// 405: the route exists, the method does not.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 409: the order's state does not allow the change.
    #[error("{0}")]
    Conflict(String),
    /// 412: `If-Match` names another version.
    #[error("{0}")]
    PreconditionFailed(String),
    /// 413: the body is larger than allowed.
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// 422: a field breaks a rule.
    #[error(transparent)]
    InvalidField(#[from] FieldError),
    /// 422: the request is well-formed but cannot be accepted (bad query, reused key).
    #[error("{message}")]
    Unprocessable {
        /// Machine-readable reason.
        code: &'static str,
        /// What is wrong.
        message: String,
    },
    /// 503: the service cannot take changes right now.
    #[error("{0}")]
    Unavailable(String),
    /// 500: a bug or an unexpected failure; details go to the log, not to the client.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// The `error` object of every error answer.
impl ApiError {
    /// The machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. } | ApiError::Unprocessable { code, .. } => code,
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::Conflict(_) => "conflict",
            ApiError::PreconditionFailed(_) => "precondition_failed",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::InvalidField(_) => "invalid_field",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    /// The `error` object for this error.
    pub(crate) fn detail(&self) -> ErrorDetail<'_> {
        let message = match self {
            ApiError::Internal(_) => INTERNAL_MESSAGE.to_owned(),
            other => other.to_string(),
        };
        let field = match self {
            ApiError::InvalidField(error) => Some(error.field.as_str()),
            _ => None,
        };
        ErrorDetail {
            code: self.code(),
            message,
            field,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::InvalidField(_) | ApiError::Unprocessable { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(error) = self {
            tracing::error!(error = ?error, "request failed");
        }
        self.detail().respond(self.status_code())
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
                message: error.to_string(),
            },
            WriteError::Unavailable(_) => ApiError::Unavailable(error.to_string()),
            // WriteError is non-exhaustive; anything new is a server-side failure until mapped.
            #[allow(unreachable_patterns)]
            other => ApiError::Internal(anyhow::Error::new(other)),
        }
    }
}
