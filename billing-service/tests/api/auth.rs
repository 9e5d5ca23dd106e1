//! Once a tokens file exists, every route asks for a token: the invoices are read by any role.

use billing_service::Billing;
use reqwest::Method;
use shared_events::app::auth::Permission;
use test_support::auth::{
    RoleTokens, RouteCase, assert_access_tokens_are_checked, assert_every_route_asks_for_its_role,
};
use test_support::consumer::TestConsumer;
use test_support::identity_provider::IdentityProvider;
use uuid::Uuid;

use crate::helpers::spawn_app;

#[tokio::test]
async fn every_route_asks_for_a_token_of_a_role_that_may_use_it() {
    let app = spawn_app().await;
    let tokens = RoleTokens::make(&app.data_dir.path().join("tokens.json"));
    let cases = route_cases();
    assert_every_route_asks_for_its_role(&app.address, &tokens, &cases).await;
}

#[tokio::test]
async fn access_tokens_of_the_identity_provider_are_checked_on_every_route() {
    let provider = IdentityProvider::new();
    let app = TestConsumer::<Billing>::spawn_trusting(&provider).await;
    let tokens = RoleTokens::from_identity_provider(&provider);
    assert_every_route_asks_for_its_role(&app.address, &tokens, &route_cases()).await;
    let read = RouteCase::new(Method::GET, "/invoices", Permission::Read);
    assert_access_tokens_are_checked(&app.address, &provider, &read).await;
}

/// Every route of the service.
fn route_cases() -> Vec<RouteCase> {
    let invoice = format!("/invoices/{}", Uuid::new_v4());
    vec![
        RouteCase::new(Method::GET, "/invoices", Permission::Read),
        RouteCase::at(
            Method::GET,
            "/invoices/{order_id}",
            invoice.clone(),
            Permission::Read,
        ),
        // No route here changes anything: a change is an administrator's, then 405.
        RouteCase::at(
            Method::DELETE,
            "/invoices/{order_id}",
            invoice,
            Permission::Administer,
        ),
        RouteCase::new(Method::GET, "/shards", Permission::Read),
    ]
}
