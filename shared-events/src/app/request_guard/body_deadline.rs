//! A request body must arrive within a deadline: otherwise a client that sends a header and then
//! one byte a minute holds a request, and its memory, for as long as it likes. The payload is
//! wrapped in a stream that fails with `TimedOut` once the deadline passes; whoever reads the
//! body answers 408.

use std::io;
use std::time::Duration;

use actix_http::BoxedPayloadStream;
use actix_web::HttpMessage;
use actix_web::dev::{Payload, ServiceRequest};
use actix_web::error::PayloadError;
use actix_web::http::Version;
use actix_web::http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use futures_util::StreamExt;

/// Makes reading `request`'s body fail once `timeout` has passed since now.
pub(super) fn limit(request: &mut ServiceRequest, timeout: Duration) {
    if !may_have_body(request) {
        return;
    }
    let deadline = tokio::time::Instant::now() + timeout;
    let payload = request.take_payload();
    let limited = futures_util::stream::unfold(Some(payload), move |payload| async move {
        let mut payload = payload?;
        match tokio::time::timeout_at(deadline, payload.next()).await {
            Ok(Some(chunk)) => Some((chunk, Some(payload))),
            Ok(None) => None,
            Err(_) => {
                let error = io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "the request body did not arrive within {} ms",
                        timeout.as_millis()
                    ),
                );
                Some((Err(PayloadError::Io(error)), None))
            }
        }
    });
    request.set_payload(Payload::from(Box::pin(limited) as BoxedPayloadStream));
}

/// Whether reading `error` failed because the body took longer than allowed.
pub fn is_timeout(error: &PayloadError) -> bool {
    matches!(error, PayloadError::Io(error) if error.kind() == io::ErrorKind::TimedOut)
}

/// An HTTP/1 request without `Content-Length` or `Transfer-Encoding` has no body; HTTP/2 may
/// send one without either.
fn may_have_body(request: &ServiceRequest) -> bool {
    let headers = request.headers();
    match headers.get(CONTENT_LENGTH) {
        Some(length) => length.as_bytes() != b"0",
        None => headers.contains_key(TRANSFER_ENCODING) || request.version() >= Version::HTTP_2,
    }
}
