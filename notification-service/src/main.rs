//! The `notification-service` binary: configuration, logging, then the application, or the
//! `failures` commands on this service's `failure.json`.

use std::path::PathBuf;

use anyhow::Context;
use notification_service::handler::Notifier;
use notification_service::settings::Settings;
use notification_service::startup::Application;
use shared_events::amqp::{EventHandler, failures_cli};
use shared_events::telemetry;

const USAGE: &str = "\
notification-service: emails the customer about every order change

Usage: notification-service [--config FILE]                          run the service
       notification-service [--config FILE] failures list [--json]   show dead-lettered events
       notification-service [--config FILE] failures replay <id>|--all
                                                                     send them through again

Configuration comes from built-in defaults, then FILE (TOML), then ORDERS__* environment
variables (ORDERS__HTTP__ADDR, ORDERS__DATA_DIR, ORDERS__AMQP__URL, ORDERS__SMTP__URL,
ORDERS__SMTP__FROM, ...); see the README. Without ORDERS__SMTP__URL, emails are written to
<data_dir>/outbox/<event id>.eml.";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut config_file: Option<PathBuf> = None;
    let mut command: Vec<String> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" => config_file = Some(args.next().context("--config needs a file")?.into()),
            "-h" | "--help" => {
                eprintln!("{USAGE}");
                return Ok(());
            }
            "failures" => {
                command.push(arg);
                command.extend(args.by_ref());
            }
            other => anyhow::bail!("unknown argument `{other}`\n\n{USAGE}"),
        }
    }
    let settings =
        Settings::load(config_file.as_deref()).context("failed to load the configuration")?;
    telemetry::init(&settings.log);
    if !command.is_empty() {
        return failures_cli::run(
            &command,
            &settings.amqp,
            &settings.failure_log_path(),
            Notifier::SERVICE,
        )
        .await;
    }
    let application = Application::build(settings).await?;
    let url = application.url();
    tracing::info!(%url, "notification-service listening on {url}");
    application.run_until_stopped().await?;
    tracing::info!("notification-service stopped");
    Ok(())
}
