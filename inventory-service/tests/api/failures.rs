//! Events the service gave up on land in `failure.json`; the binary's `failures` command lists
//! and replays them.

use crate::helpers::{BINARY, TestOrder, Units, spawn_app};

#[tokio::test]
async fn failed_events_are_listed_and_replayed_by_the_failures_command() {
    // Arrange: one event as if it had failed, and one message that is no event at all; both
    // are listed.
    let app = spawn_app().await;
    let order = TestOrder::of_units(&[("widget", 3)]);
    app.assert_failures_listed(BINARY, &order.created()).await;

    // Act
    app.failures(BINARY, &["replay", "--all"]).await;

    // Assert: the event that had failed is applied now.
    app.wait_for_reserved(&[("widget", 3)]).await;
}
