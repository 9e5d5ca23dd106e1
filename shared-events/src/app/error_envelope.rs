//! The one shape of every error answer of every service:
//! `{"error": {"code": "...", "message": "...", "field": "..."}}` (`field` only where a field
//! is to blame).

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use serde::Serialize;

/// The body of an error answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorEnvelope<'a> {
    /// What went wrong.
    pub error: ErrorDetail<'a>,
}

/// What went wrong: a machine-readable code, a sentence for people, and the field to blame.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail<'a> {
    /// Machine-readable reason, such as `not_found`.
    pub code: &'a str,
    /// What is wrong, for people.
    pub message: String,
    /// The field to blame, such as `items[2].quantity`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'a str>,
}

/// The message a client sees for an internal error: the details go to the log only.
pub const INTERNAL_MESSAGE: &str = "an internal error occurred; it has been logged";

impl ErrorDetail<'_> {
    /// The answer with `status` and this detail as its body.
    pub fn respond(self, status: StatusCode) -> HttpResponse {
        HttpResponse::build(status).json(ErrorEnvelope { error: self })
    }
}
