//! The broker goes away while clients create orders: every create still gets its 201, and once
//! the broker is back every event reaches all three services, with no effect applied twice.

use std::time::Duration;

use serde_json::Value;
use test_support::proxy::TcpProxy;
use test_support::wait::until_within;

use crate::helpers::{Platform, Wiring, order};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_outage_delays_events_but_loses_none() {
    // Arrange: every service reaches the broker through a proxy the test controls.
    let proxy = TcpProxy::to_broker().await;
    let platform = Platform::start(Wiring::through(&proxy)).await;
    let mut ids = create_widget_orders(&platform, "Before", 20).await;

    // Act: the broker disappears; clients keep creating; it comes back.
    proxy.take_down();
    ids.extend(create_widget_orders(&platform, "During", 60).await);
    let readiness = platform.order_readiness().await;
    assert!(
        readiness["outbox"]["pending"].as_u64().expect("pending") > 0,
        "{readiness}"
    );
    // Longer than the outage the relay waits out before recording (300 ms in tests).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let failures = platform.orders.data_dir.path().join("failure.json");
    let recorded: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&failures).expect("failure.json")).expect("an array");
    assert!(
        !recorded.as_array().expect("array").is_empty(),
        "unpublished events are recorded while the broker is away"
    );
    proxy.bring_up();

    // Assert: all 80 orders in every service, each once.
    let limit = Duration::from_secs(60);
    until_within("inventory reserves all 80 orders", limit, || async {
        let stock = platform.read(&platform.inventory, "/stock/widget").await?;
        (stock["reserved"] == 80).then_some(())
    })
    .await;
    until_within("billing has 80 invoices", limit, || async {
        (platform.invoices().await.len() == 80).then_some(())
    })
    .await;
    until_within("notification has 80 notifications", limit, || async {
        (platform.notifications().await.len() == 80).then_some(())
    })
    .await;
    until_within("the outbox is empty", limit, || async {
        (platform.order_readiness().await["outbox"]["pending"] == 0).then_some(())
    })
    .await;
    // Redeliveries after the outage may still arrive; they must not change anything.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let stock = platform
        .read(&platform.inventory, "/stock/widget")
        .await
        .expect("stock");
    assert_eq!(stock["reserved"], 80, "no reservation applied twice");
    let invoices = platform.invoices().await;
    assert_eq!(invoices.len(), 80);
    assert!(
        invoices
            .iter()
            .all(|invoice| invoice["history"].as_array().expect("history").len() == 1),
        "no invoice opened twice"
    );
    let notifications = platform.notifications().await;
    assert_eq!(notifications.len(), 80, "no email sent twice");
    let recorded: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&failures).expect("failure.json")).expect("an array");
    for record in recorded.as_array().expect("array") {
        assert_eq!(record["queue"], "outbox");
        assert!(
            record["resolved_at"].is_string(),
            "the record shows when it was published: {record}"
        );
    }
    let eml = std::fs::read_dir(platform.notification.data_dir.path().join("outbox"))
        .expect("outbox dir")
        .count();
    assert_eq!(eml, 80);
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_outage_a_new_orders_effects_arrive_within_three_seconds_of_the_brokers_return() {
    // Arrange: every service connected through the proxy, and working.
    let proxy = TcpProxy::to_broker().await;
    let platform = Platform::start(Wiring::through(&proxy)).await;
    create_widget_orders(&platform, "Before", 1).await;
    until_within(
        "the first order everywhere",
        Duration::from_secs(30),
        || everywhere(&platform, 1),
    )
    .await;

    // Act: an outage long enough for slow backoffs to build up, then the broker's return.
    proxy.take_down();
    tokio::time::sleep(Duration::from_secs(11)).await;
    proxy.bring_up();
    let back = tokio::time::Instant::now();
    create_widget_orders(&platform, "After", 1).await;

    // Assert
    until_within(
        "the new order in every service, within 3 s of the broker's return",
        Duration::from_secs(3).saturating_sub(back.elapsed()),
        || everywhere(&platform, 2),
    )
    .await;
    platform.stop().await;
}

/// `Some` once inventory, billing and notification each hold `count` orders.
async fn everywhere(platform: &Platform, count: usize) -> Option<()> {
    let stock = platform.read(&platform.inventory, "/stock/widget").await?;
    (stock["reserved"] == count
        && platform.invoices().await.len() == count
        && platform.notifications().await.len() == count)
        .then_some(())
}

/// Creates `count` orders of one widget, for customers named `{label} {n}`; the created orders.
async fn create_widget_orders(platform: &Platform, label: &str, count: usize) -> Vec<Value> {
    let mut created = Vec::with_capacity(count);
    for n in 0..count {
        let body = order(
            &format!("{label} {n}"),
            Some("c@example.com"),
            &[("widget", 1, "2.50")],
        );
        created.push(platform.create(&body).await);
    }
    created
}
