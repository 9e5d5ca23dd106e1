//! The page's session: a cookie holding a session's secret (`HttpOnly`, `SameSite=Strict`,
//! `Secure` under HTTPS, expiring), and the CSRF token every form of a signed-in page carries.
//!
//! The CSRF token is derived from the session's secret, which no other origin can read (the
//! cookie is `HttpOnly` and never sent cross-site), so it needs no state of its own and is the
//! same for every form of the session.

use actix_web::cookie::{Cookie, SameSite, time};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "orders_session";

/// The form field (and the header, for scripts) that carries the CSRF token.
pub const CSRF_FIELD: &str = "csrf";

/// The header a script may send the CSRF token in instead of the form field.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How long a page session lasts: a working day.
pub const SESSION_LIFETIME: chrono::Duration = chrono::Duration::hours(12);

/// The CSRF token of a signed-in page, for its forms: the request's extensions hold it when
/// the request came with a session cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrfToken(pub String);

impl CsrfToken {
    /// The token of the session whose secret is `secret`.
    pub fn of_session(secret: &str) -> CsrfToken {
        let digest = Sha256::new()
            .chain_update(b"orders csrf\0")
            .chain_update(secret.as_bytes())
            .finalize();
        CsrfToken(URL_SAFE_NO_PAD.encode(digest))
    }
}

/// The cookie that signs a browser in with the session `secret`.
pub fn session_cookie(secret: &str, https: bool) -> Cookie<'static> {
    let lifetime = time::Duration::seconds(SESSION_LIFETIME.num_seconds());
    Cookie::build(SESSION_COOKIE, secret.to_owned())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(https)
        .max_age(lifetime)
        .finish()
}

/// The cookie that signs a browser out: the same cookie, empty and already expired.
pub fn signed_out_cookie(https: bool) -> Cookie<'static> {
    let mut cookie = session_cookie("", https);
    cookie.make_removal();
    cookie
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_under_https() {
        let cookie = session_cookie("orders_session_x", true).to_string();
        for part in [
            "orders_session=orders_session_x",
            "HttpOnly",
            "SameSite=Strict",
            "Secure",
            "Path=/",
            "Max-Age=43200",
        ] {
            assert!(cookie.contains(part), "{cookie} lacks {part}");
        }
        assert!(!session_cookie("x", false).to_string().contains("Secure"));
        let removal = signed_out_cookie(false).to_string();
        assert!(removal.contains("Max-Age=0"), "{removal}");
    }

    #[test]
    fn each_session_has_its_own_csrf_token() {
        let one = CsrfToken::of_session("orders_session_one");
        assert_eq!(one, CsrfToken::of_session("orders_session_one"));
        assert_ne!(one, CsrfToken::of_session("orders_session_two"));
        assert!(!one.0.contains("one"));
    }
}
