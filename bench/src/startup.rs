//! Starting the real `order-service` on a data directory: how long until `/health/ready`
//! answers, and how much memory it holds then.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use tokio::time::Instant;

use crate::machine::resident_bytes;
use crate::report::{Row, mebibytes, thousands};
use crate::service::{Layout, Spawned, free_addr, service_command};

/// How long a start-up may take before it counts as failed.
const READY_TIMEOUT: Duration = Duration::from_secs(300);

/// What one start measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartupSample {
    /// Orders in the data directory.
    pub orders: usize,
    /// From spawning the process to the first 200 of `/health/ready`.
    pub ready_after: Duration,
    /// `VmRSS` right then.
    pub rss_ready: Option<u64>,
    /// `VmRSS` after the create load, if one ran.
    pub rss_after_load: Option<u64>,
}

/// A running order service.
pub struct RunningService {
    /// The process.
    pub process: Spawned,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its start.
    pub startup: StartupSample,
}

/// Starts `target/release/order-service` on `data_dir` (which holds `orders` orders) with its
/// outbox off, on a free port, and waits until it is ready.
pub async fn start_order_service(
    layout: &Layout,
    data_dir: &Path,
    log: &Path,
    orders: usize,
) -> anyhow::Result<RunningService> {
    let addr = free_addr()?;
    let command = service_command(
        &layout.binary("order-service"),
        &[
            ("ORDERS__DATA_DIR", data_dir.display().to_string()),
            ("ORDERS__HTTP__ADDR", addr.to_string()),
            ("ORDERS__TRANSPORT", "embedded".to_owned()),
        ],
    );
    let spawned_at = Instant::now();
    let mut process = Spawned::start("order-service", command, log, false)?;
    process
        .wait_ready(addr, "/health/ready", READY_TIMEOUT)
        .await?;
    let ready_after = spawned_at.elapsed();
    let rss_ready = resident_bytes(process.pid());
    Ok(RunningService {
        process,
        addr,
        startup: StartupSample {
            orders,
            ready_after,
            rss_ready,
            rss_after_load: None,
        },
    })
}

impl StartupSample {
    /// The table's row for this start.
    pub fn row(&self) -> Row {
        let mut result = format!("{:.2} s to ready", self.ready_after.as_secs_f64());
        if let Some(rss) = self.rss_ready {
            result.push_str(&format!(", RSS {}", mebibytes(rss)));
        }
        if let Some(rss) = self.rss_after_load {
            result.push_str(&format!(" ({} after the create load)", mebibytes(rss)));
        }
        Row::new(
            format!(
                "order-service startup with {} stored",
                thousands(self.orders as u64)
            ),
            result,
        )
    }
}
