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
use test_support::wait::until;

use crate::helpers::SERVICE;

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
    let reserved = until("every reservation is made", async || {
        let stock = get_json(&client, &format!("{url}/stock")).await?;
        let reserved: BTreeMap<String, u64> = stock["products"]
            .as_array()?
            .iter()
            .map(|level| {
                let product = level["product"].as_str().unwrap_or_default().to_owned();
                (product, level["reserved"].as_u64().unwrap_or_default())
            })
            .collect();
        (reserved == expected).then_some(reserved)
    })
    .await;
    assert_eq!(reserved, expected);
    // Nothing more comes: a late duplicate would show as more than expected.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
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
