//! Notification throughput as replicas are added: 1, then 3 processes of the real
//! `notification-service` on one data directory, sharing its shards, emailing through a mail
//! server that takes [`PER_MESSAGE`] per message.
//!
//! Each run has its own broker namespace, data directory and mail server. The replicas start
//! first; only once every one is ready and the shards are spread over them (each at most
//! `ceil(shards / replicas)`, every shard owned once) are the events published, all at once
//! with confirms. Publishing outpaces the replicas, so after the first moments they drain a
//! backlog: the rate from the first email the mail server accepted to the last is their steady
//! throughput, not the publisher's, and no replica ever worked alone on shards that another was
//! about to take.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::Utc;
use futures_util::future::join_all;
use hyper::StatusCode;
use serde::Deserialize;
use shared_events::app::settings::AmqpSettings;
use shared_events::contract::shard::ShardCount;
use shared_events::runtime::amqp::publisher::{ConfirmedPublisher, OutgoingMessage};
use shared_events::runtime::amqp::teardown::delete_namespace;
use shared_events::runtime::amqp::{Topology, connect};
use shared_events::{EventType, Money, Order, OrderEvent, OrderLine, OrderStatus};
use tokio::time::Instant;
use uuid::Uuid;

use crate::broker::{bench_settings, reachable};
use crate::load::HttpClient;
use crate::machine::{CpuTimes, cpu_seconds};
use crate::report::{Row, per_second, ratio, thousands};
use crate::service::{Layout, Spawned, free_addr, service_command};
use crate::smtp_sink::SmtpSink;

/// The consumer service measured.
pub const SERVICE: &str = "notification";

/// How long the mail server takes to accept each message.
pub const PER_MESSAGE: Duration = Duration::from_millis(20);

/// The service's shards, its default.
pub const SHARDS: ShardCount = ShardCount::DEFAULT;

/// The replica counts measured side by side, the first being the baseline.
pub const REPLICAS: [usize; 2] = [1, 3];

/// The ratio of 3 replicas to 1 that scaling out should reach.
pub const TARGET_RATIO: f64 = 2.5;

/// How long the replicas may take to be ready and to spread the shards.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How long every email may take to arrive once published.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(180);

/// What one replica count gave.
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleOutRun {
    /// Replicas started.
    pub replicas: usize,
    /// Events published.
    pub events: usize,
    /// Emails the mail server accepted.
    pub emails: usize,
    /// Connections the mail server accepted.
    pub connections: usize,
    /// The most emails the mail server held at once.
    pub peak_in_flight: usize,
    /// From the first email accepted to the last.
    pub span: Duration,
    /// How long publishing every event took (confirmed).
    pub published_in: Duration,
    /// Emails per second from the moment publishing ended to the last email: the replicas
    /// draining a backlog with no publisher beside them. `None` if too few were left by then.
    pub after_publishing: Option<f64>,
    /// Each replica: its id, the shards it owned, emails it sent, and its CPU time.
    pub members: Vec<Member>,
    /// CPU time order-bench itself (the mail server, the publisher) used from the first
    /// publish to the last email.
    pub bench_cpu: Option<Duration>,
    /// How busy the machine's cores were from the first publish to the last email, 0 to 1.
    pub machine_busy: Option<f64>,
}

/// One replica's part in a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// `ORDERS__REPLICA_ID`.
    pub id: String,
    /// The shards it owned while the events were handled.
    pub owned: Vec<u16>,
    /// Emails sent since it started (`events.sent` of its readiness).
    pub sent: u64,
    /// CPU time it used, user and system, from the first publish to the last email.
    pub cpu: Option<Duration>,
}

/// `GET /shards`.
#[derive(Debug, Deserialize)]
struct ShardsReply {
    owned: Vec<u16>,
}

/// What `GET /health/ready` says of the events handled.
#[derive(Debug, Deserialize)]
struct ReadyReply {
    events: ReadyEvents,
}

#[derive(Debug, Deserialize)]
struct ReadyEvents {
    sent: u64,
}

/// A started replica.
struct Replica {
    id: String,
    addr: SocketAddr,
    process: Spawned,
}

impl ScaleOutRun {
    /// Emails per second from the first to the last.
    pub fn rate(&self) -> f64 {
        let seconds = self.span.as_secs_f64();
        if self.emails < 2 || seconds <= 0.0 {
            return 0.0;
        }
        (self.emails - 1) as f64 / seconds
    }

    /// The table's line for this run, compared with `baseline` (the 1-replica run) if given.
    pub fn row(&self, baseline: Option<&ScaleOutRun>) -> Row {
        let measurement = format!(
            "notification throughput, {} (shards {}, SMTP {} ms per message, {} events)",
            replica_count(self.replicas),
            SHARDS,
            PER_MESSAGE.as_millis(),
            thousands(self.events as u64)
        );
        let busy = self
            .machine_busy
            .map(|busy| format!(", cores {:.0}% busy", busy * 100.0))
            .unwrap_or_default();
        let result = format!(
            "{} emails/s ({} in {:.2} s{busy})",
            per_second(self.rate()).trim_end_matches("/s"),
            thousands(self.emails as u64),
            self.span.as_secs_f64()
        );
        match baseline {
            Some(base) if base.replicas != self.replicas => Row::new(measurement, result).compared(
                replica_count(base.replicas),
                ratio(self.rate() / base.rate()),
            ),
            _ => Row::new(measurement, result),
        }
    }

    /// A sentence for the notes: who owned what, sent how much, with how much CPU.
    pub fn summary(&self) -> String {
        let members: Vec<String> = self
            .members
            .iter()
            .map(|member| {
                let cpu = member
                    .cpu
                    .map(|cpu| format!(", {:.1} s CPU", cpu.as_secs_f64()))
                    .unwrap_or_default();
                format!(
                    "{} owned shards {:?} and sent {}{cpu}",
                    member.id,
                    member.owned,
                    thousands(member.sent)
                )
            })
            .collect();
        let drained = self
            .after_publishing
            .map(|rate| {
                format!(
                    ", then {} emails/s until the last",
                    per_second(rate).trim_end_matches("/s")
                )
            })
            .unwrap_or_default();
        let bench = self
            .bench_cpu
            .map(|cpu| {
                format!(
                    "; order-bench (mail server, publisher) used {:.1} s CPU",
                    cpu.as_secs_f64()
                )
            })
            .unwrap_or_default();
        format!(
            "{}: publishing {} events took {:.2} s ({}){drained}; {}{bench}; the mail server \
             took {} connections and held at most {} emails at once",
            replica_count(self.replicas),
            thousands(self.events as u64),
            self.published_in.as_secs_f64(),
            per_second(self.events as f64 / self.published_in.as_secs_f64().max(1e-6)),
            members.join("; "),
            thousands(self.connections as u64),
            self.peak_in_flight
        )
    }
}

/// `1 replica`, `3 replicas`.
pub fn replica_count(count: usize) -> String {
    if count == 1 {
        "1 replica".to_owned()
    } else {
        format!("{count} replicas")
    }
}

/// Runs `replicas` notification-service processes over a fresh namespace, data directory and
/// mail server, publishes `events` events of distinct orders once they share the shards, and
/// times the emails. Stops them and deletes the namespace whatever happened.
pub async fn measure(
    layout: &Layout,
    replicas: usize,
    events: usize,
) -> anyhow::Result<ScaleOutRun> {
    // The services' default retry tiers: what teardown must delete besides the shard queues.
    let settings = bench_settings(vec![1_000, 5_000, 30_000]);
    reachable(&settings).await?;
    let result = run(layout, &settings, replicas, events).await;
    if let Err(error) = delete_namespace(&settings, &[SERVICE]).await {
        eprintln!(
            "  warning: deleting namespace {} failed: {error}",
            settings.namespace
        );
    }
    result
}

async fn run(
    layout: &Layout,
    settings: &AmqpSettings,
    count: usize,
    events: usize,
) -> anyhow::Result<ScaleOutRun> {
    let topology = Topology::new(&settings.namespace);
    // The shard queues exist before anything is published, so no event is unroutable.
    let connection = connect(settings, "order-bench-notification-scale").await?;
    topology
        .declare_consumer_on(&connection, SERVICE, SHARDS, settings)
        .await?;
    let _ = connection.close(200, "OK".into()).await;

    let sink = SmtpSink::start(PER_MESSAGE).await?;
    let scratch = layout.scratch_dir("notification-scale-")?;
    let data_dir = scratch.path().join("data");
    let messages: Vec<OutgoingMessage> = (0..events)
        .map(|index| OutgoingMessage::order_event(&topology, &order_created(index)))
        .collect();

    let mut started = Vec::with_capacity(count);
    for number in 1..=count {
        match start_replica(layout, settings, &data_dir, &sink, count, number) {
            Ok(replica) => started.push(replica),
            Err(error) => {
                stop_all(started).await;
                return Err(error);
            }
        }
    }
    let outcome = drive(settings, &topology, &sink, &mut started, &messages).await;
    stop_all(started).await;
    outcome
}

/// Starts replica `r<number>` of `count` on `data_dir`.
fn start_replica(
    layout: &Layout,
    settings: &AmqpSettings,
    data_dir: &std::path::Path,
    sink: &SmtpSink,
    count: usize,
    number: usize,
) -> anyhow::Result<Replica> {
    let id = format!("r{number}");
    let addr = free_addr()?;
    let command = service_command(
        &layout.binary("notification-service"),
        &[
            ("ORDERS__DATA_DIR", data_dir.display().to_string()),
            ("ORDERS__HTTP__ADDR", addr.to_string()),
            ("ORDERS__REPLICA_ID", id.clone()),
            ("ORDERS__AMQP__URL", settings.url.expose().to_owned()),
            ("ORDERS__AMQP__NAMESPACE", settings.namespace.clone()),
            ("ORDERS__SMTP__URL", sink.url()),
            ("ORDERS__SHARDS", SHARDS.to_string()),
        ],
    );
    let process = Spawned::start(
        &format!("notification-service {id}"),
        command,
        &layout.log_path(&format!("notification-scale-{count}-{id}"))?,
        false,
    )?;
    Ok(Replica { id, addr, process })
}

/// Waits for the replicas to share the shards, publishes, and waits for every email.
async fn drive(
    settings: &AmqpSettings,
    topology: &Topology,
    sink: &SmtpSink,
    replicas: &mut [Replica],
    messages: &[OutgoingMessage],
) -> anyhow::Result<ScaleOutRun> {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    for replica in replicas.iter_mut() {
        let left = deadline.saturating_duration_since(Instant::now());
        replica
            .process
            .wait_ready(replica.addr, "/health/ready", left)
            .await?;
    }
    let owned = wait_for_shares(replicas, deadline).await?;

    let publisher = ConfirmedPublisher::new(settings.clone(), "order-bench-notification-scale");
    publisher.connect().await?;
    let busy_before = CpuTimes::read();
    let cpu_before: Vec<Option<Duration>> = replicas
        .iter()
        .map(|replica| cpu_seconds(replica.process.pid()))
        .collect();
    let bench_before = cpu_seconds(std::process::id());
    let publishing = Instant::now();
    publisher
        .publish_batch(messages)
        .await
        .with_context(|| format!("publishing to {}", topology.exchange()))?;
    let published_in = publishing.elapsed();
    let published_at = Instant::now();
    let sent_by_then = sink.counts().messages;
    publisher.close().await;

    let expected = messages.len();
    let waiting = Instant::now();
    loop {
        let counts = sink.counts();
        if counts.messages >= expected {
            break;
        }
        if let Some(replica) = replicas.iter_mut().find_map(|replica| {
            replica
                .process
                .exited()
                .map(|exited| (replica.id.clone(), exited))
        }) {
            let (id, exited) = replica;
            bail!(
                "replica {id} exited ({}) with {} of {expected} emails sent; its output ends:\n{}",
                exited.status,
                counts.messages,
                exited.tail
            );
        }
        if waiting.elapsed() > DRAIN_TIMEOUT {
            bail!(
                "only {} of {expected} emails arrived within {} s",
                counts.messages,
                DRAIN_TIMEOUT.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let machine_busy = match (busy_before, CpuTimes::read()) {
        (Some(before), Some(after)) => after.busy_since(&before),
        _ => None,
    };
    let bench_cpu = used_since(bench_before, cpu_seconds(std::process::id()));
    let counts = sink.counts();
    let sent = sent_by_each(replicas, expected).await?;
    let mut members = Vec::with_capacity(replicas.len());
    for (((replica, owned), before), sent) in replicas.iter().zip(owned).zip(cpu_before).zip(sent) {
        members.push(Member {
            id: replica.id.clone(),
            owned,
            sent,
            cpu: used_since(before, cpu_seconds(replica.process.pid())),
        });
    }
    let span = match (counts.first, counts.last) {
        (Some(first), Some(last)) => last.saturating_duration_since(first),
        _ => Duration::ZERO,
    };
    let after_publishing = counts.last.and_then(|last| {
        let left = counts.messages.saturating_sub(sent_by_then);
        let seconds = last.saturating_duration_since(published_at).as_secs_f64();
        // Fewer than a tenth of the events left: too short a stretch to say anything.
        (left * 10 >= counts.messages && seconds > 0.0).then(|| left as f64 / seconds)
    });
    Ok(ScaleOutRun {
        replicas: replicas.len(),
        events: expected,
        emails: counts.messages,
        connections: counts.connections,
        peak_in_flight: counts.peak_in_flight,
        span,
        published_in,
        after_publishing,
        members,
        bench_cpu,
        machine_busy,
    })
}

/// The CPU time used between two readings of it.
fn used_since(before: Option<Duration>, after: Option<Duration>) -> Option<Duration> {
    after?.checked_sub(before?)
}

/// Polls `GET /shards` on every replica until each owns its fair share (at most
/// `ceil(shards / replicas)`) and every shard is owned by exactly one; returns what each owns.
async fn wait_for_shares(replicas: &[Replica], deadline: Instant) -> anyhow::Result<Vec<Vec<u16>>> {
    let most = usize::from(SHARDS.get()).div_ceil(replicas.len());
    let mut last = Vec::new();
    loop {
        let mut owned = Vec::with_capacity(replicas.len());
        for replica in replicas {
            owned.push(shards_of(replica.addr).await?);
        }
        let every: BTreeSet<u16> = owned.iter().flatten().copied().collect();
        let total: usize = owned.iter().map(Vec::len).sum();
        let shared = owned.iter().all(|shards| shards.len() <= most)
            && total == usize::from(SHARDS.get())
            && every.len() == total;
        if shared {
            return Ok(owned);
        }
        if Instant::now() > deadline {
            bail!(
                "the replicas did not share the {SHARDS} shards within {} s: they owned {last:?}",
                SETTLE_TIMEOUT.as_secs()
            );
        }
        last = owned;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The shards the replica at `addr` owns.
async fn shards_of(addr: SocketAddr) -> anyhow::Result<Vec<u16>> {
    let reply = HttpClient::connect(addr).await?.get("/shards").await?;
    if reply.status != StatusCode::OK {
        bail!("GET /shards on {addr} answered {}", reply.status);
    }
    let shards: ShardsReply =
        serde_json::from_slice(&reply.body).context("GET /shards answered unexpected JSON")?;
    Ok(shards.owned)
}

/// Emails each replica has sent, once they add up to `expected` (a replica counts an email
/// only after recording it as sent, a moment after the mail server accepted it) or a few
/// seconds have passed.
async fn sent_by_each(replicas: &[Replica], expected: usize) -> anyhow::Result<Vec<u64>> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut sent = Vec::with_capacity(replicas.len());
        for replica in replicas {
            sent.push(sent_by(replica.addr).await?);
        }
        let known: Option<Vec<u64>> = sent.into_iter().collect();
        let done = known
            .as_ref()
            .map(|sent| sent.iter().sum::<u64>() >= expected as u64);
        if done == Some(true) || Instant::now() > deadline {
            return known.context("a replica stayed unready: its emails could not be counted");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Emails the replica at `addr` has sent since it started; `None` while it is not ready (a
/// broker session between connections), for its readiness document holds the count.
async fn sent_by(addr: SocketAddr) -> anyhow::Result<Option<u64>> {
    let reply = HttpClient::connect(addr)
        .await?
        .get("/health/ready")
        .await?;
    if reply.status == StatusCode::SERVICE_UNAVAILABLE {
        return Ok(None);
    }
    if reply.status != StatusCode::OK {
        bail!("GET /health/ready on {addr} answered {}", reply.status);
    }
    let ready: ReadyReply = serde_json::from_slice(&reply.body)
        .context("GET /health/ready answered unexpected JSON")?;
    Ok(Some(ready.events.sent))
}

async fn stop_all(replicas: Vec<Replica>) {
    join_all(replicas.into_iter().map(|replica| replica.process.stop())).await;
}

/// The `order.created` event of a new order `index`, with a customer email of its own.
fn order_created(index: usize) -> OrderEvent {
    let now = Utc::now();
    let price = Money::parse("9.99").expect("a price");
    let order = Order {
        order_id: Uuid::now_v7(),
        customer_name: format!("Bench Customer {index}"),
        customer_email: Some(format!("customer-{index}@example.com")),
        items: vec![OrderLine {
            product: "widget".to_owned(),
            quantity: 2,
            amount: price,
        }],
        total_amount: price.checked_mul(2).expect("no overflow"),
        status: OrderStatus::Pending,
        order_date: now,
        order_update: now,
        version: 1,
        changed_by: None,
    };
    OrderEvent::new(EventType::Created, "order-bench", order, None, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(replicas: usize, emails: usize, millis: u64) -> ScaleOutRun {
        ScaleOutRun {
            replicas,
            events: emails,
            emails,
            connections: emails,
            peak_in_flight: 1,
            span: Duration::from_millis(millis),
            published_in: Duration::from_millis(100),
            after_publishing: None,
            members: Vec::new(),
            bench_cpu: None,
            machine_busy: Some(0.5),
        }
    }

    #[test]
    fn the_rate_runs_from_the_first_email_to_the_last() {
        assert_eq!(run(1, 1_001, 2_000).rate(), 500.0);
        assert_eq!(run(1, 1, 0).rate(), 0.0);
    }

    #[test]
    fn three_replicas_are_compared_with_one() {
        let one = run(1, 1_001, 2_000);
        let three = run(3, 1_001, 800);
        let row = three.row(Some(&one));
        assert!(
            row.measurement
                .starts_with("notification throughput, 3 replicas")
        );
        assert_eq!(
            row.result,
            "1,250 emails/s (1,001 in 0.80 s, cores 50% busy)"
        );
        assert_eq!(
            (row.reference.as_str(), row.ratio.as_str()),
            ("1 replica", "2.50")
        );
        assert_eq!(one.row(Some(&one)).ratio, "");
    }

    #[test]
    fn events_are_of_distinct_orders_with_an_address() {
        let (a, b) = (order_created(0), order_created(1));
        assert_ne!(a.subject, b.subject);
        assert_eq!(
            a.data.order.customer_email.as_deref(),
            Some("customer-0@example.com")
        );
        assert_eq!(
            a.data.order.total_amount,
            Money::parse("19.98").expect("money")
        );
    }
}
