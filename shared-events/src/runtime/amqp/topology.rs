//! The exchanges and queues of the platform, named under a namespace, and their declaration.
//!
//! ```text
//! publisher --> NS.orders (fanout; routing key = the order's bucket)
//!                  |
//!                  v
//!       NS.<service>.shards (direct) --bucket keys--> NS.<service>.shard.<k> --> the replica owning k
//!                  ^                                  (quorum, delivery limit,
//!                  | TTL expired: dead-lettered        single active consumer)
//!                  | with the message's own key             |
//!       NS.<service>.delay.<ms>ms (one per delay tier)      | broker (delivery limit) or
//!                  ^                                        | runner (after its attempts)
//!       NS.<service>.retry (headers: retry-delay-ms)         v
//!                  ^ runner            NS.dead-letter (direct, key = service)
//!                                               --> NS.<service>.dead-letter --> failure drain
//! ```
//!
//! Every queue is a durable quorum queue. Queues that dead-letter do so `at-least-once` (which
//! RabbitMQ allows only with `x-overflow = reject-publish`), so a message that leaves a queue
//! through dead-lettering is only removed once its next queue has it. Sharding uses only core
//! exchanges: the order's bucket ([`crate::contract::shard`]) is the routing key, and each
//! service's shard exchange maps every bucket to one of its shard queues.

use lapin::options::{
    ExchangeBindOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Connection, ExchangeKind};

use crate::app::settings::AmqpSettings;
use crate::contract::shard::{BUCKETS, Shard, ShardCount};
use crate::runtime::amqp::error::AmqpError;
use crate::runtime::amqp::headers::{RETRY_DELAY_MS, string};
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

    /// `NS.<service>.shards`: the direct exchange, bound to [`Topology::exchange`], that routes
    /// an event by its bucket to one of the service's shard queues.
    pub fn shard_exchange(&self, service: &str) -> String {
        format!("{}.{service}.shards", self.namespace)
    }

    /// `NS.<service>.shard.<k>`: the work queue of one shard of the service.
    pub fn shard_queue(&self, service: &str, shard: Shard) -> String {
        format!("{}.{service}.shard.{shard}", self.namespace)
    }

    /// `NS.dead-letter`: the direct exchange failed messages go to, routed by service name.
    pub fn dead_letter_exchange(&self) -> String {
        format!("{}.dead-letter", self.namespace)
    }

    /// `NS.<service>.dead-letter`: the queue the service's failure drain consumes.
    pub fn dead_letter_queue(&self, service: &str) -> String {
        format!("{}.{service}.dead-letter", self.namespace)
    }

    /// `NS.<service>.retry`: the headers exchange a retried message is published to, with its
    /// bucket as routing key and its delay in the `retry-delay-ms` header.
    pub fn retry_exchange(&self, service: &str) -> String {
        format!("{}.{service}.retry", self.namespace)
    }

    /// `NS.<service>.delay.<delay_ms>ms`: holds a retried message for `delay_ms`, then hands it
    /// back to the shard exchange, which routes it by its bucket to its shard again. One queue
    /// per delay because a queue expires messages only at its head: a long per-message TTL in
    /// front would hold back every shorter one behind it.
    pub fn retry_queue(&self, service: &str, delay_ms: u64) -> String {
        // Not `retry.<ms>ms`: the queues of that name, from before sharding, dead-letter
        // elsewhere, and the broker refuses to declare a queue anew with other arguments.
        format!("{}.{service}.delay.{delay_ms}ms", self.namespace)
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

    /// Declares everything `service` consumes with, for every one of its `shards`: what
    /// `declare_shard` declares for one. Idempotent.
    ///
    /// A declaration that conflicts with what the broker has (a queue with other arguments)
    /// fails and the broker closes `channel`: declare on a channel of its own.
    pub async fn declare_consumer(
        &self,
        channel: &Channel,
        service: &str,
        shards: ShardCount,
        settings: &AmqpSettings,
    ) -> Result<(), AmqpError> {
        self.declare_service(channel, service, settings).await?;
        for shard in shards.all() {
            self.declare_shard_queue(channel, service, shards, shard, settings)
                .await?;
        }
        Ok(())
    }

    /// Declares what one shard of `service` consumes with: the exchange, the service's shard
    /// exchange, the dead-letter exchange and queue, the retry exchange and one retry queue per
    /// delay in `settings.retry_delays_ms`, the outcomes it reports to, and the shard's queue
    /// bound with its buckets. Idempotent.
    async fn declare_shard(
        &self,
        channel: &Channel,
        service: &str,
        shards: ShardCount,
        shard: Shard,
        settings: &AmqpSettings,
    ) -> Result<(), AmqpError> {
        self.declare_service(channel, service, settings).await?;
        self.declare_shard_queue(channel, service, shards, shard, settings)
            .await
    }

    /// Checks that the broker has no more shard queues for `service` than `shards`: a queue
    /// beyond them means someone declared more, and its bindings would send some buckets to two
    /// shards. Refuses with a message that says so. (Fewer queues are not checked: declarers
    /// add a service's shard queues one by one, so fewer may only mean one is still declaring;
    /// the side with fewer shards refuses when it meets the queues of the side with more.)
    pub async fn check_shard_count(
        &self,
        connection: &Connection,
        service: &str,
        shards: ShardCount,
    ) -> Result<(), AmqpError> {
        let count = shards.get();
        let beyond = self.shard_queue(service, count);
        if queue_exists(connection, &beyond).await? {
            return Err(AmqpError::ShardCount(format!(
                "the broker has more than {count} shard queues for {service} ({beyond} exists): \
                 something declared {service} with more shards than the {count} configured \
                 here. Changing the shard count of existing data is refused: configure the \
                 count the service was set up with (ORDERS__SHARDS, or `{service}:N` in \
                 ORDERS__OUTBOX__CONSUMERS), or delete the extra shard queues once drained"
            )));
        }
        Ok(())
    }

    /// [`Topology::check_shard_count`], then [`Topology::declare_consumer`] on a channel of its
    /// own, closed afterwards: a failed declaration then costs only that channel.
    pub async fn declare_consumer_on(
        &self,
        connection: &Connection,
        service: &str,
        shards: ShardCount,
        settings: &AmqpSettings,
    ) -> Result<(), AmqpError> {
        self.check_shard_count(connection, service, shards).await?;
        let channel = open_channel(connection).await?;
        self.declare_consumer(&channel, service, shards, settings)
            .await?;
        close_channel(channel).await
    }

    /// What the consumer of one shard declares on every connection: [`Topology::check_shard_count`],
    /// then `declare_shard` on a channel of its own, and finally the removal of any
    /// other bucket's binding to the shard's queue, left by a declarer with another shard count
    /// (such a binding would send a bucket to two shards).
    pub async fn declare_shard_on(
        &self,
        connection: &Connection,
        service: &str,
        shards: ShardCount,
        shard: Shard,
        settings: &AmqpSettings,
    ) -> Result<(), AmqpError> {
        self.check_shard_count(connection, service, shards).await?;
        let channel = open_channel(connection).await?;
        self.declare_shard(&channel, service, shards, shard, settings)
            .await?;
        let queue = self.shard_queue(service, shard);
        let shard_exchange = self.shard_exchange(service);
        let own: Vec<u16> = shards.buckets_of(shard).collect();
        for bucket in (0..BUCKETS).filter(|bucket| !own.contains(bucket)) {
            // Removing a binding that does not exist succeeds in RabbitMQ.
            channel
                .queue_unbind(
                    short(&queue)?,
                    short(&shard_exchange)?,
                    short(&bucket.to_string())?,
                    FieldTable::default(),
                )
                .await
                .map_err(|source| AmqpError::Declare {
                    what: format!("removal of bucket {bucket}'s binding to {queue}"),
                    source,
                })?;
        }
        close_channel(channel).await
    }

    /// The exchanges and queues `service` has once, whatever its shard count.
    async fn declare_service(
        &self,
        channel: &Channel,
        service: &str,
        settings: &AmqpSettings,
    ) -> Result<(), AmqpError> {
        let exchange = self.exchange();
        let shard_exchange = self.shard_exchange(service);
        let retry_exchange = self.retry_exchange(service);
        let dead_letter_exchange = self.dead_letter_exchange();
        let dead_letter_queue = self.dead_letter_queue(service);

        declare_exchange(channel, &exchange, ExchangeKind::Fanout).await?;
        declare_exchange(channel, &shard_exchange, ExchangeKind::Direct).await?;
        bind_exchange(channel, &shard_exchange, &exchange).await?;
        declare_exchange(channel, &dead_letter_exchange, ExchangeKind::Direct).await?;
        declare_exchange(channel, &retry_exchange, ExchangeKind::Headers).await?;

        declare_queue(channel, &dead_letter_queue, quorum()).await?;
        bind(channel, &dead_letter_queue, &dead_letter_exchange, service).await?;

        for delay_ms in &settings.retry_delays_ms {
            let retry_queue = self.retry_queue(service, *delay_ms);
            // No dead-letter routing key: the message keeps its own, its bucket, and the shard
            // exchange routes it back to its shard.
            let mut arguments = at_least_once(&shard_exchange);
            let ttl = i64::try_from(*delay_ms).unwrap_or(i64::MAX);
            arguments.insert("x-message-ttl".into(), AMQPValue::LongLongInt(ttl));
            declare_queue(channel, &retry_queue, arguments).await?;
            let mut matching = FieldTable::default();
            matching.insert("x-match".into(), string("all"));
            matching.insert(RETRY_DELAY_MS.into(), string(&delay_ms.to_string()));
            bind_with(channel, &retry_queue, &retry_exchange, "", matching).await?;
        }
        self.declare_outcomes(channel).await
    }

    async fn declare_shard_queue(
        &self,
        channel: &Channel,
        service: &str,
        shards: ShardCount,
        shard: Shard,
        settings: &AmqpSettings,
    ) -> Result<(), AmqpError> {
        let queue = self.shard_queue(service, shard);
        let mut arguments = at_least_once(&self.dead_letter_exchange());
        arguments.insert("x-dead-letter-routing-key".into(), string(service));
        // RabbitMQ 3.10 sets no limit by default: a message that crashes every consumer
        // would be redelivered forever.
        let delivery_limit = i32::try_from(settings.delivery_limit).unwrap_or(i32::MAX);
        arguments.insert(
            "x-delivery-limit".into(),
            AMQPValue::LongInt(delivery_limit),
        );
        // A second guard beside the shard's lock: the broker feeds one consumer at a time.
        arguments.insert("x-single-active-consumer".into(), AMQPValue::Boolean(true));
        declare_queue(channel, &queue, arguments).await?;
        let shard_exchange = self.shard_exchange(service);
        for bucket in shards.buckets_of(shard) {
            bind(channel, &queue, &shard_exchange, &bucket.to_string()).await?;
        }
        Ok(())
    }
}

fn quorum() -> FieldTable {
    let mut arguments = FieldTable::default();
    arguments.insert("x-queue-type".into(), string("quorum"));
    arguments
}

/// Quorum-queue arguments that dead-letter to `exchange`, at least once.
fn at_least_once(exchange: &str) -> FieldTable {
    let mut arguments = quorum();
    arguments.insert("x-dead-letter-exchange".into(), string(exchange));
    // The default, at-most-once, drops a message if the target cannot take it at that moment.
    arguments.insert("x-dead-letter-strategy".into(), string("at-least-once"));
    arguments.insert("x-overflow".into(), string("reject-publish"));
    arguments
}

async fn open_channel(connection: &Connection) -> Result<Channel, AmqpError> {
    connection
        .create_channel()
        .await
        .map_err(AmqpError::channel("opening a channel to declare on"))
}

async fn close_channel(channel: Channel) -> Result<(), AmqpError> {
    channel
        .close(200, "OK".into())
        .await
        .map_err(AmqpError::channel("closing the declaring channel"))
}

/// Whether the queue `name` exists: a passive declaration, on a channel of its own because the
/// broker closes the channel when it does not.
async fn queue_exists(connection: &Connection, name: &str) -> Result<bool, AmqpError> {
    let channel = open_channel(connection).await?;
    let options = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    match channel
        .queue_declare(short(name)?, options, FieldTable::default())
        .await
    {
        Ok(_) => {
            close_channel(channel).await?;
            Ok(true)
        }
        Err(error) if is_not_found(&error) => Ok(false),
        Err(source) => Err(AmqpError::Declare {
            what: format!("queue {name} (checking that it exists)"),
            source,
        }),
    }
}

/// Whether the broker answered 404 NOT_FOUND.
fn is_not_found(error: &lapin::Error) -> bool {
    error.to_string().contains("NOT_FOUND")
}

/// Binds `destination` to receive everything `source` routes, with the routing key it came with.
async fn bind_exchange(
    channel: &Channel,
    destination: &str,
    source: &str,
) -> Result<(), AmqpError> {
    channel
        .exchange_bind(
            short(destination)?,
            short(source)?,
            short("")?,
            ExchangeBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|error| AmqpError::Declare {
            what: format!("binding of {destination} to {source}"),
            source: error,
        })
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
    bind_with(channel, queue, exchange, routing_key, FieldTable::default()).await
}

async fn bind_with(
    channel: &Channel,
    queue: &str,
    exchange: &str,
    routing_key: &str,
    arguments: FieldTable,
) -> Result<(), AmqpError> {
    channel
        .queue_bind(
            short(queue)?,
            short(exchange)?,
            short(routing_key)?,
            QueueBindOptions::default(),
            arguments,
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
        assert_eq!(topology.shard_exchange("billing"), "ns.billing.shards");
        assert_eq!(topology.shard_queue("billing", 3), "ns.billing.shard.3");
        assert_eq!(topology.retry_exchange("billing"), "ns.billing.retry");
        assert_eq!(topology.dead_letter_exchange(), "ns.dead-letter");
        assert_eq!(
            topology.dead_letter_queue("billing"),
            "ns.billing.dead-letter"
        );
        assert_eq!(
            topology.retry_queue("billing", 500),
            "ns.billing.delay.500ms"
        );
        assert_eq!(topology.outcomes_exchange(), "ns.outcomes");
        assert_eq!(topology.outcomes_queue(), "ns.order-outcomes");
    }
}
