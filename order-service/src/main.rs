//! The `order-service` binary.

use std::process::ExitCode;

use anyhow::Context;
use order_service::data_files::order_service_files;
use order_service::settings::Settings;
use order_service::standby;
use order_service::startup::Application;
use shared_events::app::auth::first_token::FirstToken;
use shared_events::app::cli::{self, ServiceCli, ServiceCommand};
use shared_events::app::telemetry::{self, ServiceNames};
use shared_events::runtime::amqp::ReplayTarget;
use shared_events::runtime::failures::{self, Replayer};

const ABOUT: &str = "The order platform's HTTP API and web page: every change is stored, then \
    published to RabbitMQ (ORDERS__AMQP__URL). `failures` lists the events the outbox could not \
    publish within its retry budget, or publishes them again to every consumer. A second \
    order-service on the same data directory waits as a standby and takes over when the first \
    stops.";

#[tokio::main]
async fn main() -> ExitCode {
    let cli: ServiceCli = cli::parse("order-service", env!("CARGO_PKG_VERSION"), ABOUT);
    cli::exit_code(run(cli).await)
}

async fn run(cli: ServiceCli) -> anyhow::Result<()> {
    let settings =
        Settings::load(cli.config.as_deref()).context("failed to load the configuration")?;
    match cli.command {
        Some(ServiceCommand::Failures { command }) => {
            cli::init_command_logging();
            // What the outbox gave up on goes to every consumer, as it would have.
            let replayer = Replayer::Broker {
                settings: &settings.amqp,
                target: ReplayTarget::Exchange,
            };
            let path = settings.data_dir.join("failure.json");
            failures::run(&command, replayer, &path, "order-service").await
        }
        Some(ServiceCommand::Data { command }) => {
            cli::init_command_logging();
            let (store, deliveries, failures) = order_service_files(&settings.data_dir);
            cli::run_data_command(
                &command,
                &settings.data_dir,
                &[&store, &deliveries, &failures],
            )
        }
        Some(ServiceCommand::Tokens { command }) => {
            cli::run_tokens_command(&command, &settings.auth.tokens_file)
        }
        None => {
            let telemetry = telemetry::start(&settings.log, ServiceNames::One("order-service"))?;
            let first = FirstToken::make_if_first_start(&settings.auth)?;
            let auth = settings.auth.clone();
            let build = async move {
                let application = standby::build_when_free(settings).await?;
                if let Some(first) = first {
                    first.announce(&application.url(), &auth);
                }
                Ok(application)
            };
            let served = cli::serve_until_signalled(
                "order-service",
                build,
                Application::url,
                Application::run,
            )
            .await;
            telemetry.shutdown().await;
            served
        }
    }
}
