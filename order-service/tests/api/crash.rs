//! SIGKILL while clients create orders: every order that got a 201 is there after restart.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::helpers::order_body;

/// The real binary on a free port; returns the child and its base URL.
async fn start_binary(data_dir: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_order-service"))
        .env("ORDERS__HTTP__ADDR", "127.0.0.1:0")
        .env("ORDERS__DATA_DIR", data_dir)
        .env("ORDERS__LOG__LEVEL", "info")
        // Storage alone is under test: no events go to the shared broker.
        .env("ORDERS__OUTBOX__ENABLED", "false")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let url = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.expect("read stdout") {
            if let Some(rest) = line.split("listening on ").nth(1) {
                return rest.split_whitespace().next().expect("url").to_owned();
            }
        }
        panic!("the service exited before listening");
    })
    .await
    .expect("the service listens within 30 s");
    // Keep draining stdout so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_create_survives_sigkill() {
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
                let (client, url, acknowledged) =
                    (client.clone(), url.clone(), Arc::clone(&acknowledged));
                tokio::spawn(async move {
                    for n in 0..10_000 {
                        let body = order_body(&format!("round {round} worker {worker} order {n}"));
                        let Ok(response) = client
                            .post(format!("{url}/orders"))
                            .json(&body)
                            .send()
                            .await
                        else {
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
                })
            })
            .collect();
        let target = (round + 1) * 300;
        while acknowledged.lock().expect("lock").len() < target {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }

        // Act: kill -9 in the middle of the stream.
        child.start_kill().expect("SIGKILL");
        child.wait().await.expect("reaped");
        for task in clients {
            task.await.expect("client task");
        }
    }

    // Assert: every 201'd order is there.
    let (_child, url) = start_binary(dir.path()).await;
    let acknowledged = acknowledged.lock().expect("lock").clone();
    assert!(acknowledged.len() >= 900);
    for id in &acknowledged {
        let response = client
            .get(format!("{url}/orders/{id}"))
            .send()
            .await
            .expect("get");
        assert_eq!(
            response.status().as_u16(),
            200,
            "order {id} got a 201 before the kill but is gone"
        );
    }
    let created = client
        .post(format!("{url}/orders"))
        .json(&order_body("after"))
        .send()
        .await
        .expect("post");
    assert_eq!(
        created.status().as_u16(),
        201,
        "the store takes writes after the crashes"
    );
}
