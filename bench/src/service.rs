//! The processes a run starts: the release binaries beside `order-bench`, free ports, waiting for
//! readiness, and stopping by process id (or process group, for npx and its children).

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use hyper::StatusCode;
use tokio::process::{Child, Command};
use tokio::time::Instant;

use crate::load::HttpClient;

/// How long a stopped process may take to exit before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// Where the binaries and the scratch space are.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The folder `order-bench` runs from (`target/release`), holding the service binaries.
    pub bin_dir: PathBuf,
    /// The workspace's root (for building).
    pub workspace: PathBuf,
    /// `target/bench`: scratch data directories, removed after use.
    pub scratch: PathBuf,
}

/// How a process this run started ended early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exited {
    /// Its exit status.
    pub status: String,
    /// The last lines of its output.
    pub tail: String,
}

/// A process this run started; killed when dropped, if still running.
pub struct Spawned {
    name: String,
    child: Child,
    pid: u32,
    /// Whether it leads a process group of its own (npx and the node it starts).
    group: bool,
    log: PathBuf,
}

impl Layout {
    /// The layout around the running executable.
    pub fn detect() -> anyhow::Result<Layout> {
        let exe = std::env::current_exe().context("cannot find order-bench's own path")?;
        let bin_dir = exe
            .parent()
            .context("order-bench's path has no folder")?
            .to_path_buf();
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .context("the bench crate has no parent folder")?
            .to_path_buf();
        let scratch = bin_dir.parent().map_or_else(
            || std::env::temp_dir().join("order-bench"),
            |target| target.join("bench"),
        );
        Ok(Layout {
            bin_dir,
            workspace,
            scratch,
        })
    }

    /// The path of binary `name` beside `order-bench`.
    pub fn binary(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }

    /// True when order-bench itself is an optimised build.
    pub fn is_release(&self) -> bool {
        self.bin_dir
            .file_name()
            .is_some_and(|name| name == "release")
    }

    /// Builds `order-service`, `order-platform` and `notification-service` with the same
    /// profile as order-bench (`cargo build`, a no-op when they are fresh).
    pub async fn build_services(&self) -> anyhow::Result<()> {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let mut command = Command::new(cargo);
        command
            .arg("build")
            .arg("--manifest-path")
            .arg(self.workspace.join("Cargo.toml"))
            .args(["-p", "order-service", "-p", "order-platform"])
            .args(["-p", "notification-service"]);
        if self.is_release() {
            command.arg("--release");
        }
        let status = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .await
            .context("failed to run cargo")?;
        if !status.success() {
            bail!(
                "cargo build of order-service, order-platform and notification-service failed \
                 ({status})"
            );
        }
        Ok(())
    }

    /// `target/bench/logs/<name>.log`: the output of a process this run starts, kept after the
    /// run (replaced by the next) so that a failure can be looked into.
    pub fn log_path(&self, name: &str) -> anyhow::Result<PathBuf> {
        let logs = self.scratch.join("logs");
        std::fs::create_dir_all(&logs)
            .with_context(|| format!("failed to create {}", logs.display()))?;
        Ok(logs.join(format!("{name}.log")))
    }

    /// A fresh folder in the scratch space, removed when dropped.
    pub fn scratch_dir(&self, prefix: &str) -> anyhow::Result<tempfile::TempDir> {
        std::fs::create_dir_all(&self.scratch)
            .with_context(|| format!("failed to create {}", self.scratch.display()))?;
        tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(&self.scratch)
            .with_context(|| format!("failed to create a folder in {}", self.scratch.display()))
    }
}

/// A local address nobody listens on right now.
pub fn free_addr() -> anyhow::Result<SocketAddr> {
    let listener =
        TcpListener::bind(("127.0.0.1", 0)).context("failed to find a free local port")?;
    Ok(listener.local_addr()?)
}

/// A command for one of the platform's binaries with the `ORDERS__...` variables of this shell
/// removed, then `env` set, and quiet logs. Its tokens file is in its data directory, where
/// none exists: a tokens file in the folder the benchmark runs from does not close the
/// services it measures.
pub fn service_command(program: &Path, env: &[(&str, String)]) -> Command {
    let mut command = Command::new(program);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("ORDERS__") {
            command.env_remove(&key);
        }
    }
    command.env_remove("RUST_LOG");
    command.env("ORDERS__LOG__LEVEL", "warn");
    // Measured open, or with the tokens a run makes itself: no administrator token at the first start.
    command.env("ORDERS__AUTH__FIRST_TOKEN", "false");
    if let Some((_, data_dir)) = env.iter().find(|(key, _)| *key == "ORDERS__DATA_DIR") {
        command.env(
            "ORDERS__AUTH__TOKENS_FILE",
            Path::new(data_dir).join("tokens.json"),
        );
    }
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

impl Spawned {
    /// Starts `command` with its output in `log`; `group` puts it in a process group of its
    /// own, so that stopping it also stops what it started.
    pub fn start(
        name: &str,
        mut command: Command,
        log: &Path,
        group: bool,
    ) -> anyhow::Result<Spawned> {
        let file = std::fs::File::create(log)
            .with_context(|| format!("failed to create {}", log.display()))?;
        command
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .kill_on_drop(true);
        if group {
            command.process_group(0);
        }
        let child = command
            .spawn()
            .with_context(|| format!("failed to start {name}"))?;
        let pid = child.id().context("the child has no process id")?;
        Ok(Spawned {
            name: name.to_owned(),
            child,
            pid,
            group,
            log: log.to_path_buf(),
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Waits until `GET path` on `addr` answers 200; fails if the process exits first or
    /// `timeout` passes. Returns how long it took from now.
    pub async fn wait_ready(
        &mut self,
        addr: SocketAddr,
        path: &str,
        timeout: Duration,
    ) -> anyhow::Result<Duration> {
        let start = Instant::now();
        let mut client: Option<HttpClient> = None;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited ({status}) before it was ready; its output ends:\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            if start.elapsed() > timeout {
                bail!(
                    "{} was not ready within {timeout:?}; its output ends:\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            if client.is_none() {
                client = HttpClient::connect(addr).await.ok();
            }
            if let Some(connection) = client.as_mut() {
                match connection.get(path).await {
                    Ok(reply) if reply.status == StatusCode::OK => return Ok(start.elapsed()),
                    Ok(_) => {}
                    Err(_) => client = None,
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// `Some` once the process has exited.
    pub fn exited(&mut self) -> Option<Exited> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(Exited {
                status: status.to_string(),
                tail: self.log_tail(),
            }),
            _ => None,
        }
    }

    /// The path of its output.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// The last lines of its output.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// Asks it to stop (SIGTERM), and kills it if it has not exited within a while.
    pub async fn stop(mut self) {
        let target = if self.group {
            format!("-{}", self.pid)
        } else {
            self.pid.to_string()
        };
        let signalled = Command::new("kill")
            .args(["-TERM", "--", &target])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
            .is_ok_and(|status| status.success());
        if !signalled
            || tokio::time::timeout(STOP_TIMEOUT, self.child.wait())
                .await
                .is_err()
        {
            if self.group {
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &target])
                    .status()
                    .await;
            }
            let _ = self.child.kill().await;
        }
    }
}
