//! The real service binaries, started as an operator would, for what only a process shows:
//! signals, SIGKILL, the command line.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use shared_events::app::settings::AmqpSettings;
use shared_events::contract::shard::ShardCount;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::wait::DEADLINE;

/// The binary `program` configured through the environment for `data_dir` and the broker
/// namespace of `amqp`, with `RUST_LOG` unset so the service's own log settings apply.
pub fn service_command(program: &str, data_dir: &Path, amqp: &AmqpSettings) -> Command {
    let delays: Vec<String> = amqp
        .retry_delays_ms
        .iter()
        .map(ToString::to_string)
        .collect();
    let mut command = Command::new(program);
    command
        .env("ORDERS__DATA_DIR", data_dir)
        // Where the settings of a service started in process have it.
        .env("ORDERS__AUTH__TOKENS_FILE", data_dir.join("tokens.json"))
        // Open, as the tests of other things expect: no administrator token at the first start.
        .env("ORDERS__AUTH__FIRST_TOKEN", "false")
        .env("ORDERS__AMQP__URL", amqp.url.expose())
        .env("ORDERS__AMQP__NAMESPACE", &amqp.namespace)
        .env("ORDERS__AMQP__RETRY_DELAYS_MS", delays.join(","))
        .env(
            "ORDERS__AMQP__DELIVERY_LIMIT",
            amqp.delivery_limit.to_string(),
        )
        // The shard count every service started in process by a test has.
        .env("ORDERS__SHARDS", ShardCount::for_tests().to_string())
        .env_remove("RUST_LOG");
    command
}

/// Spawns `command` on a free port, logging at `info`, and waits for its `listening on <url>`
/// line; the child (killed when dropped) and that URL.
pub async fn spawn_listening(command: Command) -> (Child, String) {
    let (child, url, _) = spawn_listening_logged(command).await;
    (child, url)
}

/// What a child wrote to its standard output, line by line, as it comes.
#[derive(Debug, Clone, Default)]
pub struct Output(Arc<Mutex<Vec<String>>>);

impl Output {
    /// Every line so far.
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().expect("the output lock").clone()
    }

    fn push(&self, line: String) {
        self.0.lock().expect("the output lock").push(line);
    }
}

/// [`spawn_listening`], keeping what the child writes to standard output.
pub async fn spawn_listening_logged(mut command: Command) -> (Child, String, Output) {
    let output = Output::default();
    let mut child = command
        .env("ORDERS__HTTP__ADDR", "127.0.0.1:0")
        .env("ORDERS__LOG__LEVEL", "info")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let url = tokio::time::timeout(DEADLINE, async {
        while let Some(line) = lines.next_line().await.expect("read stdout") {
            output.push(line.clone());
            if let Some(rest) = line.split("listening on ").nth(1) {
                return rest.split_whitespace().next().expect("url").to_owned();
            }
        }
        panic!("the service exited before listening");
    })
    .await
    .expect("the service listens in time");
    // Keep draining stdout so the child never blocks on a full pipe.
    let kept = output.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            kept.push(line);
        }
    });
    (child, url, output)
}

/// Sends `SIG{signal}` (`TERM`, `INT`) to `child` and waits up to `limit` for it to exit.
pub async fn stop_with_signal(child: &mut Child, signal: &str, limit: Duration) -> ExitStatus {
    let pid = child.id().expect("running").to_string();
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &pid])
        .status()
        .await
        .expect("kill runs");
    assert!(sent.success(), "SIG{signal} sent");
    tokio::time::timeout(limit, child.wait())
        .await
        .unwrap_or_else(|_| panic!("SIG{signal}: the service stops within {limit:?}"))
        .expect("reaped")
}

/// Kills `child` with SIGKILL and reaps it.
pub async fn kill(child: &mut Child) {
    child.start_kill().expect("SIGKILL");
    child.wait().await.expect("reaped");
}

/// How a test interrupts a running service binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interruption {
    /// SIGKILL: a crash.
    Kill,
    /// SIGTERM: a graceful stop, which must end with exit code 0 within [`GRACEFUL_STOP`].
    Terminate,
}

/// How long a service may take to stop after SIGTERM, events in flight included.
pub const GRACEFUL_STOP: Duration = Duration::from_secs(15);

/// Interrupts `child` as `how` says; a SIGTERM must end it cleanly within [`GRACEFUL_STOP`].
pub async fn interrupt(child: &mut Child, how: Interruption) {
    match how {
        Interruption::Kill => kill(child).await,
        Interruption::Terminate => {
            let status = stop_with_signal(child, "TERM", GRACEFUL_STOP).await;
            assert!(
                status.success(),
                "SIGTERM ends the service cleanly: {status}"
            );
        }
    }
}

/// Writes two tests, `$kill` and `$terminate`, that call `$run(how)` of the calling module with
/// [`Interruption::Kill`] and [`Interruption::Terminate`].
#[macro_export]
macro_rules! interruption_tests {
    ($kill:ident, $terminate:ident, $run:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $kill() {
            $run($crate::process::Interruption::Kill).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $terminate() {
            $run($crate::process::Interruption::Terminate).await;
        }
    };
}
