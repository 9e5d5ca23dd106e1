//! `spawn_app()`, order events to publish, and typed request helpers.

use std::sync::Arc;

use chrono::Utc;
use notification_service::Application;
use notification_service::handler::{Counts, Notifier, Postman};
use notification_service::settings::{Settings, SmtpUrl};
use reqwest::Response;
use serde_json::Value;
use shared_events::app::consumer::ServiceSettings;
use shared_events::runtime::amqp::{ConfirmedPublisher, OutgoingMessage, PublishError, Topology};
use shared_events::storage::failure_log::{FailureLog, FailureRecord};
use shared_events::{EventType, Money, Order, OrderEvent, OrderLine, OrderStatus};
use tempfile::TempDir;
use test_support::http::all_pages;
use test_support::service::RunningService;
use test_support::smtp::SmtpServer;
use test_support::wait::until;
use uuid::Uuid;

/// A running notification service on a free port, with its own data directory and broker
/// namespace, and a publisher into that namespace.
pub(crate) struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub(crate) address: String,
    /// The settings it runs with.
    pub(crate) settings: Settings,
    client: reqwest::Client,
    data_dir: TempDir,
    postman: Arc<Postman>,
    publisher: ConfirmedPublisher,
    running: RunningService,
}

/// Starts the service in a fresh namespace, sending over SMTP to `smtp`, or into the outbox
/// without one.
pub(crate) async fn spawn_app(smtp: Option<&SmtpServer>) -> TestApp {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let namespace = test_support::namespace::unique();
    let url = smtp.map(SmtpServer::url);
    let app = spawn_app_in(data_dir, &namespace, move |settings| {
        settings.smtp.url = url.map(SmtpUrl::new);
    })
    .await;
    test_support::http::wait_ready(&format!("{}/health/ready", app.address)).await;
    app
}

/// Starts the service on `data_dir` (taking it over) in `namespace`, after `adjust` has changed
/// the settings.
pub(crate) async fn spawn_app_in(
    data_dir: TempDir,
    namespace: &str,
    adjust: impl FnOnce(&mut Settings),
) -> TestApp {
    init_test_logging();
    let mut settings = Settings::for_tests(data_dir.path(), namespace);
    adjust(&mut settings);
    let application = Application::build(settings.clone())
        .await
        .expect("the service starts");
    let address = application.url();
    let postman = application.shared();
    let running = RunningService::spawn(|shutdown| application.run(shutdown));
    let publisher = ConfirmedPublisher::new(settings.amqp.clone(), "notification-tests");
    TestApp {
        address,
        settings,
        client: reqwest::Client::new(),
        data_dir,
        postman,
        publisher,
        running,
    }
}

impl TestApp {
    /// Publishes `event` to the namespace's fanout exchange, as the order service does; waits
    /// until the service has declared its queue, so nothing is published into the void.
    pub(crate) async fn publish(&self, event: &OrderEvent) {
        publish_event(&self.publisher, &self.settings.amqp.namespace, event).await;
    }

    /// What the handler has dealt with since start.
    pub(crate) fn counts(&self) -> Counts {
        self.postman.counts()
    }

    /// Waits until the handler has dealt with `handled` events in all (sent, duplicate, skipped).
    pub(crate) async fn wait_until_handled(&self, handled: u64) -> Counts {
        until(&format!("{handled} events handled"), async || {
            let counts = self.counts();
            (counts.sent + counts.duplicate + counts.skipped >= handled).then_some(counts)
        })
        .await
    }

    /// `GET /notifications?{query}`.
    pub(crate) async fn get_notifications(&self, query: &str) -> Response {
        self.get(&format!("/notifications?{query}")).await
    }

    /// `GET {path}`.
    pub(crate) async fn get(&self, path: &str) -> Response {
        test_support::http::get(&self.client, &format!("{}{path}", self.address)).await
    }

    /// Every notification, newest first, by following `next_cursor` through pages of `limit`.
    pub(crate) async fn all_notifications(&self, limit: usize) -> Vec<Value> {
        all_pages(limit, "notifications", async |query| {
            let response = self.get_notifications(&query).await;
            assert_eq!(response.status().as_u16(), 200);
            let page: Value = response.json().await.expect("json");
            let items = page["notifications"].as_array().expect("notifications");
            assert!(items.len() <= limit, "a page holds at most {limit}");
            page
        })
        .await
    }

    /// The notification about `event`, as the API shows it.
    pub(crate) async fn notification(&self, event: &OrderEvent) -> Option<Value> {
        let response = self
            .get_notifications(&format!("order_id={}&limit=500", event.subject))
            .await;
        let page: Value = response.json().await.expect("json");
        page["notifications"]
            .as_array()
            .expect("notifications")
            .iter()
            .find(|n| n["event_id"] == event.id.to_string())
            .cloned()
    }

    /// The records of the service's `failure.json`.
    pub(crate) fn failures(&self) -> Vec<FailureRecord> {
        FailureLog::open(&self.settings.failure_log_path())
            .and_then(|log| log.records())
            .expect("failure.json reads")
    }

    /// The data directory's path.
    pub(crate) fn data_path(&self) -> &std::path::Path {
        self.data_dir.path()
    }

    /// Stops the service (as SIGTERM does) and hands back its data directory.
    pub(crate) async fn stop(self) -> TempDir {
        self.running.stop().await;
        self.publisher.close().await;
        self.data_dir
    }

    /// Stops the service, then removes its namespace's queues and exchanges from the broker.
    pub(crate) async fn finish(self) {
        let amqp = self.settings.amqp.clone();
        drop(self.stop().await);
        delete_namespace(&amqp).await;
    }
}

/// Removes what the service declared in its namespace, so test runs leave the broker clean.
async fn delete_namespace(settings: &shared_events::app::settings::AmqpSettings) {
    let service = <Notifier as shared_events::runtime::EventHandler>::SERVICE;
    shared_events::runtime::amqp::teardown::delete_namespace(settings, &[service])
        .await
        .expect("namespace deleted");
}

/// A pending order of Ada's with two lines, total 20.08, version 1.
pub(crate) fn new_order(email: Option<&str>) -> Order {
    let now = Utc::now();
    let line = |product: &str, quantity: u32, amount: &str| OrderLine {
        product: product.to_owned(),
        quantity,
        amount: Money::parse(amount).expect("an amount"),
    };
    Order {
        order_id: Uuid::now_v7(),
        customer_name: "Ada Lovelace".to_owned(),
        customer_email: email.map(str::to_owned),
        items: vec![line("widget", 2, "9.99"), line("gadget", 1, "0.10")],
        total_amount: Money::parse("20.08").expect("an amount"),
        status: OrderStatus::Pending,
        order_date: now,
        order_update: now,
        version: 1,
        changed_by: None,
    }
}

/// The event of `order`'s creation.
pub(crate) fn created(order: &Order) -> OrderEvent {
    OrderEvent::new(
        EventType::Created,
        "order-service",
        order.clone(),
        None,
        Utc::now(),
    )
}

/// The next version of `previous` after `change`, and the event about it.
pub(crate) fn updated(previous: &Order, change: impl FnOnce(&mut Order)) -> (Order, OrderEvent) {
    let mut order = previous.clone();
    change(&mut order);
    order.version = previous.version + 1;
    order.order_update = Utc::now();
    let event = OrderEvent::new(
        EventType::Updated,
        "order-service",
        order.clone(),
        Some(previous.clone()),
        Utc::now(),
    );
    (order, event)
}

/// The event of `order`'s deletion.
pub(crate) fn deleted(order: &Order) -> OrderEvent {
    let mut last = order.clone();
    last.version += 1;
    OrderEvent::new(EventType::Deleted, "order-service", last, None, Utc::now())
}

/// Logs to the test output when `TEST_LOG` is set.
fn init_test_logging() {
    if std::env::var_os("TEST_LOG").is_some() {
        shared_events::app::telemetry::init(&shared_events::app::settings::LogSettings {
            format: shared_events::app::settings::LogFormat::Text,
            level: "info".to_owned(),
        });
    }
}

/// Publishes `event` to `namespace`'s fanout exchange, as the order service does, once the
/// service has declared and bound its queue, so that nothing is published into the void.
pub(crate) async fn publish_event(
    publisher: &ConfirmedPublisher,
    namespace: &str,
    event: &OrderEvent,
) {
    let message = OutgoingMessage::order_event(&Topology::new(namespace), event);
    until("the event is routed to the service's queue", async || {
        match publisher.publish(&message).await {
            Ok(()) => Some(()),
            // Returned: the queue is not bound yet. The exchange does not exist yet either
            // until the consumer declared it: the channel fails.
            Err(PublishError::Returned { .. } | PublishError::Channel(_)) => None,
            Err(error) => panic!("publishing failed: {error}"),
        }
    })
    .await;
}
