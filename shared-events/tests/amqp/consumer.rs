//! The consumer runner on the happy path, and its supervision when the broker is unreachable.

use std::time::Duration;

use shared_events::app::settings::AmqpSettings;
use shared_events::runtime::amqp::BrokerLink;
use tokio_util::sync::CancellationToken;

use crate::helpers::{
    Script, ScriptedHandler, TestBroker, settings_at, wait_until, wait_until_async,
};

#[tokio::test]
async fn each_event_is_applied_once_and_acked() {
    let broker = TestBroker::new().await;
    let events = broker.publish_events(40).await;
    let handler = ScriptedHandler::new(Script::Apply);

    let consumer = broker.spawn_consumer(handler.clone());
    wait_until("all 40 events are applied", || {
        handler.applied().len() == 40
    })
    .await;
    consumer.stop().await;

    let calls = handler.calls();
    for event in &events {
        assert_eq!(
            calls.get(&event.id).map(Vec::len),
            Some(1),
            "event {} handled once",
            event.id
        );
    }
    // Had anything not been acked, closing the consumer would have put it back.
    assert_eq!(
        broker.ready(&broker.work_queue()).await,
        0,
        "work queue empty"
    );
    assert_eq!(broker.dead_letters().await, 0, "nothing dead-lettered");
    broker.cleanup().await;
}

#[tokio::test]
async fn events_published_while_the_consumer_runs_are_applied() {
    let broker = TestBroker::new().await;
    let handler = ScriptedHandler::new(Script::Apply);
    let consumer = broker.spawn_consumer(handler.clone());

    for round in 1..=3 {
        broker.publish_events(5).await;
        wait_until(&format!("round {round} is applied"), || {
            handler.applied().len() == round * 5
        })
        .await;
    }

    consumer.stop().await;
    broker.cleanup().await;
}

#[tokio::test]
async fn a_consumer_keeps_trying_while_the_broker_is_unreachable_and_stops_on_shutdown() {
    let settings = settings_at("amqp://guest:guest@127.0.0.1:1/%2f", "unreachable");
    let token = CancellationToken::new();
    let link = BrokerLink::default();
    let task = tokio::spawn(shared_events::runtime::amqp::run_consumer(
        settings,
        ScriptedHandler::new(Script::Apply),
        crate::helpers::SHARDS,
        0,
        link.clone(),
        token.clone(),
    ));

    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert!(
        !task.is_finished(),
        "the consumer does not give up on a broker that is down"
    );
    assert!(!link.is_connected(), "the link says it is not connected");
    token.cancel();
    let result = tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("stops promptly")
        .expect("no panic");
    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test]
async fn an_invalid_url_stops_the_consumer_with_an_error() {
    let settings = settings_at("not a url", "invalid");
    let result = tokio::time::timeout(
        Duration::from_secs(5),
        shared_events::runtime::amqp::run_consumer(
            settings,
            ScriptedHandler::new(Script::Apply),
            crate::helpers::SHARDS,
            0,
            BrokerLink::default(),
            CancellationToken::new(),
        ),
    )
    .await
    .expect("returns at once");
    assert!(
        result.is_err(),
        "a configuration mistake is not retried forever"
    );
}

#[tokio::test]
async fn the_queue_is_declared_by_the_consumer_itself() {
    // A namespace where nothing was declared beforehand.
    let broker = TestBroker::new().await;
    let fresh = AmqpSettings::for_tests(&format!("{}-fresh", broker.settings.namespace));
    broker.also_delete(&fresh);
    let topology = shared_events::runtime::amqp::Topology::new(&fresh.namespace);
    let handler = ScriptedHandler::new(Script::Apply);
    let token = CancellationToken::new();
    let task = tokio::spawn(shared_events::runtime::amqp::run_consumer(
        fresh.clone(),
        handler.clone(),
        crate::helpers::SHARDS,
        0,
        BrokerLink::default(),
        token.clone(),
    ));

    let work_queue = topology.shard_queue(crate::helpers::SERVICE, 0);
    wait_until_async("the consumer declared its queue", || async {
        let channel = broker.channel().await;
        let options = lapin::options::QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        let declared = channel
            .queue_declare(work_queue.as_str().into(), options, Default::default())
            .await;
        if declared.is_ok() {
            let _ = channel.close(200, "OK".into()).await;
        }
        declared.is_ok_and(|queue| queue.consumer_count() == 1)
    })
    .await;

    token.cancel();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("stops")
        .expect("no panic")
        .expect("clean stop");
    broker.cleanup().await;
}
