//! Signing in to the page once tokens exist: the form, the session cookie, the CSRF token on
//! every form, signing out, and a revoked token's sessions.

use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::{Method, Response};
use secrecy::ExposeSecret;
use shared_events::app::auth::Role;
use shared_events::app::auth::api_tokens::TokenStore;
use shared_events::app::auth::tokens_command::{self, TokensCommand};
use test_support::identity_provider::IdentityProvider;

use crate::helpers::{TestApp, assert_html, see_other, send, spawn_app, spawn_app_with};

/// A browser's cookie jar of one cookie: the session.
struct Browser<'a> {
    app: &'a TestApp,
    cookie: Option<String>,
}

impl Browser<'_> {
    async fn get(&self, path: &str) -> Response {
        send(self.with_cookie(self.app.request(Method::GET, path))).await
    }

    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        send(
            self.with_cookie(self.app.request(Method::POST, path))
                .form(fields),
        )
        .await
    }

    fn with_cookie(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.cookie {
            Some(cookie) => request.header(COOKIE, cookie),
            None => request,
        }
    }

    /// Signs in with `token`; the `Set-Cookie` it got.
    async fn sign_in(&mut self, token: &str) -> String {
        let response = self.post("/ui/sign-in", &[("token", token)]).await;
        assert_eq!(see_other(&response), "/ui/orders", "signed in");
        let set_cookie = header(&response, SET_COOKIE.as_str());
        let pair = set_cookie.split(';').next().expect("name=value").to_owned();
        self.cookie = Some(pair);
        set_cookie
    }

    /// The CSRF token in the form of the page at `path`.
    async fn csrf(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        let page = response.text().await.expect("page");
        page.split(r#"name="csrf" value=""#)
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no CSRF field on {path}: {page}"))
            .to_owned()
    }
}

fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn make_token(app: &TestApp, name: &str, role: Role) -> String {
    let token = TokenStore::open(&app.tokens_file())
        .create(name.parse().expect("a name"), role)
        .expect("make a token");
    token.expose_secret().to_owned()
}

#[tokio::test]
async fn a_clerk_signs_in_changes_orders_with_the_forms_csrf_token_and_signs_out() {
    // Arrange
    let app = spawn_app().await;
    let clerk = make_token(&app, "clerk-ana", Role::Clerk);
    let mut browser = Browser {
        app: &app,
        cookie: None,
    };

    // A page without a session leads to the sign-in form, which is open.
    assert_eq!(see_other(&browser.get("/ui/orders").await), "/ui/sign-in");
    let form = browser.get("/ui/sign-in").await;
    assert_eq!(form.status(), 200);
    assert_html(&form);
    assert!(
        form.text()
            .await
            .expect("page")
            .contains(r#"id="sign-in-form""#)
    );
    let refused = browser
        .post("/ui/sign-in", &[("token", "orders_wrong")])
        .await;
    assert_eq!(refused.status(), 401, "a bad token");
    assert!(refused.text().await.expect("page").contains("not valid"));

    // Act: sign in.
    let set_cookie = browser.sign_in(&clerk).await;

    // Assert: the cookie is HttpOnly, SameSite=Strict and expires; the file keeps only hashes.
    for part in [
        "orders_session=",
        "HttpOnly",
        "SameSite=Strict",
        "Path=/",
        "Max-Age=43200",
    ] {
        assert!(set_cookie.contains(part), "{set_cookie} lacks {part}");
    }
    assert!(!set_cookie.contains("Secure"), "plain HTTP: {set_cookie}");
    let session = browser.cookie.clone().expect("a cookie");
    let secret = session.trim_start_matches("orders_session=");
    let file = std::fs::read_to_string(app.tokens_file()).expect("the tokens file");
    assert!(!file.contains(secret) && !file.contains(&clerk), "{file}");

    // A form posted with the cookie but without the page's CSRF token changes nothing.
    let fields = [
        ("customer_name", "Ada"),
        ("customer_email", "ada@example.com"),
        ("items[0].product", "widget"),
        ("items[0].quantity", "1"),
        ("items[0].amount", "2.50"),
    ];
    for csrf in [None, Some("forged")] {
        let mut posted = fields.to_vec();
        posted.extend(csrf.map(|csrf| ("csrf", csrf)));
        let response = browser.post("/ui/orders", &posted).await;
        assert_eq!(response.status(), 403, "CSRF token {csrf:?}");
        assert_html(&response);
        let page = response.text().await.expect("a page");
        assert!(page.contains("CSRF token"), "the page says why: {page}");
    }
    assert_eq!(app.store.len(), 0, "nothing was created");

    // With the token of the page's form, it works.
    let csrf = browser.csrf("/ui/orders/new").await;
    let mut posted = fields.to_vec();
    posted.push(("csrf", &csrf));
    let created = see_other(&browser.post("/ui/orders", &posted).await);
    assert!(created.starts_with("/ui/orders/"), "{created}");
    assert_eq!(app.store.len(), 1);
    let delete_csrf = browser.csrf(&format!("{created}/delete")).await;
    assert_eq!(delete_csrf, csrf, "one token per session");

    // Sign out: the session ends, whatever cookie the browser keeps.
    let sign_out = browser
        .get("/ui/sign-out")
        .await
        .text()
        .await
        .expect("page");
    assert!(sign_out.contains("clerk-ana"), "{sign_out}");
    let signed_out = browser.post("/ui/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(see_other(&signed_out), "/ui/sign-in");
    assert!(header(&signed_out, SET_COOKIE.as_str()).contains("Max-Age=0"));
    assert_eq!(see_other(&browser.get("/ui/orders").await), "/ui/sign-in");
}

#[tokio::test]
async fn a_viewer_reads_but_cannot_change_and_a_revoked_tokens_session_ends() {
    let app = spawn_app().await;
    let viewer = make_token(&app, "viewer-bo", Role::Viewer);
    let mut browser = Browser {
        app: &app,
        cookie: None,
    };
    browser.sign_in(&viewer).await;
    assert_eq!(browser.get("/ui/orders").await.status(), 200);
    let csrf = browser.csrf("/ui/orders/new").await;
    let response = browser
        .post("/ui/orders", &[("customer_name", "Ada"), ("csrf", &csrf)])
        .await;
    assert_eq!(response.status(), 403, "a viewer may not create orders");
    assert_html(&response);
    let page = response.text().await.expect("a page");
    assert!(
        page.contains("viewer-bo") && page.contains("may not create, change or delete orders"),
        "the page says why: {page}"
    );

    TokenStore::open(&app.tokens_file())
        .revoke(&"viewer-bo".parse().expect("a name"))
        .expect("revoke");
    assert_eq!(see_other(&browser.get("/ui/orders").await), "/ui/sign-in");
}

#[tokio::test]
async fn repeated_failed_sign_ins_from_one_address_get_429() {
    let app = spawn_app_with(|settings| settings.auth.failure_limit = 3).await;
    let clerk = make_token(&app, "clerk", Role::Clerk);
    let browser = Browser {
        app: &app,
        cookie: None,
    };
    for attempt in 1..=3 {
        let response = browser
            .post("/ui/sign-in", &[("token", "orders_guess")])
            .await;
        assert_eq!(response.status(), 401, "attempt {attempt}");
    }
    let response = browser.post("/ui/sign-in", &[("token", &clerk)]).await;
    assert_eq!(response.status(), 429, "even the right token, for a while");
    assert!(!header(&response, "retry-after").is_empty());
    assert_html(&response);
}

#[tokio::test]
async fn people_sign_in_through_the_identity_provider_and_forged_callbacks_are_refused() {
    // Arrange: a provider that signs Ada in as a clerk, and a service that trusts it.
    let provider = IdentityProvider::new();
    let oidc = provider.serve_sign_in("ada.lovelace", Role::Clerk).await;
    let keys = tempfile::tempdir().expect("temp dir");
    let jwt = provider.settings(&keys.path().join("jwks.json"));
    let app = spawn_app_with(|settings| {
        settings.auth.jwt = jwt;
        settings.auth.oidc = oidc;
    })
    .await;
    let page = app.page("/ui/sign-in", 200).await;
    assert!(page.contains(r#"href="/ui/sign-in/provider""#), "{page}");

    // The first leg: to the provider, with the flow in a cookie; the provider sends back a code.
    let start = |app: &TestApp| {
        let request = app.request(Method::GET, "/ui/sign-in/provider");
        async move {
            let response = send(request).await;
            let to_provider = see_other(&response);
            let flow = header(&response, SET_COOKIE.as_str());
            let flow = flow.split(';').next().expect("name=value").to_owned();
            let back = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("a client")
                .get(&to_provider)
                .send()
                .await
                .expect("the provider answers");
            (flow, header(&back, "location"))
        }
    };
    let callback = |location: &str| {
        location
            .split_once("/ui/sign-in/callback")
            .map(|(_, query)| format!("/ui/sign-in/callback{query}"))
            .unwrap_or_else(|| panic!("back to the callback: {location}"))
    };

    // Act and Assert: a callback without the flow's cookie, or with another flow's, is refused.
    let (_, location) = start(&app).await;
    let without_cookie = app.get(&callback(&location)).await;
    assert_eq!(without_cookie.status(), 401);
    let (other_flow, _) = start(&app).await;
    let mixed = send(
        app.request(Method::GET, &callback(&location))
            .header(COOKIE, &other_flow),
    )
    .await;
    assert_eq!(mixed.status(), 401, "another flow's state");

    let (flow, location) = start(&app).await;
    let forged: String = callback(&location)
        .split('&')
        .map(|pair| match pair.split_once("state=") {
            Some((before, _)) => format!("{before}state=forged"),
            None => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&");
    let tampered = send(app.request(Method::GET, &forged).header(COOKIE, &flow)).await;
    assert_eq!(tampered.status(), 401, "a state that is not the flow's");

    // The real round trip signs Ada in, in her name and with her role.
    let (flow, location) = start(&app).await;
    let signed_in = send(
        app.request(Method::GET, &callback(&location))
            .header(COOKIE, &flow),
    )
    .await;
    // A page that moves on to the list: a redirect would continue the provider's cross-site
    // navigation, on which the SameSite=Strict session cookie is not sent.
    assert_eq!(signed_in.status(), 200);
    let cookies: Vec<String> = signed_in
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok().map(str::to_owned))
        .collect();
    let session = cookies
        .iter()
        .find(|cookie| cookie.starts_with("orders_session="))
        .unwrap_or_else(|| panic!("a session cookie: {cookies:?}"))
        .clone();
    assert!(
        cookies
            .iter()
            .any(|cookie| cookie.starts_with("orders_oidc_flow=;") && cookie.contains("Path=/")),
        "the flow's cookie is cleared where it was set: {cookies:?}"
    );
    let moving_on = signed_in.text().await.expect("a page");
    assert!(
        moving_on.contains(r#"http-equiv="refresh" content="0;url=/ui/orders""#),
        "{moving_on}"
    );
    let mut browser = Browser {
        app: &app,
        cookie: Some(session.split(';').next().expect("name=value").to_owned()),
    };
    let list = browser.get("/ui/orders").await;
    assert_eq!(list.status(), 200);
    let who = browser
        .get("/ui/sign-out")
        .await
        .text()
        .await
        .expect("page");
    assert!(
        who.contains("ada.lovelace") && who.contains("clerk"),
        "{who}"
    );
    let csrf = browser.csrf("/ui/orders/new").await;
    let created = browser
        .post(
            "/ui/orders",
            &[
                ("csrf", csrf.as_str()),
                ("customer_name", "Grace"),
                ("items[0].product", "pen"),
                ("items[0].quantity", "1"),
                ("items[0].amount", "1.50"),
            ],
        )
        .await;
    let order_page = see_other(&created);
    let shown = browser.get(&order_page).await.text().await.expect("page");
    assert!(shown.contains("ada.lovelace"), "changed by Ada: {shown}");

    // `tokens revoke` with her name ends her sessions, as it ends a token's.
    let (mut out, mut report) = (Vec::new(), Vec::new());
    let revoke = TokensCommand::Revoke {
        name: "ada.lovelace".parse().expect("a name"),
    };
    tokens_command::run(&revoke, &app.tokens_file(), &mut out, &mut report).expect("revoked");
    let report = String::from_utf8_lossy(&report);
    assert!(
        report.contains("ended the page sessions of `ada.lovelace`"),
        "{report}"
    );
    assert_eq!(see_other(&browser.get("/ui/orders").await), "/ui/sign-in");

    // The same code a second time is refused by the provider.
    browser.cookie = None;
    let replayed = send(
        app.request(Method::GET, &callback(&location))
            .header(COOKIE, &flow),
    )
    .await;
    assert_eq!(replayed.status(), 401, "a code works once");
}
