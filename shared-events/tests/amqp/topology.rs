//! Declaring the topology: idempotent, quorum queues with the limits set.

use lapin::options::QueueDeclareOptions;
use lapin::types::{AMQPValue, FieldTable};
use shared_events::contract::shard::{BUCKETS, ShardCount};
use shared_events::runtime::amqp::OutgoingMessage;
use shared_events::runtime::amqp::{AmqpError, connect};

use crate::helpers::{SERVICE, SHARDS, TestBroker, wait_until_async};

#[tokio::test]
async fn declaring_twice_is_idempotent() {
    let broker = TestBroker::new().await;
    let channel = broker.channel().await;

    broker
        .topology
        .declare_exchange(&channel)
        .await
        .expect("exchange again");
    broker
        .topology
        .declare_consumer(&channel, SERVICE, SHARDS, &broker.settings)
        .await
        .expect("everything again, on the same channel");
    broker
        .topology
        .declare_consumer(&channel, SERVICE, SHARDS, &broker.settings)
        .await
        .expect("and once more");

    channel.close(200, "OK".into()).await.expect("close");
    broker.cleanup().await;
}

#[tokio::test]
async fn queues_are_quorum_queues_with_the_configured_limits() {
    let broker = TestBroker::new().await;
    let work_queue = broker.work_queue();

    // The broker refuses a redeclaration with other arguments, naming the one that differs:
    // that shows what the queue was declared with, through AMQP alone.
    let cases: [(&str, AMQPValue, &str); 3] = [
        (
            "x-queue-type",
            AMQPValue::LongString("classic".into()),
            "x-queue-type",
        ),
        (
            "x-delivery-limit",
            AMQPValue::LongInt(99),
            "x-delivery-limit",
        ),
        (
            "x-dead-letter-exchange",
            AMQPValue::LongString("elsewhere".into()),
            "x-dead-letter-exchange",
        ),
    ];
    for (key, value, expected) in cases {
        let mut arguments = quorum_work_arguments(&broker);
        arguments.insert(key.into(), value);
        let error = redeclare(&broker, &work_queue, arguments)
            .await
            .expect_err(key);
        assert!(error.contains(expected), "{key}: {error}");
    }
    redeclare(&broker, &work_queue, quorum_work_arguments(&broker))
        .await
        .expect("the same arguments are accepted");

    // Where rabbitmqctl is at hand (root on the broker's machine), look at the arguments directly.
    if let Ok(output) = std::process::Command::new("rabbitmqctl")
        .args([
            "list_queues",
            "-q",
            "--no-table-headers",
            "name",
            "type",
            "arguments",
        ])
        .output()
        && output.status.success()
    {
        let listing = String::from_utf8_lossy(&output.stdout);
        let line_of = |queue: &str| {
            listing
                .lines()
                .find(|line| line.split('\t').next() == Some(queue))
                .unwrap_or_else(|| panic!("{queue} listed in:\n{listing}"))
                .to_owned()
        };
        let work = line_of(&work_queue);
        assert!(work.contains("quorum"), "{work}");
        assert!(work.contains("x-delivery-limit"), "{work}");
        let retry = line_of(&broker.topology.retry_queue(SERVICE, 100));
        assert!(
            retry.contains("quorum") && retry.contains("x-message-ttl"),
            "{retry}"
        );
        let dead = line_of(&broker.topology.dead_letter_queue(SERVICE));
        assert!(dead.contains("quorum"), "{dead}");
    }

    broker.cleanup().await;
}

#[tokio::test]
async fn a_declarer_with_fewer_shards_than_the_broker_is_refused_with_the_queue_named() {
    // Arrange: the broker holds the service's queues for one shard.
    let broker = TestBroker::new().await;
    let connection = connect(&broker.settings, "shard-count-test")
        .await
        .expect("connects");
    broker
        .topology
        .check_shard_count(&connection, SERVICE, SHARDS)
        .await
        .expect("the same count passes");

    // Act: a declarer with two shards adds shard 1.
    let two = ShardCount::new(2).expect("two shards");
    broker
        .topology
        .declare_consumer_on(&connection, SERVICE, two, &broker.settings)
        .await
        .expect("more shards than the broker has pass: queues may be being declared");

    // Assert: now the one-shard side is refused, and told what to do.
    let error = broker
        .topology
        .check_shard_count(&connection, SERVICE, SHARDS)
        .await
        .expect_err("fewer shards than the broker has");
    let queue = broker.topology.shard_queue(SERVICE, 1);
    assert!(error.to_string().contains(&queue), "{error}");
    assert!(!error.is_transient(), "a person must act: {error}");
    let channel = broker.channel().await;
    channel
        .queue_delete(queue.as_str().into(), Default::default())
        .await
        .expect("the extra shard queue is deleted");
    connection.close(200, "OK".into()).await.expect("close");
    broker.cleanup().await;
}

#[tokio::test]
async fn a_shard_consumer_takes_foreign_bucket_bindings_off_its_queue() {
    // Arrange: the broker's shard 0 takes every bucket, as a one-shard declarer bound it.
    let broker = TestBroker::new().await;
    let connection = connect(&broker.settings, "bindings-test")
        .await
        .expect("connects");
    let two = ShardCount::new(2).expect("two shards");

    // Act: the consumers of two shards declare theirs.
    for shard in two.all() {
        broker
            .topology
            .declare_shard_on(&connection, SERVICE, two, shard, &broker.settings)
            .await
            .expect("the shard's topology is declared");
    }
    let messages: Vec<OutgoingMessage> = (0..BUCKETS)
        .map(|bucket| OutgoingMessage {
            exchange: broker.topology.exchange(),
            routing_key: bucket.to_string(),
            message_id: format!("bucket-{bucket}"),
            body: b"{}".to_vec(),
            headers: Vec::new(),
        })
        .collect();
    broker
        .publisher
        .publish_batch(&messages)
        .await
        .expect("confirmed");

    // Assert: every bucket reaches one shard, its own.
    let queues = [
        broker.topology.shard_queue(SERVICE, 0),
        broker.topology.shard_queue(SERVICE, 1),
    ];
    let expected = usize::from(BUCKETS / 2);
    for queue in &queues {
        wait_until_async(&format!("{queue} has its half"), || async {
            broker.ready(queue).await as usize == expected
        })
        .await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    for queue in &queues {
        assert_eq!(
            broker.ready(queue).await as usize,
            expected,
            "{queue}: no bucket twice"
        );
    }
    broker.also_delete_queue(queues[1].clone());
    connection.close(200, "OK".into()).await.expect("close");
    broker.cleanup().await;
}

#[tokio::test]
async fn names_longer_than_amqp_allows_are_an_error_not_a_panic() {
    let broker = TestBroker::new().await;
    let channel = broker.channel().await;
    let long = shared_events::runtime::amqp::Topology::new(&"n".repeat(300));

    let result = long.declare_exchange(&channel).await;

    assert!(
        matches!(result, Err(AmqpError::InvalidName(_))),
        "{result:?}"
    );
    channel.close(200, "OK".into()).await.expect("close");
    broker.cleanup().await;
}

/// The arguments the work queue is declared with, as the topology sets them.
fn quorum_work_arguments(broker: &TestBroker) -> FieldTable {
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    arguments.insert("x-delivery-limit".into(), AMQPValue::LongInt(5));
    arguments.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString(broker.topology.dead_letter_exchange().into()),
    );
    arguments.insert(
        "x-dead-letter-routing-key".into(),
        AMQPValue::LongString(SERVICE.into()),
    );
    arguments.insert(
        "x-dead-letter-strategy".into(),
        AMQPValue::LongString("at-least-once".into()),
    );
    arguments.insert("x-single-active-consumer".into(), AMQPValue::Boolean(true));
    arguments.insert(
        "x-overflow".into(),
        AMQPValue::LongString("reject-publish".into()),
    );
    arguments
}

/// Declares `queue` again with `arguments` on a channel of its own; the broker's refusal as text.
async fn redeclare(broker: &TestBroker, queue: &str, arguments: FieldTable) -> Result<(), String> {
    let channel = broker.channel().await;
    let result = channel
        .queue_declare(queue.into(), QueueDeclareOptions::durable(), arguments)
        .await
        .map(drop)
        .map_err(|error| error.to_string());
    if result.is_ok() {
        channel.close(200, "OK".into()).await.expect("close");
    }
    result
}
