//! The errors every service's API answers, in the one error envelope.

use actix_web::error::{JsonPayloadError, PayloadError};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::error::Category;

use crate::app::error_envelope::{ErrorDetail, INTERNAL_MESSAGE};
use crate::app::request_guard;

/// An error answer. Each variant's doc names its HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request cannot be read (malformed JSON, wrong content type).
    #[error("{message}")]
    BadRequest {
        /// Machine-readable reason.
        code: &'static str,
        /// What is wrong.
        message: String,
    },
    /// 404: no such resource or route.
    #[error("{0}")]
    NotFound(String),
    /// 405: the route exists, the method does not.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 408: the request body did not arrive in time.
    #[error("{0}")]
    RequestTimeout(String),
    /// 409: the resource's state does not allow the change.
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
    #[error("{field}: {message}")]
    InvalidField {
        /// The JSON path of the field (`items[2].quantity`).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// 422: the request is well-formed but cannot be accepted (a bad query parameter, a reused
    /// `Idempotency-Key`); `field` names the parameter or header to blame.
    #[error("{field}: {message}")]
    Unprocessable {
        /// Machine-readable reason.
        code: &'static str,
        /// The query parameter, header or body field to blame (`limit`, `Idempotency-Key`).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// 503: the service cannot do its work right now.
    #[error("{0}")]
    Unavailable(String),
    /// 500: a bug or an unexpected failure; details go to the log, not to the client.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// The machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. } | ApiError::Unprocessable { code, .. } => code,
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::RequestTimeout(_) => "request_timeout",
            ApiError::Conflict(_) => "conflict",
            ApiError::PreconditionFailed(_) => "precondition_failed",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::InvalidField { .. } => "invalid_field",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    /// The `error` object of the envelope: an internal error's details stay in the log.
    pub fn detail(&self) -> ErrorDetail<'_> {
        let message = match self {
            ApiError::Internal(_) => INTERNAL_MESSAGE.to_owned(),
            other => other.to_string(),
        };
        let field = match self {
            ApiError::InvalidField { field, .. } | ApiError::Unprocessable { field, .. } => {
                Some(field.as_str())
            }
            _ => None,
        };
        ErrorDetail {
            code: self.code(),
            message,
            field,
        }
    }

    /// The answer to a JSON body that could not be read: broken JSON is 400, JSON of the wrong
    /// shape 422, a body over `limit` 413.
    pub fn from_json(error: &JsonPayloadError, limit: usize) -> ApiError {
        match error {
            JsonPayloadError::Deserialize(error) if error.classify() == Category::Data => {
                let message = without_position(error);
                ApiError::InvalidField {
                    field: named_field(&message).unwrap_or("body").to_owned(),
                    message,
                }
            }
            JsonPayloadError::Deserialize(error) => ApiError::BadRequest {
                code: "malformed_json",
                message: format!("the body is not valid JSON: {}", without_position(error)),
            },
            JsonPayloadError::ContentType => ApiError::BadRequest {
                code: "unsupported_content_type",
                message: "Content-Type must be application/json".to_owned(),
            },
            JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
                ApiError::PayloadTooLarge { limit }
            }
            JsonPayloadError::Payload(error) => ApiError::from_payload(error),
            other => ApiError::BadRequest {
                code: "unreadable_body",
                message: format!("the request body could not be read: {other}"),
            },
        }
    }

    /// The answer to a body that could not be read: 408 if it took too long, else 400.
    pub fn from_payload(error: &PayloadError) -> ApiError {
        if request_guard::is_timeout(error) {
            ApiError::RequestTimeout(error.to_string())
        } else {
            ApiError::BadRequest {
                code: "unreadable_body",
                message: format!("the request body could not be read: {error}"),
            }
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::InvalidField { .. } | ApiError::Unprocessable { .. } => {
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

/// The field a serde message names: `x` in "missing field `x`", "unknown field `x`, expected
/// ..." and "duplicate field `x`", wherever the message has it.
pub fn named_field(message: &str) -> Option<&str> {
    let rest = ["missing field `", "unknown field `", "duplicate field `"]
        .iter()
        .find_map(|prefix| message.find(prefix).map(|at| &message[at + prefix.len()..]))?;
    rest.split('`').next()
}

/// serde_json's messages end with "at line 1 column 23"; clients need the reason, not offsets.
pub fn without_position(error: &serde_json::Error) -> String {
    let message = error.to_string();
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message,
    }
}
