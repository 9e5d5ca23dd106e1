//! The compose stack as users run it, on a real Docker engine, with the images of
//! `scripts/docker-images`: up and healthy, scaled, and through the loss of a consumer replica,
//! of the broker, and of one node of a three-node broker. Each test is a compose project of its
//! own; on a machine without a Docker engine each says so and is skipped.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;
use stack_tests::compose::{Stack, engine_or_skip};
use stack_tests::effects::{Copies, Observers, every_order_once};
use stack_tests::load::place;
use test_support::http::get_json;

const CLUSTER: [&str; 2] = ["docker-compose.yml", "deploy/compose/rabbitmq-cluster.yml"];

async fn observers(stack: &Stack) -> Observers {
    Observers {
        inventory: stack.url("inventory-service", 1, 8080).await,
        billing: stack.url("billing-service", 1, 8080).await,
        notification: stack.url("notification-service", 1, 8080).await,
        mail: stack.url("mail-catcher", 1, 8025).await,
    }
}

#[tokio::test]
async fn the_stack_comes_up_carries_orders_to_every_service_and_leaves_nothing_behind() {
    if !engine_or_skip("compose stack").await {
        return;
    }
    let stack = Stack::up("basic", &["docker-compose.yml"], &[]).await;
    let orders = stack.url("order-service", 1, 8080).await;
    let page = reqwest::get(format!("{orders}/orders"))
        .await
        .expect("the page answers");
    assert!(page.status().is_success(), "GET /orders: {}", page.status());

    let placed = place(&orders, 0, 20, Duration::from_millis(20))
        .await
        .expect("the orders were placed");
    every_order_once(&observers(&stack).await, &placed, Copies::None).await;

    stack.down().await;
}

#[tokio::test]
async fn three_notification_replicas_share_the_shards_and_a_killed_one_loses_nothing() {
    if !engine_or_skip("scaled notification").await {
        return;
    }
    let stack = Stack::up(
        "scaled",
        &["docker-compose.yml"],
        &[("notification-service", 3)],
    )
    .await;
    let replicas = [1, 2, 3];
    let mut urls = Vec::new();
    for index in replicas {
        urls.push(stack.url("notification-service", index, 8080).await);
    }
    let owned = wait_for_shards(&urls, |owned| owned.iter().all(|shards| shards.len() >= 2)).await;
    eprintln!("shards of the three replicas: {owned:?}");

    let orders = stack.url("order-service", 1, 8080).await;
    let mut observers = observers(&stack).await;
    let load = place(&orders, 0, 150, Duration::from_millis(30));
    tokio::time::sleep(Duration::from_secs(2)).await;
    stack
        .kill(&stack.container("notification-service", 1).await)
        .await;
    let placed = load.await.expect("the orders were placed");

    // The survivors own every shard between them.
    let survivors = &urls[1..];
    wait_for_shards(survivors, |_| true).await;
    observers.notification = survivors[0].clone();
    every_order_once(&observers, &placed, Copies::SameMessageId).await;

    stack.down().await;
}

#[tokio::test]
async fn a_broker_killed_under_load_and_started_again_loses_and_doubles_nothing() {
    if !engine_or_skip("broker killed").await {
        return;
    }
    let stack = Stack::up("broker-killed", &["docker-compose.yml"], &[]).await;
    let orders = stack.url("order-service", 1, 8080).await;
    let load = place(&orders, 0, 150, Duration::from_millis(30));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let broker = stack.container("rabbitmq", 1).await;
    stack.kill(&broker).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    stack.start(&broker).await;
    let placed = load.await.expect("the orders were placed");

    every_order_once(&observers(&stack).await, &placed, Copies::None).await;

    stack.down().await;
}

#[tokio::test]
async fn a_three_node_broker_loses_a_node_under_load_and_the_services_go_on() {
    if !engine_or_skip("three-node broker").await {
        return;
    }
    let stack = Stack::up("cluster", &CLUSTER, &[]).await;
    let orders = stack.url("order-service", 1, 8080).await;
    // The services declare their queues once all three nodes run: each has a member on each.
    let management = stack.url("rabbitmq", 1, 15672).await;
    let members = queue_members(&management, "orders.notification.shard.0").await;
    assert_eq!(members.len(), 3, "the quorum queue's members: {members:?}");

    // The node every service connected to first goes away for good, mid-stream.
    let load = place(&orders, 0, 150, Duration::from_millis(30));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let first_node = stack.container("rabbitmq", 1).await;
    stack.kill(&first_node).await;
    let mut placed = load.await.expect("the orders were placed");
    // And the platform goes on working on the other two.
    placed.extend(
        place(&orders, 150, 30, Duration::from_millis(10))
            .await
            .expect("more orders were placed"),
    );

    every_order_once(&observers(&stack).await, &placed, Copies::None).await;

    stack.down().await;
}

#[tokio::test]
async fn prometheus_of_the_observability_profile_scrapes_the_broker_and_every_service() {
    if !engine_or_skip("observability profile").await {
        return;
    }
    let mut stack = Stack::up("observability", &["docker-compose.yml"], &[]).await;
    stack
        .start_from_profile("observability", "prometheus")
        .await;
    let prometheus = stack.url("prometheus", 1, 9090).await;
    let orders = stack.url("order-service", 1, 8080).await;
    let placed = place(&orders, 0, 12, Duration::from_millis(20))
        .await
        .expect("the orders were placed");
    let count = placed.len() as f64;

    // The broker is scraped, and its metrics show the queues the services declared.
    let queues = wait_for_query(
        &prometheus,
        "rabbitmq_queues * on(instance) up{job=\"rabbitmq\"}",
        |value| value >= 24.0,
    )
    .await;
    eprintln!("queues the broker reported to Prometheus: {queues}");
    // Every service is scraped: the orders created, and each consumer's events applied.
    wait_for_query(
        &prometheus,
        "sum(order_changes_total{service=\"order\",change=\"created\"})",
        |value| value == count,
    )
    .await;
    for service in ["inventory", "billing", "notification"] {
        wait_for_query(
            &prometheus,
            &format!("sum(consumer_events_total{{service=\"{service}\",outcome=\"applied\"}})"),
            |value| value == count,
        )
        .await;
    }
    wait_for_query(
        &prometheus,
        "count(up{job=\"order-platform\"} == 1)",
        |value| value == 4.0,
    )
    .await;

    stack.down().await;
}

/// Polls Prometheus' query API with `query` until its first sample's value satisfies `holds`;
/// returns that value.
async fn wait_for_query(prometheus: &str, query: &str, holds: impl Fn(f64) -> bool) -> f64 {
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let mut last = Value::Null;
    loop {
        let answer = client
            .get(format!("{prometheus}/api/v1/query"))
            .query(&[("query", query)])
            .send()
            .await;
        if let Ok(response) = answer {
            last = response.json().await.unwrap_or(Value::Null);
            let value = last["data"]["result"][0]["value"][1]
                .as_str()
                .and_then(|value| value.parse::<f64>().ok());
            if let Some(value) = value.filter(|value| holds(*value)) {
                return value;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "Prometheus never answered {query} as expected; last answer: {last}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Polls each replica's `GET /shards` until the owned shards are every shard once between them
/// and `fair` holds; returns them.
async fn wait_for_shards(urls: &[String], fair: impl Fn(&[Vec<u64>]) -> bool) -> Vec<Vec<u64>> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("a client");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let mut owned = Vec::new();
        for url in urls {
            let shards = async {
                let body = get_json(&client, &format!("{url}/shards")).await?;
                Some((
                    body["shards"].as_u64()?,
                    body["owned"]
                        .as_array()?
                        .iter()
                        .filter_map(Value::as_u64)
                        .collect::<Vec<u64>>(),
                ))
            }
            .await;
            owned.push(shards);
        }
        if let Some(owned) = owned.iter().cloned().collect::<Option<Vec<_>>>() {
            let total = owned[0].0;
            let shards: Vec<Vec<u64>> = owned.into_iter().map(|(_, shards)| shards).collect();
            let distinct: BTreeSet<u64> = shards.iter().flatten().copied().collect();
            let counted: usize = shards.iter().map(Vec::len).sum();
            if distinct.len() as u64 == total && counted as u64 == total && fair(&shards) {
                return shards;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the replicas did not share the shards: {owned:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The nodes holding a member of quorum queue `queue`, from the management API.
async fn queue_members(management: &str, queue: &str) -> Vec<String> {
    let credentials = std::fs::read_to_string(
        stack_tests::repository().join("deploy/compose/secrets/rabbitmq-credentials.conf"),
    )
    .expect("the broker's credentials");
    let value = |key: &str| {
        credentials
            .lines()
            .find_map(|line| {
                line.strip_prefix(key)?
                    .trim()
                    .strip_prefix('=')
                    .map(|value| value.trim().to_owned())
            })
            .expect("a credential")
    };
    let response = reqwest::Client::new()
        .get(format!("{management}/api/queues/%2f/{queue}"))
        .basic_auth(value("default_user"), Some(value("default_pass")))
        .send()
        .await
        .expect("the management API answers");
    let body: Value = response.json().await.expect("JSON");
    body["members"]
        .as_array()
        .unwrap_or_else(|| panic!("no members in {body}"))
        .iter()
        .filter_map(|member| member.as_str().map(str::to_owned))
        .collect()
}

#[test]
fn both_dockerfiles_end_with_the_same_runtime() {
    let repository = stack_tests::repository();
    let runtime = |file: &str| {
        let text = std::fs::read_to_string(repository.join(file)).expect("the Dockerfile");
        let start = text.find("# runtime:").expect("the runtime marker");
        let rest = &text[start..];
        rest[rest.find('\n').expect("a line")..].to_owned()
    };
    assert_eq!(
        runtime("Dockerfile"),
        runtime("deploy/docker/prebuilt.Dockerfile"),
        "the image built from source and the one from host binaries must run alike"
    );
}
