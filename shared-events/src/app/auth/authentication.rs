//! Who is calling: every request but health, metrics and the API documents must carry
//! `Authorization: Bearer <token>` of a token in the tokens file, with a role that may do what
//! the request does, once that file exists. Without a tokens file the service is open, as it
//! was before tokens existed; making the first token (`tokens create`) closes it, with no
//! restart.
//!
//! Missing or unknown credentials are answered 401 with `WWW-Authenticate: Bearer`; a role that
//! may not do it, 403. An address that sent too many unknown tokens gets 429 for a while,
//! whatever it sends. Reads (GET, HEAD, OPTIONS) need [`Permission::Read`]; any other method
//! needs the permission the service names for its changes. The caller is put in the request's
//! extensions for the handlers.

use std::sync::Arc;
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{AUTHORIZATION, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpResponse};

use crate::app::auth::api_tokens::{TokenError, TokenStore, TokensFile};
use crate::app::auth::failed_attempts::FailedAttempts;
use crate::app::auth::{Caller, Permission};
use crate::app::error_envelope::ErrorDetail;
use crate::app::settings::AuthSettings;

/// The check of one HTTP server; cheap to clone into each worker.
#[derive(Clone)]
pub struct Authentication(Arc<Policy>);

struct Policy {
    tokens: TokenStore,
    changes: Permission,
    failures: FailedAttempts,
}

impl Authentication {
    /// The check of a service whose changes (POST, PUT, PATCH, DELETE) need `changes`. Reads
    /// the tokens file once, so that a damaged one stops the service at its start.
    pub fn new(settings: &AuthSettings, changes: Permission) -> Result<Authentication, TokenError> {
        let tokens = TokenStore::open(&settings.tokens_file);
        tokens.tokens()?;
        let failures = FailedAttempts::new(
            settings.failure_limit.max(1),
            Duration::from_secs(settings.lockout_secs),
        );
        Ok(Authentication(Arc::new(Policy {
            tokens,
            changes,
            failures,
        })))
    }

    /// The middleware: `.wrap(from_fn(move |request, next| auth.clone().check(request, next)))`.
    pub async fn check(
        self,
        request: ServiceRequest,
        next: Next<impl MessageBody>,
    ) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
        if is_open(request.path()) {
            return Ok(next.call(request).await?.map_into_left_body());
        }
        match self.caller(&request) {
            Ok(None) => Ok(next.call(request).await?.map_into_left_body()),
            Ok(Some(caller)) => {
                request.extensions_mut().insert(caller);
                Ok(next.call(request).await?.map_into_left_body())
            }
            Err(refusal) => Ok(request
                .into_response(refusal.answer())
                .map_into_right_body()),
        }
    }

    /// Who is calling (`None`: tokens are not required), or why the request is refused.
    fn caller(&self, request: &ServiceRequest) -> Result<Option<Caller>, Refusal> {
        let tokens: TokensFile = match self.0.tokens.tokens() {
            Ok(None) => return Ok(None),
            Ok(Some(tokens)) => tokens,
            Err(error) => {
                tracing::error!(error = %error, "cannot read the tokens file: every request is refused until it can");
                return Err(Refusal::TokensUnreadable);
            }
        };
        let address = request.peer_addr().map(|peer| peer.ip());
        if let Some(wait) = address.and_then(|address| self.0.failures.refused_for(address)) {
            return Err(Refusal::TooManyFailures(wait));
        }
        let presented = bearer_token(request).ok_or(Refusal::NoToken)?;
        let caller = tokens.holder(presented).ok_or_else(|| {
            if let Some(address) = address {
                self.0.failures.record(address);
            }
            Refusal::UnknownToken
        })?;
        let needed = if is_read(request.method()) {
            Permission::Read
        } else {
            self.0.changes
        };
        if caller.role.may(needed) {
            Ok(Some(caller))
        } else {
            Err(Refusal::RoleTooWeak(caller, needed))
        }
    }
}

/// Health and metrics reveal nothing about customers, and orchestrators and Prometheus call
/// them without a token; the API documents describe routes, not data.
fn is_open(path: &str) -> bool {
    path == "/metrics"
        || path.starts_with("/health/")
        || matches!(path, "/openapi.json" | "/api-docs" | "/api-docs.js")
}

fn is_read(method: &Method) -> bool {
    [Method::GET, Method::HEAD, Method::OPTIONS].contains(method)
}

/// The token of an `Authorization: Bearer <token>` header (the scheme in any case).
fn bearer_token(request: &ServiceRequest) -> Option<&str> {
    let value = request.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

/// A request refused for who sent it.
enum Refusal {
    /// 401: no `Authorization: Bearer` header.
    NoToken,
    /// 401: a token that is not (or no longer) in the tokens file.
    UnknownToken,
    /// 403: a valid token whose role may not do this.
    RoleTooWeak(Caller, Permission),
    /// 503: the tokens file cannot be read; nobody can be let in.
    TokensUnreadable,
    /// 429: the address sent too many bad credentials; it may try again after this long.
    TooManyFailures(Duration),
}

impl Refusal {
    fn answer(self) -> HttpResponse {
        let retry_after = match &self {
            Refusal::TooManyFailures(wait) => Some(wait.as_secs().max(1)),
            _ => None,
        };
        let (status, code, message, challenge) = match self {
            Refusal::NoToken => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "this service needs a token: send `Authorization: Bearer <token>` (an \
                 administrator makes one with `tokens create`)"
                    .to_owned(),
                Some(r#"Bearer realm="orders""#),
            ),
            Refusal::UnknownToken => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "the token is not valid: it was never made here, or it was revoked".to_owned(),
                Some(r#"Bearer realm="orders", error="invalid_token""#),
            ),
            Refusal::RoleTooWeak(caller, needed) => (
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "the token `{}` has the role {}, which may not {}",
                    caller.name,
                    caller.role,
                    describe(needed)
                ),
                None,
            ),
            Refusal::TooManyFailures(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_failures",
                "too many bad credentials came from this address: try again later".to_owned(),
                None,
            ),
            Refusal::TokensUnreadable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "tokens_unreadable",
                "the service cannot read its tokens file; the error is in its log".to_owned(),
                None,
            ),
        };
        let mut answer = ErrorDetail {
            code,
            message,
            field: None,
        }
        .respond(status);
        if let Some(seconds) = retry_after {
            answer
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(challenge) = challenge {
            answer
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        answer
    }
}

fn describe(permission: Permission) -> &'static str {
    match permission {
        Permission::Read => "read here",
        Permission::ChangeOrders => "create, change or delete orders",
        Permission::SetStock => "set stock levels",
        Permission::Administer => "make changes here (only an administrator may)",
    }
}
