//! The command line every service binary shares: `[--config FILE]`, `-h`/`--help`, and the
//! `failures list | replay` command, which runs instead of the service.

use std::future::Future;
use std::path::{Path, PathBuf};

use anyhow::Context;
use tracing_subscriber::EnvFilter;

use crate::amqp::failures_cli;
use crate::settings::{AmqpSettings, ConsumerSettings};

/// A service binary's parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cli {
    /// The TOML file given with `--config`, layered over the built-in defaults.
    pub config_file: Option<PathBuf>,
    /// What the binary was asked to do.
    pub command: Command,
}

/// What a service binary was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run the service.
    Serve,
    /// `failures ...`, with the words after `failures`.
    Failures(Vec<String>),
}

impl Cli {
    /// Parses the process's arguments; see [`Cli::parse`].
    pub fn from_env(usage: &str) -> anyhow::Result<Option<Cli>> {
        Cli::parse(std::env::args().skip(1), usage)
    }

    /// Parses `args` (without the program name). `-h` or `--help` prints `usage` to standard
    /// error and gives `None`; an unknown word is an error that quotes `usage`.
    pub fn parse(
        args: impl IntoIterator<Item = String>,
        usage: &str,
    ) -> anyhow::Result<Option<Cli>> {
        let mut config_file = None;
        let mut words = Vec::new();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--config" => {
                    config_file = Some(args.next().context("--config needs a file")?.into());
                }
                "-h" | "--help" => {
                    eprintln!("{usage}");
                    return Ok(None);
                }
                _ => words.push(arg),
            }
        }
        let command = match words.split_first() {
            None => Command::Serve,
            Some((first, rest)) if first == "failures" => Command::Failures(rest.to_vec()),
            Some((other, _)) => anyhow::bail!("unknown argument `{other}`\n\n{usage}"),
        };
        Ok(Some(Cli {
            config_file,
            command,
        }))
    }
}

/// The `main` of a service configured by [`ConsumerSettings`]: parses the command line, loads
/// the settings of `service` (listening on `default_addr` unless configured otherwise), then
/// runs `serve` or the `failures` command on the log at `failure_log_path(data_dir)`.
pub async fn consumer_main<Serve, Served>(
    usage: &str,
    service: &'static str,
    default_addr: &str,
    failure_log_path: fn(&Path) -> PathBuf,
    serve: Serve,
) -> anyhow::Result<()>
where
    Serve: FnOnce(ConsumerSettings) -> Served,
    Served: Future<Output = anyhow::Result<()>>,
{
    let Some(cli) = Cli::from_env(usage)? else {
        return Ok(());
    };
    let settings = ConsumerSettings::load(service, default_addr, cli.config_file.as_deref())
        .context("failed to load the configuration")?;
    match cli.command {
        Command::Serve => serve(settings).await,
        Command::Failures(args) => {
            let path = failure_log_path(&settings.data_dir);
            run_failures(&args, &settings.amqp, &path, service).await
        }
    }
}

/// Runs the `failures` command (`args` are the words after `failures`) on `service`'s failure
/// log at `failure_log_path`, with its logs on standard error.
pub async fn run_failures(
    args: &[String],
    amqp: &AmqpSettings,
    failure_log_path: &Path,
    service: &str,
) -> anyhow::Result<()> {
    init_command_logging();
    failures_cli::run(
        args,
        failures_cli::Replayer::Broker(amqp),
        failure_log_path,
        service,
    )
    .await
}

/// Logs for a command rather than the service: its standard output is for people and scripts
/// (`failures list --json | jq`), so its logs go to standard error, warnings only unless
/// `RUST_LOG` says otherwise.
pub fn init_command_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    // A second call keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> anyhow::Result<Option<Cli>> {
        Cli::parse(args.iter().map(|arg| (*arg).to_owned()), "usage")
    }

    #[test]
    fn parses_the_service_command_line() {
        let cases: [(&[&str], Option<Cli>, &str); 4] = [
            (
                &[],
                Some(Cli {
                    config_file: None,
                    command: Command::Serve,
                }),
                "no arguments runs the service",
            ),
            (
                &["--config", "a.toml"],
                Some(Cli {
                    config_file: Some("a.toml".into()),
                    command: Command::Serve,
                }),
                "--config names the file",
            ),
            (
                &["failures", "list", "--config", "a.toml", "--json"],
                Some(Cli {
                    config_file: Some("a.toml".into()),
                    command: Command::Failures(vec!["list".into(), "--json".into()]),
                }),
                "--config may follow the command",
            ),
            (&["failures", "--help"], None, "help wins"),
        ];
        for (args, expected, message) in cases {
            assert_eq!(parse(args).expect(message), expected, "{message}");
        }
    }

    #[test]
    fn rejects_unknown_words_and_a_missing_file() {
        for args in [&["serve"][..], &["--config"]] {
            assert!(parse(args).is_err(), "{args:?}");
        }
    }
}
