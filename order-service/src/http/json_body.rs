//! Reading a JSON request body: content type, size limit, syntax (400) versus fields (422).

use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::{HttpRequest, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::error::Category;
use shared_events::app::api_error::{named_field, without_position};

use crate::domain::{BodyLimit, FieldError, Object};
use crate::http::ApiError;

/// Reads the whole body of a JSON request, refusing other content types and oversized bodies.
pub(crate) async fn read_body(
    request: &HttpRequest,
    mut payload: web::Payload,
    limit: BodyLimit,
) -> Result<web::Bytes, ApiError> {
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence != "application/json"
        && !(essence.starts_with("application/") && essence.ends_with("+json"))
    {
        return Err(ApiError::BadRequest {
            code: "unsupported_content_type",
            message: format!("Content-Type must be application/json, not `{content_type}`"),
        });
    }
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit.0) {
        return Err(ApiError::PayloadTooLarge { limit: limit.0 });
    }
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(1024).min(limit.0));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|error| ApiError::from_payload(&error))?;
        if body.len() + chunk.len() > limit.0 {
            return Err(ApiError::PayloadTooLarge { limit: limit.0 });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Parses a JSON object into `T`: broken JSON is 400, JSON of the wrong shape (an array, say)
/// is 422 naming the field.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let malformed = |error: &serde_json::Error| ApiError::BadRequest {
        code: "malformed_json",
        message: format!("the body is not valid JSON: {}", without_position(error)),
    };
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let Object(value) = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if inner.classify() != Category::Data {
            return malformed(&inner);
        }
        let message = without_position(&inner);
        // For a missing field the path names the object that should hold it (for an unknown
        // one, the field itself).
        let missing = named_field(&message).filter(|_| message.starts_with("missing field"));
        let field = match (path.as_str(), missing) {
            (".", Some(name)) => name.to_owned(),
            (".", None) => "body".to_owned(),
            (_, Some(name)) => format!("{path}.{name}"),
            (_, None) => path,
        };
        ApiError::from(FieldError::new(field, message))
    })?;
    deserializer.end().map_err(|error| malformed(&error))?;
    Ok(value)
}
