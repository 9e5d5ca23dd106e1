//! The `billing-service` binary.

use std::process::ExitCode;

use billing_service::Billing;
use shared_events::app::cli;

#[tokio::main]
async fn main() -> ExitCode {
    cli::consumer_main::<Billing>("billing-service", env!("CARGO_PKG_VERSION")).await
}
