//! The `order-service` binary: configuration, logging, then the application or the `failures`
//! command.

use anyhow::Context;
use order_service::settings::Settings;
use order_service::startup::Application;
use shared_events::cli::{self, Cli, Command};
use shared_events::telemetry;

const USAGE: &str = "\
order-service: the order platform's HTTP API

Usage: order-service [--config FILE]
       order-service [--config FILE] failures list [--json]
       order-service [--config FILE] failures replay <id>|--all

Without a command, runs the service on ORDERS__HTTP__ADDR (default 127.0.0.1:8080) and
publishes every change's event to RabbitMQ. `failures` lists the events the outbox could not
publish within its retry budget (DATA_DIR/failure.json) or publishes them again.

Configuration comes from built-in defaults, then FILE (TOML), then ORDERS__* environment
variables (ORDERS__HTTP__ADDR, ORDERS__DATA_DIR, ORDERS__AMQP__URL, ...); see the README.";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Some(cli) = Cli::from_env(USAGE)? else {
        return Ok(());
    };
    let settings =
        Settings::load(cli.config_file.as_deref()).context("failed to load the configuration")?;
    match cli.command {
        Command::Serve => serve(settings).await,
        Command::Failures(args) => {
            let path = settings.data_dir.join("failure.json");
            cli::run_failures(&args, &settings.amqp, &path, "order-service").await
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    telemetry::init(&settings.log);
    let application = Application::build(settings).await?;
    tracing::info!(url = %application.url(), "order-service listening on {}", application.url());
    application.run_until_stopped().await?;
    tracing::info!("order-service stopped");
    Ok(())
}
