//! The confirmed publisher: Ok only when every message is queued.

use std::time::Duration;

use shared_events::runtime::amqp::{ConfirmedPublisher, OutgoingMessage, PublishError, Topology};

use crate::helpers::{TestBroker, sample_event, settings_at, wait_until_async};

/// A publisher to the broker at `url`, named `name`, and an event for the exchange of the
/// namespace `name`.
fn publisher_at(url: &str, name: &str) -> (ConfirmedPublisher, OutgoingMessage) {
    let publisher = ConfirmedPublisher::new(settings_at(url, name), name);
    let message = OutgoingMessage::order_event(&Topology::new(name), &sample_event());
    (publisher, message)
}

#[tokio::test]
async fn a_batch_into_a_bound_exchange_is_confirmed_and_queued() {
    let broker = TestBroker::new().await;
    let events: Vec<_> = (0..300).map(|_| sample_event()).collect();
    let messages: Vec<_> = events
        .iter()
        .map(|event| OutgoingMessage::order_event(&broker.topology, event))
        .collect();

    broker
        .publisher
        .publish_batch(&messages)
        .await
        .expect("batch confirmed");

    let work_queue = broker.work_queue();
    wait_until_async("all 300 are in the work queue", || async {
        broker.ready(&work_queue).await == 300
    })
    .await;
    let first = broker.take(&work_queue, 1).await.remove(0);
    let properties = &first.properties;
    assert_eq!(*properties.delivery_mode(), Some(2), "persistent");
    assert_eq!(
        properties.content_type().as_ref().map(|t| t.as_str()),
        Some("application/json")
    );
    assert_eq!(
        properties.message_id().as_ref().map(|id| id.as_str()),
        Some(events[0].id.to_string().as_str()),
        "message_id is the event id"
    );
    broker.cleanup().await;
}

#[tokio::test]
async fn a_batch_with_no_queue_bound_is_returned_so_it_is_not_marked_published() {
    let broker = TestBroker::new().await;
    // An exchange of its own with nothing bound to it.
    let lonely = Topology::new(&format!("{}-lonely", broker.settings.namespace));
    broker.also_delete_exchange(lonely.exchange());
    let channel = broker.channel().await;
    lonely.declare_exchange(&channel).await.expect("exchange");
    let messages: Vec<_> = (0..5)
        .map(|_| OutgoingMessage::order_event(&lonely, &sample_event()))
        .collect();

    let result = broker.publisher.publish_batch(&messages).await;

    assert!(
        matches!(
            &result,
            Err(PublishError::Returned {
                reply_code: 312,
                ..
            })
        ),
        "{result:?}"
    );
    channel.close(200, "OK".into()).await.expect("close");
    broker.cleanup().await;
}

#[tokio::test]
async fn one_unroutable_message_fails_the_whole_pipelined_batch() {
    let broker = TestBroker::new().await;
    let mut messages: Vec<_> = (0..50)
        .map(|_| OutgoingMessage::order_event(&broker.topology, &sample_event()))
        .collect();
    // Through the default exchange to a queue that does not exist: unroutable.
    messages[25].exchange = String::new();
    messages[25].routing_key = format!("{}.nowhere", broker.settings.namespace);

    let result = broker.publisher.publish_batch(&messages).await;

    assert!(
        matches!(&result, Err(PublishError::Returned { .. })),
        "{result:?}"
    );
    // The publisher stays usable.
    broker.publish_events(3).await;
    broker.cleanup().await;
}

#[tokio::test]
async fn a_missing_exchange_fails_the_publish_and_the_publisher_recovers() {
    let broker = TestBroker::new().await;
    let mut message = OutgoingMessage::order_event(&broker.topology, &sample_event());
    message.exchange = format!("{}.missing", broker.settings.namespace);

    let result = broker.publisher.publish(&message).await;

    // The broker closes the channel (404); the next publish opens a new one.
    assert!(
        matches!(&result, Err(PublishError::Channel(_))),
        "{result:?}"
    );
    broker.publish_events(2).await;
    let work_queue = broker.work_queue();
    wait_until_async("2 messages queued", || async {
        broker.ready(&work_queue).await == 2
    })
    .await;
    broker.cleanup().await;
}

#[tokio::test]
async fn a_broker_that_is_down_is_an_error_not_a_hang() {
    let (publisher, message) = publisher_at("amqp://guest:guest@127.0.0.1:1/%2f", "unreachable");

    let result = tokio::time::timeout(Duration::from_secs(20), publisher.publish(&message))
        .await
        .expect("fails in bounded time");

    assert!(
        matches!(&result, Err(PublishError::Connect(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn an_invalid_url_is_an_error_that_hides_the_password() {
    let (publisher, message) = publisher_at("http://user:s3cret@127.0.0.1:5672", "invalid");

    let error = publisher.publish(&message).await.expect_err("invalid URL");

    assert!(!error.to_string().contains("s3cret"), "{error}");
}

#[tokio::test]
async fn an_amqps_url_speaks_tls_and_never_falls_back_to_plain_text() {
    // The broker's plain AMQP port: a TLS client must fail its handshake there. Without a TLS
    // feature, lapin would quietly connect in plain text, credentials and all.
    let settings = settings_at("amqps://guest:guest@127.0.0.1:5672/%2f", "tls");

    let result = tokio::time::timeout(
        Duration::from_secs(20),
        shared_events::runtime::amqp::connect(&settings, "tls"),
    )
    .await
    .expect("fails in bounded time");

    assert!(result.is_err(), "connected in plain text over an amqps URL");
}
