//! The `inventory-service` binary.

use std::process::ExitCode;

use inventory_service::Inventory;
use shared_events::app::cli;

#[tokio::main]
async fn main() -> ExitCode {
    cli::consumer_main::<Inventory>("inventory-service", env!("CARGO_PKG_VERSION")).await
}
