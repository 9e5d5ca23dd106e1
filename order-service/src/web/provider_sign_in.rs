//! Signing in through the company's identity provider, when one is configured:
//! `GET /ui/sign-in/provider` sends the person there, `GET /ui/sign-in/callback` is where the
//! provider sends them back with a code, traded for an access token and then a session.
//!
//! The callback answers with a page that moves on to the list, not with a redirect: the
//! session cookie is `SameSite=Strict`, and a browser does not send it on a redirect that
//! continues the provider's (cross-site) navigation, so the list would ask for a sign-in again.

use actix_web::http::StatusCode;
use actix_web::http::header::{HOST, RETRY_AFTER};
use actix_web::{HttpRequest, HttpResponse, web};
use anyhow::Context;
use maud::html;
use shared_events::app::auth::authentication::{Authentication, SignIn};
use shared_events::app::auth::oidc::{Callback, FLOW_COOKIE, OidcClient};

use crate::web::error::WebError;
use crate::web::{PREFIX, layout, list_path, see_other};

/// `GET /ui/sign-in/provider`: to the provider's sign-in, remembering the flow in a cookie.
pub(crate) async fn start(
    request: HttpRequest,
    authentication: web::Data<Authentication>,
) -> Result<HttpResponse, WebError> {
    let Some(provider) = authentication.identity_provider() else {
        return Ok(see_other(&format!("{PREFIX}/sign-in")));
    };
    let redirect = callback_url(&request, provider, &authentication);
    let (url, cookie) = provider.begin(&redirect, authentication.https());
    let mut answer = see_other(&url);
    answer
        .add_cookie(&cookie)
        .context("failed to set the sign-in cookie")?;
    Ok(answer)
}

/// `GET /ui/sign-in/callback`: the provider's answer; a session and the list of orders, or the
/// reason it did not work. Failures count toward the address's 429, as bad tokens do.
pub(crate) async fn callback(
    request: HttpRequest,
    query: web::Query<Callback>,
    authentication: web::Data<Authentication>,
) -> Result<HttpResponse, WebError> {
    let Some(provider) = authentication.identity_provider() else {
        return Ok(see_other(&format!("{PREFIX}/sign-in")));
    };
    let address = request.peer_addr().map(|peer| peer.ip());
    let mut answer = if let Some(wait) = authentication.refused_for(address) {
        let mut answer = problem(
            StatusCode::TOO_MANY_REQUESTS,
            "too many sign-ins that were not valid came from here: try again in a few minutes",
        );
        answer
            .headers_mut()
            .insert(RETRY_AFTER, wait.as_secs().max(1).into());
        answer
    } else {
        let flow = request.cookie(FLOW_COOKIE);
        let redirect = callback_url(&request, provider, &authentication);
        let token = provider
            .finish(
                &query,
                flow.as_ref().map(|cookie| cookie.value()),
                &redirect,
            )
            .await;
        match token {
            Ok(token) => {
                let outcome = authentication
                    .sign_in_with_access_token(token, address)
                    .await
                    .context("failed to start a session")?;
                signed_in(outcome)?
            }
            Err(error) => {
                authentication.failed_sign_in(address);
                problem(StatusCode::UNAUTHORIZED, &error.to_string())
            }
        }
    };
    answer
        .add_removal_cookie(&OidcClient::flow_cleared())
        .context("failed to clear the sign-in cookie")?;
    Ok(answer)
}

/// The answer to a sign-in with the provider's access token.
fn signed_in(outcome: SignIn) -> Result<HttpResponse, WebError> {
    Ok(match outcome {
        SignIn::SignedIn(caller, cookie) => {
            let list = list_path();
            let content = html! {
                h1 { "Signed in" }
                p { "Signed in as " strong #signed-in-as { (caller.name) } " (" (caller.role) "). " }
                p { a.button #continue href=(list) { "Continue to the orders" } }
            };
            let refresh = html! { meta http-equiv="refresh" content={ "0;url=" (list) }; };
            let mut answer = layout::html_response(
                StatusCode::OK,
                layout::page_with_head("Signed in", refresh, content),
            );
            answer
                .add_cookie(&cookie)
                .context("failed to set the session cookie")?;
            answer
        }
        SignIn::NotRequired => see_other(&list_path()),
        SignIn::Refused => problem(
            StatusCode::UNAUTHORIZED,
            "the identity provider's token is not valid here, or it names none of the roles \
             viewer, clerk, stock or admin: ask an administrator",
        ),
        SignIn::TooManyFailures(_) => problem(
            StatusCode::TOO_MANY_REQUESTS,
            "too many sign-ins that were not valid came from here: try again in a few minutes",
        ),
    })
}

/// Where the provider sends people back: the configured URL, or this service's own callback
/// under the `Host` the request used (which the request guard allows; forwarded headers are
/// not trusted for it).
fn callback_url(request: &HttpRequest, provider: &OidcClient, auth: &Authentication) -> String {
    if let Some(url) = provider.redirect_url() {
        return url.to_owned();
    }
    let host = request
        .headers()
        .get(HOST)
        .and_then(|host| host.to_str().ok())
        .unwrap_or("localhost");
    let scheme = if auth.https() { "https" } else { "http" };
    format!("{scheme}://{host}{PREFIX}/sign-in/callback")
}

fn problem(status: StatusCode, message: &str) -> HttpResponse {
    let content = html! {
        h1 { "Sign in" }
        div.error-summary #form-error role="alert" { p { (message) } }
        p { a href={ (PREFIX) "/sign-in" } { "Back to the sign-in" } }
    };
    layout::html_response(status, layout::page("Sign in", content))
}
