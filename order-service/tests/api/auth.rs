//! Once a tokens file exists, every route of the API and the page asks for a token of a role
//! that may use it: reading for every role, changing orders for `clerk` and `admin`.

use order_service::settings::Settings;
use order_service::startup::Application;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use shared_events::app::auth::{Permission, Role};
use test_support::auth::{
    RoleTokens, RouteCase, assert_access_tokens_are_checked, assert_every_route_asks_for_its_role,
};
use test_support::identity_provider::IdentityProvider;
use test_support::wait::until_within;

use crate::helpers::{TestApp, header, order_body, spawn_app, spawn_app_in};

#[tokio::test]
async fn every_route_asks_for_a_token_of_a_role_that_may_use_it() {
    // Arrange: orders made while the service is open; the first token closes it.
    let app = spawn_app().await;
    let [shown, deleted_by_api, deleted_by_page] = [
        app.created_id("Ada").await,
        app.created_id("Grace").await,
        app.created_id("Edsger").await,
    ];
    let tokens = RoleTokens::make(&app.data_dir.path().join("tokens.json"));
    let cases = route_cases(&shown, &deleted_by_api, &deleted_by_page);

    // Act and Assert
    assert_every_route_asks_for_its_role(&app.address, &tokens, &cases).await;

    // A clerk's token changes orders; once revoked, it is refused at the next request.
    let create = || {
        app.client
            .post(format!("{}/orders", app.address))
            .bearer_auth(tokens.of(Role::Clerk))
            .json(&order_body("Margaret"))
            .send()
    };
    assert_eq!(create().await.expect("send").status(), 201);
    tokens.revoke(Role::Clerk);
    assert_eq!(create().await.expect("send").status(), 401);
}

#[tokio::test]
async fn an_address_that_keeps_sending_bad_tokens_is_refused_for_a_while() {
    // Arrange
    let data_dir = tempfile::tempdir().expect("temp dir");
    let app = spawn_app_in(data_dir, |settings| settings.auth.failure_limit = 5).await;
    let tokens = RoleTokens::make(&app.data_dir.path().join("tokens.json"));
    let list = |client: &reqwest::Client, token: &str| {
        client
            .get(format!("{}/orders", app.address))
            .bearer_auth(token)
            .send()
    };
    let forged = format!("orders_{}", "B".repeat(43));

    // Act: five bad tokens, each answered 401, then the address is refused.
    for attempt in 1..=5 {
        let status = list(&app.client, &forged).await.expect("send").status();
        assert_eq!(status, 401, "bad token {attempt}");
    }
    let refused = list(&app.client, tokens.of(Role::Viewer))
        .await
        .expect("send");

    // Assert: refused whatever it sends, with a time to wait; other addresses and the health
    // checks are not.
    assert_eq!(refused.status(), 429, "even a good token from that address");
    let retry_after: u64 = header(&refused, "retry-after").parse().expect("seconds");
    assert!((1..=300).contains(&retry_after), "{retry_after}");
    let body: serde_json::Value = refused.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "too_many_failures");
    let elsewhere = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .expect("a client from another loopback address");
    let status = list(&elsewhere, tokens.of(Role::Viewer))
        .await
        .expect("send")
        .status();
    assert_eq!(status, 200, "another address");
    assert_eq!(app.get("/health/live").await.status(), 200);
}

#[tokio::test]
async fn every_version_records_who_made_it_also_after_a_restart() {
    // Arrange: an order made while the service is open, then tokens.
    let app = spawn_app().await;
    let id = app.created_id("Ada").await;
    let tokens = RoleTokens::make(&app.data_path().join("tokens.json"));
    let viewer = tokens.of(Role::Viewer).to_owned();
    let read = |app: &TestApp| {
        let request = app.client.get(format!("{}/orders/{id}", app.address));
        let request = request.bearer_auth(&viewer);
        async move {
            let response = request.send().await.expect("send");
            response.json::<Value>().await.expect("json")
        }
    };
    let before = read(&app).await;
    assert!(
        before.get("changed_by").is_none(),
        "made while open: {before}"
    );

    // Act: a clerk changes it, then an admin.
    for (role, name) in [(Role::Clerk, "Ada King"), (Role::Admin, "Ada Lovelace")] {
        let response = app
            .client
            .patch(format!("{}/orders/{id}", app.address))
            .bearer_auth(tokens.of(role))
            .json(&json!({"customer_name": name}))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), 200);
        let changed: Value = response.json().await.expect("json");
        assert_eq!(changed["changed_by"], role.name(), "{changed}");
    }

    // Assert: the latest version says who, also once the service has read its journal again.
    assert_eq!(read(&app).await["changed_by"], "admin");
    let app = app.restart().await;
    let after = read(&app).await;
    assert_eq!(after["changed_by"], "admin", "{after}");
    assert_eq!(after["version"], 3);
}

/// Every route of the API and the page, on the order `shown` and two orders to delete.
fn route_cases(shown: &str, deleted_by_api: &str, deleted_by_page: &str) -> Vec<RouteCase> {
    let order = |suffix: &str| format!("/orders/{shown}{suffix}");
    let page = |suffix: &str| format!("/ui/orders/{shown}{suffix}");
    let (read, change) = (Permission::Read, Permission::ChangeOrders);
    vec![
        RouteCase::new(Method::GET, "/orders", read),
        RouteCase::new(Method::POST, "/orders", change).with_body(order_body("Barbara")),
        RouteCase::at(Method::GET, "/orders/{id}", order(""), read),
        RouteCase::at(Method::PATCH, "/orders/{id}", order(""), change)
            .with_body(json!({"customer_name": "Ada King"})),
        RouteCase::at(
            Method::GET,
            "/orders/{id}/deliveries",
            order("/deliveries"),
            read,
        ),
        RouteCase::at(
            Method::DELETE,
            "/orders/{id}",
            format!("/orders/{deleted_by_api}"),
            change,
        ),
        RouteCase::new(Method::GET, "/", read).on_page(),
        RouteCase::new(Method::GET, "/ui/orders", read).on_page(),
        RouteCase::new(Method::POST, "/ui/orders", change).on_page(),
        RouteCase::new(Method::GET, "/ui/orders/new", read).on_page(),
        RouteCase::at(Method::GET, "/ui/orders/{id}", page(""), read).on_page(),
        RouteCase::at(Method::POST, "/ui/orders/{id}", page(""), change).on_page(),
        RouteCase::at(Method::GET, "/ui/orders/{id}/edit", page("/edit"), read).on_page(),
        RouteCase::at(Method::GET, "/ui/orders/{id}/delete", page("/delete"), read).on_page(),
        RouteCase::at(Method::GET, "/ui/orders/{id}/live", page("/live"), read).on_page(),
        RouteCase::new(Method::GET, "/ui/sign-out", read).on_page(),
        RouteCase::new(Method::POST, "/ui/sign-out", read).on_page(),
        RouteCase::at(
            Method::POST,
            "/ui/orders/{id}/delete",
            format!("/ui/orders/{deleted_by_page}/delete"),
            change,
        ),
    ]
}

#[tokio::test]
async fn access_tokens_of_the_identity_provider_are_checked_on_every_route() {
    // Arrange: no tokens file, only an identity provider's key set: closed from the start.
    let data_dir = tempfile::tempdir().expect("temp dir");
    let key_file = data_dir.path().join("jwks.json");
    let provider = IdentityProvider::new();
    let settings = provider.settings(&key_file);
    let app = spawn_app_in(data_dir, |s| s.auth.jwt = settings).await;
    let tokens = RoleTokens::from_identity_provider(&provider);
    let guess = app
        .client
        .post(format!("{}/ui/sign-in", app.address))
        .form(&[("token", "orders_guess")])
        .send()
        .await
        .expect("send");
    assert_eq!(guess.status(), 401);
    assert!(
        !app.data_path().join("tokens.json").exists(),
        "a failed sign-in writes no tokens file"
    );
    let create = |token: &str, customer: &str| {
        app.client
            .post(format!("{}/orders", app.address))
            .bearer_auth(token)
            .json(&order_body(customer))
            .send()
    };
    let mut ids = Vec::new();
    for customer in ["Ada", "Grace", "Edsger"] {
        let response = create(tokens.of(Role::Clerk), customer)
            .await
            .expect("send");
        assert_eq!(response.status(), 201);
        let order: Value = response.json().await.expect("json");
        assert_eq!(order["changed_by"], "clerk", "the token's name: {order}");
        ids.push(order["order_id"].as_str().expect("an id").to_owned());
    }

    // Act and Assert: every route, every role; bad tokens of every kind.
    let cases = route_cases(&ids[0], &ids[1], &ids[2]);
    assert_every_route_asks_for_its_role(&app.address, &tokens, &cases).await;
    let read = RouteCase::new(Method::GET, "/orders", Permission::Read);
    assert_access_tokens_are_checked(&app.address, &provider, &read).await;

    // The provider rotates its keys: the new ones count at once, the old ones no longer.
    let rotated = IdentityProvider::new();
    rotated.write_key_set(&key_file);
    let old = create(tokens.of(Role::Clerk), "Barbara")
        .await
        .expect("send");
    assert_eq!(old.status(), 401);
    let new = create(&rotated.token("clerk-ada", Role::Clerk), "Barbara");
    assert_eq!(new.await.expect("send").status(), 201);
}

#[tokio::test]
async fn a_key_set_without_issuer_or_audience_or_a_damaged_one_stops_the_start() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let key_file = data_dir.path().join("jwks.json");
    let provider = IdentityProvider::new();
    let good = provider.settings(&key_file);
    let mut no_audience = good.clone();
    no_audience.audience = None;
    let mut no_issuer = good.clone();
    no_issuer.issuer = Some(" ".to_owned());
    let mut plain_http = good.clone();
    plain_http.jwks_file = None;
    plain_http.jwks_url = Some("http://login.example.com/keys".to_owned());
    let damaged_file = data_dir.path().join("damaged.json");
    std::fs::write(&damaged_file, r#"{"keys": [{"kty": "EC", "x": "#).expect("write");
    let mut damaged = good.clone();
    damaged.jwks_file = Some(damaged_file);
    let cases = [
        (no_audience, "ORDERS__AUTH__JWT__AUDIENCE"),
        (no_issuer, "ORDERS__AUTH__JWT__ISSUER"),
        (plain_http, "https://"),
        (damaged, "line 1"),
    ];
    for (jwt, expected) in cases {
        let mut settings = Settings::for_tests(data_dir.path());
        settings.auth.jwt = jwt;
        let error = match Application::build(settings).await {
            Ok(_) => panic!("started without {expected}"),
            Err(error) => format!("{error:#}"),
        };
        assert!(error.contains(expected), "{expected}: {error}");
    }
}

#[tokio::test]
async fn the_key_set_can_come_from_the_identity_provider_s_url() {
    // Arrange
    let provider = IdentityProvider::new();
    let url = provider.serve_key_set().await;
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut jwt = provider.settings(&data_dir.path().join("jwks.json"));
    jwt.jwks_file = None;
    jwt.jwks_url = Some(url);
    let app = spawn_app_in(data_dir, |settings| settings.auth.jwt = jwt).await;
    let list = |token: String| {
        app.client
            .get(format!("{}/orders", app.address))
            .bearer_auth(token)
            .send()
    };

    // Act: the key set is fetched in the background, soon after the start.
    until_within("the key set fetched", Duration::from_secs(20), || async {
        let status = list(provider.token("ada", Role::Viewer))
            .await
            .ok()?
            .status();
        (status == 200).then_some(())
    })
    .await;

    // Assert
    let forged = provider.bad_tokens().swap_remove(0).1;
    assert_eq!(list(forged).await.expect("send").status(), 401);
}
