//! The exchanges and queues of the platform, named under a namespace, and their declaration.
//!
//! ```text
//! publisher --> NS.orders (fanout) --> NS.<service> (quorum, delivery limit) --> consumer
//!                                         |   ^
//!            broker (delivery limit) or   |   | TTL expired: back through the default exchange
//!            runner (after its attempts)  |   |
//!                                         |  NS.<service>.retry.<ms>ms (quorum, one per delay tier)
//!                                         v
//!                 NS.dead-letter (direct, key = service) --> NS.<service>.dead-letter --> failure drain
//! ```
//!
//! Every queue is a durable quorum queue. Queues that dead-letter do so `at-least-once` (which
//! RabbitMQ allows only with `x-overflow = reject-publish`), so a message that leaves a queue
//! through dead-lettering is only removed once its next queue has it.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Connection, ExchangeKind};

use crate::app::settings::AmqpSettings;
use crate::runtime::amqp::error::AmqpError;
use crate::runtime::amqp::headers::string;
use crate::runtime::amqp::names::short;

/// The names of the platform's exchanges and queues under one namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    namespace: String,
}

impl Topology {
    /// The topology whose names start with `namespace.`.
    pub fn new(namespace: &str) -> Topology {
        Topology {
            namespace: namespace.to_owned(),
        }
    }

    /// The namespace the names start with.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// `NS.orders`: the durable fanout exchange every order event is published to.
    pub fn exchange(&self) -> String {
        format!("{}.orders", self.namespace)
    }

    /// `NS.<service>`: the service's work queue, bound to [`Topology::exchange`].
    pub fn work_queue(&self, service: &str) -> String {
        format!("{}.{service}", self.namespace)
    }

    /// `NS.dead-letter`: the direct exchange failed messages go to, routed by service name.
    pub fn dead_letter_exchange(&self) -> String {
        format!("{}.dead-letter", self.namespace)
    }

    /// `NS.<service>.dead-letter`: the queue the service's failure drain consumes.
    pub fn dead_letter_queue(&self, service: &str) -> String {
        format!("{}.{service}.dead-letter", self.namespace)
    }

    /// `NS.<service>.retry.<delay_ms>ms`: holds a retried message for `delay_ms`, then hands it
    /// back to the work queue. One queue per delay because a queue expires messages only at its
    /// head: a long per-message TTL in front would hold back every shorter one behind it.
    pub fn retry_queue(&self, service: &str, delay_ms: u64) -> String {
        format!("{}.{service}.retry.{delay_ms}ms", self.namespace)
    }

    /// `NS.outcomes`: the fanout exchange consumers report what they did with each event to.
    pub fn outcomes_exchange(&self) -> String {
        format!("{}.outcomes", self.namespace)
    }

    /// `NS.order-outcomes`: the order service's queue of outcomes, for its delivery timeline.
    pub fn outcomes_queue(&self) -> String {
        format!("{}.order-outcomes", self.namespace)
    }

    /// Declares the outcomes exchange and the order service's queue bound to it, so that no
    /// outcome reported before the order service first starts is dropped. Idempotent.
    pub async fn declare_outcomes(&self, channel: &Channel) -> Result<(), AmqpError> {
        let exchange = self.outcomes_exchange();
        let queue = self.outcomes_queue();
        declare_exchange(channel, &exchange, ExchangeKind::Fanout).await?;
        declare_queue(channel, &queue, quorum()).await?;
        bind(channel, &queue, &exchange, "").await
    }

    /// Declares what a publisher needs: the fanout exchange. Idempotent.
    pub async fn declare_exchange(&self, channel: &Channel) -> Result<(), AmqpError> {
        declare_exchange(channel, &self.exchange(), ExchangeKind::Fanout).await
    }

    /// Declares everything `service` consumes with: the exchange, its work queue, the
    /// dead-letter exchange and queue, one retry queue per delay in
    /// `settings.retry_delays_ms`, and the outcomes it reports to. Idempotent.
    ///
    /// A declaration that conflicts with what the broker has (a queue with other arguments)
    /// fails and the broker closes `channel`: declare on a channel of its own.
    pub async fn declare_consumer(
        &self,
        channel: &Channel,
        service: &str,
        settings: &AmqpSettings,
    ) -> Result<(), AmqpError> {
        let exchange = self.exchange();
        let dead_letter_exchange = self.dead_letter_exchange();
        let work_queue = self.work_queue(service);
        let dead_letter_queue = self.dead_letter_queue(service);

        declare_exchange(channel, &exchange, ExchangeKind::Fanout).await?;
        declare_exchange(channel, &dead_letter_exchange, ExchangeKind::Direct).await?;

        declare_queue(channel, &dead_letter_queue, quorum()).await?;
        bind(channel, &dead_letter_queue, &dead_letter_exchange, service).await?;

        let mut work_arguments = dead_lettering(&dead_letter_exchange, service);
        // RabbitMQ 3.10 sets no limit by default: a message that crashes every consumer
        // would be redelivered forever.
        let delivery_limit = i32::try_from(settings.delivery_limit).unwrap_or(i32::MAX);
        work_arguments.insert(
            "x-delivery-limit".into(),
            AMQPValue::LongInt(delivery_limit),
        );
        declare_queue(channel, &work_queue, work_arguments).await?;
        bind(channel, &work_queue, &exchange, "").await?;

        for delay_ms in &settings.retry_delays_ms {
            let retry_queue = self.retry_queue(service, *delay_ms);
            // The default exchange ("") routes by queue name, straight back to the work queue.
            let mut arguments = dead_lettering("", &work_queue);
            let ttl = i64::try_from(*delay_ms).unwrap_or(i64::MAX);
            arguments.insert("x-message-ttl".into(), AMQPValue::LongLongInt(ttl));
            declare_queue(channel, &retry_queue, arguments).await?;
        }
        self.declare_outcomes(channel).await
    }

    /// [`Topology::declare_consumer`] on a channel of its own, closed afterwards: a failed
    /// declaration then costs only that channel.
    pub async fn declare_consumer_on(
        &self,
        connection: &Connection,
        service: &str,
        settings: &AmqpSettings,
    ) -> Result<(), AmqpError> {
        let channel = connection
            .create_channel()
            .await
            .map_err(AmqpError::channel("opening a channel to declare on"))?;
        self.declare_consumer(&channel, service, settings).await?;
        channel
            .close(200, "OK".into())
            .await
            .map_err(AmqpError::channel("closing the declaring channel"))
    }
}

fn quorum() -> FieldTable {
    let mut arguments = FieldTable::default();
    arguments.insert("x-queue-type".into(), string("quorum"));
    arguments
}

/// Quorum-queue arguments that dead-letter to `exchange` with `routing_key`, at least once.
fn dead_lettering(exchange: &str, routing_key: &str) -> FieldTable {
    let mut arguments = quorum();
    arguments.insert("x-dead-letter-exchange".into(), string(exchange));
    arguments.insert("x-dead-letter-routing-key".into(), string(routing_key));
    // The default, at-most-once, drops a message if the target cannot take it at that moment.
    arguments.insert("x-dead-letter-strategy".into(), string("at-least-once"));
    arguments.insert("x-overflow".into(), string("reject-publish"));
    arguments
}

async fn declare_exchange(
    channel: &Channel,
    name: &str,
    kind: ExchangeKind,
) -> Result<(), AmqpError> {
    let options = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(short(name)?, kind, options, FieldTable::default())
        .await
        .map_err(|source| AmqpError::Declare {
            what: format!("exchange {name}"),
            source,
        })
}

async fn declare_queue(
    channel: &Channel,
    name: &str,
    arguments: FieldTable,
) -> Result<(), AmqpError> {
    channel
        .queue_declare(short(name)?, QueueDeclareOptions::durable(), arguments)
        .await
        .map(drop)
        .map_err(|source| AmqpError::Declare {
            what: format!("queue {name}"),
            source,
        })
}

async fn bind(
    channel: &Channel,
    queue: &str,
    exchange: &str,
    routing_key: &str,
) -> Result<(), AmqpError> {
    channel
        .queue_bind(
            short(queue)?,
            short(exchange)?,
            short(routing_key)?,
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|source| AmqpError::Declare {
            what: format!("binding of {queue} to {exchange}"),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_namespace() {
        let topology = Topology::new("ns");
        assert_eq!(topology.exchange(), "ns.orders");
        assert_eq!(topology.work_queue("billing"), "ns.billing");
        assert_eq!(topology.dead_letter_exchange(), "ns.dead-letter");
        assert_eq!(
            topology.dead_letter_queue("billing"),
            "ns.billing.dead-letter"
        );
        assert_eq!(
            topology.retry_queue("billing", 500),
            "ns.billing.retry.500ms"
        );
        assert_eq!(topology.outcomes_exchange(), "ns.outcomes");
        assert_eq!(topology.outcomes_queue(), "ns.order-outcomes");
    }
}
