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
        let order = TestOrder::new("Ada", &[("widget", 2, "4.50")]);
        broker.publish(&[order.created()]).await;
        until("the event to be applied", || async {
            amount(&url, &order.id()).await
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
        assert_eq!(
            amount(&url, &order.id()).await.as_deref(),
            Some("9.00"),
            "SIG{signal}"
        );
    }
}

/// The amount of the invoice of `order_id`, or `None` while the service does not answer or
/// has none.
async fn amount(url: &str, order_id: &str) -> Option<String> {
    let response = reqwest::get(format!("{url}/invoices/{order_id}"))
        .await
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    let invoice: Value = response.json().await.ok()?;
    Some(invoice["amount"].to_string())
}
