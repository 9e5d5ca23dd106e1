//! The `notification-service` binary: configuration, logging, then the application, or the
//! `failures` commands on this service's `failure.json`.

use anyhow::Context;
use notification_service::handler::Notifier;
use notification_service::settings::Settings;
use notification_service::startup::Application;
use shared_events::amqp::EventHandler;
use shared_events::cli::{self, Cli, Command};
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
    let Some(cli) = Cli::from_env(USAGE)? else {
        return Ok(());
    };
    let settings =
        Settings::load(cli.config_file.as_deref()).context("failed to load the configuration")?;
    if let Command::Failures(args) = cli.command {
        let path = settings.failure_log_path();
        return cli::run_failures(&args, &settings.amqp, &path, Notifier::SERVICE).await;
    }
    telemetry::init(&settings.log);
    let application = Application::build(settings).await?;
    let url = application.url();
    tracing::info!(%url, "notification-service listening on {url}");
    application.run_until_stopped().await?;
    tracing::info!("notification-service stopped");
    Ok(())
}
