//! Refusing changes that a page of another origin sent through a user's browser (cross-site
//! request forgery). Browsers say where a request comes from and a page cannot forge it:
//! `Sec-Fetch-Site` (every current browser, to loopback and HTTPS servers) and `Origin` (on every
//! POST). `same-site` is refused too: another port of the same host is another origin. A
//! request that carries neither comes from a program, not from a page, and is let through.

use actix_web::http::Method;
use actix_web::http::header::{HOST, HeaderMap, HeaderName, ORIGIN};

use super::allowed_hosts::host_name;
use super::header_text;

const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");

/// Whether a `method` request with `headers` is a change that another origin asked for.
pub(super) fn is_refused(method: &Method, headers: &HeaderMap) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return false;
    }
    if let Some(site) = header_text(headers, &SEC_FETCH_SITE) {
        // `none`: the user asked for it (typed the address), no page did.
        return !matches!(site, "same-origin" | "none");
    }
    match headers.get(ORIGIN) {
        None => false,
        Some(origin) => {
            let origin = origin
                .to_str()
                .ok()
                .and_then(|origin| url::Url::parse(origin).ok());
            let host = header_text(headers, &HOST);
            !matches!((origin, host), (Some(origin), Some(host)) if is_same_server(&origin, host))
        }
    }
}

/// Whether the page at `origin` is served by the server a request names as `host`. Ports count;
/// schemes do not, as a proxy may end TLS in front of the service (a port absent from `host`
/// is the origin scheme's default).
fn is_same_server(origin: &url::Url, host: &str) -> bool {
    let Some(origin_host) = origin.host_str() else {
        return false;
    };
    let origin_port = origin.port_or_known_default();
    let host_port = match host.strip_prefix('[') {
        Some(rest) => rest.split_once("]:").map(|(_, port)| port),
        None => host.rsplit_once(':').map(|(_, port)| port),
    };
    let host_port = match host_port {
        Some(port) => port.parse::<u16>().ok(),
        None => origin_port,
    };
    host_name(origin_host) == host_name(host) && origin_port.is_some() && origin_port == host_port
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(
                HeaderName::from_static(name),
                value.parse().expect("a header value"),
            );
        }
        headers
    }

    #[test]
    fn reads_are_never_refused() {
        let cross = headers(&[
            ("sec-fetch-site", "cross-site"),
            ("origin", "http://evil.example"),
        ]);
        for method in [Method::GET, Method::HEAD, Method::OPTIONS] {
            assert!(!is_refused(&method, &cross), "{method}");
        }
    }

    #[test]
    fn changes_from_another_origin_are_refused() {
        let host = ("host", "127.0.0.1:8080");
        let cases: [(&[(&'static str, &str)], bool); 14] = [
            (&[host], false),
            (&[host, ("sec-fetch-site", "same-origin")], false),
            (&[host, ("sec-fetch-site", "none")], false),
            (&[host, ("sec-fetch-site", "same-site")], true),
            (&[host, ("sec-fetch-site", "cross-site")], true),
            (&[host, ("origin", "http://127.0.0.1:8080")], false),
            (
                &[("host", "localhost"), ("origin", "http://localhost")],
                false,
            ),
            (
                &[
                    ("host", "orders.example"),
                    ("origin", "https://orders.example"),
                ],
                false,
            ),
            (
                &[("host", "[::1]:8080"), ("origin", "http://[::1]:8080")],
                false,
            ),
            (&[host, ("origin", "http://127.0.0.1:9999")], true),
            (&[host, ("origin", "http://localhost:8080")], true),
            (&[host, ("origin", "null")], true),
            (&[host, ("origin", "not a url")], true),
            (&[("origin", "http://127.0.0.1:8080")], true),
        ];
        for (pairs, refused) in cases {
            for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
                assert_eq!(
                    is_refused(&method, &headers(pairs)),
                    refused,
                    "{method} {pairs:?}"
                );
            }
        }
    }
}
