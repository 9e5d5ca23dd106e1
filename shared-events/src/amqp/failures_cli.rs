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

use crate::amqp::replay::{ReplaySelection, replay};
use crate::embedded::inbox::Inbox;
use crate::embedded::replay::replay_into_inbox;
use crate::failure_log::{FailureLog, FailureRecord, ReplayOutcome};
use crate::settings::AmqpSettings;

/// Where `failures replay` sends a failure's event.
#[derive(Debug, Clone, Copy)]
pub enum Replayer<'a> {
    /// Back to the service's work queue on the broker.
    Broker(&'a AmqpSettings),
    /// Into the service's replay inbox, for the embedded transport.
    Inbox(&'a Inbox),
}

impl Replayer<'_> {
    async fn replay(
        self,
        service: &str,
        log: &FailureLog,
        which: ReplaySelection,
    ) -> anyhow::Result<usize> {
        match self {
            Replayer::Broker(settings) => replay(settings, service, log, which).await,
            Replayer::Inbox(inbox) => replay_into_inbox(log, inbox, which).await,
        }
    }
}

/// How to call the subcommand.
pub const USAGE: &str = "usage:
  failures list [--json]     show recorded failures (--json: the records as a JSON array)
  failures replay <id>       send one failure's message to the service again
  failures replay --all      send every failure not yet replayed again";

/// Runs the `failures` subcommand given `args` (the words after the program name; a leading
/// `failures` is skipped), printing to standard output.
pub async fn run(
    args: &[String],
    replayer: Replayer<'_>,
    failure_log_path: &Path,
    service: &str,
) -> anyhow::Result<()> {
    let mut out = Vec::new();
    let result = run_with(args, replayer, failure_log_path, service, &mut out).await;
    std::io::stdout()
        .write_all(&out)
        .and_then(|()| std::io::stdout().flush())
        .context("failed to write to standard output")?;
    result
}

/// [`run`] with the broker, writing to `out` instead of standard output.
pub async fn run_to(
    args: &[String],
    settings: &AmqpSettings,
    failure_log_path: &Path,
    service: &str,
    out: &mut Vec<u8>,
) -> anyhow::Result<()> {
    run_with(
        args,
        Replayer::Broker(settings),
        failure_log_path,
        service,
        out,
    )
    .await
}

/// [`run`], writing to `out` instead of standard output.
pub async fn run_with(
    args: &[String],
    replayer: Replayer<'_>,
    failure_log_path: &Path,
    service: &str,
    out: &mut Vec<u8>,
) -> anyhow::Result<()> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let args = match args.as_slice() {
        ["failures", rest @ ..] => rest,
        all => all,
    };
    match args {
        [] | ["help" | "--help" | "-h"] => writeln!(out, "{USAGE}")?,
        ["list"] => list(failure_log_path, out, false)?,
        ["list", "--json"] => list(failure_log_path, out, true)?,
        ["replay", "--all"] => {
            let log = open_existing(failure_log_path)?;
            let published = replayer.replay(service, &log, ReplaySelection::All).await?;
            writeln!(out, "replayed {published} failure(s)")?;
        }
        ["replay", id] if !id.starts_with('-') => {
            let log = open_existing(failure_log_path)?;
            replayer
                .replay(service, &log, ReplaySelection::One((*id).to_owned()))
                .await?;
            writeln!(out, "replayed {id}")?;
        }
        other => bail!("unknown arguments: {}\n{USAGE}", other.join(" ")),
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
