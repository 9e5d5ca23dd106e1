//! A consumer service (`ConsumerApplication`) started in the test's runtime on a free port,
//! with a data directory and a broker namespace of its own, and the checks every consumer's
//! suite makes the same way.

use std::fmt::Display;
use std::marker::PhantomData;

use reqwest::{Method, Response};
use serde_json::Value;
use shared_events::OrderEvent;
use shared_events::app::consumer::{Consumer, ConsumerApplication};
use shared_events::app::settings::ConsumerSettings;
use tempfile::TempDir;

use crate::broker::TestBroker;
use crate::identity_provider::IdentityProvider;
use crate::process::service_command;
use crate::service::RunningService;
use crate::wait::until;

/// A running consumer service `C` on a free port with its own data directory and namespace.
pub struct TestConsumer<C> {
    /// Stops the service if a test ends without [`TestConsumer::stop`]; dropped before
    /// `broker`, so the consumer is gone before its queues are deleted.
    running: RunningService,
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// A client for the API.
    pub client: reqwest::Client,
    /// The data directory; removed when dropped.
    pub data_dir: TempDir,
    /// The test's namespace on the broker.
    pub broker: TestBroker,
    consumer: PhantomData<C>,
}

impl<C: Consumer<Settings = ConsumerSettings>> TestConsumer<C> {
    /// Starts the service on port 0 with a fresh data directory and a fresh namespace.
    pub async fn spawn() -> TestConsumer<C> {
        let data_dir = tempfile::tempdir().expect("temp dir");
        TestConsumer::spawn_in(data_dir, TestBroker::new(C::name()).await).await
    }

    /// Starts the service on `data_dir` and `broker`'s namespace, taking both over, and waits
    /// until it is ready: connected, its shards taken.
    pub async fn spawn_in(data_dir: TempDir, broker: TestBroker) -> TestConsumer<C> {
        TestConsumer::spawn_adjusted(data_dir, broker, |_| {}).await
    }

    /// Starts the service without a tokens file but trusting `provider`'s access tokens: closed
    /// to everyone else from the start.
    pub async fn spawn_trusting(provider: &IdentityProvider) -> TestConsumer<C> {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let jwt = provider.settings(&data_dir.path().join("jwks.json"));
        let broker = TestBroker::new(C::name()).await;
        TestConsumer::spawn_adjusted(data_dir, broker, |settings| settings.auth.jwt = jwt).await
    }

    /// [`TestConsumer::spawn_in`], after `adjust` has changed the settings.
    pub async fn spawn_adjusted(
        data_dir: TempDir,
        broker: TestBroker,
        adjust: impl FnOnce(&mut ConsumerSettings),
    ) -> TestConsumer<C> {
        crate::logging::init();
        let mut settings = settings(&data_dir, &broker);
        adjust(&mut settings);
        let application = ConsumerApplication::<C>::build(settings)
            .await
            .expect("the service starts");
        let address = application.url();
        let running = RunningService::spawn(|shutdown| application.run(shutdown));
        crate::http::wait_ready(&format!("{address}/health/ready")).await;
        TestConsumer {
            running,
            address,
            client: reqwest::Client::new(),
            data_dir,
            broker,
            consumer: PhantomData,
        }
    }

    /// Stops the service gracefully and hands back its data directory and namespace.
    pub async fn stop(self) -> (TempDir, TestBroker) {
        self.running.stop().await;
        (self.data_dir, self.broker)
    }

    /// Stops the service and starts a new one on the same data directory and namespace.
    pub async fn restart(self) -> TestConsumer<C> {
        let (data_dir, broker) = self.stop().await;
        TestConsumer::spawn_in(data_dir, broker).await
    }

    /// Publishes `events`, confirmed, to the namespace's exchange.
    pub async fn publish(&self, events: &[OrderEvent]) {
        self.broker.publish(events).await;
    }

    /// `GET {path}`.
    pub async fn get(&self, path: &str) -> Response {
        crate::http::get(&self.client, &format!("{}{path}", self.address)).await
    }

    /// Both probes answer 200 with their status in JSON.
    pub async fn assert_probes_answer(&self) {
        for (path, status) in [("/health/live", "live"), ("/health/ready", "ready")] {
            // Act
            let response = self.get(path).await;

            // Assert
            assert_eq!(response.status().as_u16(), 200, "{path}");
            let body: Value = response.json().await.expect("json");
            assert_eq!(body["status"], status, "{path}: {body}");
        }
    }

    /// Each `(method, path)` of `cases` answers its status with a JSON error of its code.
    pub async fn assert_json_errors<P: Display>(&self, cases: &[(Method, P, u16, &str)]) {
        for (method, path, status, code) in cases {
            // Act
            let response = self
                .client
                .request(method.clone(), format!("{}{path}", self.address))
                .send()
                .await
                .expect("request");

            // Assert
            assert_eq!(response.status().as_u16(), *status, "{method} {path}");
            let body: Value = response.json().await.expect("json");
            assert_eq!(body["error"]["code"], *code, "{method} {path}: {body}");
        }
    }

    /// A second application on the same data directory is refused: the directory is in use.
    pub async fn assert_data_dir_locked(&self) {
        let second = ConsumerApplication::<C>::build(settings(&self.data_dir, &self.broker)).await;

        let error = second.err().expect("the data directory is locked");
        assert!(format!("{error:#}").contains("in use"), "{error:#}");
    }

    /// Puts `event` among the service's dead letters and a message that is no event on its
    /// exchange, waits for both in `failure.json`, and checks that the `failures list` of the
    /// binary `program` shows both, one as undecodable.
    pub async fn assert_failures_listed(&self, program: &str, event: &OrderEvent) {
        // Arrange
        self.broker.publish_dead_letter(event).await;
        self.broker.publish_raw(b"not an event").await;
        until("two failures in failure.json", || async {
            self.failure_records().filter(|records| records.len() == 2)
        })
        .await;

        // Act
        let listed = self.failures(program, &["list", "--json"]).await;

        // Assert
        let listed: Vec<Value> = serde_json::from_slice(&listed).expect("a JSON array");
        assert_eq!(listed.len(), 2, "{listed:?}");
        assert!(listed.iter().all(|record| record["service"] == C::name()));
        let reasons: Vec<&str> = listed
            .iter()
            .map(|record| record["reason"].as_str().expect("reason"))
            .collect();
        assert!(
            reasons.iter().any(|reason| reason.contains("undecodable")),
            "{reasons:?}"
        );
    }

    /// Runs `program failures <args>` on the service's data directory and namespace; returns
    /// its standard output, failing the test unless it succeeds.
    pub async fn failures(&self, program: &str, args: &[&str]) -> Vec<u8> {
        let output = service_command(program, self.data_dir.path(), &self.broker.settings)
            .arg("failures")
            .args(args)
            .output()
            .await
            .expect("the binary runs");
        assert!(
            output.status.success(),
            "failures {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    }

    /// The records of the service's `failure.json`, if it exists and parses.
    fn failure_records(&self) -> Option<Vec<Value>> {
        let bytes = std::fs::read(self.data_dir.path().join("failure.json")).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// The test settings for `data_dir`, on `broker`'s namespace.
fn settings(data_dir: &TempDir, broker: &TestBroker) -> ConsumerSettings {
    let mut settings = ConsumerSettings::for_tests(data_dir.path(), &broker.settings.namespace);
    settings.amqp = broker.settings.clone();
    settings
}
