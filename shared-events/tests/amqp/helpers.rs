//! A fresh namespace on the shared local RabbitMQ per test, a scripted handler, and waiting
//! helpers.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions};
use lapin::options::{ExchangeDeleteOptions, QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection};
use shared_events::OrderEvent;
use shared_events::app::settings::{AmqpSettings, AmqpUrl};
use shared_events::contract::shard::ShardCount;
use shared_events::runtime::amqp::{
    BrokerLink, ConfirmedPublisher, Topology, connect, run_consumer, run_failure_drain,
};
use shared_events::storage::failure_log::{FailureLog, FailureRecord};
use test_support::broker::publish_events;
use test_support::proxy::TcpProxy;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub(crate) use test_support::wait::wait_until as wait_until_async;

pub(crate) use crate::scripted_handler::{Script, ScriptedHandler, sample_event};

/// The service name the scripted handler consumes as.
pub(crate) const SERVICE: &str = "svc";

/// One shard: the runner's behaviour, not the sharding, is under test here.
pub(crate) const SHARDS: ShardCount = match ShardCount::new(1) {
    Some(count) => count,
    None => unreachable!(),
};

/// How long any wait in these tests may take before it fails.
pub(crate) const WAIT: Duration = test_support::wait::DEADLINE;

/// A namespace of its own on the local broker, with the consumer topology declared.
pub(crate) struct TestBroker {
    pub(crate) settings: AmqpSettings,
    pub(crate) topology: Topology,
    pub(crate) publisher: ConfirmedPublisher,
    connection: Connection,
    /// Deletes the namespace even when the test panics: leaked quorum queues cost the shared
    /// broker file handles, and a few hundred of them stop it accepting connections.
    leftovers: Leftovers,
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
        test_support::logging::init();
        let namespace = test_support::namespace::unique();
        let mut settings = AmqpSettings::for_tests(&namespace);
        adjust(&mut settings);
        let topology = Topology::new(&namespace);
        let connection = connect(&settings, "shared-events-tests")
            .await
            .expect("broker reachable");
        let channel = connection.create_channel().await.expect("channel");
        topology
            .declare_consumer(&channel, SERVICE, SHARDS, &settings)
            .await
            .expect("topology declares");
        channel
            .close(200, "OK".into())
            .await
            .expect("close channel");
        let dir = tempfile::tempdir().expect("temp dir");
        let (settings_for_cleanup, topology_for_cleanup) = (settings.clone(), topology.clone());
        TestBroker {
            publisher: ConfirmedPublisher::new(settings.clone(), "shared-events-tests-publisher"),
            failure_log_path: dir.path().join("failure.json"),
            settings,
            topology,
            connection,
            leftovers: Leftovers::of(&settings_for_cleanup, &topology_for_cleanup),
            _dir: dir,
        }
    }

    /// A channel on the test's own connection (not the code under test's).
    pub(crate) async fn channel(&self) -> Channel {
        self.connection.create_channel().await.expect("channel")
    }

    /// The work queue of [`SERVICE`].
    pub(crate) fn work_queue(&self) -> String {
        self.topology.shard_queue(SERVICE, 0)
    }

    /// Publishes `count` new order events to the fanout exchange, confirmed.
    pub(crate) async fn publish_events(&self, count: usize) -> Vec<OrderEvent> {
        let events: Vec<OrderEvent> = (0..count).map(|_| sample_event()).collect();
        publish_events(&self.publisher, &self.topology, &events).await;
        events
    }

    /// Publishes one event and waits until `log` records its failure.
    pub(crate) async fn one_failure(&self, log: &FailureLog) -> (OrderEvent, FailureRecord) {
        let event = self.publish_events(1).await.remove(0);
        (event, wait_for_records(log, 1).await.remove(0))
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
                // Bucket 0, which the one shard of these tests takes with every other.
                "0".into(),
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

    /// Messages ready in the dead-letter queue of [`SERVICE`].
    pub(crate) async fn dead_letters(&self) -> u32 {
        self.ready(&self.topology.dead_letter_queue(SERVICE)).await
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
        let ready = self.ready(queue).await as usize;
        self.take(queue, ready)
            .await
            .into_iter()
            .map(|delivery| delivery.data)
            .collect()
    }

    /// Takes the first `count` messages of `queue` (acking them). Through a consumer: a shard
    /// queue has a single active consumer, and such queues refuse `basic.get`.
    pub(crate) async fn take(&self, queue: &str, count: usize) -> Vec<Delivery> {
        let channel = self.channel().await;
        let mut consumer = channel
            .basic_consume(
                queue.into(),
                "test-take".into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..BasicConsumeOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("basic.consume");
        let mut deliveries = Vec::with_capacity(count);
        while deliveries.len() < count {
            let next = tokio::time::timeout(Duration::from_secs(10), consumer.next())
                .await
                .expect("a message comes");
            deliveries.push(next.expect("the consumer is open").expect("a delivery"));
        }
        channel.close(200, "OK".into()).await.expect("close");
        deliveries
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
        let task = tokio::spawn(run_consumer(
            settings,
            handler,
            crate::helpers::SHARDS,
            0,
            BrokerLink::default(),
            token.clone(),
        ));
        Running { token, task }
    }

    /// Starts a consumer of a handler that plays `script`, and the failure drain: the handler,
    /// the consumer, the failure log and the drain.
    pub(crate) fn spawn_pipeline(
        &self,
        script: Script,
    ) -> (Arc<ScriptedHandler>, Running, Arc<FailureLog>, Running) {
        let handler = ScriptedHandler::new(script);
        let consumer = self.spawn_consumer(handler.clone());
        let (log, drain) = self.spawn_drain();
        (handler, consumer, log, drain)
    }

    /// The broker's settings with `proxy`'s URL, for a consumer whose connections a test cuts.
    pub(crate) fn through(&self, proxy: &TcpProxy) -> AmqpSettings {
        AmqpSettings {
            url: AmqpUrl::new(proxy.url()),
            ..self.settings.clone()
        }
    }

    /// Opens the test's failure log and starts `run_failure_drain` on it.
    pub(crate) fn spawn_drain(&self) -> (Arc<FailureLog>, Running) {
        let log = Arc::new(FailureLog::open(&self.failure_log_path).expect("failure log opens"));
        let token = CancellationToken::new();
        let task = tokio::spawn(run_failure_drain(
            self.settings.clone(),
            SERVICE,
            SHARDS,
            Arc::clone(&log),
            BrokerLink::default(),
            token.clone(),
        ));
        (log, Running { token, task })
    }

    /// Also deletes, at the end, what `settings` declares for [`SERVICE`] (a second namespace).
    pub(crate) fn also_delete(&self, settings: &AmqpSettings) {
        let other = Leftovers::of(settings, &Topology::new(&settings.namespace));
        self.leftovers.add(other.take());
    }

    /// Also deletes queue `name` at the end.
    pub(crate) fn also_delete_queue(&self, name: String) {
        self.leftovers.add((vec![name], Vec::new()));
    }

    /// Also deletes exchange `name` at the end.
    pub(crate) fn also_delete_exchange(&self, name: String) {
        self.leftovers.add((Vec::new(), vec![name]));
    }

    /// Deletes the namespace's queues and exchanges and closes the test's connections.
    pub(crate) async fn cleanup(self) {
        self.publisher.close().await;
        let (queues, exchanges) = self.leftovers.take();
        delete(&self.connection, &queues, &exchanges).await;
        self.connection
            .close(200, "OK".into())
            .await
            .expect("close connection");
    }
}

/// The queues and exchanges a test still has to delete.
struct Leftovers {
    settings: AmqpSettings,
    names: Mutex<(Vec<String>, Vec<String>)>,
}

impl Leftovers {
    /// Everything `settings` declares for [`SERVICE`] under `topology`.
    fn of(settings: &AmqpSettings, topology: &Topology) -> Leftovers {
        let mut queues = vec![
            topology.shard_queue(SERVICE, 0),
            topology.dead_letter_queue(SERVICE),
        ];
        queues.extend(
            settings
                .retry_delays_ms
                .iter()
                .map(|delay| topology.retry_queue(SERVICE, *delay)),
        );
        let exchanges = vec![
            topology.exchange(),
            topology.dead_letter_exchange(),
            topology.shard_exchange(SERVICE),
            topology.retry_exchange(SERVICE),
        ];
        Leftovers {
            settings: settings.clone(),
            names: Mutex::new((queues, exchanges)),
        }
    }

    fn add(&self, (queues, exchanges): (Vec<String>, Vec<String>)) {
        let mut names = self.names.lock().unwrap_or_else(PoisonError::into_inner);
        names.0.extend(queues);
        names.1.extend(exchanges);
    }

    fn take(&self) -> (Vec<String>, Vec<String>) {
        // Also runs while a test panics: a second panic here would abort.
        std::mem::take(&mut *self.names.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        let (queues, exchanges) = self.take();
        if queues.is_empty() && exchanges.is_empty() {
            return;
        }
        // A panicking test: no async context to borrow, so a thread with a runtime of its own.
        let settings = self.settings.clone();
        test_support::namespace::block_on_own_thread(async move {
            let cleanup = async {
                let connection = connect(&settings, "shared-events-tests-cleanup")
                    .await
                    .ok()?;
                delete(&connection, &queues, &exchanges).await;
                connection.close(200, "OK".into()).await.ok()
            };
            let _ = tokio::time::timeout(Duration::from_secs(20), cleanup).await;
        });
    }
}

/// Deletes `queues` and `exchanges`, each on a channel of its own (a missing one closes it).
async fn delete(connection: &Connection, queues: &[String], exchanges: &[String]) {
    let queues = queues.iter().map(|name| (name, true));
    for (name, is_queue) in queues.chain(exchanges.iter().map(|name| (name, false))) {
        let Ok(channel) = connection.create_channel().await else {
            continue;
        };
        let deleted = if is_queue {
            let options = QueueDeleteOptions::default();
            channel
                .queue_delete(name.as_str().into(), options)
                .await
                .is_ok()
        } else {
            let options = ExchangeDeleteOptions::default();
            channel
                .exchange_delete(name.as_str().into(), options)
                .await
                .is_ok()
        };
        if deleted {
            let _ = channel.close(200, "OK".into()).await;
        }
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

/// [`AmqpSettings::for_tests`] of `namespace` with another broker `url`.
pub(crate) fn settings_at(url: &str, namespace: &str) -> AmqpSettings {
    AmqpSettings {
        url: AmqpUrl::new(url),
        ..AmqpSettings::for_tests(namespace)
    }
}

/// Polls the plain `condition` until it holds, failing the test with `what` after [`WAIT`].
pub(crate) async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    wait_until_async(what, || std::future::ready(condition())).await;
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
