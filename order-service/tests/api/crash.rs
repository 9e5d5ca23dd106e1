//! SIGKILL or SIGTERM while clients create orders: every order that got a 201 is there after
//! restart; a SIGTERM ends the process with exit code 0.

use std::time::Duration;

use test_support::process::{Interruption, interrupt};

use crate::helpers::{
    Acknowledged, create_until_refused, order_body, send, start_binary, wait_for_acknowledged,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_create_survives_sigkill() {
    interrupted_while_creating(Interruption::Kill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_stops_it_cleanly_and_loses_no_acknowledged_create() {
    interrupted_while_creating(Interruption::Terminate).await;
}

async fn interrupted_while_creating(how: Interruption) {
    let dir = tempfile::tempdir().expect("temp dir");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let acknowledged = Acknowledged::default();

    for round in 0..3 {
        // Arrange: the service under a steady stream of creates from 16 clients.
        let (mut child, url) = start_binary(dir.path()).await;
        let clients = create_until_refused(16, &format!("round {round}"), &url, &acknowledged);
        wait_for_acknowledged(&acknowledged, (round + 1) * 300).await;

        // Act: kill -9 (or SIGTERM) in the middle of the stream.
        interrupt(&mut child, how).await;
        for task in clients {
            task.await.expect("client task");
        }
    }

    // Assert: every 201'd order is there.
    let (_child, url) = start_binary(dir.path()).await;
    let acknowledged = acknowledged.lock().expect("lock").clone();
    assert!(acknowledged.len() >= 900);
    for id in &acknowledged {
        let response = send(client.get(format!("{url}/orders/{id}"))).await;
        assert_eq!(
            response.status().as_u16(),
            200,
            "order {id} got a 201 before the kill but is gone"
        );
    }
    let created = send(
        client
            .post(format!("{url}/orders"))
            .json(&order_body("after")),
    )
    .await;
    assert_eq!(
        created.status().as_u16(),
        201,
        "the store takes writes after the crashes"
    );
}
