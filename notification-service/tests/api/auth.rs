//! Once a tokens file exists, every route asks for a token: the emails are read by any role.

use reqwest::Method;
use shared_events::app::auth::Permission;
use test_support::auth::{RoleTokens, RouteCase, assert_every_route_asks_for_its_role};

use crate::helpers::spawn_app;

#[tokio::test]
async fn every_route_asks_for_a_token_of_a_role_that_may_use_it() {
    let app = spawn_app(None).await;
    let tokens = RoleTokens::make(&app.settings.auth.tokens_file);
    let cases = [
        RouteCase::new(Method::GET, "/notifications", Permission::Read),
        RouteCase::new(Method::POST, "/notifications", Permission::Administer),
        RouteCase::new(Method::GET, "/shards", Permission::Read),
    ];
    assert_every_route_asks_for_its_role(&app.address, &tokens, &cases).await;
}
