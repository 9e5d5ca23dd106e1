//! A failed fsync is never retried: the store refuses changes from then on, liveness turns 503
//! so that an orchestrator restarts the process, and the restarted process recovers every
//! acknowledged order from its files.

use reqwest::Client;
use serde_json::Value;
use test_support::fsync_fault::FsyncFault;
use test_support::process::{kill, spawn_listening};

use crate::helpers::{binary, order_body, send, start_binary};

#[tokio::test]
async fn a_failed_fsync_makes_the_service_not_live_until_a_restart_recovers_it() {
    // Arrange: the real binary, whose fsyncs the test can make fail.
    let dir = tempfile::tempdir().expect("temp dir");
    let fault = FsyncFault::new();
    let mut command = binary(dir.path());
    fault.apply(&mut command);
    let (mut child, url) = spawn_listening(command).await;
    let client = Client::new();
    let before = create(&client, &url).await;
    assert_eq!(before.0, 201, "created before the fault: {}", before.1);

    // Act: the disk starts failing fsyncs.
    fault.arm();
    let during = create(&client, &url).await;

    // Assert: the change is refused, and the probes say the process must be restarted.
    assert_eq!(during.0, 503, "a change whose fsync failed: {}", during.1);
    let (live, body) = probe(&client, &url, "live").await;
    assert_eq!(live, 503, "liveness after a failed fsync: {body}");
    assert!(
        body["reason"]
            .as_str()
            .is_some_and(|reason| reason.contains("restart")),
        "the 503 says why: {body}"
    );
    assert_eq!(probe(&client, &url, "ready").await.0, 503, "readiness");

    // Act: the disk recovers; the store does not trust its file again until a restart.
    fault.disarm();
    let after = create(&client, &url).await;
    assert_eq!(
        after.0, 503,
        "no write is tried again in place: {}",
        after.1
    );
    assert_eq!(probe(&client, &url, "live").await.0, 503, "still not live");

    // Act: the orchestrator restarts it.
    kill(&mut child).await;
    let (_restarted, url) = start_binary(dir.path()).await;

    // Assert: live, ready, with the order acknowledged before the fault, and taking changes.
    assert_eq!(probe(&client, &url, "live").await.0, 200);
    assert_eq!(probe(&client, &url, "ready").await.0, 200);
    let id = before.1["order_id"].as_str().expect("an order id");
    let order = send(client.get(format!("{url}/orders/{id}"))).await;
    assert_eq!(order.status().as_u16(), 200, "the acknowledged order");
    assert_eq!(
        create(&client, &url).await.0,
        201,
        "a change after the restart"
    );
}

/// `POST /orders`: the status and the JSON body.
async fn create(client: &Client, url: &str) -> (u16, Value) {
    let response = send(
        client
            .post(format!("{url}/orders"))
            .json(&order_body("Ada")),
    )
    .await;
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

/// `GET /health/<which>`: the status and the JSON body.
async fn probe(client: &Client, url: &str, which: &str) -> (u16, Value) {
    let response = send(client.get(format!("{url}/health/{which}"))).await;
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}
