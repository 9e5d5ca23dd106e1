//! Three replicas of the notification service, separate processes on one data directory,
//! through kills, joins and graceful leaves under a stream of orders: one notification per
//! event, in version order, an email for each, and the shards never owned twice.

use std::collections::{BTreeMap, BTreeSet};

use shared_events::contract::shard::ShardCount;
use test_support::http::{all_pages, get};
use test_support::replicas::{ReplicaSet, kill_join_and_scale, order_stream};
use test_support::smtp::SmtpServer;
use test_support::wait::until;

use notification_service::handler::Notifier;
use shared_events::runtime::EventHandler;

#[tokio::test]
async fn replicas_that_die_join_and_leave_notify_every_event_once_and_in_order() {
    // Arrange
    let smtp = SmtpServer::start().await;
    let orders = order_stream(150);
    let mut set = ReplicaSet::new(
        env!("CARGO_BIN_EXE_notification-service"),
        Notifier::SERVICE,
        ShardCount::DEFAULT,
        &[("ORDERS__SMTP__URL", smtp.url())],
    )
    .await;

    // Act
    let violations = kill_join_and_scale(&mut set, &orders).await;

    // Assert: any replica answers for every shard.
    assert!(
        violations.is_empty(),
        "shards with two owners: {violations:?}"
    );
    let client = reqwest::Client::new();
    let url = set.any_url();
    let events: usize = orders.iter().map(|order| order.events.len()).sum();
    let listed = until("every event is notified", async || {
        let listed = all_pages(100, "notifications", async |query: String| {
            get(&client, &format!("{url}/notifications?{query}"))
                .await
                .json()
                .await
                .unwrap_or_default()
        })
        .await;
        (listed.len() >= events).then_some(listed)
    })
    .await;
    let mut by_event: BTreeMap<&str, Vec<&serde_json::Value>> = BTreeMap::new();
    for notification in &listed {
        by_event
            .entry(notification["event_id"].as_str().expect("event id"))
            .or_default()
            .push(notification);
    }
    let repeated: Vec<_> = by_event.values().filter(|seen| seen.len() > 1).collect();
    assert!(repeated.is_empty(), "notified more than once: {repeated:?}");
    assert_eq!(listed.len(), events, "one notification per event");
    let mut versions: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for notification in listed.iter().rev() {
        let order = notification["order_id"]
            .as_str()
            .expect("order id")
            .to_owned();
        versions
            .entry(order)
            .or_default()
            .push(notification["order_version"].as_u64().expect("version"));
    }
    for streamed in &orders {
        let expected: Vec<u64> = streamed.events.iter().map(|event| event.sequence).collect();
        let order = streamed.last.order.order_id.to_string();
        let mut seen = versions.get(&order).cloned().unwrap_or_default();
        seen.sort_unstable();
        assert_eq!(
            seen, expected,
            "order {order}: one notification per version"
        );
    }
    // Every event's email arrived; a replica killed between sending and recording sends it
    // again with the same Message-ID, never a second, different email.
    let ids: BTreeSet<String> = smtp
        .received()
        .iter()
        .filter_map(|mail| mail.header("Message-ID"))
        .collect();
    assert_eq!(ids.len(), events, "one distinct email per event");
}
