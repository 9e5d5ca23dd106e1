//! Every service binary's command line, on clap: `[--config FILE]`, `--help`, `--version`, and
//! the `failures list | replay`, `data check | repair` and `tokens create | list | revoke`
//! commands, which run instead of the service. A usage error exits
//! with 2, a failure with 1 and one clear message.

use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

use crate::app::auth::tokens_command::{self, TokensCommand};
use crate::app::consumer::{Consumer, ConsumerApplication, ServiceSettings};
use crate::app::data_command::{self, DataCommand, FailureLogFile, ShardLedgerFiles};
use crate::app::settings::load;
use crate::app::signals::shutdown_on_signals;
use crate::app::telemetry::{self, ServiceNames};
use crate::runtime::amqp::replay::ReplayTarget;
use crate::runtime::failures::{self, FailuresCommand, Replayer};

/// How configuration is found, for every binary's `--help`.
pub const CONFIGURATION_HELP: &str = "\
Configuration comes from built-in defaults, then FILE (TOML), then ORDERS__* environment
variables (ORDERS__HTTP__ADDR, ORDERS__DATA_DIR, ORDERS__AMQP__URL, ...); a key that the
service does not know is refused. See the README.";

/// A service binary's command line.
#[derive(Debug, Parser)]
pub struct ServiceCli {
    /// A TOML file layered over the built-in defaults (the environment still wins).
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// What to do instead of running the service.
    #[command(subcommand)]
    pub command: Option<ServiceCommand>,
}

/// What a service binary can do besides running.
#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// List the events the service gave up on (DATA_DIR/failure.json), or send them again.
    Failures {
        /// `list` or `replay`.
        #[command(subcommand)]
        command: FailuresCommand,
    },
    /// Check the data files for damage (`check`), or keep what is intact after a backup copy
    /// (`repair`).
    Data {
        /// `check` or `repair`.
        #[command(subcommand)]
        command: DataCommand,
    },
    /// Make, list or revoke the API tokens every service shares (ORDERS__AUTH__TOKENS_FILE).
    Tokens {
        /// `create`, `list` or `revoke`.
        #[command(subcommand)]
        command: TokensCommand,
    },
}

/// Parses the process's arguments as `T`, shown as `name` with `version` and `about`: `--help`
/// and `--version` print to standard output and exit 0, a usage error exits 2.
pub fn parse<T: Parser>(name: &'static str, version: &'static str, about: &'static str) -> T {
    let matches = T::command()
        .name(name)
        .bin_name(name)
        .version(version)
        .about(about)
        .after_help(CONFIGURATION_HELP)
        .get_matches();
    T::from_arg_matches(&matches).unwrap_or_else(|error| error.exit())
}

/// The exit code of a binary whose work ended with `result`: a failure is printed once, with
/// its causes, to standard error (not logged as well: one message, not two).
pub fn exit_code(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// How long a graceful stop may take before the process gives up on it: a signal always stops
/// the process, even if some part does not finish.
pub const GRACEFUL_STOP: Duration = Duration::from_secs(30);

/// Runs what `build` makes with `run` until SIGTERM or SIGINT; a signal during `build` stops
/// at once, and a stop that takes longer than [`GRACEFUL_STOP`] is a failure. `name` and the URL
/// are logged when it listens.
pub async fn serve_until_signalled<A, Built, Ran>(
    name: &str,
    build: Built,
    url: impl FnOnce(&A) -> String,
    run: impl FnOnce(A, CancellationToken) -> Ran,
) -> anyhow::Result<()>
where
    Built: Future<Output = anyhow::Result<A>>,
    Ran: Future<Output = anyhow::Result<()>>,
{
    let shutdown = shutdown_on_signals().context("failed to listen for signals")?;
    let application = tokio::select! {
        built = build => built?,
        () = shutdown.cancelled() => {
            tracing::info!("stopped before it started");
            return Ok(());
        }
    };
    let url = url(&application);
    tracing::info!(%url, "{name} listening on {url}");
    let running = run(application, shutdown.clone());
    let overdue = async {
        shutdown.cancelled().await;
        tokio::time::sleep(GRACEFUL_STOP).await;
    };
    tokio::select! {
        ran = running => ran?,
        () = overdue => anyhow::bail!("{name} did not stop within {GRACEFUL_STOP:?} of being asked"),
    }
    tracing::info!("{name} stopped");
    Ok(())
}

/// The whole `main` of a consumer service `C`, shown as `name` with `version`.
pub async fn consumer_main<C: Consumer>(name: &'static str, version: &'static str) -> ExitCode {
    let cli: ServiceCli = parse(name, version, C::ABOUT);
    exit_code(run_consumer::<C>(name, cli).await)
}

async fn run_consumer<C: Consumer>(name: &'static str, cli: ServiceCli) -> anyhow::Result<()> {
    let settings: C::Settings =
        load(C::defaults, cli.config.as_deref()).context("failed to load the configuration")?;
    match cli.command {
        Some(ServiceCommand::Failures { command }) => {
            init_command_logging();
            let replayer = Replayer::Broker {
                settings: settings.amqp(),
                target: ReplayTarget::Service(C::name().to_owned()),
            };
            failures::run(&command, replayer, &settings.failure_log_path(), C::name()).await
        }
        Some(ServiceCommand::Data { command }) => {
            init_command_logging();
            let ledgers = ShardLedgerFiles {
                dir: settings.data_dir().to_owned(),
                name: C::LEDGER,
            };
            let failures = FailureLogFile(settings.failure_log_path());
            run_data_command(&command, settings.data_dir(), &[&ledgers, &failures])
        }
        Some(ServiceCommand::Tokens { command }) => {
            run_tokens_command(&command, &settings.auth().tokens_file)
        }
        None => {
            let telemetry = telemetry::start(settings.log(), ServiceNames::One(name))?;
            let served = serve_until_signalled(
                name,
                ConsumerApplication::<C>::build(settings),
                ConsumerApplication::url,
                ConsumerApplication::run,
            )
            .await;
            telemetry.shutdown().await;
            served
        }
    }
}

/// Runs `data check | repair` over `files`, printing the report to standard output.
pub fn run_data_command(
    command: &DataCommand,
    data_dir: &std::path::Path,
    files: &[&dyn data_command::DataFiles],
) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = Vec::new();
    let result = data_command::run(command, data_dir, files, &mut out);
    std::io::stdout()
        .write_all(&out)
        .and_then(|()| std::io::stdout().flush())
        .context("failed to write to standard output")?;
    result
}

/// Runs `tokens create | list | revoke` over the tokens file `path`: a new token or the list
/// to standard output, what was done to standard error.
pub fn run_tokens_command(command: &TokensCommand, path: &std::path::Path) -> anyhow::Result<()> {
    init_command_logging();
    let mut out = std::io::stdout().lock();
    let mut report = std::io::stderr().lock();
    tokens_command::run(command, path, &mut out, &mut report)
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

    fn parse_words(words: &[&str]) -> Result<ServiceCli, clap::Error> {
        ServiceCli::try_parse_from(std::iter::once("service").chain(words.iter().copied()))
    }

    #[test]
    fn parses_the_service_command_line() {
        let cli = parse_words(&[]).expect("no arguments runs the service");
        assert!(cli.config.is_none() && cli.command.is_none());
        let cli = parse_words(&["--config", "a.toml"]).expect("--config names the file");
        assert_eq!(cli.config, Some(PathBuf::from("a.toml")));
        let cli = parse_words(&["failures", "list", "--config", "a.toml", "--json"])
            .expect("--config may follow the command");
        assert_eq!(cli.config, Some(PathBuf::from("a.toml")));
        assert!(matches!(
            cli.command,
            Some(ServiceCommand::Failures {
                command: FailuresCommand::List { json: true }
            })
        ));
    }

    #[test]
    fn rejects_unknown_words_and_a_missing_file() {
        for words in [&["serve"][..], &["--config"], &["failures", "replay"]] {
            let error = parse_words(words).expect_err("a usage error");
            assert_eq!(error.exit_code(), 2, "{words:?}");
        }
    }
}
