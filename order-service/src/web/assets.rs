//! The page's one script and one stylesheet, embedded in the binary and served from it.
//!
//! Pages link them with a fingerprint of their content in the query (`app.css?v=...`), so a
//! browser may keep them for good: a new build has a new fingerprint and so a new URL.

use actix_web::http::header::CACHE_CONTROL;
use actix_web::{HttpRequest, HttpResponse};

const SCRIPT: &str = include_str!("../../assets/app.js");
const STYLESHEET: &str = include_str!("../../assets/app.css");

/// FNV-1a of both files, computed at compile time.
const FINGERPRINT: u64 = fnv1a(
    STYLESHEET.as_bytes(),
    fnv1a(SCRIPT.as_bytes(), 0xcbf2_9ce4_8422_2325),
);

/// The URL of the asset `name` (`app.js` or `app.css`), fingerprinted.
pub(crate) fn url(name: &str) -> String {
    format!("{}/assets/{name}?{}", super::PREFIX, version_query())
}

/// `GET /ui/assets/app.js`.
pub(crate) async fn script(request: HttpRequest) -> HttpResponse {
    asset(&request, "text/javascript; charset=utf-8", SCRIPT)
}

/// `GET /ui/assets/app.css`.
pub(crate) async fn stylesheet(request: HttpRequest) -> HttpResponse {
    asset(&request, "text/css; charset=utf-8", STYLESHEET)
}

fn asset(request: &HttpRequest, content_type: &str, body: &'static str) -> HttpResponse {
    // Only the fingerprinted URL names exactly this content; any other must be checked again.
    let cache = if request.query_string() == version_query() {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((CACHE_CONTROL, cache))
        .body(body)
}

fn version_query() -> String {
    format!("v={FINGERPRINT:016x}")
}

const fn fnv1a(bytes: &[u8], mut hash: u64) -> u64 {
    let mut index = 0;
    while index < bytes.len() {
        hash ^= bytes[index] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        index += 1;
    }
    hash
}
