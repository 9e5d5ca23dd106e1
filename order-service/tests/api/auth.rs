//! Once a tokens file exists, every route of the API and the page asks for a token of a role
//! that may use it: reading for every role, changing orders for `clerk` and `admin`.

use reqwest::Method;
use serde_json::{Value, json};
use shared_events::app::auth::{Permission, Role};
use test_support::auth::{RoleTokens, RouteCase, assert_every_route_asks_for_its_role};

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
    let order = |suffix: &str| format!("/orders/{shown}{suffix}");
    let page = |suffix: &str| format!("/ui/orders/{shown}{suffix}");
    let (read, change) = (Permission::Read, Permission::ChangeOrders);
    let cases = [
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
    ];

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
