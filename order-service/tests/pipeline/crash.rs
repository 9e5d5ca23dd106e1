//! The order service killed with SIGKILL after persisting an order but before publishing its
//! event: after the restart the event is published.

use std::path::Path;

use test_support::http::wait_ready;
use test_support::process::{kill, spawn_listening};
use test_support::proxy::TcpProxy;
use tokio::process::{Child, Command};

use crate::helpers::{order, start_inventory};

/// The real binary on a free port; the child and its URL.
async fn start_binary(data_dir: &Path, namespace: &str, amqp_url: &str) -> (Child, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_order-service"));
    command
        .env("ORDERS__DATA_DIR", data_dir)
        .env("ORDERS__AUTH__TOKENS_FILE", data_dir.join("tokens.json"))
        // Open, as the tests of other things expect: no administrator token at the first start.
        .env("ORDERS__AUTH__FIRST_TOKEN", "false")
        .env("ORDERS__AMQP__URL", amqp_url)
        .env("ORDERS__AMQP__NAMESPACE", namespace)
        // The same queue arguments as the in-process consumers (and the teardown) use.
        .env("ORDERS__AMQP__RETRY_DELAYS_MS", "100,200,400");
    spawn_listening(command).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_persisted_but_not_published_before_sigkill_is_published_after_restart() {
    // Arrange: a consumer listening; the order service cannot reach the broker.
    let namespace = test_support::namespace::unique();
    let direct = "amqp://guest:guest@127.0.0.1:5672/%2f";
    let inventory = start_inventory(&namespace, direct, tempfile::tempdir().expect("dir")).await;
    wait_ready(&format!("{}/health/ready", inventory.url)).await;
    let unreachable = TcpProxy::to_broker().await;
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
    kill(&mut child).await;
    let (_child, _url) = start_binary(data_dir.path(), &namespace, direct).await;

    // Assert
    inventory
        .wait_reserved("anvil", 7, "the event reaches inventory after the restart")
        .await;
    inventory.stop().await;
    crate::helpers::delete_namespace(&namespace).await;
}
