//! SIGTERM and SIGINT stop the service cleanly; what it applied stays applied.

use std::time::Duration;

use test_support::http::get_json;
use test_support::process::stop_with_signal;
use test_support::wait::until;

use crate::helpers::{SERVICE, TestBroker, TestOrder, start_binary};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_signal_ends_the_process_cleanly() {
    for signal in ["TERM", "INT"] {
        // Arrange
        let dir = tempfile::tempdir().expect("temp dir");
        let broker = TestBroker::new(SERVICE).await;
        let (mut child, url) = start_binary(dir.path(), &broker.settings).await;
        let order = TestOrder::new("Ada", &[("widget", 2, "4.50")]);
        broker.publish(&[order.created()]).await;
        until("the event to be applied", || async {
            amount(&url, &order.id()).await
        })
        .await;

        // Act
        let exit = stop_with_signal(&mut child, signal, Duration::from_secs(30)).await;

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
    let invoice = get_json(
        &reqwest::Client::new(),
        &format!("{url}/invoices/{order_id}"),
    )
    .await?;
    Some(invoice["amount"].to_string())
}
