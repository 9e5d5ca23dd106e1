//! The file-backed reference: json-server 0.17.4 (through npx) with 10,000 orders in its
//! `db.json`, driven with the same client and load as the order service.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use hyper::StatusCode;
use serde_json::json;
use tokio::process::Command;
use tokio::time::Instant;

use crate::load::{ClosedLoad, LoadResult, run_closed};
use crate::service::{Layout, Spawned, free_addr};

/// The version the references were measured with.
pub const VERSION: &str = "0.17.4";

/// Orders in `db.json` before the load.
pub const STORED: usize = 10_000;

/// How long npx may take to fetch json-server (a cold npm cache downloads it).
const NPX_TIMEOUT: Duration = Duration::from_secs(120);

/// What the json-server run measured.
#[derive(Debug, Clone)]
pub struct JsonServerResult {
    /// The version json-server reported.
    pub version: String,
    /// How long `npx json-server --version` took (long when npm had to download it).
    pub fetch: Duration,
    /// The load.
    pub load: LoadResult,
}

/// Why json-server was not measured, in words for the table.
#[derive(Debug)]
pub enum Skipped {
    /// npx is not installed.
    NoNpx,
    /// It could not be fetched or started, or the load failed.
    Failed(anyhow::Error),
}

/// Runs json-server with [`STORED`] orders and drives `POST /orders` with `connections` for
/// `duration` after a 1 s warm-up.
pub async fn measure(
    layout: &Layout,
    connections: usize,
    duration: Duration,
) -> Result<JsonServerResult, Skipped> {
    let npx_found = Command::new("npx")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .is_ok_and(|status| status.success());
    if !npx_found {
        return Err(Skipped::NoNpx);
    }
    run(layout, connections, duration)
        .await
        .map_err(Skipped::Failed)
}

async fn run(
    layout: &Layout,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<JsonServerResult> {
    let scratch = layout.scratch_dir("json-server-")?;
    let db = scratch.path().join("db.json");
    std::fs::write(&db, serde_json::to_vec(&database(STORED))?)
        .with_context(|| format!("failed to write {}", db.display()))?;

    let package = format!("json-server@{VERSION}");
    eprintln!("  npx --yes {package} --version (downloads it if npm's cache lacks it)");
    let fetch_started = Instant::now();
    let version = tokio::time::timeout(
        NPX_TIMEOUT,
        Command::new("npx")
            .args(["--yes", &package, "--version"])
            .current_dir(scratch.path())
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .with_context(|| format!("npx did not fetch {package} within {NPX_TIMEOUT:?}"))?
    .context("failed to run npx")?;
    let fetch = fetch_started.elapsed();
    if !version.status.success() {
        bail!(
            "npx {package} --version failed: {}",
            String::from_utf8_lossy(&version.stderr).trim()
        );
    }
    let version = String::from_utf8_lossy(&version.stdout).trim().to_owned();
    if version != VERSION {
        bail!("npx ran json-server {version}, not {VERSION}");
    }

    let addr = free_addr()?;
    let mut command = Command::new("npx");
    command
        .args(["--yes", &package, "--host", "127.0.0.1", "--port"])
        .arg(addr.port().to_string())
        .args(["--quiet", "db.json"])
        .current_dir(scratch.path());
    let mut server = Spawned::start(
        "json-server",
        command,
        &layout.log_path("json-server")?,
        true,
    )?;
    let ready = server.wait_ready(addr, "/orders/1", NPX_TIMEOUT).await;
    let load = match ready {
        Ok(after) => {
            eprintln!(
                "  json-server {version} ready after {:.1} s; {connections} connections for {:.0} s",
                after.as_secs_f64(),
                duration.as_secs_f64()
            );
            run_closed(&ClosedLoad {
                addr,
                connections,
                warmup: Duration::from_secs(1),
                duration,
                path: "/orders".to_owned(),
                body: Bytes::from_static(crate::seed::ORDER_BODY.as_bytes()),
                expect: StatusCode::CREATED,
                authorization: None,
            })
            .await
        }
        Err(error) => Err(error),
    };
    server.stop().await;
    Ok(JsonServerResult {
        version,
        fetch,
        load: load?,
    })
}

/// `{"orders": [...]}` with `count` orders shaped like the order service's.
fn database(count: usize) -> serde_json::Value {
    let orders: Vec<serde_json::Value> = (1..=count)
        .map(|id| {
            json!({
                "id": id,
                "customer_name": "Bench Customer",
                "customer_email": "bench@example.com",
                "items": [
                    {"product": "widget", "quantity": 2, "amount": 9.99},
                    {"product": "gadget", "quantity": 1, "amount": 0.10}
                ],
                "total_amount": 20.08,
                "status": "pending",
                "order_date": "2026-01-01T00:00:00Z",
                "order_update": "2026-01-01T00:00:00Z",
                "version": 1
            })
        })
        .collect();
    json!({ "orders": orders })
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skipped::NoNpx => f.write_str("npx is not installed (Node.js is needed)"),
            Skipped::Failed(error) => f.write_str(&crate::report::brief(error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_holds_numbered_orders() {
        let db = database(3);
        let orders = db["orders"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        assert_eq!(orders.len(), 3);
        assert_eq!(orders[2]["id"], 3);
    }
}
