//! Once a tokens file exists, every route asks for a token: the emails are read by any role.

use reqwest::Method;
use shared_events::app::auth::Permission;
use test_support::auth::{
    RoleTokens, RouteCase, assert_access_tokens_are_checked, assert_every_route_asks_for_its_role,
};
use test_support::identity_provider::IdentityProvider;

use crate::helpers::{spawn_app, spawn_app_in};

#[tokio::test]
async fn every_route_asks_for_a_token_of_a_role_that_may_use_it() {
    let app = spawn_app(None).await;
    let tokens = RoleTokens::make(&app.settings.auth.tokens_file);
    let cases = route_cases();
    assert_every_route_asks_for_its_role(&app.address, &tokens, &cases).await;
}

#[tokio::test]
async fn access_tokens_of_the_identity_provider_are_checked_on_every_route() {
    let provider = IdentityProvider::new();
    let data_dir = tempfile::tempdir().expect("temp dir");
    let jwt = provider.settings(&data_dir.path().join("jwks.json"));
    let namespace = test_support::namespace::unique();
    let app = spawn_app_in(data_dir, &namespace, |settings| settings.auth.jwt = jwt).await;
    let tokens = RoleTokens::from_identity_provider(&provider);
    assert_every_route_asks_for_its_role(&app.address, &tokens, &route_cases()).await;
    let read = RouteCase::new(Method::GET, "/notifications", Permission::Read);
    assert_access_tokens_are_checked(&app.address, &provider, &read).await;
}

/// Every route of the service.
fn route_cases() -> Vec<RouteCase> {
    vec![
        RouteCase::new(Method::GET, "/notifications", Permission::Read),
        RouteCase::new(Method::POST, "/notifications", Permission::Administer),
        RouteCase::new(Method::GET, "/shards", Permission::Read),
    ]
}
