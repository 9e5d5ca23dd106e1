//! A graceful stop while messages flow: Ok, and nothing acked that was not handled.

use std::collections::HashSet;
use std::time::Duration;

use shared_events::OrderEvent;

use crate::helpers::{Script, ScriptedHandler, TestBroker, wait_until};

#[tokio::test]
async fn stopping_while_messages_flow_returns_ok_and_acks_only_what_was_handled() {
    let broker = TestBroker::new().await;
    let events = broker.publish_events(150).await;
    let handler = ScriptedHandler::slow(Script::Apply, Duration::from_millis(10));
    let consumer = broker.spawn_consumer(handler.clone());

    wait_until("the consumer is busy", || handler.applied().len() >= 20).await;
    consumer.stop().await;

    assert_eq!(
        handler.in_progress(),
        0,
        "the message in flight was finished, not abandoned"
    );
    let handled = handler.applied();
    assert!(
        handled.len() < events.len(),
        "stopped before the end: {} handled",
        handled.len()
    );
    // Whatever is not in the queue any more was acked, so it must have been handled.
    let left: HashSet<_> = broker
        .take_all(&broker.work_queue())
        .await
        .iter()
        .map(|body| OrderEvent::decode(body).expect("an event").id)
        .collect();
    for event in &events {
        assert!(
            handled.contains(&event.id) || left.contains(&event.id),
            "event {} was acked without being handled",
            event.id
        );
    }
    broker.cleanup().await;
}

#[tokio::test]
async fn a_restarted_consumer_picks_up_where_the_stopped_one_left() {
    let broker = TestBroker::new().await;
    let events = broker.publish_events(60).await;
    let handler = ScriptedHandler::slow(Script::Apply, Duration::from_millis(5));

    let first = broker.spawn_consumer(handler.clone());
    wait_until("the first consumer is busy", || {
        handler.applied().len() >= 10
    })
    .await;
    first.stop().await;
    let second = broker.spawn_consumer(handler.clone());
    wait_until("every event is applied", || {
        handler.applied().len() == events.len()
    })
    .await;
    second.stop().await;

    let calls = handler.calls();
    for event in &events {
        assert_eq!(
            calls[&event.id].len(),
            1,
            "a clean stop handles nothing twice"
        );
    }
    broker.cleanup().await;
}
