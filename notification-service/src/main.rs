//! The `notification-service` binary.

use std::process::ExitCode;

use notification_service::Notification;
use shared_events::app::cli;

#[tokio::main]
async fn main() -> ExitCode {
    cli::consumer_main::<Notification>("notification-service", env!("CARGO_PKG_VERSION")).await
}
