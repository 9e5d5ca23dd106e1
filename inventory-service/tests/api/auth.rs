//! Once a tokens file exists, every route asks for a token of a role that may use it: reading
//! for every role, setting stock for `stock` and `admin`.

use inventory_service::Inventory;
use reqwest::Method;
use serde_json::json;
use shared_events::app::auth::{Permission, Role};
use test_support::auth::{
    RoleTokens, RouteCase, assert_access_tokens_are_checked, assert_every_route_asks_for_its_role,
};
use test_support::consumer::TestConsumer;
use test_support::identity_provider::IdentityProvider;

use crate::helpers::spawn_app;

#[tokio::test]
async fn every_route_asks_for_a_token_of_a_role_that_may_use_it() {
    // Arrange: open until the first token is made, which closes it without a restart.
    let app = spawn_app().await;
    let response = app.get("/stock").await;
    assert_eq!(response.status(), 200, "open without a tokens file");
    let tokens = RoleTokens::make(&app.data_dir.path().join("tokens.json"));
    let cases = route_cases();

    // Act and Assert
    assert_every_route_asks_for_its_role(&app.address, &tokens, &cases).await;

    // A revoked token is refused at the next request.
    let stock = || {
        app.client
            .put(format!("{}/stock/widget", app.address))
            .bearer_auth(tokens.of(Role::Stock))
            .json(&json!({"on_hand": 7}))
            .send()
    };
    assert_eq!(stock().await.expect("send").status(), 200);
    tokens.revoke(Role::Stock);
    assert_eq!(stock().await.expect("send").status(), 401);
}

#[tokio::test]
async fn access_tokens_of_the_identity_provider_are_checked_on_every_route() {
    let provider = IdentityProvider::new();
    let app = TestConsumer::<Inventory>::spawn_trusting(&provider).await;
    let tokens = RoleTokens::from_identity_provider(&provider);
    assert_every_route_asks_for_its_role(&app.address, &tokens, &route_cases()).await;
    let read = RouteCase::new(Method::GET, "/stock", Permission::Read);
    assert_access_tokens_are_checked(&app.address, &provider, &read).await;
}

/// Every route of the service.
fn route_cases() -> Vec<RouteCase> {
    vec![
        RouteCase::new(Method::GET, "/stock", Permission::Read),
        RouteCase::at(
            Method::GET,
            "/stock/{product}",
            "/stock/widget".into(),
            Permission::Read,
        ),
        RouteCase::at(
            Method::PUT,
            "/stock/{product}",
            "/stock/widget".into(),
            Permission::SetStock,
        )
        .with_body(json!({"on_hand": 5})),
        RouteCase::new(Method::GET, "/shards", Permission::Read),
    ]
}
