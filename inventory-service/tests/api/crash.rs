//! SIGKILL or SIGTERM of the consumer process in the middle of a stream of events: after a restart every
//! event is applied once, none twice.

use std::time::Duration;

use serde_json::Value;

use test_support::http::get_json;
use test_support::process::{Interruption, interrupt};
use test_support::wait::until;

use crate::helpers::{SERVICE, TestBroker, TestOrder, Units, start_binary};

/// Orders in the stream; each has a create and an update, so 200 events.
const ORDERS: u32 = 100;

test_support::interruption_tests!(
    every_event_is_applied_once_across_a_sigkill,
    sigterm_mid_stream_stops_it_cleanly_and_loses_nothing,
    interrupted_stream
);

async fn interrupted_stream(how: Interruption) {
    // Arrange: 100 orders of `i % 5 + 1` widgets and one of their own product, each then updated
    // to one widget more and two of its own product.
    let dir = tempfile::tempdir().expect("temp dir");
    let broker = TestBroker::new(SERVICE).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let mut events = Vec::new();
    let mut expected_widgets = 0;
    for i in 0..ORDERS {
        let own = format!("part-{i:03}");
        let mut order = TestOrder::of_units(&[("widget", i % 5 + 1), (&own, 1)]);
        events.push(order.created());
        events.push(order.with_items(&[("widget", i % 5 + 2), (&own, 2)]));
        expected_widgets += u64::from(i % 5 + 2);
    }
    let (first, second) = events.split_at(events.len() / 2);
    let (mut child, url) = start_binary(dir.path(), &broker.settings).await;

    // Act: half the stream, a kill -9 while it is being applied, the rest while the service is
    // down, then a restart.
    for chunk in first.chunks(10) {
        broker.publish(chunk).await;
    }
    until("the service to be part-way through the stream", || async {
        let reserved = widgets(&client, &url).await;
        (reserved > 0).then_some(())
    })
    .await;
    interrupt(&mut child, how).await;
    for chunk in second.chunks(10) {
        broker.publish(chunk).await;
    }
    let (_child, url) = start_binary(dir.path(), &broker.settings).await;

    // Assert
    until(&format!("{expected_widgets} widgets reserved"), || async {
        (widgets(&client, &url).await == expected_widgets).then_some(())
    })
    .await;
    // Whatever is still queued (a redelivery, say) is handled before a barrier of its own; the
    // second barrier, sent once the first is applied, ends the batch the first came in.
    for round in 1..=2u64 {
        broker
            .publish(&[TestOrder::of_units(&[("barrier", 1)]).created()])
            .await;
        until("the barrier to be applied", || async {
            let response = client
                .get(format!("{url}/stock/barrier"))
                .send()
                .await
                .ok()?;
            let level: Value = response.json().await.ok()?;
            (level["reserved"] == round).then_some(())
        })
        .await;
    }
    assert_eq!(widgets(&client, &url).await, expected_widgets);
    let response = client
        .get(format!("{url}/stock"))
        .send()
        .await
        .expect("get");
    let body: Value = response.json().await.expect("json");
    let products = body["products"].as_array().expect("products");
    for i in 0..ORDERS {
        let own = format!("part-{i:03}");
        let level = products
            .iter()
            .find(|level| level["product"] == own.as_str())
            .unwrap_or_else(|| panic!("{own} is missing"));
        assert_eq!(level["reserved"], 2, "{own}: {level}");
    }
    assert_eq!(
        products.len(),
        ORDERS as usize + 2,
        "the parts, widget and barrier"
    );
}

/// Widgets reserved, or 0 while the service does not answer or knows none.
async fn widgets(client: &reqwest::Client, url: &str) -> u64 {
    get_json(client, &format!("{url}/stock/widget"))
        .await
        .and_then(|level| level["reserved"].as_u64())
        .unwrap_or(0)
}
