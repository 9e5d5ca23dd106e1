//! Events the service gave up on land in `failure.json`; the binary's `failures` command lists
//! and replays them.

use crate::helpers::{BINARY, TestOrder, spawn_app};

#[tokio::test]
async fn failed_events_are_listed_and_replayed_by_the_failures_command() {
    // Arrange: one event as if it had failed, and one message that is no event at all; both
    // are listed.
    let app = spawn_app().await;
    let order = TestOrder::new("Ada", &[("widget", 3, "2.00")]);
    app.assert_failures_listed(BINARY, &order.created()).await;
    assert!(app.invoice(&order.id()).await.is_none(), "not billed yet");

    // Act
    app.failures(BINARY, &["replay", "--all"]).await;

    // Assert: the event that had failed is applied now.
    let invoice = app.wait_for_invoice(&order.id(), "opened", |_| true).await;
    assert_eq!(invoice["amount"].to_string(), "6.00");
}
