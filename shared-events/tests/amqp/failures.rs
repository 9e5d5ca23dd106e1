//! Messages the runner or the broker gives up on end as exactly one record in `failure.json`.

use std::time::Duration;

use lapin::options::{BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use serde_json::Value;

use crate::helpers::{SERVICE, Script, ScriptedHandler, TestBroker, wait_for_records};

#[tokio::test]
async fn a_handler_that_always_fails_leaves_one_record_after_max_attempts() {
    let broker = TestBroker::new().await;
    let (handler, consumer, log, drain) = broker.spawn_pipeline(Script::AlwaysRetryable);

    let event = broker.publish_events(1).await.remove(0);
    let records = wait_for_records(&log, 1).await;
    // Long enough for one more retry round, were there a loop.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    consumer.stop().await;
    drain.stop().await;

    let records_now = log.records().expect("records");
    assert_eq!(records_now.len(), 1, "exactly one record: {records_now:#?}");
    let record = &records[0];
    let max_attempts = broker.settings.max_attempts;
    assert_eq!(record.attempts, max_attempts);
    assert_eq!(handler.call_count(), max_attempts as usize, "no retry loop");
    assert_eq!(record.service, SERVICE);
    assert_eq!(record.queue, broker.work_queue());
    assert_eq!(record.event_id, Some(event.id.to_string()));
    assert_eq!(record.order_id, Some(event.subject.to_string()));
    assert!(
        record.reason.contains("downstream is down"),
        "{}",
        record.reason
    );
    assert!(
        record.first_failure_at < record.last_failure_at,
        "{record:?}"
    );
    assert_eq!(
        shared_events::OrderEvent::decode(record.payload.as_bytes()).expect("payload is the event"),
        event
    );
    // The broker's history of the retry tiers came along.
    let deaths = record.x_death.as_array().expect("x-death is an array");
    let expired_from: Vec<&str> = deaths
        .iter()
        .filter(|death| death["reason"] == "expired")
        .filter_map(|death| death["queue"].as_str())
        .collect();
    assert_eq!(
        expired_from.len(),
        3,
        "one entry per retry tier: {deaths:?}"
    );
    assert!(
        expired_from.iter().all(|queue| queue.contains(".delay.")),
        "{expired_from:?}"
    );
    assert_eq!(broker.ready(&broker.work_queue()).await, 0);
    assert_eq!(broker.dead_letters().await, 0, "drained");
    broker.cleanup().await;
}

#[tokio::test]
async fn an_undecodable_message_is_recorded_at_once() {
    let broker = TestBroker::new().await;
    let (handler, consumer, log, drain) = broker.spawn_pipeline(Script::Apply);

    broker.publish_raw(b"not json", "garbage-1").await;
    let records = wait_for_records(&log, 1).await;
    consumer.stop().await;
    drain.stop().await;

    let record = &records[0];
    assert_eq!(record.attempts, 1);
    assert!(record.reason.contains("undecodable"), "{}", record.reason);
    assert_eq!(record.payload, "not json");
    assert_eq!(record.event_id.as_deref(), Some("garbage-1"));
    assert_eq!(record.order_id, None);
    assert_eq!(
        record.x_death,
        Value::Null,
        "never went through a retry tier"
    );
    assert_eq!(handler.call_count(), 0, "the handler never saw it");
    broker.cleanup().await;
}

#[tokio::test]
async fn a_permanent_failure_is_recorded_without_retries() {
    let broker = TestBroker::new().await;
    let (handler, consumer, log, drain) = broker.spawn_pipeline(Script::Permanent);

    broker.publish_events(1).await;
    let records = wait_for_records(&log, 1).await;
    consumer.stop().await;
    drain.stop().await;

    assert_eq!(records[0].attempts, 1);
    assert!(
        records[0].reason.contains("permanent"),
        "{}",
        records[0].reason
    );
    assert_eq!(handler.call_count(), 1);
    broker.cleanup().await;
}

#[tokio::test]
async fn a_message_that_crashes_its_consumers_is_dead_lettered_by_the_broker_and_recorded() {
    let broker = TestBroker::new().await;
    let (log, drain) = broker.spawn_drain();
    let event = broker.publish_events(1).await.remove(0);

    // A consumer that dies holding the message, again and again: each death returns it to the
    // queue and counts as a delivery, until the quorum queue's limit is exceeded.
    let work_queue = broker.work_queue();
    let deliveries = broker.settings.delivery_limit + 1;
    for _ in 0..deliveries {
        let channel = broker.channel().await;
        channel
            .basic_qos(1, BasicQosOptions::default())
            .await
            .expect("qos");
        let mut consumer = channel
            .basic_consume(
                work_queue.as_str().into(),
                "".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("consume");
        let delivery = tokio::time::timeout(
            Duration::from_secs(10),
            futures_util::StreamExt::next(&mut consumer),
        )
        .await
        .expect("delivered in time")
        .expect("a delivery")
        .expect("no error");
        assert_eq!(delivery.data, event.encode());
        channel
            .close(200, "OK".into())
            .await
            .expect("the consumer dies without acking");
    }

    let records = wait_for_records(&log, 1).await;
    drain.stop().await;

    let record = &records[0];
    assert!(
        record.reason.contains("delivery_limit"),
        "{}",
        record.reason
    );
    assert_eq!(record.queue, work_queue);
    assert_eq!(record.attempts, deliveries);
    assert_eq!(record.event_id, Some(event.id.to_string()));
    assert_eq!(record.x_death[0]["reason"], "delivery_limit");
    broker.cleanup().await;
}

#[tokio::test]
async fn a_dead_letter_delivered_twice_is_recorded_once() {
    let broker = TestBroker::new().await;
    let handler = ScriptedHandler::new(Script::Permanent);
    let consumer = broker.spawn_consumer(handler.clone());
    broker.publish_events(1).await;
    let dead_letter_queue = broker.topology.dead_letter_queue(SERVICE);
    crate::helpers::wait_until_async("the message is dead-lettered", || async {
        broker.ready(&dead_letter_queue).await == 1
    })
    .await;
    consumer.stop().await;

    // The drain records it, then "crashes" before its ack: the dead letter is delivered again.
    let (log, drain) = broker.spawn_drain();
    wait_for_records(&log, 1).await;
    drain.stop().await;
    let copy = broker.take_all(&dead_letter_queue).await;
    assert!(copy.is_empty(), "the first drain acked it");

    // Simulate the redelivery by dead-lettering the same message (same x-failure-id) again.
    let records = log.records().expect("records");
    let record = &records[0];
    let channel = broker.channel().await;
    channel
        .confirm_select(Default::default())
        .await
        .expect("confirm");
    let mut headers = FieldTable::default();
    headers.insert(
        "x-failure-id".into(),
        lapin::types::AMQPValue::LongString(record.id.as_str().into()),
    );
    headers.insert(
        "x-failure-reason".into(),
        lapin::types::AMQPValue::LongString(record.reason.as_str().into()),
    );
    channel
        .basic_publish(
            broker.topology.dead_letter_exchange().as_str().into(),
            SERVICE.into(),
            Default::default(),
            record.payload.as_bytes(),
            lapin::BasicProperties::default().with_headers(headers),
        )
        .await
        .expect("publish")
        .await
        .expect("confirm");
    channel.close(200, "OK".into()).await.expect("close");
    let (log, drain) = broker.spawn_drain();
    crate::helpers::wait_until_async("the copy is consumed", || async {
        broker.ready(&dead_letter_queue).await == 0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    drain.stop().await;

    assert_eq!(
        broker.ready(&dead_letter_queue).await,
        0,
        "the copy was acked"
    );
    assert_eq!(log.records().expect("records").len(), 1, "recorded once");
    broker.cleanup().await;
}
