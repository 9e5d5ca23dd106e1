//! The broker's own ceiling: a plain lapin publisher with confirms (1,000 in flight) into a
//! fanout exchange with three quorum queues, each drained by a consumer that acks every message.
//! No service code runs: this is what RabbitMQ on this machine can carry at most.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Confirmation};
use shared_events::app::settings::{AmqpSettings, AmqpTlsSettings, AmqpUrl};
use shared_events::contract::shard::ShardCount;
use shared_events::runtime::amqp::teardown::delete_namespace;
use shared_events::runtime::amqp::{Topology, connect};
use tokio::time::Instant;

/// The platform's consumers, whose queues the pipeline's namespaces hold.
pub const SERVICES: [&str; 3] = ["inventory", "billing", "notification"];

/// Publishes awaiting their confirm at most.
const CONFIRM_WINDOW: usize = 1_000;

/// Deliveries each consumer may hold unacknowledged.
const PREFETCH: u16 = 500;

/// What the broker carried.
#[derive(Debug, Clone, PartialEq)]
pub struct BrokerResult {
    /// Events consumed by all three consumers, per second.
    pub consumed_per_second: f64,
    /// Confirmed publishes per second.
    pub published_per_second: f64,
}

/// The broker every part of a run uses: `ORDERS__AMQP__URL`, or the local default.
pub fn broker_url() -> String {
    std::env::var("ORDERS__AMQP__URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

/// [`broker_url`] with its password hidden.
pub fn broker_url_display() -> String {
    AmqpUrl::new(broker_url()).to_string()
}

/// Settings for a fresh namespace `bench-<uuid>` on [`broker_url`], with `retry_delays_ms`
/// (what teardown deletes besides the work queues).
pub fn bench_settings(retry_delays_ms: Vec<u64>) -> AmqpSettings {
    AmqpSettings {
        url: AmqpUrl::new(broker_url()),
        namespace: format!("bench-{}", uuid::Uuid::new_v4()),
        prefetch: PREFETCH,
        delivery_limit: 5,
        max_attempts: 5,
        retry_delays_ms,
        publish_timeout_ms: 10_000,
        tls: AmqpTlsSettings::default(),
    }
}

/// Whether the broker answers at all.
pub async fn reachable(settings: &AmqpSettings) -> anyhow::Result<()> {
    let connection = connect(settings, "order-bench-probe")
        .await
        .with_context(|| format!("cannot reach the broker at {}", settings.url))?;
    let _ = connection.close(200, "OK".into()).await;
    Ok(())
}

/// Measures the ceiling for `duration` after a 1 s warm-up, in a fresh namespace that is deleted
/// afterwards whatever happened.
pub async fn measure(duration: Duration) -> anyhow::Result<BrokerResult> {
    let settings = bench_settings(Vec::new());
    reachable(&settings).await?;
    let result = run(&settings, duration).await;
    if let Err(error) = delete_namespace(&settings, &SERVICES).await {
        eprintln!(
            "  warning: deleting namespace {} failed: {error}",
            settings.namespace
        );
    }
    result
}

/// The reference queues have one shard: one queue per service, as a plain fanout would have.
const ONE_SHARD: ShardCount = match ShardCount::new(1) {
    Some(count) => count,
    None => unreachable!(),
};

async fn run(settings: &AmqpSettings, duration: Duration) -> anyhow::Result<BrokerResult> {
    let topology = Topology::new(&settings.namespace);
    let publisher = connect(settings, "order-bench-publisher").await?;
    for service in SERVICES {
        topology
            .declare_consumer_on(&publisher, service, ONE_SHARD, settings)
            .await?;
    }

    let stop = Arc::new(AtomicBool::new(false));
    let consumed: Arc<[AtomicU64; 3]> = Arc::new(Default::default());
    let mut consumers = Vec::new();
    for (index, service) in SERVICES.iter().enumerate() {
        let connection = connect(settings, &format!("order-bench-{service}")).await?;
        let channel = connection.create_channel().await?;
        channel
            .basic_qos(PREFETCH, BasicQosOptions::default())
            .await?;
        let mut consumer = channel
            .basic_consume(
                topology.shard_queue(service, 0).as_str().into(),
                format!("order-bench-{service}").as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let consumed = Arc::clone(&consumed);
        let stop = Arc::clone(&stop);
        consumers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let next = tokio::time::timeout(Duration::from_millis(200), consumer.next()).await;
                let delivery = match next {
                    Err(_) => continue,
                    Ok(Some(Ok(delivery))) => delivery,
                    Ok(Some(Err(error))) => return Err(anyhow::Error::from(error)),
                    Ok(None) => break,
                };
                delivery.acker.ack(BasicAckOptions::default()).await?;
                consumed[index].fetch_add(1, Ordering::Relaxed);
            }
            let _ = connection.close(200, "OK".into()).await;
            Ok::<(), anyhow::Error>(())
        }));
    }

    let channel = publisher.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let published = Arc::new(AtomicU64::new(0));
    let publishing = {
        let stop = Arc::clone(&stop);
        let published = Arc::clone(&published);
        let exchange = topology.exchange();
        tokio::spawn(async move {
            let body = sample_event();
            let properties = BasicProperties::default()
                .with_delivery_mode(2)
                .with_content_type("application/json".into());
            let mut in_flight = VecDeque::with_capacity(CONFIRM_WINDOW);
            while !stop.load(Ordering::Relaxed) {
                if in_flight.len() == CONFIRM_WINDOW
                    && let Some(confirm) = in_flight.pop_front()
                {
                    settle(confirm, &published).await?;
                }
                let confirm = channel
                    .basic_publish(
                        exchange.as_str().into(),
                        // Bucket 0: with one shard, every bucket is shard 0's.
                        "0".into(),
                        BasicPublishOptions::default(),
                        &body,
                        properties.clone(),
                    )
                    .await?;
                in_flight.push_back(confirm);
            }
            while let Some(confirm) = in_flight.pop_front() {
                settle(confirm, &published).await?;
            }
            Ok::<(), anyhow::Error>(())
        })
    };

    tokio::time::sleep(Duration::from_secs(1)).await;
    let all_three = |consumed: &[AtomicU64; 3]| {
        consumed
            .iter()
            .map(|count| count.load(Ordering::Relaxed))
            .min()
            .unwrap_or(0)
    };
    let (consumed_before, published_before) =
        (all_three(&consumed), published.load(Ordering::Relaxed));
    let started = Instant::now();
    tokio::time::sleep(duration).await;
    let elapsed = started.elapsed().as_secs_f64();
    let (consumed_after, published_after) =
        (all_three(&consumed), published.load(Ordering::Relaxed));
    stop.store(true, Ordering::Relaxed);

    let published_result = publishing.await.context("the publisher panicked")?;
    for consumer in consumers {
        consumer.await.context("a consumer panicked")??;
    }
    published_result?;
    let _ = publisher.close(200, "OK".into()).await;
    Ok(BrokerResult {
        consumed_per_second: (consumed_after - consumed_before) as f64 / elapsed,
        published_per_second: (published_after - published_before) as f64 / elapsed,
    })
}

/// Waits for one confirm; a nack is an error.
async fn settle(confirm: lapin::PublisherConfirm, published: &AtomicU64) -> anyhow::Result<()> {
    match confirm.await? {
        Confirmation::Ack(_) => {
            published.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
        Confirmation::Nack(_) => anyhow::bail!("the broker nacked a publish"),
        Confirmation::NotRequested => anyhow::bail!("the channel is not in confirm mode"),
    }
}

/// A message the size of a real order event (about 1.2 KB of JSON).
fn sample_event() -> Vec<u8> {
    let order = serde_json::json!({
        "order_id": "01a20f26-7649-75d2-be62-7d324c60c434",
        "customer_name": "Bench Customer",
        "customer_email": "bench@example.com",
        "items": [
            {"product": "widget", "quantity": 2, "amount": "9.99"},
            {"product": "gadget", "quantity": 1, "amount": "0.10"}
        ],
        "total_amount": "20.08",
        "status": "pending",
        "order_date": "2026-11-24T20:01:48.617598420Z",
        "order_update": "2026-11-24T20:01:48.617598420Z",
        "version": 1
    });
    serde_json::to_vec(&serde_json::json!({
        "specversion": "1.0",
        "id": "01a20f26-7649-75d2-be62-7d324c60c435",
        "type": "order.created",
        "source": "order-service",
        "time": "2026-11-24T20:01:48.617598420Z",
        "subject": "01a20f26-7649-75d2-be62-7d324c60c434",
        "sequence": 1,
        "datacontenttype": "application/json",
        "dataversion": 1,
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "data": {"order": order, "previous": null}
    }))
    .unwrap_or_default()
}
