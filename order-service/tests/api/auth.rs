//! Once a tokens file exists, every route of the API and the page asks for a token of a role
//! that may use it: reading for every role, changing orders for `clerk` and `admin`.

use reqwest::Method;
use serde_json::json;
use shared_events::app::auth::{Permission, Role};
use test_support::auth::{RoleTokens, RouteCase, assert_every_route_asks_for_its_role};

use crate::helpers::{order_body, spawn_app};

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
        RouteCase::new(Method::GET, "/", read),
        RouteCase::new(Method::GET, "/ui/orders", read),
        RouteCase::new(Method::POST, "/ui/orders", change),
        RouteCase::new(Method::GET, "/ui/orders/new", read),
        RouteCase::at(Method::GET, "/ui/orders/{id}", page(""), read),
        RouteCase::at(Method::POST, "/ui/orders/{id}", page(""), change),
        RouteCase::at(Method::GET, "/ui/orders/{id}/edit", page("/edit"), read),
        RouteCase::at(Method::GET, "/ui/orders/{id}/delete", page("/delete"), read),
        RouteCase::at(Method::GET, "/ui/orders/{id}/live", page("/live"), read),
        RouteCase::new(Method::GET, "/ui/assets/app.js", read),
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
