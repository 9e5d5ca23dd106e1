//! A failed fsync of a shard's ledger is never retried in place: liveness turns 503 so that an
//! orchestrator restarts the process, and the restarted process applies the event whose write
//! failed (the broker still holds it) beside every invoice made before.

use reqwest::Client;
use serde_json::Value;
use test_support::fsync_fault::FsyncFault;
use test_support::http::wait_ready;
use test_support::process::{kill, spawn_listening};
use test_support::wait::until;

use crate::helpers::{SERVICE, TestBroker, TestOrder, binary, start_binary};

#[tokio::test]
async fn a_failed_ledger_fsync_makes_the_consumer_not_live_until_a_restart_recovers_it() {
    // Arrange: the real binary, whose fsyncs the test can make fail, with one invoice made.
    let dir = tempfile::tempdir().expect("temp dir");
    let broker = TestBroker::new(SERVICE).await;
    let fault = FsyncFault::new();
    let mut command = binary(dir.path(), &broker.settings);
    fault.apply(&mut command);
    let (mut child, url) = spawn_listening(command).await;
    wait_ready(&format!("{url}/health/ready")).await;
    let client = Client::new();
    let before = TestOrder::new("before the fault", &[("widget", 1, "1.10")]);
    broker.publish(&[before.created()]).await;
    until("the invoice made before the fault", || {
        invoice(&client, &url, &before)
    })
    .await;

    // Act: the disk starts failing fsyncs, and an event comes.
    fault.arm();
    let during = TestOrder::new("during the fault", &[("widget", 2, "1.10")]);
    broker.publish(&[during.created()]).await;

    // Assert: the process asks to be restarted.
    let body = until("liveness to turn 503", || async {
        let response = client.get(format!("{url}/health/live")).send().await.ok()?;
        (response.status().as_u16() == 503).then_some(())?;
        response.json::<Value>().await.ok()
    })
    .await;
    assert!(
        body["reason"]
            .as_str()
            .is_some_and(|reason| reason.contains("restart")),
        "the 503 says why: {body}"
    );

    // Act: the disk recovers and the orchestrator restarts the process.
    fault.disarm();
    kill(&mut child).await;
    let (_restarted, url) = start_binary(dir.path(), &broker.settings).await;

    // Assert: live, both invoices there.
    let live = client.get(format!("{url}/health/live")).send().await;
    assert_eq!(live.expect("an answer").status().as_u16(), 200);
    until("the invoice of the event whose write failed", || {
        invoice(&client, &url, &during)
    })
    .await;
    assert!(
        invoice(&client, &url, &before).await.is_some(),
        "the invoice made before"
    );
}

/// `GET /invoices/{id}` of `order`, if there is one.
async fn invoice(client: &Client, url: &str, order: &TestOrder) -> Option<Value> {
    let response = client
        .get(format!("{url}/invoices/{}", order.id()))
        .send()
        .await
        .ok()?;
    (response.status().as_u16() == 200).then_some(())?;
    response.json().await.ok()
}
