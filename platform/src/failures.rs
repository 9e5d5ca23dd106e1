//! `order-platform failures <service> list | replay`: the failure logs of the four services.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use shared_events::app::cli::init_command_logging;
use shared_events::runtime::amqp::ReplayTarget;
use shared_events::runtime::embedded::inbox::Inbox;
use shared_events::runtime::failures::{self, FailuresCommand, Replayer};

use crate::settings::{PlatformSettings, TransportKind};

/// The services that keep a `failure.json`.
pub const SERVICES: [&str; 4] = ["order", "inventory", "billing", "notification"];

/// Runs `failures <service> ...` (`args` are the words after `failures`).
pub async fn run(args: &[String], settings: &PlatformSettings) -> anyhow::Result<()> {
    init_command_logging();
    let Some((service, rest)) = args.split_first() else {
        bail!("failures needs a service: one of {}", SERVICES.join(", "));
    };
    let (data_dir, replayer, service_name) = target(service, settings)?;
    let inbox = Inbox::in_dir(&data_dir);
    let replayer = replayer.unwrap_or(Replayer::Inbox(&inbox));
    let mut out = Vec::new();
    let result = failures::run_words(
        rest,
        replayer,
        &data_dir.join("failure.json"),
        service_name,
        &mut out,
    )
    .await;
    std::io::stdout()
        .write_all(&out)
        .context("failed to write to standard output")?;
    result
}

/// Runs the parsed `command` on `service`'s failure log.
pub async fn run_command(
    service: &str,
    command: &FailuresCommand,
    settings: &PlatformSettings,
) -> anyhow::Result<()> {
    init_command_logging();
    let (data_dir, replayer, service_name) = target(service, settings)?;
    let inbox = Inbox::in_dir(&data_dir);
    let replayer = replayer.unwrap_or(Replayer::Inbox(&inbox));
    failures::run(
        command,
        replayer,
        &data_dir.join("failure.json"),
        service_name,
    )
    .await
}

/// `service`'s data directory, where its replays go over the broker (`None` on the embedded
/// transport: into its inbox), and its name in the failure records.
fn target<'a>(
    service: &str,
    settings: &'a PlatformSettings,
) -> anyhow::Result<(PathBuf, Option<Replayer<'a>>, &'static str)> {
    let (data_dir, amqp, name, target) = match service {
        "order" => (
            &settings.order.data_dir,
            &settings.order.amqp,
            "order-service",
            // What the outbox gave up on goes to every consumer, as it would have.
            ReplayTarget::Exchange,
        ),
        "inventory" => (
            &settings.inventory.data_dir,
            &settings.inventory.amqp,
            "inventory",
            ReplayTarget::Service("inventory".to_owned()),
        ),
        "billing" => (
            &settings.billing.data_dir,
            &settings.billing.amqp,
            "billing",
            ReplayTarget::Service("billing".to_owned()),
        ),
        "notification" => (
            &settings.notification.data_dir,
            &settings.notification.amqp,
            "notification",
            ReplayTarget::Service("notification".to_owned()),
        ),
        other => bail!("unknown service `{other}`: one of {}", SERVICES.join(", ")),
    };
    let replayer = match settings.transport {
        TransportKind::Amqp => Some(Replayer::Broker {
            settings: amqp,
            target,
        }),
        TransportKind::Embedded => None,
    };
    Ok((data_dir.clone(), replayer, name))
}
