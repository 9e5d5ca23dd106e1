//! The `order-service` binary: configuration, logging, then the application or the `failures`
//! command.

use std::path::PathBuf;

use anyhow::Context;
use order_service::settings::Settings;
use order_service::startup::Application;
use shared_events::amqp::failures_cli;
use shared_events::settings::LogSettings;
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
    let mut config_file: Option<PathBuf> = None;
    let mut command = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" => config_file = Some(args.next().context("--config needs a file")?.into()),
            "-h" | "--help" => {
                eprintln!("{USAGE}");
                return Ok(());
            }
            _ => command.push(arg),
        }
    }
    let settings =
        Settings::load(config_file.as_deref()).context("failed to load the configuration")?;
    match command.split_first() {
        None => serve(settings).await,
        Some((first, rest)) if first == "failures" => {
            // The command's output is for people and scripts: only warnings go to the log.
            telemetry::init(&LogSettings {
                level: "warn".to_owned(),
                ..settings.log.clone()
            });
            let path = settings.data_dir.join("failure.json");
            failures_cli::run(rest, &settings.amqp, &path, "order-service").await
        }
        Some((other, _)) => anyhow::bail!("unknown argument `{other}`\n\n{USAGE}"),
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
