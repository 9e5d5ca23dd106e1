//! Every error of the web page, answered as an HTML page a person can act on.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use maud::html;

use crate::domain::PatchRejected;
use crate::store::WriteError;
use crate::web::layout;

/// An error page. Each variant's doc names its HTTP status.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WebError {
    /// 400: the form cannot be read (wrong content type, not urlencoded).
    #[error("{0}")]
    BadRequest(String),
    /// 408: the form did not arrive in time.
    #[error("{0}")]
    RequestTimeout(String),
    /// 404: no such order or page.
    #[error("{0}")]
    NotFound(String),
    /// 405: the page exists, the method does not.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 409: the order's state does not allow the change.
    #[error("{0}")]
    Conflict(String),
    /// 412: the order changed since the page was shown.
    #[error("{0}")]
    PreconditionFailed(String),
    /// 413: the form is larger than allowed.
    #[error("The form is larger than {0} bytes.")]
    PayloadTooLarge(usize),
    /// 422: a parameter is not one the page understands.
    #[error("{0}")]
    Unprocessable(String),
    /// 503: the service cannot take changes right now.
    #[error("{0}")]
    Unavailable(String),
    /// 500: a bug or an unexpected failure; details go to the log, not to the page.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl WebError {
    fn title(&self) -> &'static str {
        match self {
            WebError::BadRequest(_) => "The form could not be read",
            WebError::RequestTimeout(_) => "The form took too long to arrive",
            WebError::NotFound(_) => "Not found",
            WebError::MethodNotAllowed(_) => "Not allowed",
            WebError::Conflict(_) => "That change is not allowed",
            WebError::PreconditionFailed(_) => "The order has changed",
            WebError::PayloadTooLarge(_) => "The form is too large",
            WebError::Unprocessable(_) => "That request is not understood",
            WebError::Unavailable(_) => "Changes are not possible right now",
            WebError::Internal(_) => "Something went wrong",
        }
    }

    fn message(&self) -> String {
        match self {
            WebError::Internal(_) => "An internal error occurred; it has been logged.".to_owned(),
            other => other.to_string(),
        }
    }
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self {
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            WebError::NotFound(_) => StatusCode::NOT_FOUND,
            WebError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            WebError::Conflict(_) => StatusCode::CONFLICT,
            WebError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            WebError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            WebError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            WebError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let WebError::Internal(error) = self {
            tracing::error!(error = ?error, "page request failed");
        }
        let content = html! {
            h1 { (self.title()) }
            p #error-message { (self.message()) }
            p { a href=(super::list_path()) { "Back to the orders" } }
        };
        layout::html_response(self.status_code(), layout::page(self.title(), content))
    }
}

impl From<WriteError> for WebError {
    fn from(error: WriteError) -> WebError {
        // Exhaustive on purpose: `non_exhaustive` does not apply inside the crate, so a new
        // variant fails to compile here instead of becoming a 500.
        match error {
            WriteError::NotFound(id) => WebError::NotFound(format!("There is no order {id}.")),
            WriteError::Rejected(PatchRejected(reason)) => WebError::Conflict(reason),
            WriteError::PreconditionFailed { .. } => {
                WebError::PreconditionFailed(error.to_string())
            }
            WriteError::IdempotencyKeyReused(_) => WebError::Unprocessable(error.to_string()),
            WriteError::Unavailable(_) => WebError::Unavailable(error.to_string()),
        }
    }
}

/// The order with this id in a URL; text that is not a UUID names no order, so it is a 404
/// like any other unknown id.
pub(crate) fn order_id(text: &str) -> Result<uuid::Uuid, WebError> {
    text.parse()
        .map_err(|_| WebError::NotFound(format!("There is no order {text}.")))
}
