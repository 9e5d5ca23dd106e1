//! The query of a paginated list every consumer API shares: `limit` (1 to 500, default 50) and
//! the opaque `cursor` of the previous page; a bad one is a 422 `invalid_query`.

use std::str::FromStr;

use actix_web::web;

use crate::app::api_error::{ApiError, named_field};
use crate::contract::page_cursor::PageCursor;

/// The page size unless `limit` says otherwise.
pub const DEFAULT_LIMIT: usize = 50;

/// The largest page size.
pub const MAX_LIMIT: usize = 500;

/// Parses `limit` and `cursor` (from `kind`'s cursors) into the position the page starts
/// after and its size.
pub fn page_params<T: FromStr>(
    limit: Option<&str>,
    cursor: Option<&str>,
    kind: &PageCursor,
) -> Result<(Option<T>, usize), ApiError> {
    let limit = match limit {
        None => DEFAULT_LIMIT,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|limit| (1..=MAX_LIMIT).contains(limit))
            .ok_or_else(|| {
                invalid_query(
                    "limit",
                    format!("must be a whole number from 1 to {MAX_LIMIT}"),
                )
            })?,
    };
    let after = match cursor.filter(|text| !text.is_empty()) {
        None => None,
        Some(text) => Some(
            kind.decode(text)
                .ok_or_else(|| invalid_query("cursor", "is not one this service gave out"))?,
        ),
    };
    Ok((after, limit))
}

/// A 422 for the query `parameter` that breaks a rule.
pub fn invalid_query(parameter: &str, message: impl Into<String>) -> ApiError {
    ApiError::Unprocessable {
        code: "invalid_query",
        field: parameter.to_owned(),
        message: message.into(),
    }
}

/// Query errors (`?limit=1&limit=2`, unknown parameters) are 422 like other bad parameters,
/// naming the parameter where serde does (`query` otherwise).
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error, _| {
        let message = error.to_string();
        let parameter = named_field(&message).unwrap_or("query").to_owned();
        invalid_query(&parameter, message).into()
    })
}
