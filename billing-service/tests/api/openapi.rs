//! The OpenAPI document the service serves, and the service held to it by schemathesis.

use serde_json::Value;

use crate::helpers::{TestOrder, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_answer_that_breaks_the_document() {
    // Arrange: invoices to show, one of them amended.
    let app = spawn_app().await;
    let mut orders: Vec<TestOrder> = (0..3)
        .map(|n| TestOrder::new(&format!("customer {n}"), &[("widget", 2, "1.50")]))
        .collect();
    let mut events: Vec<_> = orders.iter().map(TestOrder::created).collect();
    events.push(orders[0].with_lines(&[("widget", 3, "1.50")]));
    app.publish(&events).await;
    for order in &orders {
        app.wait_for_invoice(&order.id(), "opened", |_| true).await;
    }
    let document: Value = app.get("/openapi.json").await.json().await.expect("JSON");
    for path in [
        "/invoices",
        "/invoices/{order_id}",
        "/shards",
        "/health/ready",
    ] {
        assert!(document["paths"][path]["get"].is_object(), "{path}");
    }

    // Act and Assert
    test_support::schemathesis::check_api(&app.address, 200, 1_000).await;
}
