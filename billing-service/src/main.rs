//! The `billing-service` binary: configuration, logging, then the application or the
//! `failures` command.

use billing_service::handler::InvoiceHandler;
use billing_service::startup::{Application, failure_log_path};
use shared_events::amqp::EventHandler;
use shared_events::cli;
use shared_events::settings::ConsumerSettings;
use shared_events::telemetry;

const USAGE: &str = "\
billing-service: the order platform's invoice ledger

Usage: billing-service [--config FILE]
       billing-service [--config FILE] failures list [--json]
       billing-service [--config FILE] failures replay <id>|--all

Without a command, runs the service: consumes order events and serves the invoice API
(GET /invoices, GET /invoices/{order_id}) on ORDERS__HTTP__ADDR (default 127.0.0.1:8082).
`failures` lists the events that could not be applied (DATA_DIR/failure.json) or sends them
back to the service's queue.

Configuration comes from built-in defaults, then FILE (TOML), then ORDERS__* environment
variables (ORDERS__HTTP__ADDR, ORDERS__DATA_DIR, ORDERS__AMQP__URL, ...); see the README.";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    cli::consumer_main(
        USAGE,
        InvoiceHandler::SERVICE,
        "127.0.0.1:8082",
        failure_log_path,
        serve,
    )
    .await
}

async fn serve(settings: ConsumerSettings) -> anyhow::Result<()> {
    telemetry::init(&settings.log);
    let application = Application::build(settings).await?;
    tracing::info!(url = %application.url(), "billing-service listening on {}", application.url());
    application.run_until_stopped().await?;
    tracing::info!("billing-service stopped");
    Ok(())
}
