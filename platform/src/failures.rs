//! `order-platform failures <service> list | replay`: the failure logs of the four services.

use std::path::PathBuf;

use anyhow::bail;
use shared_events::amqp::failures_cli::{self, Replayer, USAGE};
use shared_events::cli::init_command_logging;
use shared_events::embedded::inbox::Inbox;

use crate::settings::{PlatformSettings, TransportKind};

/// The services that keep a `failure.json`.
pub const SERVICES: [&str; 4] = ["order", "inventory", "billing", "notification"];

/// Runs `failures <service> ...` (`args` are the words after `failures`).
pub async fn run(args: &[String], settings: &PlatformSettings) -> anyhow::Result<()> {
    init_command_logging();
    let Some((service, rest)) = args.split_first() else {
        bail!(
            "failures needs a service: one of {}\n{USAGE}",
            SERVICES.join(", ")
        );
    };
    let (data_dir, amqp, service_name): (PathBuf, _, &str) = match service.as_str() {
        "order" => (
            settings.order.data_dir.clone(),
            &settings.order.amqp,
            "order-service",
        ),
        "inventory" => (
            settings.inventory.data_dir.clone(),
            &settings.inventory.amqp,
            "inventory",
        ),
        "billing" => (
            settings.billing.data_dir.clone(),
            &settings.billing.amqp,
            "billing",
        ),
        "notification" => (
            settings.notification.data_dir.clone(),
            &settings.notification.amqp,
            "notification",
        ),
        other => bail!("unknown service `{other}`: one of {}", SERVICES.join(", ")),
    };
    let inbox = Inbox::in_dir(&data_dir);
    let replayer = match settings.transport {
        TransportKind::Amqp => Replayer::Broker(amqp),
        TransportKind::Embedded => Replayer::Inbox(&inbox),
    };
    failures_cli::run(rest, replayer, &data_dir.join("failure.json"), service_name).await
}
