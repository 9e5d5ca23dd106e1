//! `spawn_app()`, a broker namespace per test, order events to publish, and typed request
//! helpers shared by every test.

use std::path::Path;

use chrono::Utc;
use inventory_service::Application;
use inventory_service::handler::StockHandler;
use reqwest::Response;
use serde_json::Value;
use shared_events::app::settings::{AmqpSettings, ConsumerSettings};
use shared_events::runtime::EventHandler;
use shared_events::runtime::amqp::connection::connect;
use shared_events::runtime::amqp::publisher::{ConfirmedPublisher, OutgoingMessage};
use shared_events::runtime::amqp::topology::Topology;
use shared_events::{EventType, Money, Order, OrderEvent, OrderLine, OrderStatus};
use tempfile::TempDir;
use test_support::namespace;
use test_support::process::{service_command, spawn_listening};
use test_support::wait::until;
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};
use uuid::Uuid;

/// The service under test.
const SERVICE: &str = StockHandler::SERVICE;

/// A running inventory service on a free port with its own data directory and namespace.
pub(crate) struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub(crate) address: String,
    /// A client for the API.
    pub(crate) client: reqwest::Client,
    /// Stops the service if a test ends without [`TestApp::stop`]; dropped before `broker`, so
    /// the consumer is gone before its queues are deleted.
    _stop_on_drop: DropGuard,
    /// The data directory; removed when dropped.
    pub(crate) data_dir: TempDir,
    /// The test's namespace on the broker.
    pub(crate) broker: TestBroker,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

/// A namespace of its own on the real broker (`test-<uuid>`), with the service's topology
/// declared and a confirmed publisher; its queues and exchanges are deleted when dropped.
pub(crate) struct TestBroker {
    /// Settings of the local broker under the namespace.
    pub(crate) settings: AmqpSettings,
    topology: Topology,
    publisher: ConfirmedPublisher,
}

/// An order as the order service announces it: each change makes the next event.
#[derive(Debug, Clone)]
pub(crate) struct TestOrder {
    /// The order as of its last event.
    pub(crate) order: Order,
}

/// A product's stock as `GET /stock/{product}` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub(crate) struct Level {
    pub(crate) product: String,
    pub(crate) on_hand: u64,
    pub(crate) reserved: u64,
    pub(crate) available: i64,
    pub(crate) backordered: u64,
    pub(crate) backordered_since: Option<String>,
}

/// Starts the service on port 0 with a fresh data directory and a fresh namespace.
pub(crate) async fn spawn_app() -> TestApp {
    let data_dir = tempfile::tempdir().expect("temp dir");
    spawn_app_in(data_dir, TestBroker::new().await).await
}

/// Starts the service on `data_dir` and `broker`'s namespace, taking both over.
pub(crate) async fn spawn_app_in(data_dir: TempDir, broker: TestBroker) -> TestApp {
    test_support::logging::init();
    let mut settings = ConsumerSettings::for_tests(data_dir.path(), "unused");
    settings.amqp = broker.settings.clone();
    let application = Application::build(settings)
        .await
        .expect("the service starts");
    let address = application.url();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(application.run(shutdown.clone()));
    TestApp {
        address,
        client: reqwest::Client::new(),
        _stop_on_drop: shutdown.clone().drop_guard(),
        data_dir,
        broker,
        shutdown,
        task,
    }
}

impl TestApp {
    /// Stops the service gracefully and hands back its data directory and namespace.
    pub(crate) async fn stop(self) -> (TempDir, TestBroker) {
        self.shutdown.cancel();
        self.task
            .await
            .expect("the service task")
            .expect("the service stops cleanly");
        (self.data_dir, self.broker)
    }

    /// Stops the service and starts a new one on the same data directory and namespace.
    pub(crate) async fn restart(self) -> TestApp {
        let (data_dir, broker) = self.stop().await;
        spawn_app_in(data_dir, broker).await
    }

    /// Publishes `events`, confirmed, to the namespace's exchange.
    pub(crate) async fn publish(&self, events: &[OrderEvent]) {
        self.broker.publish(events).await;
    }

    /// Publishes an event of its own and waits until it is applied: what was published before
    /// it has been handled by then, as the consumer takes one queue in order.
    pub(crate) async fn settle(&self) {
        // The consumer handles what it has received as a batch, different orders side by side,
        // so one barrier applied says only that its batch has started. A second barrier, sent
        // after the first is applied, comes in a later batch: the first batch has ended.
        for _ in 0..2 {
            let product = format!("barrier-{}", Uuid::new_v4());
            self.publish(&[TestOrder::new(&[(&product, 1)]).created()])
                .await;
            until(&format!("the barrier {product} to be applied"), || async {
                self.level(&product)
                    .await
                    .filter(|level| level.reserved == 1)
            })
            .await;
        }
    }

    /// Waits until every `(product, reserved)` pair shows in the API.
    pub(crate) async fn wait_for_reserved(&self, expected: &[(&str, u64)]) {
        until(&format!("reservations {expected:?}"), || async {
            for (product, reserved) in expected {
                let level = self.level(product).await?;
                if level.reserved != *reserved {
                    return None;
                }
            }
            Some(())
        })
        .await;
    }

    /// `(product, reserved)` of every product but the barriers, sorted by product.
    pub(crate) async fn reservations(&self) -> Vec<(String, u64)> {
        self.levels()
            .await
            .into_iter()
            .filter(|level| !level.product.starts_with("barrier-"))
            .map(|level| (level.product, level.reserved))
            .collect()
    }

    /// `GET /stock`, parsed.
    pub(crate) async fn levels(&self) -> Vec<Level> {
        let response = self.get("/stock").await;
        assert_eq!(response.status().as_u16(), 200, "GET /stock");
        let body: Value = response.json().await.expect("json");
        serde_json::from_value(body["products"].clone()).expect("a list of stock levels")
    }

    /// `GET /stock/{product}`, parsed; `None` on 404.
    pub(crate) async fn level(&self, product: &str) -> Option<Level> {
        let response = self.get_stock(product).await;
        match response.status().as_u16() {
            200 => Some(response.json().await.expect("a stock level")),
            404 => None,
            status => panic!("GET /stock/{product}: unexpected status {status}"),
        }
    }

    /// `GET /stock/{product}`, the name percent-encoded.
    pub(crate) async fn get_stock(&self, product: &str) -> Response {
        self.get(&format!("/stock/{}", encode(product))).await
    }

    /// `PUT /stock/{product}` with a JSON body.
    pub(crate) async fn put_stock(&self, product: &str, body: &Value) -> Response {
        self.put_raw(product, body.to_string(), "application/json")
            .await
    }

    /// `PUT /stock/{product}` with any body and content type.
    pub(crate) async fn put_raw(
        &self,
        product: &str,
        body: impl Into<reqwest::Body>,
        content_type: &str,
    ) -> Response {
        self.client
            .put(format!("{}/stock/{}", self.address, encode(product)))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request")
    }

    /// `GET {path}`.
    pub(crate) async fn get(&self, path: &str) -> Response {
        test_support::http::get(&self.client, &format!("{}{path}", self.address)).await
    }
}

impl TestBroker {
    /// A fresh namespace with the service's topology declared, so that events published before
    /// the service consumes wait in its queue.
    pub(crate) async fn new() -> TestBroker {
        let settings = AmqpSettings::for_tests(&namespace::unique());
        let topology = Topology::new(&settings.namespace);
        let connection = connect(&settings, "inventory-tests")
            .await
            .expect("the broker answers on 127.0.0.1:5672 (scripts/ensure-rabbitmq)");
        topology
            .declare_consumer_on(&connection, SERVICE, &settings)
            .await
            .expect("the topology is declared");
        connection.close(200, "OK".into()).await.expect("close");
        let publisher = ConfirmedPublisher::new(settings.clone(), "inventory-tests-publisher");
        TestBroker {
            settings,
            topology,
            publisher,
        }
    }

    /// Publishes `events`, confirmed, to the namespace's exchange.
    pub(crate) async fn publish(&self, events: &[OrderEvent]) {
        let messages: Vec<OutgoingMessage> = events
            .iter()
            .map(|event| OutgoingMessage::order_event(&self.topology, event))
            .collect();
        self.publisher
            .publish_batch(&messages)
            .await
            .expect("the broker confirms every event");
    }

    /// Publishes `body` as it is to the namespace's exchange.
    pub(crate) async fn publish_raw(&self, body: &[u8]) {
        let message = OutgoingMessage {
            exchange: self.topology.exchange(),
            routing_key: String::new(),
            message_id: Uuid::new_v4().to_string(),
            body: body.to_vec(),
            headers: Vec::new(),
        };
        self.publisher
            .publish(&message)
            .await
            .expect("the broker confirms");
    }

    /// Publishes `event` straight to the service's dead letters, as if it had failed.
    pub(crate) async fn publish_dead_letter(&self, event: &OrderEvent) {
        let message = OutgoingMessage {
            exchange: self.topology.dead_letter_exchange(),
            routing_key: SERVICE.to_owned(),
            ..OutgoingMessage::order_event(&self.topology, event)
        };
        self.publisher
            .publish(&message)
            .await
            .expect("the broker confirms");
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        namespace::delete_blocking(&self.settings, &[SERVICE]);
    }
}

impl TestOrder {
    /// A new pending order (version 1) of `(product, quantity)` lines at 2.50 each.
    pub(crate) fn new(items: &[(&str, u32)]) -> TestOrder {
        let now = Utc::now();
        let lines: Vec<OrderLine> = items
            .iter()
            .map(|(product, quantity)| OrderLine {
                product: (*product).to_owned(),
                quantity: *quantity,
                amount: Money::from_cents(250),
            })
            .collect();
        let total = items
            .iter()
            .map(|(_, quantity)| i64::from(*quantity) * 250)
            .sum();
        TestOrder {
            order: Order {
                order_id: Uuid::now_v7(),
                customer_name: "Ada Lovelace".to_owned(),
                customer_email: Some("ada@example.com".to_owned()),
                items: lines,
                total_amount: Money::from_cents(total),
                status: OrderStatus::Pending,
                order_date: now,
                order_update: now,
                version: 1,
            },
        }
    }

    /// The `order.created` event of version 1.
    pub(crate) fn created(&self) -> OrderEvent {
        let order = Order {
            version: 1,
            ..self.order.clone()
        };
        OrderEvent::new(EventType::Created, "tests", order, None, Utc::now())
    }

    /// The next version with `items` (and the same status).
    pub(crate) fn with_items(&mut self, items: &[(&str, u32)]) -> OrderEvent {
        let items = TestOrder::new(items).order.items;
        self.update(|order| order.items = items)
    }

    /// The next version in `status`.
    pub(crate) fn with_status(&mut self, status: OrderStatus) -> OrderEvent {
        self.update(|order| order.status = status)
    }

    /// The `order.updated` event of the next version, after `change`.
    pub(crate) fn update(&mut self, change: impl FnOnce(&mut Order)) -> OrderEvent {
        let previous = self.order.clone();
        change(&mut self.order);
        self.order.version += 1;
        self.order.order_update = Utc::now();
        OrderEvent::new(
            EventType::Updated,
            "tests",
            self.order.clone(),
            Some(previous),
            Utc::now(),
        )
    }

    /// The `order.deleted` event, one version on.
    pub(crate) fn delete(&mut self) -> OrderEvent {
        self.order.version += 1;
        OrderEvent::new(
            EventType::Deleted,
            "tests",
            self.order.clone(),
            None,
            Utc::now(),
        )
    }
}

/// The real binary on a free port with `data_dir` and `broker`'s namespace; returns the child
/// and its base URL, read from its `listening on <url>` log line.
pub(crate) async fn start_binary(data_dir: &Path, broker: &AmqpSettings) -> (Child, String) {
    spawn_listening(binary(data_dir, broker)).await
}

/// `product` as one percent-encoded path segment.
pub(crate) fn encode(product: &str) -> String {
    product
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(byte).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// The real binary, configured for `data_dir` and `broker`'s namespace through the
/// environment, as an operator would.
pub(crate) fn binary(data_dir: &Path, broker: &AmqpSettings) -> Command {
    service_command(env!("CARGO_BIN_EXE_inventory-service"), data_dir, broker)
}
