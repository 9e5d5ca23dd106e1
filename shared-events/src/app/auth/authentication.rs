//! Who is calling: every request but health, metrics and the API documents must carry
//! `Authorization: Bearer <token>` of a token in the tokens file or an OpenID Connect access
//! token (a JWT, when a key set is configured), or the session cookie of a signed-in page, with
//! a role that may do what the request does. Without a tokens file and without a JWT key set
//! the service is open, as it was before tokens existed; making the first token
//! (`tokens create`) closes it, with no restart.
//!
//! Missing or unknown credentials are answered 401 with `WWW-Authenticate: Bearer` (a page's
//! GET, with the way to its sign-in form); a role that may not do it, 403. A change made with a
//! session cookie must carry the session's CSRF token. An address that sent too many unknown
//! tokens gets 429 for a while, whatever it sends. Reads (GET, HEAD, OPTIONS) need
//! [`Permission::Read`]; any other method needs the permission the service names for its
//! changes. The caller (and, with a session, its CSRF token) is put in the request's extensions
//! for the handlers.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::cookie::Cookie;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{
    AUTHORIZATION, HeaderValue, LOCATION, RETRY_AFTER, WWW_AUTHENTICATE,
};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpRequest, HttpResponse, web};
use secrecy::{ExposeSecret, SecretString};

use crate::app::auth::api_tokens::{TokenError, TokenStore, TokensFile};
use crate::app::auth::failed_attempts::FailedAttempts;
use crate::app::auth::jwt::{JwtRefusal, JwtVerifier};
use crate::app::auth::oidc::OidcClient;
use crate::app::auth::session::{
    CSRF_FIELD, CSRF_HEADER, CsrfToken, SESSION_COOKIE, SESSION_LIFETIME, session_cookie,
    signed_out_cookie,
};
use crate::app::auth::{Caller, Permission};
use crate::app::error_envelope::ErrorDetail;
use crate::app::settings::AuthSettings;
use crate::storage::shared_document::DocumentError;

/// The web page's `Content-Security-Policy`: every asset comes from the service and it runs no
/// inline script or style, so injected markup could not load or run code. The page's scope
/// sends it, and so do the refusals this check answers a person at the page with.
pub const PAGE_CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

/// The check of one HTTP server; cheap to clone into each worker.
#[derive(Clone)]
pub struct Authentication(Arc<Policy>);

/// Where a service's web page lives, and so where people sign in.
#[derive(Debug, Clone, Copy)]
pub struct SignInPage {
    /// The page's path prefix (`/ui`): its sign-in form is `<prefix>/sign-in`, its assets
    /// `<prefix>/assets/`, and `/` leads to it.
    pub prefix: &'static str,
    /// Whether the server speaks HTTPS: the session cookie is then `Secure`.
    pub https: bool,
}

struct Policy {
    tokens: TokenStore,
    jwt: Option<JwtVerifier>,
    oidc: Option<OidcClient>,
    changes: Permission,
    failures: FailedAttempts,
    page: Option<SignInPage>,
}

/// What a sign-in came to.
pub enum SignIn {
    /// The token is valid: the browser gets this cookie.
    SignedIn(Caller, Cookie<'static>),
    /// There is no tokens file: nobody needs to sign in.
    NotRequired,
    /// The token is not valid.
    Refused,
    /// The address sent too many bad credentials; it may try again after this long.
    TooManyFailures(Duration),
}

impl Authentication {
    /// The check of a service whose changes (POST, PUT, PATCH, DELETE) need `changes`. Reads
    /// the tokens file (and a JWT key file) once, so that a damaged one stops the service at its
    /// start.
    pub fn new(settings: &AuthSettings, changes: Permission) -> Result<Authentication, TokenError> {
        Authentication::with_page(settings, changes, None)
    }

    /// The same check for a service that has a web page at `page`.
    pub fn with_page(
        settings: &AuthSettings,
        changes: Permission,
        page: Option<SignInPage>,
    ) -> Result<Authentication, TokenError> {
        let tokens = TokenStore::open(&settings.tokens_file);
        tokens.tokens()?;
        let jwt = JwtVerifier::from_settings(&settings.jwt)?;
        let oidc = OidcClient::from_settings(&settings.oidc)?;
        if oidc.is_some() && jwt.is_none() {
            return Err(crate::app::auth::jwt::JwtSetupError::new(
                "signing in through the identity provider (ORDERS__AUTH__OIDC__CLIENT_ID) needs \
                 its key set to check the tokens (ORDERS__AUTH__JWT__JWKS_URL or _FILE)"
                    .to_owned(),
            )
            .into());
        }
        let failures = FailedAttempts::new(
            settings.failure_limit.max(1),
            Duration::from_secs(settings.lockout_secs),
        );
        Ok(Authentication(Arc::new(Policy {
            tokens,
            jwt,
            oidc,
            changes,
            failures,
            page,
        })))
    }

    /// The middleware: `.wrap(from_fn(move |request, next| auth.clone().check(request, next)))`.
    pub async fn check(
        self,
        mut request: ServiceRequest,
        next: Next<impl MessageBody>,
    ) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
        if self.is_open(request.path()) {
            return Ok(next.call(request).await?.map_into_left_body());
        }
        let person = self.person_at_page(&request);
        let verdict = match self.caller(&request) {
            Ok(verdict) => verdict,
            Err(refusal) => {
                let answer = refusal.answer(self.0.page.as_ref(), person);
                return Ok(request.into_response(answer).map_into_right_body());
            }
        };
        if let Some((caller, csrf)) = verdict {
            if let Some(csrf) = csrf {
                if !is_read(request.method()) && !carries(&mut request, &csrf).await? {
                    let answer = Refusal::NoCsrfToken.answer(None, person);
                    return Ok(request.into_response(answer).map_into_right_body());
                }
                request.extensions_mut().insert(csrf);
            }
            request.extensions_mut().insert(caller);
        }
        Ok(next.call(request).await?.map_into_left_body())
    }

    /// Signs a browser in with `token` from `address`: a session lasting
    /// [`SESSION_LIFETIME`], kept in the tokens file so that every replica knows it.
    pub async fn sign_in(
        &self,
        token: SecretString,
        address: Option<IpAddr>,
    ) -> Result<SignIn, TokenError> {
        if self.0.tokens.tokens()?.is_none() && self.0.jwt.is_none() {
            return Ok(SignIn::NotRequired);
        }
        if let Some(wait) = self.refused_for(address) {
            return Ok(SignIn::TooManyFailures(wait));
        }
        let started = self
            .blocking(move |tokens| tokens.start_session(token.expose_secret(), SESSION_LIFETIME))
            .await?;
        Ok(match started {
            Some((secret, caller)) => {
                SignIn::SignedIn(caller, session_cookie(secret.expose_secret(), self.https()))
            }
            None => {
                self.failed_sign_in(address);
                SignIn::Refused
            }
        })
    }

    /// The identity provider's sign-in, when one is configured.
    pub fn identity_provider(&self) -> Option<&OidcClient> {
        self.0.oidc.as_ref()
    }

    /// Counts bad credentials (a failed sign-in, an unknown token) from `address` toward its
    /// 429.
    pub fn failed_sign_in(&self, address: Option<IpAddr>) {
        if let Some(address) = address {
            self.0.failures.record(address);
        }
    }

    /// How long `address` is still refused for bad credentials, if it is.
    pub fn refused_for(&self, address: Option<IpAddr>) -> Option<Duration> {
        address.and_then(|address| self.0.failures.refused_for(address))
    }

    /// Whether the session cookie is `Secure` (the page is served over HTTPS).
    pub fn https(&self) -> bool {
        self.0.page.is_some_and(|page| page.https)
    }

    /// Signs a browser in with an access token the identity provider handed out for it: a
    /// session like a token's, in the person's name and with the token's role.
    pub async fn sign_in_with_access_token(
        &self,
        access_token: SecretString,
        address: Option<IpAddr>,
    ) -> Result<SignIn, TokenError> {
        if let Some(wait) = self.refused_for(address) {
            return Ok(SignIn::TooManyFailures(wait));
        }
        let verified = self
            .0
            .jwt
            .as_ref()
            .map(|jwt| jwt.verify(access_token.expose_secret()));
        let Some(Ok(caller)) = verified else {
            self.failed_sign_in(address);
            return Ok(SignIn::Refused);
        };
        let person = caller.clone();
        let secret = self
            .blocking(move |tokens| tokens.start_provider_session(&person, SESSION_LIFETIME))
            .await?;
        Ok(SignIn::SignedIn(
            caller,
            session_cookie(secret.expose_secret(), self.https()),
        ))
    }

    /// Ends the session of `request`'s cookie, if it has one; the cookie that clears it.
    pub async fn sign_out(&self, request: &HttpRequest) -> Result<Cookie<'static>, TokenError> {
        if let Some(cookie) = request.cookie(SESSION_COOKIE) {
            let secret = cookie.value().to_owned();
            self.blocking(move |tokens| tokens.end_session(&secret))
                .await?;
        }
        Ok(signed_out_cookie(self.https()))
    }

    /// Runs `change` over the tokens file on a blocking thread: it waits for the file's lock
    /// and fsyncs.
    async fn blocking<T: Send + 'static>(
        &self,
        change: impl FnOnce(&TokenStore) -> Result<T, TokenError> + Send + 'static,
    ) -> Result<T, TokenError> {
        let policy = Arc::clone(&self.0);
        tokio::task::spawn_blocking(move || change(&policy.tokens))
            .await
            .map_err(|error| {
                TokenError::File(DocumentError::Io {
                    path: self.0.tokens.path().to_owned(),
                    source: std::io::Error::other(error),
                })
            })?
    }

    /// Who is calling, with the CSRF token of their session when they came with one (`None`:
    /// tokens are not required), or why the request is refused.
    fn caller(
        &self,
        request: &ServiceRequest,
    ) -> Result<Option<(Caller, Option<CsrfToken>)>, Refusal> {
        let tokens: Arc<TokensFile> = match self.0.tokens.tokens() {
            Ok(None) if self.0.jwt.is_none() => return Ok(None),
            Ok(None) => Arc::default(),
            Ok(Some(tokens)) => tokens,
            Err(error) => {
                tracing::error!(error = %error, "cannot read the tokens file: every request is refused until it can");
                return Err(Refusal::TokensUnreadable);
            }
        };
        let address = request.peer_addr().map(|peer| peer.ip());
        if let Some(wait) = self.refused_for(address) {
            return Err(Refusal::TooManyFailures(wait));
        }
        let failed = |refusal: Refusal| {
            self.failed_sign_in(address);
            refusal
        };
        let (caller, csrf) = if let Some(presented) = bearer_token(request) {
            let caller = match &self.0.jwt {
                Some(jwt) if is_jwt(presented) => {
                    jwt.verify(presented).map_err(|refusal| match refusal {
                        JwtRefusal::Invalid(reason) => failed(Refusal::InvalidJwt(reason)),
                        JwtRefusal::UnknownKey => Refusal::InvalidJwt(
                            "no key of the identity provider's key set matches it",
                        ),
                        JwtRefusal::NoRole(name) => Refusal::NoRole(name),
                    })?
                }
                _ => tokens
                    .holder(presented)
                    .ok_or_else(|| failed(Refusal::UnknownToken))?,
            };
            (caller, None)
        } else {
            let session = request.cookie(SESSION_COOKIE);
            let signed_in = session.as_ref().and_then(|cookie| {
                let caller = tokens.session_holder(cookie.value())?;
                Some((caller, Some(CsrfToken::of_session(cookie.value()))))
            });
            signed_in.ok_or_else(|| self.unauthenticated(request))?
        };
        let needed = if is_read(request.method()) || self.is_sign_out(request.path()) {
            Permission::Read
        } else {
            self.0.changes
        };
        if caller.role.may(needed) {
            Ok(Some((caller, csrf)))
        } else {
            Err(Refusal::RoleTooWeak(caller, needed))
        }
    }

    /// The refusal of a request without credentials: a person opening a page is sent to its
    /// sign-in form.
    fn unauthenticated(&self, request: &ServiceRequest) -> Refusal {
        match self.0.page {
            Some(page)
                if is_read(request.method())
                    && (request.path() == "/" || request.path().starts_with(page.prefix)) =>
            {
                Refusal::SignInFirst
            }
            _ => Refusal::NoToken,
        }
    }

    /// The page a person signed in with a session cookie is using (no bearer token): a refusal
    /// is answered as a page for them, not as JSON.
    fn person_at_page(&self, request: &ServiceRequest) -> Option<&'static str> {
        let page = self.0.page?;
        let path = request.path();
        let at_page = path == "/" || path.starts_with(page.prefix);
        (at_page && bearer_token(request).is_none() && request.cookie(SESSION_COOKIE).is_some())
            .then_some(page.prefix)
    }

    /// Whether `path` is the page's sign-out, which every role may use.
    fn is_sign_out(&self, path: &str) -> bool {
        self.0
            .page
            .is_some_and(|page| path.strip_prefix(page.prefix) == Some("/sign-out"))
    }

    /// Health and metrics reveal nothing about customers, and orchestrators and Prometheus call
    /// them without a token; the API documents describe routes, not data; the sign-in form and
    /// the page's assets are what a person sees before signing in.
    fn is_open(&self, path: &str) -> bool {
        path == "/metrics"
            || path.starts_with("/health/")
            || matches!(path, "/openapi.json" | "/api-docs" | "/api-docs.js")
            || self.0.page.is_some_and(|page| {
                path.strip_prefix(page.prefix).is_some_and(|rest| {
                    rest == "/sign-in"
                        || rest.starts_with("/sign-in/")
                        || rest.starts_with("/assets/")
                })
            })
    }
}

/// Whether `token` has a JWT's shape (three dot-separated parts) rather than an API token's.
fn is_jwt(token: &str) -> bool {
    token.split('.').count() == 3
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

/// Whether `request` carries `csrf`, in the `X-CSRF-Token` header or as the `csrf` field of
/// its form. A form's body is read here and put back for the handler.
async fn carries(request: &mut ServiceRequest, csrf: &CsrfToken) -> Result<bool, Error> {
    if let Some(header) = request.headers().get(CSRF_HEADER) {
        return Ok(header.as_bytes() == csrf.0.as_bytes());
    }
    let body = request.extract::<web::Bytes>().await?;
    let found = url::form_urlencoded::parse(&body)
        .any(|(name, value)| name == CSRF_FIELD && value == csrf.0.as_str());
    let (_, mut payload) = actix_http::h1::Payload::create(true);
    payload.unread_data(body);
    request.set_payload(payload.into());
    Ok(found)
}

/// A request refused for who sent it.
enum Refusal {
    /// 401: no `Authorization: Bearer` header.
    NoToken,
    /// 303 to the sign-in form: a person opened a page without signing in.
    SignInFirst,
    /// 401: a token that is not (or no longer) in the tokens file.
    UnknownToken,
    /// 401: an access token (JWT) that does not pass, and why.
    InvalidJwt(&'static str),
    /// 403: a valid access token of this name that names none of the platform's roles.
    NoRole(String),
    /// 403: a valid token whose role may not do this.
    RoleTooWeak(Caller, Permission),
    /// 403: a change made with a session cookie but without the session's CSRF token.
    NoCsrfToken,
    /// 503: the tokens file cannot be read; nobody can be let in.
    TokensUnreadable,
    /// 429: the address sent too many bad credentials; it may try again after this long.
    TooManyFailures(Duration),
}

impl Refusal {
    /// The answer: JSON for programs; for a person at the page (`person`: its prefix), a page
    /// that says why and leads back.
    fn answer(self, page: Option<&SignInPage>, person: Option<&'static str>) -> HttpResponse {
        if let (Refusal::SignInFirst, Some(page)) = (&self, page) {
            return HttpResponse::SeeOther()
                .insert_header((LOCATION, format!("{}/sign-in", page.prefix)))
                .finish();
        }
        let retry_after = match &self {
            Refusal::TooManyFailures(wait) => Some(wait.as_secs().max(1)),
            _ => None,
        };
        let (status, code, message, challenge) = match self {
            Refusal::NoToken | Refusal::SignInFirst => (
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
            Refusal::InvalidJwt(reason) => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                format!("the access token is not valid: {reason}"),
                Some(r#"Bearer realm="orders", error="invalid_token""#),
            ),
            Refusal::NoRole(name) => (
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "the access token of `{name}` names none of the roles viewer, clerk, stock \
                     or admin"
                ),
                None,
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
            Refusal::NoCsrfToken => (
                StatusCode::FORBIDDEN,
                "csrf_token",
                "a change from a signed-in page must carry the page's CSRF token: reload the \
                 page and try again"
                    .to_owned(),
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
        if let (Some(prefix), StatusCode::FORBIDDEN | StatusCode::TOO_MANY_REQUESTS) =
            (person, status)
        {
            let mut page = refusal_page(status, &message, prefix);
            if let Some(seconds) = retry_after {
                page.headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(seconds));
            }
            return page;
        }
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

/// A refusal as a small page of the web page's own style, for a person who used its forms.
fn refusal_page(status: StatusCode, message: &str, prefix: &str) -> HttpResponse {
    let escaped = message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Not allowed</title><link rel=\"stylesheet\" href=\"{prefix}/assets/app.css\">\
         </head><body><main><h1>Not allowed</h1>\
         <div class=\"error-summary\" id=\"refusal\" role=\"alert\"><p>{escaped}</p></div>\
         <p><a href=\"{prefix}/orders\">Back to the orders</a> · \
         <a href=\"{prefix}/sign-out\">Sign in as someone else</a></p></main></body></html>\n"
    );
    // The page's own defences: this answer does not pass through the page's scope.
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Content-Security-Policy", PAGE_CONTENT_SECURITY_POLICY))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(body)
}

fn describe(permission: Permission) -> &'static str {
    match permission {
        Permission::Read => "read here",
        Permission::ChangeOrders => "create, change or delete orders",
        Permission::SetStock => "set stock levels",
        Permission::Administer => "make changes here (only an administrator may)",
    }
}
