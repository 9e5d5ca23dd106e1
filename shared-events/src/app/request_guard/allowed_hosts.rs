//! The Host names a server answers. A browser tricked into calling a name that an attacker
//! points at this machine (DNS rebinding) sends that name as the Host; refusing names the
//! service was not given keeps such pages out, even where nothing else stands in the way.

use std::net::{IpAddr, SocketAddr};

use actix_web::http::Uri;
use actix_web::http::header::{HOST, HeaderMap};

use super::header_text;

/// Which Host names are answered.
#[derive(Debug, PartialEq)]
pub(super) enum AllowedHosts {
    /// Any name: the operator listed `*`, or bound a public address without listing names.
    Any,
    /// `localhost`, `*.localhost` and loopback addresses: the default of a server bound to a
    /// loopback address, which only this machine can reach anyway.
    Loopback,
    /// These names (lower case, without port); one starting with `.` also covers every name
    /// under it (`.example.com` covers `example.com` and `orders.example.com`).
    Listed(Vec<String>),
}

impl AllowedHosts {
    /// The names `listed` gives (`ORDERS__HTTP__ALLOWED_HOSTS`); unset or empty, the default
    /// for a server bound to `addr`.
    pub(super) fn new(listed: Option<&[String]>, addr: SocketAddr) -> AllowedHosts {
        let names = listed
            .unwrap_or_default()
            .iter()
            .map(|name| name.trim())
            .filter(|name| !name.is_empty())
            .collect::<Vec<_>>();
        if names.contains(&"*") {
            AllowedHosts::Any
        } else if !names.is_empty() {
            AllowedHosts::Listed(
                names
                    .into_iter()
                    .map(|name| match name.strip_prefix('.') {
                        Some(domain) => format!(".{}", host_name(domain)),
                        None => host_name(name),
                    })
                    .collect(),
            )
        } else if addr.ip().is_loopback() {
            AllowedHosts::Loopback
        } else {
            AllowedHosts::Any
        }
    }

    /// Whether a request for `host` (from [`requested_host`]) is answered.
    pub(super) fn allows(&self, host: Option<&str>) -> bool {
        match (self, host) {
            (AllowedHosts::Any, _) => true,
            (_, None) => false,
            (AllowedHosts::Loopback, Some(host)) => {
                host == "localhost"
                    || host.ends_with(".localhost")
                    || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
            }
            (AllowedHosts::Listed(names), Some(host)) => {
                names.iter().any(|name| match name.strip_prefix('.') {
                    Some(domain) => {
                        host == domain
                            || host
                                .strip_suffix(domain)
                                .is_some_and(|sub| sub.ends_with('.'))
                    }
                    None => host == name,
                })
            }
        }
    }
}

/// The host name a request was sent to, lower case, without port, brackets or final dot: from
/// the `Host` header (HTTP/1.1), else the request target's authority (HTTP/2).
pub(super) fn requested_host(headers: &HeaderMap, uri: &Uri) -> Option<String> {
    header_text(headers, &HOST)
        .or_else(|| uri.authority().map(|authority| authority.as_str()))
        .map(host_name)
        .filter(|host| !host.is_empty())
}

/// `authority` (`Example.COM.:8080`, `[::1]:8080`) as a bare host name (`example.com`, `::1`).
pub(super) fn host_name(authority: &str) -> String {
    let host = match authority.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => authority
            .rsplit_once(':')
            .map_or(authority, |(host, port)| {
                if port.chars().all(|c| c.is_ascii_digit()) {
                    host
                } else {
                    authority
                }
            }),
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(listed: Option<&[&str]>, addr: &str) -> AllowedHosts {
        let listed = listed.map(|names| {
            names
                .iter()
                .map(|name| name.to_string())
                .collect::<Vec<_>>()
        });
        AllowedHosts::new(listed.as_deref(), addr.parse().expect("an address"))
    }

    #[test]
    fn host_names_lose_port_brackets_case_and_final_dot() {
        for (authority, name) in [
            ("Example.COM.:8080", "example.com"),
            ("127.0.0.1:8080", "127.0.0.1"),
            ("[::1]:8080", "::1"),
            ("[::1]", "::1"),
            ("localhost", "localhost"),
            ("orders.example.com", "orders.example.com"),
        ] {
            assert_eq!(host_name(authority), name, "{authority}");
        }
    }

    #[test]
    fn a_loopback_server_answers_only_loopback_names_unless_told() {
        let loopback = allowed(None, "127.0.0.1:8080");
        assert_eq!(loopback, AllowedHosts::Loopback);
        for host in [
            "localhost",
            "app.localhost",
            "127.0.0.1",
            "127.8.9.1",
            "::1",
        ] {
            assert!(loopback.allows(Some(host)), "{host}");
        }
        for host in [
            "evil.example",
            "localhost.evil.example",
            "10.0.0.1",
            "0.0.0.0",
        ] {
            assert!(!loopback.allows(Some(host)), "{host}");
        }
        assert!(!loopback.allows(None));
        assert_eq!(allowed(Some(&[" "]), "[::1]:8080"), AllowedHosts::Loopback);
    }

    #[test]
    fn a_public_server_answers_any_name_unless_told() {
        assert_eq!(allowed(None, "0.0.0.0:8080"), AllowedHosts::Any);
        assert_eq!(allowed(Some(&["*"]), "127.0.0.1:8080"), AllowedHosts::Any);
        assert!(AllowedHosts::Any.allows(None));
    }

    #[test]
    fn listed_names_match_exactly_and_dotted_ones_their_subdomains() {
        let listed = allowed(
            Some(&["Orders.Example.com:443", ".corp.example", "[::1]"]),
            "0.0.0.0:8080",
        );
        for host in [
            "orders.example.com",
            "corp.example",
            "eu.corp.example",
            "::1",
        ] {
            assert!(listed.allows(Some(host)), "{host}");
        }
        for host in ["example.com", "evilcorp.example", "localhost", "127.0.0.1"] {
            assert!(!listed.allows(Some(host)), "{host}");
        }
    }
}
