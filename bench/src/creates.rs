//! Durable creates: the real `order-service` on a data directory seeded with N orders, driven
//! with `POST /orders` over N keep-alive connections. Storage and HTTP only: its outbox is off.

use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use hyper::StatusCode;
use hyper::header::HeaderValue;
use secrecy::ExposeSecret;
use shared_events::app::auth::Role;
use shared_events::app::auth::api_tokens::TokenStore;

use crate::load::{ClosedLoad, LoadResult, run_closed};
use crate::machine::resident_bytes;
use crate::report::{Row, latencies, per_second, ratio, thousands};
use crate::seed::{ORDER_BODY, dir_bytes, seed};
use crate::service::Layout;
use crate::startup::{StartupSample, start_order_service};

/// What one size measured.
#[derive(Debug, Clone)]
pub struct CreatesResult {
    /// Orders stored before the load.
    pub stored: usize,
    /// How long seeding took.
    pub seeded_in: Duration,
    /// The seeded data directory's size on disk.
    pub seeded_bytes: u64,
    /// The load.
    pub load: LoadResult,
    /// The service's start on the seeded directory.
    pub startup: StartupSample,
    /// Whether every create carried a clerk's bearer token, the service having a tokens file.
    pub with_token: bool,
}

/// Seeds a fresh directory with `stored` orders, starts the service on it (timing the start),
/// drives it, and removes the directory.
pub async fn measure(
    layout: &Layout,
    stored: usize,
    connections: usize,
    duration: Duration,
    with_token: bool,
) -> anyhow::Result<CreatesResult> {
    let scratch = layout.scratch_dir("creates-")?;
    let data_dir = scratch.path().join("data");
    if stored > 0 {
        eprintln!("  seeding {} orders", thousands(stored as u64));
    }
    let seeded_in = seed(&data_dir, stored).await?;
    let seeded_bytes = dir_bytes(&data_dir);
    // The tokens file where the service looks for it (see `service_command`).
    let authorization = if with_token {
        let token = TokenStore::open(&data_dir.join("tokens.json"))
            .create("bench".parse().expect("a token name"), Role::Clerk)
            .context("failed to make a token")?;
        Some(HeaderValue::from_str(&format!(
            "Bearer {}",
            token.expose_secret()
        ))?)
    } else {
        None
    };
    if stored > 0 {
        eprintln!(
            "  seeded in {:.1} s ({}); starting order-service",
            seeded_in.as_secs_f64(),
            per_second(stored as f64 / seeded_in.as_secs_f64())
        );
    }
    let mut service = start_order_service(
        layout,
        &data_dir,
        &layout.log_path(&format!("order-service-{stored}"))?,
        stored,
    )
    .await?;
    eprintln!(
        "  ready after {:.2} s; {connections} connections for {:.0} s",
        service.startup.ready_after.as_secs_f64(),
        duration.as_secs_f64()
    );
    let load = run_closed(&ClosedLoad {
        addr: service.addr,
        connections,
        warmup: Duration::from_secs(1),
        duration,
        path: "/orders".to_owned(),
        body: Bytes::from_static(ORDER_BODY.as_bytes()),
        expect: StatusCode::CREATED,
        authorization,
    })
    .await;
    service.startup.rss_after_load = resident_bytes(service.process.pid());
    let startup = service.startup.clone();
    service.process.stop().await;
    Ok(CreatesResult {
        stored,
        seeded_in,
        seeded_bytes,
        load: load?,
        startup,
        with_token,
    })
}

/// The row of a size; `baseline` is the rate with nothing stored, for the ratio.
pub fn row(result: &CreatesResult, connections: usize, baseline: Option<f64>) -> Row {
    let mut text = format!(
        "{} {}",
        per_second(result.load.rate()),
        latencies(&result.load.latency)
    );
    text.push_str(&errors_note(&result.load));
    let measurement = format!(
        "durable creates, {} stored, {connections} conn{}",
        thousands(result.stored as u64),
        if result.with_token {
            ", with a token"
        } else {
            ""
        }
    );
    match baseline {
        Some(base) if result.stored > 0 => {
            Row::new(measurement, text).compared("0 stored", ratio(result.load.rate() / base))
        }
        _ => Row::new(measurement, text),
    }
}

/// `, 3 errors (HTTP 503: 3)` or nothing.
pub fn errors_note(load: &LoadResult) -> String {
    if load.errors.is_empty() {
        return String::new();
    }
    let kinds: Vec<String> = load
        .errors
        .iter()
        .map(|(kind, count)| format!("{kind}: {count}"))
        .collect();
    format!(
        ", {} errors ({})",
        thousands(load.error_count()),
        kinds.join("; ")
    )
}
