//! Once a tokens file exists, every route asks for a token: the invoices are read by any role.

use reqwest::Method;
use shared_events::app::auth::Permission;
use test_support::auth::{RoleTokens, RouteCase, assert_every_route_asks_for_its_role};
use uuid::Uuid;

use crate::helpers::spawn_app;

#[tokio::test]
async fn every_route_asks_for_a_token_of_a_role_that_may_use_it() {
    let app = spawn_app().await;
    let tokens = RoleTokens::make(&app.data_dir.path().join("tokens.json"));
    let invoice = format!("/invoices/{}", Uuid::new_v4());
    let cases = [
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
    ];
    assert_every_route_asks_for_its_role(&app.address, &tokens, &cases).await;
}
