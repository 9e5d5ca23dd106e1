//! Signing in and out of the page: `GET /ui/sign-in` shows the form, `POST /ui/sign-in` trades
//! a token for a session cookie, `GET /ui/sign-out` asks to confirm and `POST /ui/sign-out`
//! ends the session.
//!
//! A sign-in link (`/ui/sign-in#token=...`) keeps the token in the fragment, which browsers
//! never send: the page's script copies it into the form, so it appears in no server log.

use actix_web::http::StatusCode;
use actix_web::http::header::RETRY_AFTER;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use anyhow::Context;
use maud::{Markup, html};
use secrecy::SecretString;
use serde::Deserialize;
use shared_events::app::auth::Caller;
use shared_events::app::auth::authentication::{Authentication, SignIn};

use crate::domain::BodyLimit;
use crate::web::csrf::CsrfField;
use crate::web::error::WebError;
use crate::web::form_data::read_form;
use crate::web::{PREFIX, layout, list_path, see_other};

/// The sign-in form as sent.
#[derive(Deserialize)]
pub(crate) struct SignInForm {
    token: String,
}

/// Why the form is shown again.
enum Problem {
    Refused,
    TooManyFailures,
}

/// `GET /ui/sign-in`: the form.
pub(crate) async fn form(authentication: web::Data<Authentication>) -> Markup {
    sign_in_page(None, &authentication)
}

/// `POST /ui/sign-in`: a valid token gets a session cookie and the list of orders; anything
/// else gets the form again, with why.
pub(crate) async fn sign_in(
    request: HttpRequest,
    payload: web::Payload,
    authentication: web::Data<Authentication>,
    limit: web::Data<BodyLimit>,
) -> Result<HttpResponse, WebError> {
    let form = read_form::<SignInForm>(&request, payload, **limit).await?;
    let address = request.peer_addr().map(|peer| peer.ip());
    let outcome = authentication
        .sign_in(SecretString::from(form.token), address)
        .await
        .context("failed to start a session")?;
    Ok(match outcome {
        SignIn::SignedIn(_, cookie) => {
            let mut answer = see_other(&list_path());
            answer
                .add_cookie(&cookie)
                .context("failed to set the session cookie")?;
            answer
        }
        SignIn::NotRequired => see_other(&list_path()),
        SignIn::Refused => layout::html_response(
            StatusCode::UNAUTHORIZED,
            sign_in_page(Some(Problem::Refused), &authentication),
        ),
        SignIn::TooManyFailures(wait) => {
            let mut answer = layout::html_response(
                StatusCode::TOO_MANY_REQUESTS,
                sign_in_page(Some(Problem::TooManyFailures), &authentication),
            );
            answer
                .headers_mut()
                .insert(RETRY_AFTER, wait.as_secs().max(1).into());
            answer
        }
    })
}

/// `GET /ui/sign-out`: who is signed in, and the button that signs out.
pub(crate) async fn confirm_sign_out(request: HttpRequest, csrf: CsrfField) -> Markup {
    let caller = request.extensions().get::<Caller>().cloned();
    let content = html! {
        h1 { "Sign out" }
        @match caller {
            Some(caller) => {
                p { "Signed in as " strong #signed-in-as { (caller.name) } " (" (caller.role) ")." }
                form #sign-out-form method="post" action={ (PREFIX) "/sign-out" } {
                    (csrf)
                    div.actions {
                        button.button #sign-out type="submit" { "Sign out" }
                        a.button.secondary href=(list_path()) { "Stay signed in" }
                    }
                }
            }
            None => p { "Nobody is signed in: this service asks for no sign-in." }
        }
    };
    layout::page("Sign out", content)
}

/// `POST /ui/sign-out`: ends the session and clears its cookie.
pub(crate) async fn sign_out(
    request: HttpRequest,
    authentication: web::Data<Authentication>,
) -> Result<HttpResponse, WebError> {
    let cookie = authentication
        .sign_out(&request)
        .await
        .context("failed to end the session")?;
    let mut answer = see_other(&format!("{PREFIX}/sign-in"));
    answer
        .add_removal_cookie(&cookie)
        .context("failed to clear the session cookie")?;
    Ok(answer)
}

fn sign_in_page(problem: Option<Problem>, authentication: &Authentication) -> Markup {
    let content = html! {
        h1 { "Sign in" }
        @if authentication.identity_provider().is_some() {
            p {
                a.button #sign-in-provider href={ (PREFIX) "/sign-in/provider" } {
                    "Sign in with your company account"
                }
            }
            p { "Or with a token:" }
        }
        @match problem {
            Some(Problem::Refused) => div.error-summary #form-error role="alert" {
                p { strong { "That token is not valid. " } "It may have been revoked; ask an administrator for a new one." }
            },
            Some(Problem::TooManyFailures) => div.error-summary #form-error role="alert" {
                p { strong { "Too many tokens that were not valid came from here. " } "Try again in a few minutes." }
            },
            None => {},
        }
        form #sign-in-form method="post" action={ (PREFIX) "/sign-in" } {
            div.field {
                label for="token" { "Token" }
                p.hint #token-hint { "An administrator makes one with " code { "tokens create" } "." }
                input #token type="password" name="token" autocomplete="off" required aria-describedby="token-hint";
            }
            div.actions {
                button.button #sign-in type="submit" { "Sign in" }
            }
        }
    };
    layout::page("Sign in", content)
}
