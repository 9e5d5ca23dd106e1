//! The consumer survives its connections being cut and handles everything, at least once.

use std::collections::HashSet;
use std::time::Duration;

use shared_events::app::settings::{AmqpSettings, AmqpUrl};
use test_support::proxy::TcpProxy;

use crate::helpers::{Script, ScriptedHandler, TestBroker, wait_until};

#[tokio::test]
async fn a_consumer_keeps_working_after_its_connections_are_cut() {
    let broker = TestBroker::new().await;
    let proxy = TcpProxy::to_broker().await;
    // Slow enough that the cut lands while messages are in flight.
    let handler = ScriptedHandler::slow(Script::Apply, Duration::from_millis(10));
    let consumer = broker.spawn_consumer_with(broker.through(&proxy), handler.clone());

    let before = broker.publish_events(60).await;
    wait_until("some events are applied before the cut", || {
        handler.applied().len() >= 10
    })
    .await;
    let connections_before = proxy.accepted();
    proxy.cut_all();
    let after = broker.publish_events(60).await;

    let expected: HashSet<_> = before.iter().chain(&after).map(|event| event.id).collect();
    wait_until(
        "every event from before and after the cut is applied",
        || handler.applied() == expected,
    )
    .await;
    assert!(!consumer.task.is_finished(), "the consumer did not exit");
    assert!(
        proxy.accepted() > connections_before,
        "the consumer reconnected"
    );
    consumer.stop().await;

    // At-least-once: a message in flight during the cut may have been handled twice, but the
    // handler deduplicated it; nothing is left unacked.
    assert_eq!(
        broker.ready(&broker.work_queue()).await,
        0,
        "everything acked"
    );
    broker.cleanup().await;
}

#[tokio::test]
async fn a_consumer_survives_repeated_cuts() {
    let broker = TestBroker::new().await;
    let proxy = TcpProxy::to_broker().await;
    let handler = ScriptedHandler::slow(Script::Apply, Duration::from_millis(5));
    let consumer = broker.spawn_consumer_with(broker.through(&proxy), handler.clone());

    let mut expected = HashSet::new();
    for round in 1..=3 {
        expected.extend(broker.publish_events(20).await.iter().map(|event| event.id));
        tokio::time::sleep(Duration::from_millis(50)).await;
        proxy.cut_all();
        wait_until(&format!("round {round} is applied"), || {
            handler.applied() == expected
        })
        .await;
    }

    assert!(!consumer.task.is_finished(), "the consumer did not exit");
    consumer.stop().await;
    broker.cleanup().await;
}

#[tokio::test]
async fn a_consumer_given_several_nodes_moves_to_another_when_its_node_goes_away() {
    let broker = TestBroker::new().await;
    let first = TcpProxy::to_broker().await;
    let second = TcpProxy::to_broker().await;
    let handler = ScriptedHandler::new(Script::Apply);
    let nodes = AmqpSettings {
        url: AmqpUrl::new(format!("{},{}", first.url(), second.url())),
        ..broker.through(&first)
    };
    let consumer = broker.spawn_consumer_with(nodes, handler.clone());

    let before = broker.publish_events(20).await;
    let mut expected: HashSet<_> = before.iter().map(|event| event.id).collect();
    wait_until("the events before the loss are applied", || {
        handler.applied() == expected
    })
    .await;
    assert!(first.accepted() > 0, "the first node is tried first");
    assert_eq!(second.accepted(), 0, "the second is not needed yet");

    // The first node goes away for good: its connections drop and it refuses new ones.
    first.take_down();
    let after = broker.publish_events(20).await;
    expected.extend(after.iter().map(|event| event.id));
    wait_until("the events after the loss are applied", || {
        handler.applied() == expected
    })
    .await;
    assert!(
        second.accepted() > 0,
        "the consumer moved to the second node"
    );
    assert!(!consumer.task.is_finished(), "the consumer did not exit");
    consumer.stop().await;
    broker.cleanup().await;
}
