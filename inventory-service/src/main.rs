//! The `inventory-service` binary: configuration, logging, then the application or the
//! `failures` command.

use inventory_service::handler::StockHandler;
use inventory_service::startup::{Application, failure_log_path};
use shared_events::amqp::EventHandler;
use shared_events::cli;
use shared_events::settings::ConsumerSettings;
use shared_events::telemetry;

const USAGE: &str = "\
inventory-service: the order platform's stock ledger

Usage: inventory-service [--config FILE]
       inventory-service [--config FILE] failures list [--json]
       inventory-service [--config FILE] failures replay <id>|--all

Without a command, runs the service: consumes order events and serves the stock API
(GET /stock, GET and PUT /stock/{product}) on ORDERS__HTTP__ADDR (default 127.0.0.1:8081).
`failures` lists the events that could not be applied (DATA_DIR/failure.json) or sends them
back to the service's queue.

Configuration comes from built-in defaults, then FILE (TOML), then ORDERS__* environment
variables (ORDERS__HTTP__ADDR, ORDERS__DATA_DIR, ORDERS__AMQP__URL, ...); see the README.";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    cli::consumer_main(
        USAGE,
        StockHandler::SERVICE,
        "127.0.0.1:8081",
        failure_log_path,
        serve,
    )
    .await
}

async fn serve(settings: ConsumerSettings) -> anyhow::Result<()> {
    telemetry::init(&settings.log);
    let application = Application::build(settings).await?;
    tracing::info!(url = %application.url(), "inventory-service listening on {}", application.url());
    application.run_until_stopped().await?;
    tracing::info!("inventory-service stopped");
    Ok(())
}
