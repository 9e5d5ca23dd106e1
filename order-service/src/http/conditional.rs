//! `ETag` and `If-Match`: an order's entity tag is its version.

use actix_web::HttpRequest;
use actix_web::http::header::IF_MATCH;

use crate::http::ApiError;
use crate::store::IfMatch;

/// The strong entity tag of an order at `version`: `"3"`.
pub(crate) fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

/// The request's `If-Match` condition, if it has one.
pub(crate) fn if_match(request: &HttpRequest) -> Result<Option<IfMatch>, ApiError> {
    let mut versions = Vec::new();
    let mut any = false;
    let mut seen = false;
    for value in request.headers().get_all(IF_MATCH) {
        seen = true;
        let text = value.to_str().map_err(|_| malformed())?;
        for tag in text.split(',').map(str::trim).filter(|tag| !tag.is_empty()) {
            if tag == "*" {
                any = true;
            } else if let Some(weak) = tag.strip_prefix("W/") {
                // If-Match compares strongly: a weak tag is well-formed but never matches.
                quoted(weak).ok_or_else(malformed)?;
            } else {
                let opaque = quoted(tag).ok_or_else(malformed)?;
                versions.extend(opaque.parse::<u64>().ok());
            }
        }
    }
    Ok(match (seen, any) {
        (false, _) => None,
        (true, true) => Some(IfMatch::Any),
        (true, false) => Some(IfMatch::Versions(versions)),
    })
}

fn quoted(tag: &str) -> Option<&str> {
    tag.strip_prefix('"')?.strip_suffix('"')
}

fn malformed() -> ApiError {
    ApiError::BadRequest {
        code: "malformed_if_match",
        message: "If-Match must be `*` or entity tags such as \"3\"".to_owned(),
    }
}
