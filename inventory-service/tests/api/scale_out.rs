//! Three replicas of the inventory service, separate processes on one data directory, through
//! kills, joins and graceful leaves under a stream of orders: every reservation is made exactly
//! once, and the shards are never owned twice.

use std::collections::BTreeMap;

use serde_json::Value;
use shared_events::contract::shard::ShardCount;
use test_support::http::get_json;
use test_support::replicas::{
    ReplicaSet, expected_reservations, kill_join_and_scale, order_stream,
};
use test_support::wait::DEADLINE;
use tokio::time::{Duration, Instant};

use crate::helpers::SERVICE;

/// Units reserved per product, as `GET /stock` shows them.
async fn reservations(client: &reqwest::Client, url: &str) -> Option<BTreeMap<String, u64>> {
    let stock = get_json(client, &format!("{url}/stock")).await?;
    stock["products"]
        .as_array()?
        .iter()
        .map(|level| {
            Some((
                level["product"].as_str()?.to_owned(),
                level["reserved"].as_u64()?,
            ))
        })
        .collect()
}

#[tokio::test]
async fn replicas_that_die_join_and_leave_reserve_every_unit_exactly_once() {
    // Arrange
    let orders = order_stream(200);
    let mut set = ReplicaSet::new(
        env!("CARGO_BIN_EXE_inventory-service"),
        SERVICE,
        ShardCount::DEFAULT,
        &[],
    )
    .await;

    // Act
    let violations = kill_join_and_scale(&mut set, &orders).await;

    // Assert: any replica answers for every shard.
    assert!(
        violations.is_empty(),
        "shards with two owners: {violations:?}"
    );
    let expected = expected_reservations(&orders);
    let client = reqwest::Client::new();
    let url = set.any_url();
    // Polled by hand, to show the last reservations seen if they never match.
    let deadline = Instant::now() + DEADLINE;
    let reserved = loop {
        let seen = reservations(&client, &url).await;
        if seen.as_ref() == Some(&expected) || Instant::now() >= deadline {
            break seen;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let reserved = reserved.expect("the stock answers");
    assert_eq!(reserved, expected);
    // Nothing more comes: a late duplicate would show as more than expected.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let stock: Value = get_json(&client, &format!("{url}/stock"))
        .await
        .expect("stock");
    for level in stock["products"].as_array().expect("products") {
        let product = level["product"].as_str().expect("product");
        assert_eq!(
            level["reserved"].as_u64(),
            expected.get(product).copied(),
            "{product}"
        );
    }
}
