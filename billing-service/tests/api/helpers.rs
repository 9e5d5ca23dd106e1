//! `spawn_app()`, a broker namespace per test, order events to publish, and typed request
//! helpers shared by every test.

use std::path::Path;

use billing_service::Application;
use billing_service::handler::InvoiceHandler;
use chrono::Utc;
use reqwest::Response;
use serde_json::Value;
use shared_events::app::settings::{AmqpSettings, ConsumerSettings};
use shared_events::runtime::EventHandler;
use shared_events::runtime::amqp::connection::connect;
use shared_events::runtime::amqp::publisher::{ConfirmedPublisher, OutgoingMessage};
use shared_events::runtime::amqp::topology::Topology;
use shared_events::{EventType, Money, Order, OrderEvent, OrderLine, OrderStatus};
use tempfile::TempDir;
use test_support::http::all_pages;
use test_support::namespace;
use test_support::process::{service_command, spawn_listening};
use test_support::wait::until;
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};
use uuid::Uuid;

/// The customer of the orders [`TestApp::settle`] publishes, left out of listings.
pub(crate) const BARRIER: &str = "barrier";

/// The service under test.
const SERVICE: &str = InvoiceHandler::SERVICE;

/// A running billing service on a free port with its own data directory and namespace.
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
            let barrier = TestOrder::new(BARRIER, &[("barrier", 1, "1.00")]);
            self.publish(&[barrier.created()]).await;
            let id = barrier.id();
            until(&format!("the barrier {id} to be applied"), || async {
                self.invoice(&id).await
            })
            .await;
        }
    }

    /// Waits until the invoice of `order_id` satisfies `check`, and returns it.
    pub(crate) async fn wait_for_invoice(
        &self,
        order_id: &str,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        until(&format!("invoice {order_id}: {what}"), || async {
            self.invoice(order_id)
                .await
                .filter(|invoice| check(invoice))
        })
        .await
    }

    /// `GET /invoices/{order_id}`, parsed; `None` on 404.
    pub(crate) async fn invoice(&self, order_id: &str) -> Option<Value> {
        let response = self.get(&format!("/invoices/{order_id}")).await;
        match response.status().as_u16() {
            200 => Some(response.json().await.expect("an invoice")),
            404 => None,
            status => panic!("GET /invoices/{order_id}: unexpected status {status}"),
        }
    }

    /// Every invoice but the barriers, newest first, following `next_cursor` through pages
    /// of `limit`.
    pub(crate) async fn all_invoices(&self, limit: usize) -> Vec<Value> {
        let invoices = all_pages(limit, "invoices", async |query| {
            let response = self.get(&format!("/invoices?{query}")).await;
            assert_eq!(response.status().as_u16(), 200, "GET /invoices?{query}");
            let page: Value = response.json().await.expect("json");
            let listed = page["invoices"].as_array().expect("invoices");
            assert!(listed.len() <= limit, "a page holds at most {limit}");
            page
        })
        .await;
        invoices
            .into_iter()
            .filter(|invoice| invoice["customer_name"] != BARRIER)
            .collect()
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
        let connection = connect(&settings, "billing-tests")
            .await
            .expect("the broker answers on 127.0.0.1:5672 (scripts/ensure-rabbitmq)");
        topology
            .declare_consumer_on(&connection, SERVICE, &settings)
            .await
            .expect("the topology is declared");
        connection.close(200, "OK".into()).await.expect("close");
        let publisher = ConfirmedPublisher::new(settings.clone(), "billing-tests-publisher");
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
    /// A new pending order (version 1) for `customer` of `(product, quantity, unit price)`
    /// lines.
    pub(crate) fn new(customer: &str, lines: &[(&str, u32, &str)]) -> TestOrder {
        let now = Utc::now();
        let (items, total_amount) = priced(lines);
        TestOrder {
            order: Order {
                order_id: Uuid::now_v7(),
                customer_name: customer.to_owned(),
                customer_email: Some("ada@example.com".to_owned()),
                items,
                total_amount,
                status: OrderStatus::Pending,
                order_date: now,
                order_update: now,
                version: 1,
            },
        }
    }

    /// The order's id, as URLs spell it.
    pub(crate) fn id(&self) -> String {
        self.order.order_id.to_string()
    }

    /// The `order.created` event of version 1.
    pub(crate) fn created(&self) -> OrderEvent {
        let order = Order {
            version: 1,
            ..self.order.clone()
        };
        OrderEvent::new(EventType::Created, "tests", order, None, Utc::now())
    }

    /// The next version with `lines` (and the same status).
    pub(crate) fn with_lines(&mut self, lines: &[(&str, u32, &str)]) -> OrderEvent {
        let (items, total) = priced(lines);
        self.update(|order| {
            order.items = items;
            order.total_amount = total;
        })
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

/// The order lines of `(product, quantity, unit price)`, and their exact total.
fn priced(lines: &[(&str, u32, &str)]) -> (Vec<OrderLine>, Money) {
    let items: Vec<OrderLine> = lines
        .iter()
        .map(|(product, quantity, price)| OrderLine {
            product: (*product).to_owned(),
            quantity: *quantity,
            amount: Money::parse(price).expect("a price"),
        })
        .collect();
    let total = items.iter().fold(Money::ZERO, |sum, line| {
        let amount = line.amount.checked_mul(line.quantity).expect("no overflow");
        sum.checked_add(amount).expect("no overflow")
    });
    (items, total)
}

/// The real binary on a free port with `data_dir` and `broker`'s namespace; returns the child
/// and its base URL, read from its `listening on <url>` log line.
pub(crate) async fn start_binary(data_dir: &Path, broker: &AmqpSettings) -> (Child, String) {
    spawn_listening(binary(data_dir, broker)).await
}

/// The real binary, configured for `data_dir` and `broker`'s namespace through the
/// environment, as an operator would.
pub(crate) fn binary(data_dir: &Path, broker: &AmqpSettings) -> Command {
    service_command(env!("CARGO_BIN_EXE_billing-service"), data_dir, broker)
}
