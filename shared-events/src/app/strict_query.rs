//! A query string read strictly. actix's `web::Query` decodes percent-escapes that are not UTF-8
//! into U+FFFD, so `?customer=%FF` would quietly search for "\u{FFFD}"; [`StrictQuery`] refuses
//! such a query with a 400 instead, then reads it as `web::Query` does (with the app's
//! `QueryConfig`, so the same 422s for unknown or repeated parameters).

use std::future::{Ready, ready};
use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use percent_encoding::percent_decode_str;
use serde::de::DeserializeOwned;

use crate::app::api_error::ApiError;

/// The request's query as `T`, from a query string that is UTF-8 once decoded.
#[derive(Debug)]
pub struct StrictQuery<T>(pub T);

impl<T> StrictQuery<T> {
    /// The query.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for StrictQuery<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned> FromRequest for StrictQuery<T> {
    type Error = actix_web::Error;
    type Future = Ready<Result<StrictQuery<T>, actix_web::Error>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if !is_utf8_once_decoded(request.query_string()) {
            return ready(Err(ApiError::BadRequest {
                code: "malformed_query",
                message: "the query string is not UTF-8 once its percent-escapes are decoded"
                    .to_owned(),
            }
            .into()));
        }
        ready(
            web::Query::<T>::from_request(request, payload)
                .into_inner()
                .map(|query| StrictQuery(query.into_inner())),
        )
    }
}

/// Whether every name and value of `query` decodes to UTF-8 (`+` is a space, which is).
fn is_utf8_once_decoded(query: &str) -> bool {
    query
        .split('&')
        .all(|pair| percent_decode_str(pair).decode_utf8().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_that_are_not_utf8_are_told_apart() {
        assert!(is_utf8_once_decoded("customer=Ad%C3%A9le&limit=5"));
        assert!(is_utf8_once_decoded("customer=a+b&x"));
        assert!(is_utf8_once_decoded(""));
        assert!(!is_utf8_once_decoded("customer=%FF"));
        assert!(!is_utf8_once_decoded("limit=5&customer=%C3"));
        assert!(!is_utf8_once_decoded("%ED%A0%80=1"));
    }
}
