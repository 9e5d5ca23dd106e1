//! The whole pipeline: the real `order-platform` over RabbitMQ, driven open-loop at a constant
//! rate of `POST /orders`, each sampled order followed through its delivery timeline to the
//! moment the last of inventory, billing and notification applied it.
//!
//! Open loop: request `i` is due at `start + i / rate` whatever happened to the others, so a
//! slow answer delays nobody's send time (a closed loop would slow down with the system and
//! hide a backlog).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use hyper::{Method, StatusCode};
use serde::Deserialize;
use shared_events::app::settings::AmqpSettings;
use shared_events::runtime::amqp::teardown::delete_namespace;
use tokio::time::Instant;
use uuid::Uuid;

use crate::broker::{SERVICES, bench_settings, reachable};
use crate::load::{HttpClient, latency_histogram, micros};
use crate::report::{latencies, millis, per_second};
use crate::seed::ORDER_BODY;
use crate::service::{Exited, Layout, Spawned, free_addr, service_command};

/// Connections the open-loop generator sends over (each request waits for a free one).
const CONNECTIONS: usize = 64;

/// How long after the load stops every sampled order must have been applied by all three.
pub const SETTLE: Duration = Duration::from_secs(5);

/// How much longer the timelines may take to show outcomes that happened within [`SETTLE`]
/// (outcomes travel back to the order service over the broker too).
const REPORT_GRACE: Duration = Duration::from_secs(5);

/// Sampled orders per step at most: every 5th order, or sparser at high rates.
const MAX_SAMPLES: u64 = 1_500;

/// The criterion, as the table's notes state it.
pub const CRITERION: &str = "a rate is kept up with when every request got its 201, every \
sampled order (every 5th, at most 1,500) was applied by inventory, billing and notification \
within 5 s after the load stopped, and the backlog did not grow: the time from an order's \
scheduled send to its last effect rose by at most 100 ms per second of load (least-squares \
slope over the step), i.e. the slowest part of the pipeline kept pace with at least about 90% \
of the rate";

/// The largest growth of the backlog, in seconds of delay per second of load, that still counts
/// as keeping up (noise and batching make a little growth appear in short steps).
const MAX_GROWTH: f64 = 0.1;

/// A running `order-platform` over RabbitMQ in a namespace of its own.
pub struct Platform {
    process: Spawned,
    addr: SocketAddr,
    settings: AmqpSettings,
    _scratch: tempfile::TempDir,
}

/// One sampled order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// When it was due, from the start of the step.
    pub offset: Duration,
    /// When it was due, on the clock the services' timelines use.
    pub due_at: DateTime<Utc>,
    /// Its id.
    pub order_id: Uuid,
    /// When its 201 arrived.
    pub created_at: DateTime<Utc>,
    /// When the last of the three services applied it, once known.
    pub applied_at: Option<DateTime<Utc>>,
}

/// What one rate gave.
#[derive(Debug, Clone)]
pub struct Step {
    /// Orders per second asked for.
    pub rate: f64,
    /// 201s received.
    pub ok: u64,
    /// Failures by kind.
    pub errors: BTreeMap<String, u64>,
    /// How late requests were sent against their schedule, in microseconds.
    pub lateness: Histogram<u64>,
    /// 201 → last effect of the sampled orders applied, in microseconds.
    pub latency: Histogram<u64>,
    /// Sampled orders.
    pub samples: Vec<Sample>,
    /// The verdict.
    pub verdict: Verdict,
}

/// Whether a step was kept up with, and why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Kept up with.
    pub kept_up: bool,
    /// The reason, in words.
    pub reason: String,
}

/// The delivery timeline, as far as this benchmark reads it.
#[derive(Debug, Deserialize)]
struct Timeline {
    events: Vec<TimelineEvent>,
}

#[derive(Debug, Deserialize)]
struct TimelineEvent {
    event_type: String,
    services: Vec<TimelineService>,
}

#[derive(Debug, Deserialize)]
struct TimelineService {
    service: String,
    status: String,
    at: Option<DateTime<Utc>>,
}

impl Platform {
    /// Starts `order-platform` with RabbitMQ in a fresh namespace and data directory, the
    /// consumers' HTTP servers on free ports and emails as `.eml` files.
    pub async fn start(layout: &Layout) -> anyhow::Result<Platform> {
        // The platform's default retry tiers: what teardown must delete besides the work queues.
        let settings = bench_settings(vec![1_000, 5_000, 30_000]);
        reachable(&settings).await?;
        let scratch = layout.scratch_dir("pipeline-")?;
        let addr = free_addr()?;
        let consumers = [free_addr()?, free_addr()?, free_addr()?];
        let command = service_command(
            &layout.binary("order-platform"),
            &[
                ("ORDERS__AMQP__URL", settings.url.expose().to_owned()),
                ("ORDERS__AMQP__NAMESPACE", settings.namespace.clone()),
                (
                    "ORDERS__DATA_DIR",
                    scratch.path().join("data").display().to_string(),
                ),
                ("ORDERS__HTTP__ADDR", addr.to_string()),
                ("ORDERS__PLATFORM__INVENTORY_ADDR", consumers[0].to_string()),
                ("ORDERS__PLATFORM__BILLING_ADDR", consumers[1].to_string()),
                (
                    "ORDERS__PLATFORM__NOTIFICATION_ADDR",
                    consumers[2].to_string(),
                ),
            ],
        );
        let mut process = Spawned::start(
            "order-platform",
            command,
            &layout.log_path("order-platform")?,
            false,
        )?;
        let platform_ready = async {
            process
                .wait_ready(addr, "/health/ready", Duration::from_secs(60))
                .await?;
            for consumer in consumers {
                process
                    .wait_ready(consumer, "/health/ready", Duration::from_secs(60))
                    .await?;
            }
            Platform::stock_up(consumers[0]).await
        };
        let ready = platform_ready.await;
        let platform = Platform {
            process,
            addr,
            settings,
            _scratch: scratch,
        };
        match ready {
            Ok(()) => Ok(platform),
            Err(error) => {
                platform.stop().await;
                Err(error)
            }
        }
    }

    /// `Some` once the platform has exited (crashed: only [`Platform::stop`] stops it).
    pub fn exited(&mut self) -> Option<Exited> {
        self.process.exited()
    }

    /// Where its output goes.
    pub fn log(&self) -> &std::path::Path {
        self.process.log()
    }

    /// Sets a stock of the products the bench orders that no run exhausts, so that inventory
    /// reserves instead of warning about a backorder for every order.
    async fn stock_up(inventory: SocketAddr) -> anyhow::Result<()> {
        let mut client = HttpClient::connect(inventory).await?;
        for product in ["widget", "gadget"] {
            let body = Bytes::from_static(br#"{"on_hand": 1000000000000}"#);
            let reply = client
                .request(Method::PUT, &format!("/stock/{product}"), body)
                .await?;
            if !reply.status.is_success() {
                anyhow::bail!("PUT /stock/{product} answered {}", reply.status);
            }
        }
        Ok(())
    }

    /// The namespace it runs in.
    pub fn namespace(&self) -> &str {
        &self.settings.namespace
    }

    /// Stops it and deletes its namespace from the broker.
    pub async fn stop(self) {
        self.process.stop().await;
        if let Err(error) = delete_namespace(&self.settings, &SERVICES).await {
            eprintln!(
                "  warning: deleting namespace {} failed: {error}",
                self.settings.namespace
            );
        }
    }

    /// Drives `rate` orders per second for `duration`, then follows the sampled orders until
    /// they are applied (or [`SETTLE`] plus the grace has passed) and judges the step.
    pub async fn step(&self, rate: f64, duration: Duration) -> anyhow::Result<Step> {
        let total = (rate * duration.as_secs_f64()).round().max(1.0) as u64;
        let stride = (total / MAX_SAMPLES).max(5);
        let next = Arc::new(AtomicU64::new(0));
        let start = Instant::now() + Duration::from_millis(200);
        let start_at = Utc::now() + chrono::Duration::milliseconds(200);
        let mut workers = Vec::with_capacity(CONNECTIONS);
        for _ in 0..CONNECTIONS {
            let plan = Plan {
                addr: self.addr,
                next: Arc::clone(&next),
                total,
                rate,
                stride,
                start,
                start_at,
            };
            workers.push(tokio::spawn(plan.run()));
        }
        let mut ok = 0;
        let mut errors = BTreeMap::new();
        let mut lateness = latency_histogram();
        let mut samples = Vec::new();
        for worker in workers {
            let part = worker.await.context("a load worker panicked")?;
            ok += part.ok;
            for (kind, count) in part.errors {
                *errors.entry(kind).or_default() += count;
            }
            let _ = lateness.add(&part.lateness);
            samples.extend(part.samples);
        }
        let load_end = Utc::now();
        samples.sort_by_key(|sample| sample.offset);
        self.follow(&mut samples, load_end + SETTLE + REPORT_GRACE)
            .await;
        let mut latency = latency_histogram();
        for sample in &samples {
            if let Some(applied_at) = sample.applied_at {
                let _ = latency.record(effect_micros(sample.created_at, applied_at));
            }
        }
        let verdict = judge(&samples, &errors, load_end);
        Ok(Step {
            rate,
            ok,
            errors,
            lateness,
            latency,
            samples,
            verdict,
        })
    }

    /// Waits until the last order of `step` has been applied by all three services (the queues
    /// are then empty), for at most `timeout`; false if it was not.
    pub async fn drain(&self, step: &Step, timeout: Duration) -> bool {
        let Some(last) = step.samples.last() else {
            return true;
        };
        let mut last = vec![last.clone()];
        self.follow(&mut last, Utc::now() + timeout).await;
        last[0].applied_at.is_some()
    }

    /// Reads the timelines of the samples not yet applied, again and again, until all are or
    /// `until` passes.
    async fn follow(&self, samples: &mut [Sample], until: DateTime<Utc>) {
        loop {
            let pending: Vec<(usize, Uuid)> = samples
                .iter()
                .enumerate()
                .filter(|(_, sample)| sample.applied_at.is_none())
                .map(|(index, sample)| (index, sample.order_id))
                .collect();
            if pending.is_empty() || Utc::now() > until {
                return;
            }
            let chunks: Vec<Vec<(usize, Uuid)>> = pending
                .chunks(pending.len().div_ceil(8).max(1))
                .map(<[_]>::to_vec)
                .collect();
            let addr = self.addr;
            let mut found = futures_util::stream::iter(chunks)
                .map(|chunk| async move {
                    let mut applied = Vec::new();
                    let Ok(mut client) = HttpClient::connect(addr).await else {
                        return applied;
                    };
                    for (index, order_id) in chunk {
                        if let Ok(Some(at)) = applied_at(&mut client, order_id).await {
                            applied.push((index, at));
                        }
                    }
                    applied
                })
                .buffer_unordered(8);
            let mut progressed = false;
            while let Some(applied) = found.next().await {
                for (index, at) in applied {
                    samples[index].applied_at = Some(at);
                    progressed = true;
                }
            }
            if !progressed {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }
}

/// One load worker's share of a step.
struct Plan {
    addr: SocketAddr,
    next: Arc<AtomicU64>,
    total: u64,
    rate: f64,
    stride: u64,
    start: Instant,
    start_at: DateTime<Utc>,
}

/// What one load worker saw.
struct WorkerPart {
    ok: u64,
    errors: BTreeMap<String, u64>,
    lateness: Histogram<u64>,
    samples: Vec<Sample>,
}

impl Plan {
    async fn run(self) -> WorkerPart {
        let mut part = WorkerPart {
            ok: 0,
            errors: BTreeMap::new(),
            lateness: latency_histogram(),
            samples: Vec::new(),
        };
        let body = Bytes::from_static(ORDER_BODY.as_bytes());
        let mut client = HttpClient::connect(self.addr).await.ok();
        loop {
            let index = self.next.fetch_add(1, Ordering::Relaxed);
            if index >= self.total {
                break;
            }
            let offset = Duration::from_secs_f64(index as f64 / self.rate);
            tokio::time::sleep_until(self.start + offset).await;
            let _ = part.lateness.record(micros(
                Instant::now().saturating_duration_since(self.start + offset),
            ));
            let connection = match client.as_mut() {
                Some(connection) => connection,
                None => match HttpClient::connect(self.addr).await {
                    Ok(connection) => client.insert(connection),
                    Err(error) => {
                        *part
                            .errors
                            .entry(format!("connect: {}", crate::report::brief(&error)))
                            .or_default() += 1;
                        continue;
                    }
                },
            };
            match connection.post_json("/orders", body.clone()).await {
                Ok(reply) if reply.status == StatusCode::CREATED => {
                    let created_at = Utc::now();
                    part.ok += 1;
                    if index.is_multiple_of(self.stride) || index + 1 == self.total {
                        match created_id(reply.location.as_deref(), &reply.body) {
                            Some(order_id) => part.samples.push(Sample {
                                offset,
                                due_at: self.start_at
                                    + chrono::Duration::from_std(offset).unwrap_or_default(),
                                order_id,
                                created_at,
                                applied_at: None,
                            }),
                            None => {
                                *part
                                    .errors
                                    .entry("201 without an order id".to_owned())
                                    .or_default() += 1;
                            }
                        }
                    }
                }
                Ok(reply) => {
                    *part
                        .errors
                        .entry(format!("HTTP {}", reply.status.as_u16()))
                        .or_default() += 1;
                }
                Err(error) => {
                    client = None;
                    *part.errors.entry(crate::report::brief(&error)).or_default() += 1;
                }
            }
        }
        part
    }
}

/// The id of a created order: from `Location: /orders/{id}`, else from the body.
fn created_id(location: Option<&str>, body: &[u8]) -> Option<Uuid> {
    if let Some(id) = location.and_then(|location| location.strip_prefix("/orders/")) {
        return id.parse().ok();
    }
    let order: serde_json::Value = serde_json::from_slice(body).ok()?;
    order["order_id"].as_str()?.parse().ok()
}

/// When the last of the three services applied the order's creation, if all three have.
async fn applied_at(
    client: &mut HttpClient,
    order_id: Uuid,
) -> anyhow::Result<Option<DateTime<Utc>>> {
    let reply = client
        .get(&format!("/orders/{order_id}/deliveries"))
        .await?;
    if reply.status != StatusCode::OK {
        return Ok(None);
    }
    let timeline: Timeline = serde_json::from_slice(&reply.body)?;
    Ok(last_effect(&timeline))
}

/// The latest `applied` time of the `order.created` event over the three services, if every
/// one of them has applied it.
fn last_effect(timeline: &Timeline) -> Option<DateTime<Utc>> {
    let created = timeline
        .events
        .iter()
        .find(|event| event.event_type == "order.created")?;
    SERVICES
        .iter()
        .map(|service| {
            created
                .services
                .iter()
                .find(|entry| entry.service == *service && entry.status == "applied")
                .and_then(|entry| entry.at)
        })
        .collect::<Option<Vec<_>>>()?
        .into_iter()
        .max()
}

/// Microseconds from the 201 to the last effect (at least 1: the clocks are the same machine's,
/// but an effect can be recorded before the client has read its 201).
fn effect_micros(created_at: DateTime<Utc>, applied_at: DateTime<Utc>) -> u64 {
    micros((applied_at - created_at).to_std().unwrap_or_default())
}

/// Judges a step by [`CRITERION`].
pub fn judge(
    samples: &[Sample],
    errors: &BTreeMap<String, u64>,
    load_end: DateTime<Utc>,
) -> Verdict {
    let fail = |reason: String| Verdict {
        kept_up: false,
        reason,
    };
    let failed: u64 = errors.values().sum();
    if failed > 0 {
        let kinds: Vec<String> = errors
            .iter()
            .map(|(kind, count)| format!("{kind}: {count}"))
            .collect();
        return fail(format!("{failed} requests failed ({})", kinds.join("; ")));
    }
    let deadline = load_end + SETTLE;
    let unapplied = samples
        .iter()
        .filter(|sample| sample.applied_at.is_none_or(|at| at > deadline))
        .count();
    if unapplied > 0 {
        return fail(format!(
            "{unapplied} of {} sampled orders not applied by all three within {} s",
            samples.len(),
            SETTLE.as_secs()
        ));
    }
    let points: Vec<(f64, f64)> = samples
        .iter()
        .filter_map(|sample| {
            let applied_at = sample.applied_at?;
            let behind = (applied_at - sample.due_at).num_microseconds()? as f64 / 1e6;
            Some((sample.offset.as_secs_f64(), behind))
        })
        .collect();
    match slope(&points) {
        Some(growth) if growth > MAX_GROWTH => fail(format!(
            "the backlog grew: due→last effect rose by {:.0} ms per second of load",
            growth * 1000.0
        )),
        _ => Verdict {
            kept_up: true,
            reason: String::new(),
        },
    }
}

/// The least-squares slope of `y` over `x`; `None` with fewer than 10 points or no spread.
fn slope(points: &[(f64, f64)]) -> Option<f64> {
    if points.len() < 10 {
        return None;
    }
    let n = points.len() as f64;
    let mean_x = points.iter().map(|(x, _)| x).sum::<f64>() / n;
    let mean_y = points.iter().map(|(_, y)| y).sum::<f64>() / n;
    let covariance: f64 = points
        .iter()
        .map(|(x, y)| (x - mean_x) * (y - mean_y))
        .sum();
    let variance: f64 = points.iter().map(|(x, _)| (x - mean_x).powi(2)).sum();
    (variance > 0.0).then(|| covariance / variance)
}

impl Step {
    /// The samples as CSV: send offset, 201 time, last effect time, latency (ms).
    pub fn samples_csv(&self) -> String {
        let mut csv = String::from("offset_ms,order_id,created_at,applied_at,latency_ms\n");
        for sample in &self.samples {
            let latency = sample
                .applied_at
                .map(|at| {
                    format!(
                        "{:.3}",
                        effect_micros(sample.created_at, at) as f64 / 1000.0
                    )
                })
                .unwrap_or_default();
            csv.push_str(&format!(
                "{},{},{},{},{latency}\n",
                sample.offset.as_millis(),
                sample.order_id,
                sample.created_at.to_rfc3339(),
                sample
                    .applied_at
                    .map(|at| at.to_rfc3339())
                    .unwrap_or_default(),
            ));
        }
        csv
    }

    /// `400/s ✓ (p50 .. p99 ..)` or `800/s ✗ (reason)`.
    pub fn summary(&self) -> String {
        if self.verdict.kept_up {
            let late = self.lateness.value_at_quantile(0.99);
            let late = if late > 50_000 {
                format!(", sends up to {} behind schedule (p99)", millis(late))
            } else {
                String::new()
            };
            format!(
                "{} kept up ({}{late})",
                per_second(self.rate),
                latencies(&self.latency)
            )
        } else {
            format!(
                "{} not kept up: {}",
                per_second(self.rate),
                self.verdict.reason
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(offset_ms: u64, latency_ms: Option<i64>) -> Sample {
        let created_at = DateTime::UNIX_EPOCH + chrono::Duration::milliseconds(offset_ms as i64);
        Sample {
            offset: Duration::from_millis(offset_ms),
            due_at: created_at,
            order_id: Uuid::nil(),
            created_at,
            applied_at: latency_ms.map(|ms| created_at + chrono::Duration::milliseconds(ms)),
        }
    }

    fn verdict(samples: &[Sample]) -> Verdict {
        let load_end = DateTime::UNIX_EPOCH + chrono::Duration::seconds(3);
        judge(samples, &BTreeMap::new(), load_end)
    }

    #[test]
    fn a_steady_latency_is_kept_up_with() {
        let samples: Vec<Sample> = (0..30).map(|i| sample(i * 100, Some(20))).collect();
        assert!(verdict(&samples).kept_up);
    }

    #[test]
    fn a_growing_latency_is_a_growing_backlog() {
        let samples: Vec<Sample> = (0..30)
            .map(|i| sample(i * 100, Some(20 + 20 * i as i64)))
            .collect();
        let verdict = verdict(&samples);
        assert!(!verdict.kept_up);
        assert!(
            verdict.reason.contains("backlog grew"),
            "{}",
            verdict.reason
        );
    }

    #[test]
    fn an_order_not_applied_in_time_fails_the_step() {
        let mut samples: Vec<Sample> = (0..30).map(|i| sample(i * 100, Some(20))).collect();
        samples.push(sample(2_950, None));
        samples.push(sample(2_990, Some(6_000)));
        let verdict = verdict(&samples);
        assert!(!verdict.kept_up);
        assert!(verdict.reason.starts_with("2 of 32"), "{}", verdict.reason);
    }

    #[test]
    fn the_last_effect_needs_all_three_services() -> anyhow::Result<()> {
        let timeline: Timeline = serde_json::from_str(
            r#"{"order_id":"x","events":[{"event_type":"order.created","services":[
                {"service":"inventory","status":"applied","at":"2026-01-01T00:00:01Z"},
                {"service":"billing","status":"applied","at":"2026-01-01T00:00:03Z"},
                {"service":"notification","status":"pending","at":null}]}]}"#,
        )?;
        assert_eq!(last_effect(&timeline), None);
        let timeline: Timeline = serde_json::from_str(
            r#"{"events":[{"event_type":"order.created","services":[
                {"service":"inventory","status":"applied","at":"2026-01-01T00:00:01Z"},
                {"service":"billing","status":"applied","at":"2026-01-01T00:00:03Z"},
                {"service":"notification","status":"applied","at":"2026-01-01T00:00:02Z"}]}]}"#,
        )?;
        assert_eq!(
            last_effect(&timeline).map(|at| at.to_rfc3339()),
            Some("2026-01-01T00:00:03+00:00".to_owned())
        );
        Ok(())
    }

    #[test]
    fn ids_come_from_the_location() {
        let id = Uuid::now_v7();
        assert_eq!(created_id(Some(&format!("/orders/{id}")), b""), Some(id));
        let body = format!(r#"{{"order_id":"{id}"}}"#);
        assert_eq!(created_id(None, body.as_bytes()), Some(id));
        assert_eq!(slope(&[(0.0, 1.0); 12]), None);
        let line: Vec<(f64, f64)> = (0..12)
            .map(|x| (f64::from(x), 0.5 * f64::from(x)))
            .collect();
        assert_eq!(slope(&line), Some(0.5));
    }
}
