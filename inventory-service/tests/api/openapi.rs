//! The OpenAPI document the service serves, and the service held to it by schemathesis.

use serde_json::Value;

use crate::helpers::{TestOrder, Units, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_answer_that_breaks_the_document() {
    // Arrange: stock reserved by orders, so that the answers have something to show.
    let app = spawn_app().await;
    let orders = [
        TestOrder::of_units(&[("widget", 2), ("gadget", 1)]),
        TestOrder::of_units(&[("widget", 1)]),
    ];
    let events: Vec<_> = orders.iter().map(TestOrder::created).collect();
    app.publish(&events).await;
    app.wait_for_reserved(&[("gadget", 1), ("widget", 3)]).await;
    let document: Value = app.get("/openapi.json").await.json().await.expect("JSON");
    assert!(document["paths"]["/stock/{product}"]["put"].is_object());
    assert!(document["paths"]["/shards"]["get"].is_object());

    // Act and Assert
    test_support::schemathesis::check_api(&app.address, 200, 300).await;
}
