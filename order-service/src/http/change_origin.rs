//! [`ChangeOrigin`] as an extractor, for every handler that changes an order (the API's and
//! the page's): the caller the authentication let in, and the request's trace context.

use std::convert::Infallible;
use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use shared_events::app::auth::Caller;
use shared_events::app::request_trace::RequestTrace;

use crate::domain::ChangeOrigin;

impl FromRequest for ChangeOrigin {
    type Error = Infallible;
    type Future = Ready<Result<ChangeOrigin, Infallible>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let extensions = request.extensions();
        ready(Ok(ChangeOrigin {
            traceparent: extensions
                .get::<RequestTrace>()
                .and_then(RequestTrace::traceparent),
            changed_by: extensions.get::<Caller>().map(|caller| caller.name.clone()),
        }))
    }
}
