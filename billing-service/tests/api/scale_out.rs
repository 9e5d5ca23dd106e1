//! Three replicas of the billing service, separate processes on one data directory, through
//! kills, joins and graceful leaves under a stream of orders: every invoice ends as its order's
//! last version says, its history in version order, and the shards are never owned twice.

use shared_events::contract::shard::ShardCount;
use test_support::http::get_json;
use test_support::replicas::{ReplicaSet, kill_join_and_scale, order_stream};
use test_support::wait::until;

use crate::helpers::SERVICE;

#[tokio::test]
async fn replicas_that_die_join_and_leave_bill_every_version_once_and_in_order() {
    // Arrange
    let orders = order_stream(200);
    let mut set = ReplicaSet::new(
        env!("CARGO_BIN_EXE_billing-service"),
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
    let client = reqwest::Client::new();
    let url = set.any_url();
    for streamed in &orders {
        let last = &streamed.last.order;
        let invoice = until("the order's last version is billed", async || {
            let invoice = get_json(&client, &format!("{url}/invoices/{}", last.order_id)).await?;
            (invoice["version"].as_u64() == Some(last.version)).then_some(invoice)
        })
        .await;
        let void = streamed.deleted || last.status.is_cancelled();
        assert_eq!(
            invoice["status"],
            if void { "void" } else { "open" },
            "{invoice}"
        );
        if !void {
            assert_eq!(
                invoice["amount"].to_string(),
                last.total_amount.to_string(),
                "{invoice}"
            );
        }
        let versions: Vec<u64> = invoice["history"]
            .as_array()
            .expect("history")
            .iter()
            .map(|entry| entry["order_version"].as_u64().expect("a version"))
            .collect();
        assert!(
            versions.windows(2).all(|pair| pair[0] < pair[1]),
            "each version applied once, in order: {versions:?}"
        );
        assert_eq!(versions.first(), Some(&1), "{invoice}");
    }
}
