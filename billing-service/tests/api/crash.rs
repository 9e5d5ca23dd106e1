//! SIGKILL or SIGTERM of the consumer process in the middle of a stream of events: after a restart every
//! event is applied once, none twice.

use std::time::Duration;

use serde_json::Value;
use shared_events::Money;

use test_support::http::{get_json, strings};
use test_support::process::{Interruption, interrupt};
use test_support::wait::until;

use crate::helpers::{BARRIER, SERVICE, TestBroker, TestOrder, barriers, start_binary};

/// Orders in the stream; each has a create and an update, so 200 events.
const ORDERS: u32 = 100;

test_support::interruption_tests!(
    every_event_is_applied_once_across_a_sigkill,
    sigterm_mid_stream_stops_it_cleanly_and_loses_nothing,
    interrupted_stream
);

async fn interrupted_stream(how: Interruption) {
    // Arrange: 100 orders of `i % 5 + 1` units at 1.10, each then updated to one unit more.
    let dir = tempfile::tempdir().expect("temp dir");
    let broker = TestBroker::new(SERVICE).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let mut events = Vec::new();
    let mut ids = Vec::new();
    for i in 0..ORDERS {
        let mut order = TestOrder::new(&format!("customer {i}"), &[("widget", i % 5 + 1, "1.10")]);
        events.push(order.created());
        events.push(order.with_lines(&[("widget", i % 5 + 2, "1.10")]));
        ids.push(order.id());
    }
    let (first, second) = events.split_at(events.len() / 2);
    let (mut child, url) = start_binary(dir.path(), &broker.settings).await;

    // Act: half the stream, a kill -9 while it is being applied, the rest while the service is
    // down, then a restart.
    for chunk in first.chunks(10) {
        broker.publish(chunk).await;
    }
    until("the service to be part-way through the stream", || async {
        (!invoices(&client, &url).await.is_empty()).then_some(())
    })
    .await;
    interrupt(&mut child, how).await;
    for chunk in second.chunks(10) {
        broker.publish(chunk).await;
    }
    let (_child, url) = start_binary(dir.path(), &broker.settings).await;
    // Whatever is still queued (a redelivery, say) is handled before a barrier of its own; the
    // second barrier, sent once the first is applied, ends the batch the first came in.
    for _ in 0..2 {
        for barrier in barriers() {
            broker.publish(&[barrier.created()]).await;
            until("the barrier to be applied", || async {
                let response = client
                    .get(format!("{url}/invoices/{}", barrier.id()))
                    .send()
                    .await
                    .ok()?;
                (response.status().as_u16() == 200).then_some(())
            })
            .await;
        }
    }

    // Assert
    let invoices = invoices(&client, &url).await;
    let mut newest_first = ids.clone();
    newest_first.reverse();
    let listed: Vec<&str> = invoices
        .iter()
        .filter(|invoice| invoice["customer_name"] != BARRIER)
        .map(|invoice| invoice["order_id"].as_str().expect("id"))
        .collect();
    assert_eq!(listed, newest_first, "one invoice per order");
    let mut total = Money::ZERO;
    for invoice in invoices
        .iter()
        .filter(|invoice| invoice["customer_name"] != BARRIER)
    {
        let kinds: Vec<&str> = strings(invoice, "history", "kind");
        assert_eq!(kinds, vec!["opened", "amended"], "{invoice}");
        assert_eq!(invoice["version"], 2, "{invoice}");
        let amount: Money = serde_json::from_value(invoice["amount"].clone()).expect("an amount");
        total = total.checked_add(amount).expect("no overflow");
    }
    let expected: i64 = (0..ORDERS).map(|i| i64::from(i % 5 + 2) * 110).sum();
    assert_eq!(total, Money::from_cents(expected), "the invoiced total");
}

/// Every invoice (up to 500), or none while the service does not answer.
async fn invoices(client: &reqwest::Client, url: &str) -> Vec<Value> {
    get_json(client, &format!("{url}/invoices?limit=500"))
        .await
        .and_then(|page| page["invoices"].as_array().cloned())
        .unwrap_or_default()
}
