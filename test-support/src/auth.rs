//! Tokens of every role, and the table-driven check that every route of a service asks for
//! the right one.

use std::path::Path;

use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde_json::Value;
use shared_events::app::auth::api_tokens::TokenStore;
use shared_events::app::auth::{Permission, Role};

use crate::identity_provider::IdentityProvider;

/// The routes every service answers without a token.
const OPEN: [&str; 6] = [
    "/health/live",
    "/health/ready",
    "/metrics",
    "/openapi.json",
    "/api-docs",
    "/api-docs.js",
];

/// A token of each role, made in one tokens file or by an identity provider.
pub struct RoleTokens {
    store: Option<TokenStore>,
    tokens: Vec<(Role, String)>,
}

/// One route as the check calls it: the method, the path as the OpenAPI document writes it
/// (`/stock/{product}`), a real path and a body, and what the caller must be allowed.
pub struct RouteCase {
    /// The method.
    pub method: Method,
    /// The path's template, as the service's OpenAPI document names it (or the page's route).
    pub template: &'static str,
    /// A path to call.
    pub path: String,
    /// A JSON body, for a change.
    pub body: Option<Value>,
    /// What the route needs.
    pub needs: Permission,
    /// Whether it is a route of the web page, whose GETs send a person without credentials to
    /// the sign-in form instead of answering 401.
    pub page: bool,
}

impl RoleTokens {
    /// Makes a token of each role in `tokens_file`, named after its role: from then on the
    /// services that read the file ask for tokens.
    pub fn make(tokens_file: &Path) -> RoleTokens {
        let store = TokenStore::open(tokens_file);
        let tokens = Role::ALL
            .into_iter()
            .map(|role| {
                let name = role.name().parse().expect("a role's name is a token name");
                let token = store.create(name, role).expect("make a token");
                (role, token.expose_secret().to_owned())
            })
            .collect();
        RoleTokens {
            store: Some(store),
            tokens,
        }
    }

    /// An access token of each role from `provider`, named after its role.
    pub fn from_identity_provider(provider: &IdentityProvider) -> RoleTokens {
        let tokens = Role::ALL
            .into_iter()
            .map(|role| (role, provider.token(role.name(), role)))
            .collect();
        RoleTokens {
            store: None,
            tokens,
        }
    }

    /// The token of `role`.
    pub fn of(&self, role: Role) -> &str {
        self.tokens
            .iter()
            .find(|(held, _)| *held == role)
            .map(|(_, token)| token.as_str())
            .expect("a token of every role")
    }

    /// Revokes the token of `role`.
    pub fn revoke(&self, role: Role) {
        let name = role.name().parse().expect("a role's name is a token name");
        let store = self.store.as_ref().expect("tokens of a tokens file");
        store.revoke(&name).expect("revoke the token");
    }
}

impl RouteCase {
    /// A case whose path is its template.
    pub fn new(method: Method, template: &'static str, needs: Permission) -> RouteCase {
        RouteCase::at(method, template, template.to_owned(), needs)
    }

    /// A case calling `path`, an instance of `template`.
    pub fn at(
        method: Method,
        template: &'static str,
        path: String,
        needs: Permission,
    ) -> RouteCase {
        RouteCase {
            method,
            template,
            path,
            body: None,
            needs,
            page: false,
        }
    }

    /// The same case on the web page.
    pub fn on_page(mut self) -> RouteCase {
        self.page = true;
        self
    }

    /// The same case with a JSON body.
    pub fn with_body(mut self, body: Value) -> RouteCase {
        self.body = Some(body);
        self
    }
}

/// Every operation of the OpenAPI document at `address` has a case in `cases`, and each case
/// is answered: without a token, 401 with `WWW-Authenticate: Bearer`; with a token that was
/// never made, 401; with a token whose role may not do it, 403; with one whose role may, an
/// answer past the check (neither 401 nor 403, nor a server error). Health, metrics and the
/// API documents answer without a token.
pub async fn assert_every_route_asks_for_its_role(
    address: &str,
    tokens: &RoleTokens,
    cases: &[RouteCase],
) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    for open in OPEN {
        let status = client
            .get(format!("{address}{open}"))
            .send()
            .await
            .expect("send")
            .status();
        assert!(
            status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
            "{open} is open to all: {status}"
        );
    }
    let document: Value = client
        .get(format!("{address}/openapi.json"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("the OpenAPI document");
    for (template, operations) in document["paths"].as_object().expect("paths") {
        if OPEN.contains(&template.as_str()) {
            continue;
        }
        for method in operations.as_object().expect("operations").keys() {
            let method = method.to_uppercase();
            assert!(
                cases
                    .iter()
                    .any(|case| case.template == template && case.method.as_str() == method),
                "{method} {template} has no case in the table"
            );
        }
    }

    let forged = format!("orders_{}", "A".repeat(43));
    for case in cases {
        let what = format!("{} {}", case.method, case.path);
        let answer = call(&client, address, case, None).await;
        if case.page && case.method == Method::GET {
            assert_eq!(
                answer.status(),
                StatusCode::SEE_OTHER,
                "{what} without a token"
            );
            let location = header(&answer, "location");
            assert!(
                location.ends_with("/sign-in"),
                "{what} leads to {location:?}"
            );
        } else {
            assert_eq!(
                answer.status(),
                StatusCode::UNAUTHORIZED,
                "{what} without a token"
            );
            let challenge = header(&answer, "www-authenticate");
            assert!(challenge.starts_with("Bearer"), "{what}: {challenge:?}");
            assert_eq!(
                code(answer).await,
                "unauthenticated",
                "{what} without a token"
            );
        }

        let answer = call(&client, address, case, Some(&forged)).await;
        assert_eq!(
            answer.status(),
            StatusCode::UNAUTHORIZED,
            "{what} with a forged token"
        );
        assert_eq!(
            code(answer).await,
            "invalid_token",
            "{what} with a forged token"
        );

        for role in Role::ALL {
            let answer = call(&client, address, case, Some(tokens.of(role))).await;
            let status = answer.status();
            if role.may(case.needs) {
                assert!(
                    status != StatusCode::UNAUTHORIZED
                        && status != StatusCode::FORBIDDEN
                        && !status.is_server_error(),
                    "{what} as {role}: {status}"
                );
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{what} as {role}");
                assert_eq!(code(answer).await, "forbidden", "{what} as {role}");
            }
        }
    }
}

/// On `case` (a read): every bad access token of `provider` gets 401 `invalid_token` with
/// `WWW-Authenticate`, whatever role it names; a good RS256 token passes like an ES256 one; a good
/// token naming no role of the platform gets 403.
pub async fn assert_access_tokens_are_checked(
    address: &str,
    provider: &IdentityProvider,
    case: &RouteCase,
) {
    let client = reqwest::Client::new();
    let what = format!("{} {}", case.method, case.path);
    for (flaw, token) in provider.bad_tokens() {
        let answer = call(&client, address, case, Some(&token)).await;
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "{what}: {flaw}");
        let challenge = header(&answer, "www-authenticate");
        assert!(
            challenge.contains("invalid_token"),
            "{what}: {flaw}: {challenge:?}"
        );
        let body = answer.text().await.expect("a body");
        assert!(
            !body.contains(&token) && body.contains("invalid_token"),
            "{what}: {flaw}: {body}"
        );
    }
    let rs256 = provider.rs256_token("ops-robot", Role::Admin);
    let status = call(&client, address, case, Some(&rs256)).await.status();
    assert!(status.is_success(), "{what} with an RS256 token: {status}");
    let no_role = provider.token_with(|claims| claims["roles"] = serde_json::json!(["guest"]));
    let answer = call(&client, address, case, Some(&no_role)).await;
    assert_eq!(
        answer.status(),
        StatusCode::FORBIDDEN,
        "{what} without a role"
    );
}

async fn call(
    client: &reqwest::Client,
    address: &str,
    case: &RouteCase,
    token: Option<&str>,
) -> reqwest::Response {
    let mut request = client.request(case.method.clone(), format!("{address}{}", case.path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = &case.body {
        request = request.json(body);
    }
    request.send().await.expect("send")
}

/// The header `name` of `answer` as text, empty when it is missing.
fn header(answer: &reqwest::Response, name: &str) -> String {
    answer
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// The error code of a JSON error answer.
async fn code(answer: reqwest::Response) -> String {
    let body: Value = answer.json().await.expect("a JSON error");
    body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}
