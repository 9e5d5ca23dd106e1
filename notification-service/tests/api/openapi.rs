//! The OpenAPI document the service serves, and the service held to it by schemathesis.

use serde_json::Value;
use test_support::orders::TestOrder;

use crate::helpers::spawn_app;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_answer_that_breaks_the_document() {
    // Arrange: notifications to show (written as .eml files: no mail server needed).
    let app = spawn_app(None).await;
    for n in 0..3 {
        let order = TestOrder::new(&format!("customer {n}"), &[("widget", 1, "1.00")]);
        app.publish(&order.created()).await;
    }
    app.wait_until_handled(3).await;
    let document: Value = app.get("/openapi.json").await.json().await.expect("JSON");
    assert!(document["paths"]["/notifications"]["get"].is_object());
    assert!(document["paths"]["/shards"]["get"].is_object());

    // Act and Assert: a small API (one list with three parameters), in which schemathesis
    // finds only a dozen or two distinct requests to make.
    test_support::schemathesis::check_api(&app.address, 200, 10).await;
}
