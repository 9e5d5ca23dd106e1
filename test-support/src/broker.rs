//! A namespace of its own on the real broker with one consuming service's topology declared (for
//! the shard count tests run with),
//! and a confirmed publisher into it: events wait in the service's queue until it consumes.

use shared_events::OrderEvent;
use shared_events::app::settings::AmqpSettings;
use shared_events::contract::shard::ShardCount;
use shared_events::runtime::amqp::connection::connect;
use shared_events::runtime::amqp::publisher::{ConfirmedPublisher, OutgoingMessage};
use shared_events::runtime::amqp::topology::Topology;
use uuid::Uuid;

use crate::namespace;

/// A fresh namespace (`test-<uuid>`) with `service`'s topology declared; its queues and
/// exchanges are deleted when dropped.
pub struct TestBroker {
    /// Settings of the local broker under the namespace.
    pub settings: AmqpSettings,
    service: &'static str,
    topology: Topology,
    publisher: ConfirmedPublisher,
}

impl TestBroker {
    /// A fresh namespace with `service`'s queues declared, so that events published before the
    /// service consumes wait in its queue.
    pub async fn new(service: &'static str) -> TestBroker {
        TestBroker::with_shards(service, ShardCount::for_tests()).await
    }

    /// [`TestBroker::new`] for a service of `shards` shards.
    pub async fn with_shards(service: &'static str, shards: ShardCount) -> TestBroker {
        let settings = AmqpSettings::for_tests(&namespace::unique());
        let topology = Topology::new(&settings.namespace);
        let connection = connect(&settings, &format!("{service}-tests"))
            .await
            .expect("the broker answers on 127.0.0.1:5672 (scripts/ensure-rabbitmq)");
        topology
            .declare_consumer_on(&connection, service, shards, &settings)
            .await
            .expect("the topology is declared");
        connection.close(200, "OK".into()).await.expect("close");
        let publisher =
            ConfirmedPublisher::new(settings.clone(), &format!("{service}-tests-publisher"));
        TestBroker {
            settings,
            service,
            topology,
            publisher,
        }
    }

    /// A publisher into the namespace, and its topology, for a task of the test's own.
    pub fn publisher(&self) -> (ConfirmedPublisher, Topology) {
        (self.publisher.clone(), self.topology.clone())
    }

    /// Publishes `events`, confirmed, to the namespace's exchange.
    pub async fn publish(&self, events: &[OrderEvent]) {
        publish_events(&self.publisher, &self.topology, events).await;
    }

    /// Publishes `body` as it is to the namespace's exchange, in bucket 0.
    pub async fn publish_raw(&self, body: &[u8]) {
        let message = OutgoingMessage {
            exchange: self.topology.exchange(),
            routing_key: "0".to_owned(),
            message_id: Uuid::new_v4().to_string(),
            body: body.to_vec(),
            headers: Vec::new(),
        };
        self.publisher
            .publish(&message)
            .await
            .expect("the broker confirms");
    }

    /// Publishes `event` straight to the service's dead letters, as if it had failed.
    pub async fn publish_dead_letter(&self, event: &OrderEvent) {
        let message = OutgoingMessage {
            exchange: self.topology.dead_letter_exchange(),
            routing_key: self.service.to_owned(),
            ..OutgoingMessage::order_event(&self.topology, event)
        };
        self.publisher
            .publish(&message)
            .await
            .expect("the broker confirms");
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        namespace::delete_blocking(&self.settings, &[self.service]);
    }
}

/// Publishes `events` with `publisher` to `topology`'s exchange, failing the test unless the
/// broker confirms every one.
pub async fn publish_events(
    publisher: &ConfirmedPublisher,
    topology: &Topology,
    events: &[OrderEvent],
) {
    let messages: Vec<OutgoingMessage> = events
        .iter()
        .map(|event| OutgoingMessage::order_event(topology, event))
        .collect();
    publisher
        .publish_batch(&messages)
        .await
        .expect("the broker confirms every event");
}
