//! The first start: with no tokens file (and no identity provider), the service that serves the
//! page makes the file with an administrator's token before it listens, so that it is never
//! open, and tells the person at the terminal, once, the link that signs in (as Jupyter does).
//! The link goes to standard error, never to the log, which may be collected and kept.

use secrecy::{ExposeSecret, SecretString};

use crate::app::auth::Role;
use crate::app::auth::api_tokens::{TokenError, TokenName, TokenStore};
use crate::app::settings::AuthSettings;

/// The name of the token the first start makes.
pub const FIRST_TOKEN_NAME: &str = "admin";

/// The administrator's token made at the first start.
pub struct FirstToken(SecretString);

impl FirstToken {
    /// Makes the tokens file with an `admin` token when it does not exist, no key set is
    /// configured and `ORDERS__AUTH__FIRST_TOKEN` is on; `None` otherwise (also when another
    /// process made the file first).
    pub fn make_if_first_start(auth: &AuthSettings) -> Result<Option<FirstToken>, TokenError> {
        let store = TokenStore::open(&auth.tokens_file);
        let configured = auth.jwt.jwks_file.is_some() || auth.jwt.jwks_url.is_some();
        if !auth.first_token || configured || store.tokens()?.is_some() {
            return Ok(None);
        }
        let name: TokenName = FIRST_TOKEN_NAME
            .parse()
            .expect("`admin` is a valid token name");
        match store.create(name, Role::Admin) {
            Ok(token) => Ok(Some(FirstToken(token))),
            // A standby or a replica starting at the same time made it first.
            Err(TokenError::NameTaken(_)) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The sign-in link for the page at `url`: the token rides in the fragment, which the
    /// browser never sends.
    pub fn sign_in_link(&self, url: &str) -> String {
        format!(
            "{}/ui/sign-in#token={}",
            url.trim_end_matches('/'),
            self.0.expose_secret()
        )
    }

    /// Tells the person at the terminal how to sign in to the page at `url`, and where the
    /// token is kept.
    pub fn announce(&self, url: &str, auth: &AuthSettings) {
        eprintln!(
            "\n    First start: made the tokens file {} with the administrator's token `{}`.\n    \
             Open this link to sign in to the page (it is shown only this once):\n\n        {}\n\n    \
             Scripts send the token as `Authorization: Bearer <token>`; make more with \
             `tokens create --name NAME --role ROLE`.\n",
            auth.tokens_file.display(),
            FIRST_TOKEN_NAME,
            self.sign_in_link(url)
        );
    }
}
