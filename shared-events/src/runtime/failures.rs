//! The `failures` subcommand every service binary offers: list and replay recorded failures.
//!
//! ```text
//! <service> failures list [--json]
//! <service> failures replay <id>
//! <service> failures replay --all
//! ```

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use crate::app::settings::AmqpSettings;
use crate::runtime::amqp::replay::{ReplayTarget, replay};
use crate::runtime::embedded::inbox::Inbox;
use crate::runtime::embedded::replay::replay_into_inbox;
use crate::runtime::replay_log::ReplaySelection;
use crate::storage::failure_log::{FailureLog, FailureRecord, ReplayOutcome};

/// What `failures` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum FailuresCommand {
    /// Show the recorded failures.
    List {
        /// The records as a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Send recorded failures to the service again.
    Replay {
        /// The failure to replay.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        /// Every failure not yet replayed or resolved.
        #[arg(long)]
        all: bool,
    },
}

/// `failures` on its own, for callers that hold its words rather than a parsed command.
#[derive(Debug, Parser)]
#[command(
    name = "failures",
    about = "List and replay the events a service gave up on",
    help_template = "usage:\n{usage}\n\n{all-args}",
    arg_required_else_help = true
)]
struct FailuresWords {
    #[command(subcommand)]
    command: FailuresCommand,
}

/// Where `failures replay` sends a failure's event.
#[derive(Debug, Clone)]
pub enum Replayer<'a> {
    /// To `target` on the broker.
    Broker {
        /// The broker.
        settings: &'a AmqpSettings,
        /// The queue or exchange the events go back to.
        target: ReplayTarget,
    },
    /// Into the service's replay inbox, for the embedded transport.
    Inbox(&'a Inbox),
}

impl Replayer<'_> {
    async fn replay(
        &self,
        service: &str,
        log: &FailureLog,
        which: ReplaySelection,
    ) -> anyhow::Result<usize> {
        match self {
            Replayer::Broker { settings, target } => {
                replay(settings, target, &format!("{service}-replay"), log, which).await
            }
            Replayer::Inbox(inbox) => replay_into_inbox(log, inbox, which).await,
        }
    }
}

/// Runs `command` on `service`'s failure log at `failure_log_path`, printing to standard output.
pub async fn run(
    command: &FailuresCommand,
    replayer: Replayer<'_>,
    failure_log_path: &Path,
    service: &str,
) -> anyhow::Result<()> {
    let mut out = Vec::new();
    let result = execute(command, &replayer, failure_log_path, service, &mut out).await;
    std::io::stdout()
        .write_all(&out)
        .and_then(|()| std::io::stdout().flush())
        .context("failed to write to standard output")?;
    result
}

/// Parses `args` (the words after `failures`; a leading `failures` is skipped) and runs them
/// against the broker, replaying into `service`'s work queue, writing to `out`.
pub async fn run_to(
    args: &[String],
    settings: &AmqpSettings,
    failure_log_path: &Path,
    service: &str,
    out: &mut Vec<u8>,
) -> anyhow::Result<()> {
    let replayer = Replayer::Broker {
        settings,
        target: ReplayTarget::Service(service.to_owned()),
    };
    run_words(args, replayer, failure_log_path, service, out).await
}

/// Parses `args` (the words after `failures`; a leading `failures` is skipped) and runs them
/// with `replayer`, writing to `out`. Help is written to `out`; other words are an error.
pub async fn run_words(
    args: &[String],
    replayer: Replayer<'_>,
    failure_log_path: &Path,
    service: &str,
    out: &mut Vec<u8>,
) -> anyhow::Result<()> {
    let words = match args.split_first() {
        Some((first, rest)) if first == "failures" => rest,
        _ => args,
    };
    let parsed = FailuresWords::try_parse_from(
        std::iter::once("failures").chain(words.iter().map(String::as_str)),
    );
    match parsed {
        Ok(parsed) => execute(&parsed.command, &replayer, failure_log_path, service, out).await,
        Err(error)
            if matches!(
                error.kind(),
                clap::error::ErrorKind::DisplayHelp
                    | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) =>
        {
            write!(out, "{}", error.render())?;
            Ok(())
        }
        Err(error) => bail!("unknown arguments: {}\n{}", words.join(" "), error.render()),
    }
}

async fn execute(
    command: &FailuresCommand,
    replayer: &Replayer<'_>,
    failure_log_path: &Path,
    service: &str,
    out: &mut Vec<u8>,
) -> anyhow::Result<()> {
    match command {
        FailuresCommand::List { json } => list(failure_log_path, out, *json)?,
        FailuresCommand::Replay { all: true, .. } => {
            let log = open_existing(failure_log_path)?;
            let published = replayer.replay(service, &log, ReplaySelection::All).await?;
            writeln!(out, "replayed {published} failure(s)")?;
        }
        FailuresCommand::Replay { id, all: false } => {
            let Some(id) = id else {
                bail!("replay needs a failure id or --all");
            };
            let log = open_existing(failure_log_path)?;
            replayer
                .replay(service, &log, ReplaySelection::One(id.clone()))
                .await?;
            writeln!(out, "replayed {id}")?;
        }
    }
    Ok(())
}

fn open_existing(path: &Path) -> anyhow::Result<FailureLog> {
    if !path.exists() {
        bail!("no failures recorded: {} does not exist", path.display());
    }
    FailureLog::open(path).with_context(|| format!("failed to open {}", path.display()))
}

fn list(path: &Path, out: &mut Vec<u8>, json: bool) -> anyhow::Result<()> {
    let records = if path.exists() {
        open_existing(path)?
            .records()
            .context("failed to read the failure log")?
    } else {
        Vec::new()
    };
    if json {
        serde_json::to_writer_pretty(&mut *out, &records)?;
        writeln!(out)?;
    } else if records.is_empty() {
        writeln!(out, "no failures recorded in {}", path.display())?;
    } else {
        write_table(out, &records)?;
    }
    Ok(())
}

/// A table with one row per record: id, time, order, attempts, replays, reason.
fn write_table(out: &mut Vec<u8>, records: &[FailureRecord]) -> std::io::Result<()> {
    let header = [
        "ID",
        "LAST FAILED (UTC)",
        "ORDER",
        "ATTEMPTS",
        "REPLAYS",
        "REASON",
    ]
    .map(str::to_owned);
    let rows: Vec<[String; 6]> = records.iter().map(row).collect();
    let mut widths = header.clone().map(|cell| cell.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (n, (cell, width)) in row.iter().zip(widths).enumerate() {
            if n + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  "));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

fn row(record: &FailureRecord) -> [String; 6] {
    let replays = match record.replays.last() {
        None => "0".to_owned(),
        Some(last) => {
            let outcome = match &last.outcome {
                ReplayOutcome::Published => "published",
                ReplayOutcome::Failed(_) => "failed",
            };
            format!("{} (last {outcome})", record.replays.len())
        }
    };
    let mut reason: String = record.reason.chars().take(80).collect();
    if reason.len() < record.reason.len() {
        reason.push('…');
    }
    if record.resolved_at.is_some() {
        reason = format!("[resolved] {reason}");
    }
    [
        record.id.clone(),
        record
            .last_failure_at
            .format("%Y-%m-%d %H:%M:%S")
            .to_string(),
        record.order_id.clone().unwrap_or_else(|| "-".to_owned()),
        record.attempts.to_string(),
        replays,
        reason.replace('\n', " "),
    ]
}
