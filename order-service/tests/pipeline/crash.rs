//! The order service killed with SIGKILL after persisting an order but before publishing its
//! event: after the restart the event is published.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::broker_proxy::BrokerProxy;
use crate::helpers::{eventually, namespace, order, start_inventory, wait_ready};

/// The real binary on a free port; the child and its URL.
async fn start_binary(data_dir: &Path, namespace: &str, amqp_url: &str) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_order-service"))
        .env("ORDERS__HTTP__ADDR", "127.0.0.1:0")
        .env("ORDERS__DATA_DIR", data_dir)
        .env("ORDERS__AMQP__URL", amqp_url)
        .env("ORDERS__AMQP__NAMESPACE", namespace)
        // The same queue arguments as the in-process consumers (and the teardown) use.
        .env("ORDERS__AMQP__RETRY_DELAYS_MS", "100,200,400")
        .env("ORDERS__LOG__LEVEL", "info")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let url = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.expect("stdout") {
            if let Some(rest) = line.split("listening on ").nth(1) {
                return rest.split_whitespace().next().expect("url").to_owned();
            }
        }
        panic!("the service exited before listening");
    })
    .await
    .expect("listening within 30 s");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_persisted_but_not_published_before_sigkill_is_published_after_restart() {
    // Arrange: a consumer listening; the order service cannot reach the broker.
    let namespace = namespace();
    let direct = "amqp://guest:guest@127.0.0.1:5672/%2f";
    let inventory = start_inventory(&namespace, direct, tempfile::tempdir().expect("dir")).await;
    wait_ready(&format!("{}/health/ready", inventory.url)).await;
    let unreachable = BrokerProxy::start(SocketAddr::from(([127, 0, 0, 1], 5672))).await;
    unreachable.take_down();
    let data_dir = tempfile::tempdir().expect("dir");
    let (mut child, url) = start_binary(data_dir.path(), &namespace, &unreachable.url()).await;
    let client = reqwest::Client::new();
    let created = client
        .post(format!("{url}/orders"))
        .json(&order("Kill me", None, &[("anvil", 7, "100.00")]))
        .send()
        .await
        .expect("post");
    assert_eq!(created.status().as_u16(), 201);
    let ready: serde_json::Value = client
        .get(format!("{url}/health/ready"))
        .send()
        .await
        .expect("ready")
        .json()
        .await
        .expect("json");
    assert_eq!(
        ready["outbox"]["pending"], 1,
        "persisted, not published: {ready}"
    );

    // Act: SIGKILL, then a restart that can reach the broker.
    child.start_kill().expect("SIGKILL");
    child.wait().await.expect("reaped");
    let (_child, _url) = start_binary(data_dir.path(), &namespace, direct).await;

    // Assert
    eventually(
        "the event reaches inventory after the restart",
        Duration::from_secs(30),
        || async {
            let stock: serde_json::Value = client
                .get(format!("{}/stock/anvil", inventory.url))
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            (stock["reserved"] == 7).then_some(())
        },
    )
    .await;
    inventory.stop().await;
    crate::helpers::delete_namespace(&namespace).await;
}
