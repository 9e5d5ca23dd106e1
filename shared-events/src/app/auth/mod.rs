//! Who may do what: the roles, and the API tokens that carry them.
//!
//! # Layout
//!
//! - [`role`]: [`Role`] (`viewer`, `clerk`, `stock`, `admin`) and the [`Permission`]s each has.
//! - [`api_tokens`]: the tokens file, where tokens are made, listed, revoked and checked.
//! - [`authentication`]: the middleware that asks every request for a token once tokens exist.
//! - [`jwt`]: OpenID Connect access tokens, checked against the identity provider's keys.
//! - [`first_token`]: the first start's administrator token and sign-in link.
//! - [`oidc`]: signing in to the page through the identity provider (authorization code flow).
//! - [`failed_attempts`]: addresses that keep sending bad credentials, refused for a while.
//! - [`session`]: the page's session cookie and the CSRF token of its forms.
//! - [`tokens_command`]: every binary's `tokens create | list | revoke`.

pub mod api_tokens;
pub mod authentication;
pub mod failed_attempts;
pub mod first_token;
pub mod jwt;
pub mod oidc;
pub mod role;
pub mod session;
pub mod tokens_command;

pub use role::{Permission, Role};

/// Who made a request: the name of the token (or person) and its role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's name.
    pub name: String,
    /// What it may do.
    pub role: Role,
}
