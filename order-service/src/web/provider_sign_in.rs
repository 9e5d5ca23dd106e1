//! Signing in through the company's identity provider, when one is configured:
//! `GET /ui/sign-in/provider` sends the person there, `GET /ui/sign-in/callback` is where the
//! provider sends them back with a code, traded for an access token and then a session.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use anyhow::Context;
use maud::html;
use shared_events::app::auth::authentication::{Authentication, SignIn};
use shared_events::app::auth::oidc::{Callback, FLOW_COOKIE};

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
    let (url, cookie) = provider.begin(&callback_url(&request), authentication.https());
    let mut answer = see_other(&url);
    answer
        .add_cookie(&cookie)
        .context("failed to set the sign-in cookie")?;
    Ok(answer)
}

/// `GET /ui/sign-in/callback`: the provider's answer; a session and the list of orders, or the
/// reason it did not work.
pub(crate) async fn callback(
    request: HttpRequest,
    query: web::Query<Callback>,
    authentication: web::Data<Authentication>,
) -> Result<HttpResponse, WebError> {
    let Some(provider) = authentication.identity_provider() else {
        return Ok(see_other(&format!("{PREFIX}/sign-in")));
    };
    let flow = request.cookie(FLOW_COOKIE);
    let token = provider
        .finish(
            &query,
            flow.as_ref().map(|cookie| cookie.value()),
            &callback_url(&request),
        )
        .await;
    let outcome = match token {
        Ok(token) => {
            let address = request.peer_addr().map(|peer| peer.ip());
            authentication
                .sign_in_with_access_token(token, address)
                .await
                .context("failed to start a session")?
        }
        Err(error) => return Ok(problem(StatusCode::UNAUTHORIZED, &error.to_string())),
    };
    let mut answer = match outcome {
        SignIn::SignedIn(_, cookie) => {
            let mut answer = see_other(&list_path());
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
    };
    if let Some(flow) = flow {
        answer
            .add_removal_cookie(&flow)
            .context("failed to clear the sign-in cookie")?;
    }
    Ok(answer)
}

/// Where the provider sends people back: this service's own callback, under the host name the
/// request used (which the request guard allows).
fn callback_url(request: &HttpRequest) -> String {
    let connection = request.connection_info();
    format!(
        "{}://{}{PREFIX}/sign-in/callback",
        connection.scheme(),
        connection.host()
    )
}

fn problem(status: StatusCode, message: &str) -> HttpResponse {
    let content = html! {
        h1 { "Sign in" }
        div.error-summary #form-error role="alert" { p { (message) } }
        p { a href={ (PREFIX) "/sign-in" } { "Back to the sign-in" } }
    };
    layout::html_response(status, layout::page("Sign in", content))
}
