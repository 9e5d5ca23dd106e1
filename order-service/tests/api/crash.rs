//! SIGKILL or SIGTERM while clients create orders: every order that got a 201 is there after
//! restart; a SIGTERM ends the process with exit code 0.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use test_support::process::{Interruption, interrupt, spawn_listening};
use tokio::process::{Child, Command};

use crate::helpers::{order_body, send};

/// The real binary on a free port; returns the child and its base URL.
async fn start_binary(data_dir: &Path) -> (Child, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_order-service"));
    command
        .env("ORDERS__DATA_DIR", data_dir)
        // Storage alone is under test: the events stay in the journal, off the shared broker.
        .env("ORDERS__TRANSPORT", "embedded");
    spawn_listening(command).await
}

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
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));

    for round in 0..3 {
        // Arrange: the service under a steady stream of creates from 16 clients.
        let (mut child, url) = start_binary(dir.path()).await;
        let clients: Vec<_> = (0..16)
            .map(|worker| {
                let (client, url) = (client.clone(), url.clone());
                let names =
                    (0..10_000).map(move |n| format!("round {round} worker {worker} order {n}"));
                tokio::spawn(create_until_refused(
                    client,
                    url,
                    names,
                    Arc::clone(&acknowledged),
                ))
            })
            .collect();
        let target = (round + 1) * 300;
        while acknowledged.lock().expect("lock").len() < target {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }

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

/// One client: creates an order for each of `names` until the service stops answering 201,
/// recording the id of every order it acknowledged.
async fn create_until_refused(
    client: reqwest::Client,
    url: String,
    names: impl Iterator<Item = String>,
    acknowledged: Arc<Mutex<Vec<String>>>,
) {
    for name in names {
        let request = client
            .post(format!("{url}/orders"))
            .json(&order_body(&name));
        let Ok(response) = request.send().await else {
            return;
        };
        if response.status().as_u16() != 201 {
            return;
        }
        let Ok(order) = response.json::<serde_json::Value>().await else {
            return;
        };
        let id = order["order_id"].as_str().expect("id").to_owned();
        acknowledged.lock().expect("lock").push(id);
    }
}
