//! A fresh namespace on the shared local RabbitMQ per test, a scripted handler, and waiting
//! helpers.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use chrono::Utc;
use lapin::options::{
    BasicGetOptions, BasicPublishOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::options::{ConfirmSelectOptions, ExchangeDeleteOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection};
use shared_events::amqp::{
    ConfirmedPublisher, EventHandler, Handled, HandlerError, OutgoingMessage, Topology, connect,
    run_consumer, run_failure_drain,
};
use shared_events::failure_log::{FailureLog, FailureRecord};
use shared_events::settings::AmqpSettings;
use shared_events::{EventType, Money, Order, OrderEvent, OrderLine, OrderStatus};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The service name the scripted handler consumes as.
pub(crate) const SERVICE: &str = "svc";

/// How long any wait in these tests may take before it fails.
pub(crate) const WAIT: Duration = Duration::from_secs(30);

/// A namespace of its own on the local broker, with the consumer topology declared.
pub(crate) struct TestBroker {
    pub(crate) settings: AmqpSettings,
    pub(crate) topology: Topology,
    pub(crate) publisher: ConfirmedPublisher,
    connection: Connection,
    _dir: tempfile::TempDir,
    pub(crate) failure_log_path: std::path::PathBuf,
}

impl TestBroker {
    /// A new namespace `test-<uuid>` with the default test settings.
    pub(crate) async fn new() -> TestBroker {
        TestBroker::with_settings(|_| {}).await
    }

    /// A new namespace whose settings `adjust` may change before the topology is declared.
    pub(crate) async fn with_settings(adjust: impl FnOnce(&mut AmqpSettings)) -> TestBroker {
        init_logs();
        let namespace = format!("test-{}", Uuid::new_v4());
        let mut settings = AmqpSettings::for_tests(&namespace);
        adjust(&mut settings);
        let topology = Topology::new(&namespace);
        let connection = connect(&settings, "shared-events-tests")
            .await
            .expect("broker reachable");
        let channel = connection.create_channel().await.expect("channel");
        topology
            .declare_consumer(&channel, SERVICE, &settings)
            .await
            .expect("topology declares");
        channel
            .close(200, "OK".into())
            .await
            .expect("close channel");
        let dir = tempfile::tempdir().expect("temp dir");
        TestBroker {
            publisher: ConfirmedPublisher::new(settings.clone(), "shared-events-tests-publisher"),
            failure_log_path: dir.path().join("failure.json"),
            settings,
            topology,
            connection,
            _dir: dir,
        }
    }

    /// A channel on the test's own connection (not the code under test's).
    pub(crate) async fn channel(&self) -> Channel {
        self.connection.create_channel().await.expect("channel")
    }

    /// The work queue of [`SERVICE`].
    pub(crate) fn work_queue(&self) -> String {
        self.topology.work_queue(SERVICE)
    }

    /// Publishes `count` new order events to the fanout exchange, confirmed.
    pub(crate) async fn publish_events(&self, count: usize) -> Vec<OrderEvent> {
        let events: Vec<OrderEvent> = (0..count).map(|_| sample_event()).collect();
        let messages: Vec<OutgoingMessage> = events
            .iter()
            .map(|event| OutgoingMessage::order_event(&self.topology, event))
            .collect();
        self.publisher
            .publish_batch(&messages)
            .await
            .expect("events published");
        events
    }

    /// Publishes `body` as is to the fanout exchange (for messages that are not events).
    pub(crate) async fn publish_raw(&self, body: &[u8], message_id: &str) {
        let channel = self.channel().await;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .expect("confirm mode");
        let confirmation = channel
            .basic_publish(
                self.topology.exchange().into(),
                "".into(),
                BasicPublishOptions {
                    mandatory: true,
                    immediate: false,
                },
                body,
                BasicProperties::default()
                    .with_delivery_mode(2)
                    .with_message_id(message_id.into()),
            )
            .await
            .expect("published")
            .await
            .expect("confirmed");
        assert_eq!(
            confirmation,
            lapin::Confirmation::Ack(None),
            "raw publish acked"
        );
        channel.close(200, "OK".into()).await.expect("close");
    }

    /// Messages ready in `queue` (not counting those delivered and not yet acked).
    pub(crate) async fn ready(&self, queue: &str) -> u32 {
        let channel = self.channel().await;
        let options = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        let declared = channel
            .queue_declare(queue.into(), options, FieldTable::default())
            .await
            .expect("queue exists");
        channel.close(200, "OK".into()).await.expect("close");
        declared.message_count()
    }

    /// Takes every ready message out of `queue` (acking them) and returns their bodies.
    pub(crate) async fn take_all(&self, queue: &str) -> Vec<Vec<u8>> {
        let channel = self.channel().await;
        let mut bodies = Vec::new();
        while let Some(message) = channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await
            .expect("basic.get")
        {
            bodies.push(message.delivery.data.clone());
        }
        channel.close(200, "OK".into()).await.expect("close");
        bodies
    }

    /// Starts `run_consumer` for `handler` with this broker's settings.
    pub(crate) fn spawn_consumer(&self, handler: Arc<ScriptedHandler>) -> Running {
        self.spawn_consumer_with(self.settings.clone(), handler)
    }

    /// Starts `run_consumer` with other `settings` (a proxy's URL, say).
    pub(crate) fn spawn_consumer_with(
        &self,
        settings: AmqpSettings,
        handler: Arc<ScriptedHandler>,
    ) -> Running {
        let token = CancellationToken::new();
        let task = tokio::spawn(run_consumer(settings, handler, token.clone()));
        Running { token, task }
    }

    /// Opens the test's failure log and starts `run_failure_drain` on it.
    pub(crate) fn spawn_drain(&self) -> (Arc<FailureLog>, Running) {
        let log = Arc::new(FailureLog::open(&self.failure_log_path).expect("failure log opens"));
        let token = CancellationToken::new();
        let task = tokio::spawn(run_failure_drain(
            self.settings.clone(),
            SERVICE,
            Arc::clone(&log),
            token.clone(),
        ));
        (log, Running { token, task })
    }

    /// Deletes the namespace's queues and exchanges.
    pub(crate) async fn cleanup(self) {
        self.publisher.close().await;
        let channel = self.channel().await;
        let mut queues = vec![self.work_queue(), self.topology.dead_letter_queue(SERVICE)];
        queues.extend(
            self.settings
                .retry_delays_ms
                .iter()
                .map(|delay| self.topology.retry_queue(SERVICE, *delay)),
        );
        for queue in queues {
            channel
                .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                .await
                .expect("queue deleted");
        }
        for exchange in [
            self.topology.exchange(),
            self.topology.dead_letter_exchange(),
        ] {
            channel
                .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
                .await
                .expect("exchange deleted");
        }
        channel.close(200, "OK".into()).await.expect("close");
        self.connection
            .close(200, "OK".into())
            .await
            .expect("close connection");
    }
}

/// A running consumer or drain.
pub(crate) struct Running {
    pub(crate) token: CancellationToken,
    pub(crate) task: JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// Cancels it and checks that it stops cleanly, in bounded time.
    pub(crate) async fn stop(self) {
        self.token.cancel();
        let result = tokio::time::timeout(WAIT, self.task)
            .await
            .expect("stops in time")
            .expect("did not panic");
        assert!(result.is_ok(), "stopped with an error: {result:?}");
    }
}

/// What the scripted handler does with an event.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Script {
    /// Applies it.
    Apply,
    /// Fails retryably this many times per event, then applies it.
    FailRetryably(usize),
    /// Always fails retryably.
    AlwaysRetryable,
    /// Fails permanently.
    Permanent,
}

/// A handler that follows a [`Script`] (until [`ScriptedHandler::fix`]) and records its calls.
pub(crate) struct ScriptedHandler {
    script: Script,
    delay: Duration,
    fixed: AtomicBool,
    calls: Mutex<Vec<(Uuid, Instant)>>,
    applied: Mutex<HashSet<Uuid>>,
    in_progress: AtomicUsize,
}

impl ScriptedHandler {
    /// A handler following `script`.
    pub(crate) fn new(script: Script) -> Arc<ScriptedHandler> {
        ScriptedHandler::slow(script, Duration::ZERO)
    }

    /// A handler following `script` that takes `delay` per call.
    pub(crate) fn slow(script: Script, delay: Duration) -> Arc<ScriptedHandler> {
        Arc::new(ScriptedHandler {
            script,
            delay,
            fixed: AtomicBool::new(false),
            calls: Mutex::new(Vec::new()),
            applied: Mutex::new(HashSet::new()),
            in_progress: AtomicUsize::new(0),
        })
    }

    /// From now on, applies every event (the bug is fixed).
    pub(crate) fn fix(&self) {
        self.fixed.store(true, Ordering::SeqCst);
    }

    /// Calls per event id.
    pub(crate) fn calls(&self) -> HashMap<Uuid, Vec<Instant>> {
        let mut calls: HashMap<Uuid, Vec<Instant>> = HashMap::new();
        for (id, at) in self.calls.lock().expect("lock").iter() {
            calls.entry(*id).or_default().push(*at);
        }
        calls
    }

    /// How many calls in all.
    pub(crate) fn call_count(&self) -> usize {
        self.calls.lock().expect("lock").len()
    }

    /// The events applied (each once, however often delivered).
    pub(crate) fn applied(&self) -> HashSet<Uuid> {
        self.applied.lock().expect("lock").clone()
    }

    /// Calls that started and have not returned.
    pub(crate) fn in_progress(&self) -> usize {
        self.in_progress.load(Ordering::SeqCst)
    }
}

impl EventHandler for ScriptedHandler {
    const SERVICE: &'static str = SERVICE;

    async fn handle(&self, event: &OrderEvent) -> Result<Handled, HandlerError> {
        self.in_progress.fetch_add(1, Ordering::SeqCst);
        let prior = {
            let mut calls = self.calls.lock().expect("lock");
            let prior = calls.iter().filter(|(id, _)| *id == event.id).count();
            calls.push((event.id, Instant::now()));
            prior
        };
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        let result = if self.fixed.load(Ordering::SeqCst) {
            Ok(())
        } else {
            match self.script {
                Script::Apply => Ok(()),
                Script::FailRetryably(times) if prior < times => {
                    Err(HandlerError::Retryable(format!("flaky #{prior}")))
                }
                Script::FailRetryably(_) => Ok(()),
                Script::AlwaysRetryable => {
                    Err(HandlerError::Retryable("downstream is down".to_owned()))
                }
                Script::Permanent => Err(HandlerError::Permanent(
                    "cannot make sense of it".to_owned(),
                )),
            }
        };
        let result = result.map(|()| {
            if self.applied.lock().expect("lock").insert(event.id) {
                Handled::Applied
            } else {
                Handled::Duplicate
            }
        });
        self.in_progress.fetch_sub(1, Ordering::SeqCst);
        result
    }
}

/// A new order's creation event.
pub(crate) fn sample_event() -> OrderEvent {
    let now = Utc::now();
    let order = Order {
        order_id: Uuid::now_v7(),
        customer_name: "Ada".to_owned(),
        customer_email: Some("ada@example.com".to_owned()),
        items: vec![OrderLine {
            product: "widget".to_owned(),
            quantity: 2,
            amount: Money::from_cents(250),
        }],
        total_amount: Money::from_cents(500),
        status: OrderStatus::Pending,
        order_date: now,
        order_update: now,
        version: 1,
    };
    OrderEvent::new(EventType::Created, "shared-events-tests", order, None, now)
}

/// Polls `condition` until it holds, failing the test with `what` after [`WAIT`].
pub(crate) async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls the async `condition` until it holds, failing the test with `what` after [`WAIT`].
pub(crate) async fn wait_until_async<F: Future<Output = bool>>(
    what: &str,
    mut condition: impl FnMut() -> F,
) {
    let deadline = Instant::now() + WAIT;
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `log` holds `count` records and returns them.
pub(crate) async fn wait_for_records(log: &FailureLog, count: usize) -> Vec<FailureRecord> {
    wait_until_async(
        &format!("the failure log holds {count} record(s)"),
        || async { log.records_async().await.expect("records").len() >= count },
    )
    .await;
    log.records_async().await.expect("records")
}

/// Logs to the test output when `TEST_LOG` is set (`TEST_LOG=debug cargo test`).
fn init_logs() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        if let Ok(level) = std::env::var("TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(level))
                .with_test_writer()
                .try_init();
        }
    });
}
