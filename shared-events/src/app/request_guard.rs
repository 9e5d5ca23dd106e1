//! What every service checks of a request before its routes see it, and adds to every answer.
//! Browsers are the reason: a page of another site can make a clerk's browser send requests to
//! this service, either to its real name (cross-site request forgery) or to a name of the
//! attacker's that resolves here (DNS rebinding). Health and metrics stay open to any Host, as
//! orchestrators and Prometheus call them by address.
//!
//! - `allowed_hosts`: the Host names the server answers (`ORDERS__HTTP__ALLOWED_HOSTS`).
//! - `cross_site`: a change (POST, PUT, PATCH, DELETE) sent by a page of another origin is
//!   refused, by the browser's own `Sec-Fetch-Site` and `Origin` headers.
//! - `body_deadline`: a request body must arrive within `ORDERS__HTTP__BODY_TIMEOUT_MS`, so
//!   that a client trickling bytes cannot hold a worker's request open for ever.
//!
//! Every answer also carries `Referrer-Policy: same-origin` (order ids in URLs stay here) and,
//! under HTTPS, `Strict-Transport-Security`.

mod allowed_hosts;
mod body_deadline;
mod cross_site;

pub use self::body_deadline::is_timeout;

use std::sync::Arc;
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{
    HeaderName, HeaderValue, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY,
};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse};

use self::allowed_hosts::AllowedHosts;
use crate::app::error_envelope::ErrorDetail;
use crate::app::settings::HttpSettings;

/// HSTS for a year: once a browser has seen the service over HTTPS, it never tries plain HTTP.
const HSTS: &str = "max-age=31536000";

/// The checks of one HTTP server, from its settings; cheap to clone into each worker.
#[derive(Clone)]
pub struct RequestGuard(Arc<Policy>);

struct Policy {
    hosts: AllowedHosts,
    body_timeout: Duration,
    https: bool,
}

impl RequestGuard {
    /// The checks `settings` ask for.
    pub fn new(settings: &HttpSettings) -> RequestGuard {
        RequestGuard(Arc::new(Policy {
            hosts: AllowedHosts::new(settings.allowed_hosts.as_deref(), settings.addr),
            body_timeout: Duration::from_millis(settings.body_timeout_ms),
            https: settings.tls.cert_file.is_some(),
        }))
    }

    /// The middleware: `.wrap(from_fn(move |request, next| guard.clone().check(request, next)))`.
    pub async fn check(
        self,
        mut request: ServiceRequest,
        next: Next<impl MessageBody>,
    ) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
        let mut response = match self.refusal(&request).map(Refusal::answer) {
            Some(answer) => request.into_response(answer).map_into_right_body(),
            None => {
                body_deadline::limit(&mut request, self.0.body_timeout);
                next.call(request).await?.map_into_left_body()
            }
        };
        let headers = response.headers_mut();
        headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
        if self.0.https {
            headers.insert(STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
        }
        Ok(response)
    }

    /// Why `request` is refused, if it is.
    fn refusal(&self, request: &ServiceRequest) -> Option<Refusal> {
        let headers = request.headers();
        let host = allowed_hosts::requested_host(headers, request.uri());
        if !is_open(request.path()) && !self.0.hosts.allows(host.as_deref()) {
            return Some(Refusal::HostNotAllowed(host));
        }
        cross_site::is_refused(request.method(), headers).then_some(Refusal::CrossSite)
    }
}

/// Health and metrics reveal nothing about customers and are read by address.
fn is_open(path: &str) -> bool {
    path == "/metrics" || path.starts_with("/health/")
}

/// A request the guard answers itself.
enum Refusal {
    /// 400: the Host header names a server this is not configured to be.
    HostNotAllowed(Option<String>),
    /// 403: a page of another origin asked for a change.
    CrossSite,
}

impl Refusal {
    fn answer(self) -> HttpResponse {
        let (status, code, message) = match self {
            Refusal::HostNotAllowed(host) => (
                StatusCode::BAD_REQUEST,
                "host_not_allowed",
                match host {
                    Some(host) => format!(
                        "this server does not answer to the host name `{host}`; \
                         ORDERS__HTTP__ALLOWED_HOSTS lists the names it does"
                    ),
                    None => "the request names no Host".to_owned(),
                },
            ),
            Refusal::CrossSite => (
                StatusCode::FORBIDDEN,
                "cross_site_request",
                "a page of another origin may not change anything here".to_owned(),
            ),
        };
        ErrorDetail {
            code,
            message,
            field: None,
        }
        .respond(status)
    }
}

/// `name`'s value as text, if it is there and is text.
fn header_text<'a>(
    headers: &'a actix_web::http::header::HeaderMap,
    name: &HeaderName,
) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}
