//! Signing in to the page through the company's identity provider: the OpenID Connect
//! authorization code flow with PKCE. The page sends the person to the provider with a random
//! `state` and a code challenge, both also kept in a short-lived cookie; the provider sends them
//! back with a code, which is traded (with the code verifier, and the client secret when there
//! is one) for an access token; that token is checked like any bearer JWT, and its caller gets
//! a page session.

use std::time::Duration;

use actix_web::cookie::{Cookie, SameSite};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use url::Url;

use crate::app::auth::api_tokens::new_secret;
use crate::app::auth::jwt::{JwtSetupError, provider_url};
use crate::app::settings::OidcSettings;

/// The cookie that carries the flow's `state` and code verifier between the two legs.
pub const FLOW_COOKIE: &str = "orders_oidc_flow";

/// How long a person may take at the provider.
const FLOW_LIFETIME: Duration = Duration::from_secs(600);

/// How long the token request may take.
const TOKEN_TIMEOUT: Duration = Duration::from_secs(10);

/// The provider's endpoints and this platform's client there.
pub struct OidcClient {
    authorization_url: Url,
    token_url: Url,
    client_id: String,
    client_secret: Option<SecretString>,
    scopes: String,
    redirect_url: Option<String>,
    http: reqwest::Client,
}

/// Why the second leg failed, in words that name no secret.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The provider sent the person back with an error, or without a code.
    #[error("the identity provider did not sign you in: {0}")]
    Provider(String),
    /// The `state` does not match the flow this browser started (a forged or stale callback).
    #[error("this sign-in was not started here, or it took too long: start again")]
    StateMismatch,
    /// The token request failed.
    #[error("the identity provider did not hand out a token: {0}")]
    TokenRequest(String),
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: SecretString,
}

impl OidcClient {
    /// The client `settings` describe, or `None` without a client id.
    pub fn from_settings(settings: &OidcSettings) -> Result<Option<OidcClient>, JwtSetupError> {
        let Some(client_id) = settings.client_id.clone().filter(|id| !id.is_empty()) else {
            return Ok(None);
        };
        let url = |value: &Option<String>, variable: &str| {
            let text = value.as_deref().ok_or_else(|| {
                JwtSetupError::new(format!("{variable} must be set with a client id"))
            })?;
            provider_url(text, variable)
        };
        let http = reqwest::Client::builder()
            .timeout(TOKEN_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| JwtSetupError::new(format!("an HTTP client: {error}")))?;
        Ok(Some(OidcClient {
            authorization_url: url(
                &settings.authorization_url,
                "ORDERS__AUTH__OIDC__AUTHORIZATION_URL",
            )?,
            token_url: url(&settings.token_url, "ORDERS__AUTH__OIDC__TOKEN_URL")?,
            client_id,
            client_secret: settings.client_secret.clone(),
            scopes: settings
                .scopes
                .clone()
                .unwrap_or_else(|| "openid profile email".to_owned()),
            redirect_url: settings.redirect_url.clone(),
            http,
        }))
    }

    /// The configured redirect URI, if one is.
    pub fn redirect_url(&self) -> Option<&str> {
        self.redirect_url.as_deref()
    }

    /// The cookie that clears the flow's cookie, whatever became of the flow.
    pub fn flow_cleared() -> Cookie<'static> {
        Cookie::build(FLOW_COOKIE, "").path("/").finish()
    }

    /// The first leg: where to send the person, and the cookie that remembers the flow.
    pub fn begin(&self, redirect_uri: &str, https: bool) -> (String, Cookie<'static>) {
        let state = new_secret("").expose_secret().to_owned();
        let verifier = new_secret("").expose_secret().to_owned();
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let mut url = self.authorization_url.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", &self.scopes)
            .append_pair("state", &state)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        // Lax, not Strict: the provider's redirect back is a navigation from another site.
        let cookie = Cookie::build(FLOW_COOKIE, format!("{state}.{verifier}"))
            .http_only(true)
            .secure(https)
            .same_site(SameSite::Lax)
            .path("/")
            .max_age(actix_web::cookie::time::Duration::seconds(
                FLOW_LIFETIME.as_secs() as i64,
            ))
            .finish();
        (url.into(), cookie)
    }

    /// The second leg: checks `state` against the flow cookie and trades `code` for an access
    /// token.
    pub async fn finish(
        &self,
        callback: &Callback,
        flow_cookie: Option<&str>,
        redirect_uri: &str,
    ) -> Result<SecretString, OidcError> {
        if let Some(error) = &callback.error {
            return Err(OidcError::Provider(short(error)));
        }
        let (Some(code), Some(state)) = (&callback.code, &callback.state) else {
            return Err(OidcError::Provider("no code came back".to_owned()));
        };
        let (expected, verifier) = flow_cookie
            .and_then(|value| value.split_once('.'))
            .ok_or(OidcError::StateMismatch)?;
        let matches: bool = expected.len() == state.len()
            && expected
                .bytes()
                .zip(state.bytes())
                .fold(0, |diff, (a, b)| diff | (a ^ b))
                == 0;
        if !matches {
            return Err(OidcError::StateMismatch);
        }
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect_uri),
            ("client_id", self.client_id.as_str()),
            ("code_verifier", verifier),
        ];
        if let Some(secret) = &self.client_secret {
            form.push(("client_secret", secret.expose_secret()));
        }
        let response = self
            .http
            .post(self.token_url.clone())
            .form(&form)
            .send()
            .await
            .map_err(|error| OidcError::TokenRequest(error.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(OidcError::TokenRequest(format!(
                "the provider answered {}",
                response.status()
            )));
        }
        let answer: TokenAnswer = response
            .json()
            .await
            .map_err(|_| OidcError::TokenRequest("its answer has no access token".to_owned()))?;
        Ok(answer.access_token)
    }
}

/// What the provider sends back to the callback.
#[derive(Debug, Deserialize)]
pub struct Callback {
    /// The code to trade for tokens.
    pub code: Option<String>,
    /// The `state` sent out.
    pub state: Option<String>,
    /// The provider's error code, when it did not sign the person in.
    pub error: Option<String>,
}

/// The provider's error code, cut short and kept to plain characters (it is echoed on the page).
fn short(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect()
}
