//! One compose project of the platform's stack: brought up from the repository's compose files
//! under a name of its own, with every host port chosen by the engine (on 127.0.0.1), and taken
//! down with its volumes when dropped.

use std::process::Output;
use std::sync::OnceLock;
use std::time::Duration;

use tokio::process::Command;
use tokio::sync::{Mutex, MutexGuard};

use crate::repository;

/// The images `scripts/docker-images` builds, which the stack runs unless the environment
/// names others (`RABBITMQ_IMAGE=rabbitmq:3-management`, say, where the engine can pull).
const LOCAL_IMAGES: [(&str, &str); 4] = [
    ("ORDERS_IMAGE", "order-platform:latest"),
    ("RABBITMQ_IMAGE", "order-platform-rabbitmq:latest"),
    ("MAIL_CATCHER_IMAGE", "order-platform-mail-catcher:latest"),
    ("PROMETHEUS_IMAGE", "order-platform-prometheus:latest"),
];

/// How long a stack may take to be up and healthy.
const UP: Duration = Duration::from_secs(240);

/// One stack at a time: two cores cannot run two without timing out.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// Whether a Docker engine answers; when none does, says so in one line.
pub async fn engine_or_skip(test: &str) -> bool {
    let answers = Command::new("docker")
        .arg("info")
        .output()
        .await
        .is_ok_and(|output| output.status.success());
    if !answers {
        eprintln!("{test}: skipped: no Docker engine answers on this machine (docker info failed)");
    }
    answers
}

/// A running compose project.
pub struct Stack {
    project: String,
    files: Vec<String>,
    profiles: Vec<String>,
    _turn: MutexGuard<'static, ()>,
    down: bool,
}

impl Stack {
    /// Brings up `files` (relative to the repository) as the project `orders-test-<name>`, with
    /// `scale` replicas of the services named, and waits until every container is healthy
    /// (or, without a health check, running).
    pub async fn up(name: &str, files: &[&str], scale: &[(&str, usize)]) -> Stack {
        let turn = ONE_AT_A_TIME.lock().await;
        for (variable, image) in LOCAL_IMAGES {
            let image = std::env::var(variable).unwrap_or_else(|_| image.to_owned());
            let present = run("docker", &["image", "inspect", &image])
                .await
                .status
                .success();
            assert!(
                present,
                "the image {image} is missing: scripts/docker-images builds it (scripts/test runs it)"
            );
        }
        let stack = Stack {
            project: format!("orders-test-{name}-{}", std::process::id()),
            files: files.iter().map(|file| (*file).to_owned()).collect(),
            profiles: Vec::new(),
            _turn: turn,
            down: false,
        };
        let mut arguments = vec!["up".to_owned(), "-d".to_owned(), "--no-build".to_owned()];
        for (service, replicas) in scale {
            arguments.push("--scale".to_owned());
            arguments.push(format!("{service}={replicas}"));
        }
        stack.compose_ok(&arguments).await;
        stack.wait_healthy().await;
        stack
    }

    /// Starts `service` of the compose profile `profile` too, and waits until it runs; the
    /// profile then stays on for every later command (`down` included).
    pub async fn start_from_profile(&mut self, profile: &str, service: &str) {
        self.profiles.push(profile.to_owned());
        self.compose_ok(&["up", "-d", "--no-build", service].map(str::to_owned))
            .await;
        self.wait_healthy().await;
    }

    /// The project's name, which labels its containers, networks and volumes.
    pub fn project(&self) -> &str {
        &self.project
    }

    /// Runs `docker-compose` (or `docker compose`) on this project.
    pub async fn compose(&self, arguments: &[String]) -> Output {
        let (program, mut full) = compose_program();
        for file in &self.files {
            full.push("-f".to_owned());
            full.push(repository().join(file).display().to_string());
        }
        full.push("-p".to_owned());
        full.push(self.project.clone());
        for profile in &self.profiles {
            full.push("--profile".to_owned());
            full.push(profile.clone());
        }
        full.extend(arguments.iter().cloned());
        let mut command = Command::new(program);
        command.args(&full).current_dir(repository());
        for (variable, image) in LOCAL_IMAGES {
            if std::env::var_os(variable).is_none() {
                command.env(variable, image);
            }
        }
        // Every published port on a free port of the engine's choosing.
        for variable in [
            "ORDERS_HTTP_PORT",
            "MAIL_CATCHER_PORT",
            "RABBITMQ_MANAGEMENT_PORT",
            "PROMETHEUS_PORT",
        ] {
            command.env(variable, "");
        }
        command.output().await.expect("docker-compose runs")
    }

    /// Runs `docker-compose` on this project and fails the test, showing its output, if it fails.
    pub async fn compose_ok(&self, arguments: &[String]) -> String {
        let output = self.compose(arguments).await;
        assert!(
            output.status.success(),
            "docker-compose {} failed: {}{}",
            arguments.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// The id of `service`'s replica `index` (from 1), as `url` numbers them.
    pub async fn container(&self, service: &str, index: usize) -> String {
        let project = format!("label=com.docker.compose.project={}", self.project);
        let service_label = format!("label=com.docker.compose.service={service}");
        let number = format!("label=com.docker.compose.container-number={index}");
        let output = run(
            "docker",
            &[
                "ps",
                "-q",
                "--filter",
                &project,
                "--filter",
                &service_label,
                "--filter",
                &number,
            ],
        )
        .await;
        let id = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        assert!(!id.is_empty(), "no running container {service} #{index}");
        id
    }

    /// `http://127.0.0.1:PORT` of `service`'s replica `index` (from 1) port `port`.
    pub async fn url(&self, service: &str, index: usize, port: u16) -> String {
        let published = self
            .compose_ok(&[
                "port".to_owned(),
                format!("--index={index}"),
                service.to_owned(),
                port.to_string(),
            ])
            .await;
        let published = published.trim();
        assert!(
            !published.is_empty(),
            "{service} #{index} publishes no port {port}"
        );
        format!("http://{published}")
    }

    /// `docker kill` of a container, as a crash would.
    pub async fn kill(&self, container: &str) {
        let output = run("docker", &["kill", container]).await;
        assert!(output.status.success(), "docker kill {container} failed");
    }

    /// `docker start` of a stopped container.
    pub async fn start(&self, container: &str) {
        let output = run("docker", &["start", container]).await;
        assert!(output.status.success(), "docker start {container} failed");
    }

    /// Waits until every container of the project is healthy, or running where it has no
    /// health check.
    pub async fn wait_healthy(&self) {
        let deadline = tokio::time::Instant::now() + UP;
        loop {
            let states = self.states().await;
            let waiting: Vec<&String> = states
                .iter()
                .filter(|state| !state.ends_with(" healthy") && !state.ends_with(" running"))
                .collect();
            if !states.is_empty() && waiting.is_empty() {
                return;
            }
            if tokio::time::Instant::now() > deadline {
                let logs = self
                    .compose(&["logs".to_owned(), "--tail=30".to_owned()])
                    .await;
                panic!(
                    "the stack was not healthy within {UP:?}: {waiting:?}\n{}",
                    String::from_utf8_lossy(&logs.stdout)
                );
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// `name status` of each container: status is `healthy`, `unhealthy`, `starting` or,
    /// without a health check, the container's state.
    async fn states(&self) -> Vec<String> {
        let ids = self.compose_ok(&["ps".to_owned(), "-q".to_owned()]).await;
        let ids: Vec<&str> = ids.lines().filter(|id| !id.is_empty()).collect();
        if ids.is_empty() {
            return Vec::new();
        }
        let mut arguments = vec![
            "inspect",
            "--format",
            "{{.Name}} {{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}",
        ];
        arguments.extend(ids);
        let output = run("docker", &arguments).await;
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// `docker-compose down -v`, then checks that nothing of the project is left: no
    /// container, network or volume.
    pub async fn down(mut self) {
        self.compose_ok(&[
            "down".to_owned(),
            "-v".to_owned(),
            "--timeout".to_owned(),
            "30".to_owned(),
        ])
        .await;
        self.down = true;
        let label = format!("label=com.docker.compose.project={}", self.project);
        for kind in [
            vec!["ps", "-a", "-q", "--filter", &label],
            vec!["network", "ls", "-q", "--filter", &label],
            vec!["volume", "ls", "-q", "--filter", &label],
        ] {
            let left = run("docker", &kind).await;
            let left = String::from_utf8_lossy(&left.stdout);
            assert!(
                left.trim().is_empty(),
                "`docker-compose down -v` left behind ({}): {left}",
                kind[..2].join(" ")
            );
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if self.down {
            return;
        }
        // A failed test still leaves nothing behind.
        let (program, mut arguments) = compose_program();
        for file in &self.files {
            arguments.push("-f".to_owned());
            arguments.push(repository().join(file).display().to_string());
        }
        arguments.extend(["-p", &self.project].map(str::to_owned));
        for profile in &self.profiles {
            arguments.extend(["--profile", profile].map(str::to_owned));
        }
        arguments.extend(["down", "-v", "--timeout", "5"].map(str::to_owned));
        let _ = std::process::Command::new(program)
            .args(&arguments)
            .current_dir(repository())
            .output();
    }
}

/// `docker compose` where the plugin is installed, otherwise Debian's `docker-compose`.
fn compose_program() -> (&'static str, Vec<String>) {
    static PLUGIN: OnceLock<bool> = OnceLock::new();
    let plugin = *PLUGIN.get_or_init(|| {
        std::process::Command::new("docker")
            .args(["compose", "version"])
            .output()
            .is_ok_and(|output| output.status.success())
    });
    if plugin {
        ("docker", vec!["compose".to_owned()])
    } else {
        ("docker-compose", Vec::new())
    }
}

async fn run(program: &str, arguments: &[&str]) -> Output {
    Command::new(program)
        .args(arguments)
        .output()
        .await
        .unwrap_or_else(|error| panic!("{program} could not run: {error}"))
}
