//! The `order-platform` binary: the whole platform in one process.

use anyhow::Context;
use order_platform::{Platform, PlatformSettings, TransportKind, failures};
use shared_events::cli::{Cli, Command};
use shared_events::telemetry;

const USAGE: &str = "\
order-platform: the whole order platform in one process (API, web page, inventory, billing,
notification)

Usage: order-platform [--config FILE]
       order-platform [--config FILE] failures <order|inventory|billing|notification> list [--json]
       order-platform [--config FILE] failures <order|inventory|billing|notification> replay <id>|--all

Without a command, runs the platform and prints the URL of its web page (default
http://127.0.0.1:8080). Events travel in process (the order journal is the log) unless
ORDERS__AMQP__URL is set, in which case every service uses that RabbitMQ broker.
Data lives in ORDERS__DATA_DIR (default ./data/platform), one folder per service.
`failures` lists what a service gave up on (its failure.json) or hands it over again.

Configuration comes from built-in defaults, then FILE (TOML), then ORDERS__* environment
variables; see the README.";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Some(cli) = Cli::from_env(USAGE)? else {
        return Ok(());
    };
    let settings = PlatformSettings::load(cli.config_file.as_deref())
        .context("failed to load the configuration")?;
    match cli.command {
        Command::Serve => serve(settings).await,
        Command::Failures(args) => failures::run(&args, &settings).await,
    }
}

async fn serve(settings: PlatformSettings) -> anyhow::Result<()> {
    telemetry::init(&settings.order.log);
    let platform = Platform::build(settings).await?;
    let transport = match platform.transport() {
        TransportKind::Embedded => "embedded (in process)",
        TransportKind::Amqp => "RabbitMQ",
    };
    tracing::info!(url = %platform.url(), transport, "order platform listening on {}", platform.url());
    platform.run_until_stopped().await?;
    tracing::info!("order platform stopped");
    Ok(())
}
