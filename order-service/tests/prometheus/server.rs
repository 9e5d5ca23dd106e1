//! Debian's Prometheus, run by the test on a free port with a data folder of its own, and its
//! query API.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;
use test_support::http::wait_ready;
use test_support::ports::free_port;
use test_support::wait::until_within;
use tokio::process::{Child, Command};

/// How long Prometheus may take to see a value: a few scrapes, one a second.
const SEES: Duration = Duration::from_secs(30);

/// A running Prometheus; killed when dropped.
pub(crate) struct Prometheus {
    url: String,
    client: reqwest::Client,
    _process: Child,
    _dir: TempDir,
}

impl Prometheus {
    /// Starts Prometheus scraping each `(service, base URL)` every second under the job
    /// `service`, and waits until it is ready.
    pub(crate) async fn start(targets: &[(&str, String)]) -> Prometheus {
        let dir = tempfile::tempdir().expect("a folder for Prometheus");
        let jobs: String = targets
            .iter()
            .map(|(service, url)| {
                let host = url.trim_start_matches("http://");
                format!(
                    "  - job_name: {service}\n    static_configs:\n      - targets: ['{host}']\n"
                )
            })
            .collect();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n{jobs}"
            ),
        )
        .expect("the configuration is written");
        let address = format!("127.0.0.1:{}", free_port());
        let process = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={address}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("prometheus runs (scripts/ensure-prometheus installs it)");
        let url = format!("http://{address}");
        wait_ready(&format!("{url}/-/ready")).await;
        Prometheus {
            url,
            client: reqwest::Client::new(),
            _process: process,
            _dir: dir,
        }
    }

    /// Waits until `query` gives `expected`, failing the test after a few scrapes.
    pub(crate) async fn wait_for(&self, query: &str, expected: f64) {
        until_within(
            &format!("Prometheus: {query} = {expected}"),
            SEES,
            || async { (self.value(query).await == Some(expected)).then_some(()) },
        )
        .await;
    }

    /// The value of the instant query `query` when it gives exactly one sample.
    pub(crate) async fn value(&self, query: &str) -> Option<f64> {
        let response = self
            .client
            .get(format!("{}/api/v1/query", self.url))
            .query(&[("query", query)])
            .send()
            .await
            .ok()?;
        let body: Value = response.json().await.ok()?;
        assert_eq!(body["status"], "success", "{query}: {body}");
        match body["data"]["result"].as_array()?.as_slice() {
            [sample] => sample["value"][1].as_str()?.parse().ok(),
            _ => None,
        }
    }
}
