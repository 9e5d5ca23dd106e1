//! The `billing-service` binary: configuration, logging, then the application or the
//! `failures` command.

use std::path::PathBuf;

use anyhow::Context;
use billing_service::handler::InvoiceHandler;
use billing_service::startup::{Application, failure_log_path};
use shared_events::amqp::EventHandler;
use shared_events::amqp::failures_cli;
use shared_events::settings::ConsumerSettings;
use shared_events::telemetry;
use tracing_subscriber::EnvFilter;

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

/// What the binary was asked to do.
enum Command {
    /// Run the service.
    Serve,
    /// `failures ...`, with the words after `failures`.
    Failures(Vec<String>),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut config_file: Option<PathBuf> = None;
    let mut words = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" => config_file = Some(args.next().context("--config needs a file")?.into()),
            "-h" | "--help" => {
                eprintln!("{USAGE}");
                return Ok(());
            }
            _ => words.push(arg),
        }
    }
    let command = match words.split_first() {
        None => Command::Serve,
        Some((first, rest)) if first == "failures" => Command::Failures(rest.to_vec()),
        Some((other, _)) => anyhow::bail!("unknown argument `{other}`\n\n{USAGE}"),
    };
    let settings = ConsumerSettings::load(
        InvoiceHandler::SERVICE,
        "127.0.0.1:8082",
        config_file.as_deref(),
    )
    .context("failed to load the configuration")?;
    match command {
        Command::Serve => serve(settings).await,
        Command::Failures(args) => {
            init_command_logging();
            let path = failure_log_path(&settings.data_dir);
            failures_cli::run(&args, &settings.amqp, &path, InvoiceHandler::SERVICE).await
        }
    }
}

async fn serve(settings: ConsumerSettings) -> anyhow::Result<()> {
    telemetry::init(&settings.log);
    let application = Application::build(settings).await?;
    tracing::info!(url = %application.url(), "billing-service listening on {}", application.url());
    application.run_until_stopped().await?;
    tracing::info!("billing-service stopped");
    Ok(())
}

/// The command's standard output is for people and scripts (`failures list --json | jq`), so
/// its logs go to standard error, warnings only unless `RUST_LOG` says otherwise.
fn init_command_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
