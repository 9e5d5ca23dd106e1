//! The `order-platform` binary: the whole platform in one process.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use order_platform::{Platform, PlatformSettings, TransportKind, data_files, failures};
use shared_events::app::auth::first_token::FirstToken;
use shared_events::app::auth::tokens_command::TokensCommand;
use shared_events::app::data_command::DataCommand;
use shared_events::app::{cli, telemetry};
use shared_events::runtime::failures::FailuresCommand;

const ABOUT: &str = "The whole order platform in one process: the API and web page (default \
    http://127.0.0.1:8080), inventory, billing and notification. Events travel in process (the \
    order journal is the log) unless ORDERS__AMQP__URL is set, in which case every service uses \
    that RabbitMQ broker. Data lives in ORDERS__DATA_DIR (default ./data/platform), one folder \
    per service.";

/// The platform's command line.
#[derive(Debug, Parser)]
struct PlatformCli {
    /// A TOML file layered over the built-in defaults (the environment still wins).
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<PlatformCommand>,
}

#[derive(Debug, Subcommand)]
enum PlatformCommand {
    /// List what a service gave up on (its failure.json), or hand it over again.
    Failures {
        /// The service whose failures these are.
        #[arg(value_parser = failures::SERVICES)]
        service: String,
        #[command(subcommand)]
        command: FailuresCommand,
    },
    /// Check every service's data files for damage (`check`), or keep what is intact after a
    /// backup copy (`repair`).
    Data {
        /// `check` or `repair`.
        #[command(subcommand)]
        command: DataCommand,
    },
    /// Make, list or revoke the API tokens the services accept (ORDERS__AUTH__TOKENS_FILE).
    Tokens {
        /// `create`, `list` or `revoke`.
        #[command(subcommand)]
        command: TokensCommand,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli: PlatformCli = cli::parse("order-platform", env!("CARGO_PKG_VERSION"), ABOUT);
    cli::exit_code(run(cli).await)
}

async fn run(cli: PlatformCli) -> anyhow::Result<()> {
    let settings = PlatformSettings::load(cli.config.as_deref())
        .context("failed to load the configuration")?;
    match cli.command {
        Some(PlatformCommand::Failures { service, command }) => {
            failures::run_command(&service, &command, &settings).await
        }
        Some(PlatformCommand::Data { command }) => {
            cli::init_command_logging();
            data_files::run(&command, &settings)
        }
        Some(PlatformCommand::Tokens { command }) => {
            cli::run_tokens_command(&command, &settings.order.auth.tokens_file)
        }
        None => {
            let telemetry = telemetry::start(&settings.order.log, Platform::SERVICE_NAMES)?;
            let transport = match settings.transport {
                TransportKind::Embedded => "embedded (in process)",
                TransportKind::Amqp => "RabbitMQ",
            };
            tracing::info!(transport, "events travel {transport}");
            let first = FirstToken::make_if_first_start(&settings.order.auth)?;
            let auth = settings.order.auth.clone();
            let build = async move {
                let platform = Platform::build(settings).await?;
                if let Some(first) = first {
                    first.announce(&platform.url(), &auth);
                }
                Ok(platform)
            };
            let served =
                cli::serve_until_signalled("order platform", build, Platform::url, Platform::run)
                    .await;
            telemetry.shutdown().await;
            served
        }
    }
}
