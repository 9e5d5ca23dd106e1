//! With no queue bound to the exchange, the broker returns every event: the relay must not mark
//! them published, and publishes them once a consumer has bound its queue.

use std::time::Duration;

use test_support::http::wait_ready;
use test_support::wait::until_within;

use crate::helpers::{order, start_inventory, start_orders_declaring};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn returned_events_stay_in_the_outbox_until_a_queue_is_bound() {
    // Arrange: only the order service; nothing bound to its exchange.
    let namespace = test_support::namespace::unique();
    let amqp_url = "amqp://guest:guest@127.0.0.1:5672/%2f";
    let orders =
        start_orders_declaring(&namespace, amqp_url, tempfile::tempdir().expect("dir"), &[]).await;
    let client = reqwest::Client::new();
    let created = client
        .post(format!("{}/orders", orders.url))
        .json(&order("Nobody listens", None, &[("widget", 4, "1.00")]))
        .send()
        .await
        .expect("post");
    assert_eq!(created.status().as_u16(), 201);
    let ready = || async {
        let response = client
            .get(format!("{}/health/ready", orders.url))
            .send()
            .await
            .expect("ready");
        response.json::<serde_json::Value>().await.expect("json")
    };

    // Act: let the relay try.
    let readiness = until_within(
        "the relay reports a failed attempt",
        Duration::from_secs(20),
        || async {
            let readiness = ready().await;
            readiness["outbox"]["relay"]["last_error"]
                .as_str()
                .is_some()
                .then_some(readiness)
        },
    )
    .await;

    // Assert: not marked published.
    assert_eq!(readiness["outbox"]["pending"], 1, "{readiness}");
    assert_eq!(readiness["outbox"]["published_through"], 0, "{readiness}");
    let error = readiness["outbox"]["relay"]["last_error"]
        .as_str()
        .expect("error")
        .to_lowercase();
    assert!(
        error.contains("return") || error.contains("route"),
        "{error}"
    );

    // And once a consumer binds its queue, the event goes out and reaches it.
    let inventory = start_inventory(&namespace, amqp_url, tempfile::tempdir().expect("dir")).await;
    wait_ready(&format!("{}/health/ready", inventory.url)).await;
    inventory
        .wait_reserved("widget", 4, "the event reaches inventory")
        .await;
    until_within("the outbox is empty", Duration::from_secs(10), || async {
        (ready().await["outbox"]["pending"] == 0).then_some(())
    })
    .await;
    orders.stop().await;
    inventory.stop().await;
    crate::helpers::delete_namespace(&namespace).await;
}
