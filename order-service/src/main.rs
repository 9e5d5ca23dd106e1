//! The `order-service` binary: configuration, logging, then the application.

use std::path::PathBuf;

use anyhow::Context;
use order_service::settings::Settings;
use order_service::startup::Application;
use shared_events::telemetry;

const USAGE: &str = "\
order-service: the order platform's HTTP API

Usage: order-service [--config FILE]

Configuration comes from built-in defaults, then FILE (TOML), then ORDERS__* environment
variables (ORDERS__HTTP__ADDR, ORDERS__DATA_DIR, ...); see the README.";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut config_file: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" => config_file = Some(args.next().context("--config needs a file")?.into()),
            "-h" | "--help" => {
                eprintln!("{USAGE}");
                return Ok(());
            }
            other => anyhow::bail!("unknown argument `{other}`\n\n{USAGE}"),
        }
    }
    let settings =
        Settings::load(config_file.as_deref()).context("failed to load the configuration")?;
    telemetry::init(&settings.log);
    let application = Application::build(settings).await?;
    tracing::info!(url = %application.url(), "order-service listening on {}", application.url());
    application.run_until_stopped().await?;
    tracing::info!("order-service stopped");
    Ok(())
}
