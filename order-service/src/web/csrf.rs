//! The CSRF token of a signed-in page, as the hidden field every form of the page carries. The
//! authentication checks it on every change made with the session's cookie; without a tokens
//! file there is no session and the field is left out.

use std::convert::Infallible;
use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use maud::{Markup, Render, html};
use shared_events::app::auth::session::{CSRF_FIELD, CsrfToken};

/// The hidden `csrf` field of the request's session, if it has one.
#[derive(Debug, Clone, Default)]
pub(crate) struct CsrfField(Option<CsrfToken>);

impl FromRequest for CsrfField {
    type Error = Infallible;
    type Future = Ready<Result<CsrfField, Infallible>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(CsrfField(
            request.extensions().get::<CsrfToken>().cloned(),
        )))
    }
}

impl Render for CsrfField {
    fn render(&self) -> Markup {
        html! {
            @if let Some(token) = &self.0 {
                input type="hidden" name=(CSRF_FIELD) value=(token.0);
            }
        }
    }
}
