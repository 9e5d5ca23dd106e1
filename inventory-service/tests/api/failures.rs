//! Events the service gave up on land in `failure.json`; the binary's `failures` command lists
//! and replays them.

use std::path::Path;

use serde_json::Value;

use test_support::wait::until;

use crate::helpers::{TestApp, TestOrder, binary, spawn_app};

#[tokio::test]
async fn failed_events_are_listed_and_replayed_by_the_failures_command() {
    // Arrange: one event as if it had failed, and one message that is no event at all.
    let app = spawn_app().await;
    let order = TestOrder::new(&[("widget", 3)]);
    app.broker.publish_dead_letter(&order.created()).await;
    app.broker.publish_raw(b"not an event").await;
    let path = app.data_dir.path().join("failure.json");
    until("two failures in failure.json", || async {
        records(&path).filter(|records| records.len() == 2)
    })
    .await;

    // Act
    let listed = failures(&app, &["list", "--json"]).await;

    // Assert
    let listed: Vec<Value> = serde_json::from_slice(&listed).expect("a JSON array");
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed.iter().all(|record| record["service"] == "inventory"));
    let reasons: Vec<&str> = listed
        .iter()
        .map(|record| record["reason"].as_str().expect("reason"))
        .collect();
    assert!(
        reasons.iter().any(|reason| reason.contains("undecodable")),
        "{reasons:?}"
    );

    // Act
    failures(&app, &["replay", "--all"]).await;

    // Assert: the event that had failed is applied now.
    app.wait_for_reserved(&[("widget", 3)]).await;
}

/// Runs `inventory-service failures <args>` on the app's data directory; returns its stdout.
async fn failures(app: &TestApp, args: &[&str]) -> Vec<u8> {
    let output = binary(app.data_dir.path(), &app.broker.settings)
        .arg("failures")
        .args(args)
        .output()
        .await
        .expect("the binary runs");
    assert!(
        output.status.success(),
        "failures {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// The records of `failure.json`, if it exists and parses.
fn records(path: &Path) -> Option<Vec<Value>> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}
