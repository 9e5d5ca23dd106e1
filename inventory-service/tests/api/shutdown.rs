//! SIGTERM and SIGINT stop the service cleanly; what it applied stays applied.

use std::time::Duration;

use test_support::http::get_json;
use test_support::process::stop_with_signal;
use test_support::wait::until;

use crate::helpers::{SERVICE, TestBroker, TestOrder, Units, start_binary};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_signal_ends_the_process_cleanly() {
    for signal in ["TERM", "INT"] {
        // Arrange
        let dir = tempfile::tempdir().expect("temp dir");
        let broker = TestBroker::new(SERVICE).await;
        let (mut child, url) = start_binary(dir.path(), &broker.settings).await;
        broker
            .publish(&[TestOrder::of_units(&[("widget", 2)]).created()])
            .await;
        until("the event to be applied", || async {
            (reserved(&url, "widget").await == Some(2)).then_some(())
        })
        .await;

        // Act
        let exit = stop_with_signal(&mut child, signal, Duration::from_secs(30)).await;

        // Assert
        assert!(exit.success(), "SIG{signal}: {exit:?}");
        let (_child, url) = start_binary(dir.path(), &broker.settings).await;
        assert_eq!(reserved(&url, "widget").await, Some(2), "SIG{signal}");
    }
}

/// Units of `product` reserved, or `None` while the service does not answer or knows none.
async fn reserved(url: &str, product: &str) -> Option<u64> {
    let level = get_json(&reqwest::Client::new(), &format!("{url}/stock/{product}")).await?;
    level["reserved"].as_u64()
}
