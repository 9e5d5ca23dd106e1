//! SIGTERM and SIGINT stop the service cleanly; what it applied stays applied.

use std::time::Duration;

use serde_json::Value;
use tokio::process::Command;

use crate::helpers::{TestBroker, TestOrder, start_binary, until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_signal_ends_the_process_cleanly() {
    for signal in ["TERM", "INT"] {
        // Arrange
        let dir = tempfile::tempdir().expect("temp dir");
        let broker = TestBroker::new().await;
        let (mut child, url) = start_binary(dir.path(), &broker.settings).await;
        broker
            .publish(&[TestOrder::new(&[("widget", 2)]).created()])
            .await;
        until("the event to be applied", || async {
            (reserved(&url, "widget").await == Some(2)).then_some(())
        })
        .await;

        // Act
        let pid = child.id().expect("running").to_string();
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .await
            .expect("kill runs");
        assert!(sent.success(), "SIG{signal} sent");
        let exit = tokio::time::timeout(Duration::from_secs(30), child.wait())
            .await
            .unwrap_or_else(|_| panic!("SIG{signal}: the service stops within 30 s"))
            .expect("reaped");

        // Assert
        assert!(exit.success(), "SIG{signal}: {exit:?}");
        let (_child, url) = start_binary(dir.path(), &broker.settings).await;
        assert_eq!(reserved(&url, "widget").await, Some(2), "SIG{signal}");
    }
}

/// Units of `product` reserved, or `None` while the service does not answer or knows none.
async fn reserved(url: &str, product: &str) -> Option<u64> {
    let response = reqwest::get(format!("{url}/stock/{product}")).await.ok()?;
    let level: Value = response.json().await.ok()?;
    level["reserved"].as_u64()
}
