//! Starting the four services in one namespace, and reading their state over HTTP.

use std::path::Path;

use order_service::settings::{Settings as OrderSettings, TransportKind};
use serde_json::{Value, json};
use shared_events::app::settings::ConsumerSettings;
use tempfile::TempDir;
use test_support::http::{all_pages, wait_ready};
use test_support::namespace::{self, ALL_SERVICES};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The order service and the three consumers, sharing one namespace.
pub(crate) struct Platform {
    pub(crate) namespace: String,
    pub(crate) client: reqwest::Client,
    pub(crate) orders: Orders,
    pub(crate) inventory: Consumer,
    pub(crate) billing: Consumer,
    pub(crate) notification: Consumer,
}

/// The running order service.
pub(crate) struct Orders {
    pub(crate) url: String,
    pub(crate) data_dir: TempDir,
    handle: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

/// A running consumer service.
pub(crate) struct Consumer {
    pub(crate) url: String,
    pub(crate) data_dir: TempDir,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

/// How the platform reaches the broker and the mail server.
pub(crate) struct Wiring {
    /// The AMQP URL every service uses.
    pub(crate) amqp_url: String,
    /// `smtp://127.0.0.1:PORT`, or `None` for `.eml` files.
    pub(crate) smtp_url: Option<String>,
}

impl Default for Wiring {
    fn default() -> Wiring {
        Wiring {
            amqp_url: "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned(),
            smtp_url: None,
        }
    }
}

impl Platform {
    /// Starts the consumers first (they declare and bind their queues), then the order service.
    pub(crate) async fn start(wiring: Wiring) -> Platform {
        test_support::logging::init();
        let namespace = namespace::unique();
        let inventory = start_inventory(
            &namespace,
            &wiring.amqp_url,
            tempfile::tempdir().expect("dir"),
        )
        .await;
        let billing = start_billing(
            &namespace,
            &wiring.amqp_url,
            tempfile::tempdir().expect("dir"),
        )
        .await;
        let notification = start_notification(
            &namespace,
            &wiring.amqp_url,
            wiring.smtp_url.as_deref(),
            tempfile::tempdir().expect("dir"),
        )
        .await;
        for consumer in [&inventory, &billing, &notification] {
            wait_ready(&format!("{}/health/ready", consumer.url)).await;
        }
        let orders = start_orders(
            &namespace,
            &wiring.amqp_url,
            tempfile::tempdir().expect("dir"),
        )
        .await;
        Platform {
            namespace,
            client: reqwest::Client::new(),
            orders,
            inventory,
            billing,
            notification,
        }
    }

    /// `POST /orders`, asserting 201; the created order.
    pub(crate) async fn create(&self, body: &Value) -> Value {
        let response = self
            .client
            .post(format!("{}/orders", self.orders.url))
            .json(body)
            .send()
            .await
            .expect("post");
        assert_eq!(response.status().as_u16(), 201);
        response.json().await.expect("json")
    }

    /// `PATCH /orders/{id}`, asserting 200; the changed order.
    pub(crate) async fn patch(&self, id: &str, body: &Value) -> Value {
        let response = self
            .client
            .patch(format!("{}/orders/{id}", self.orders.url))
            .json(body)
            .send()
            .await
            .expect("patch");
        assert_eq!(response.status().as_u16(), 200);
        response.json().await.expect("json")
    }

    /// `DELETE /orders/{id}`, asserting 200.
    pub(crate) async fn delete(&self, id: &str) {
        let response = self
            .client
            .delete(format!("{}/orders/{id}", self.orders.url))
            .send()
            .await
            .expect("delete");
        assert_eq!(response.status().as_u16(), 200);
    }

    /// A consumer's JSON at `path`, or `None` for a 404.
    pub(crate) async fn read(&self, consumer: &Consumer, path: &str) -> Option<Value> {
        let response = self
            .client
            .get(format!("{}{path}", consumer.url))
            .send()
            .await
            .expect("get");
        match response.status().as_u16() {
            404 => None,
            200 => Some(response.json().await.expect("json")),
            other => panic!("GET {path}: {other}"),
        }
    }

    /// Every notification record, following the cursors.
    pub(crate) async fn notifications(&self) -> Vec<Value> {
        self.all_pages(&self.notification, "/notifications", "notifications")
            .await
    }

    /// Every invoice, following the cursors.
    pub(crate) async fn invoices(&self) -> Vec<Value> {
        self.all_pages(&self.billing, "/invoices", "invoices").await
    }

    /// Every item of the paginated list at `path` (the items under `key`), following the cursors.
    async fn all_pages(&self, consumer: &Consumer, path: &str, key: &str) -> Vec<Value> {
        all_pages(500, key, async |query| {
            let page_path = format!("{path}?{query}");
            let page = self.read(consumer, &page_path).await.expect("a page");
            page[key].as_array().expect("array");
            page
        })
        .await
    }

    /// The order service's readiness document (outbox progress included).
    pub(crate) async fn order_readiness(&self) -> Value {
        let url = format!("{}/health/ready", self.orders.url);
        self.client
            .get(url)
            .send()
            .await
            .expect("ready")
            .json()
            .await
            .expect("json")
    }

    /// Stops every service and deletes the namespace from the broker.
    pub(crate) async fn stop(self) {
        self.orders.stop().await;
        for consumer in [self.inventory, self.billing, self.notification] {
            consumer.stop().await;
        }
        delete_namespace(&self.namespace).await;
    }
}

impl Orders {
    /// Stops the order service gracefully; hands back its data directory.
    pub(crate) async fn stop(self) -> TempDir {
        self.handle.cancel();
        self.task
            .await
            .expect("task")
            .expect("the order service stops cleanly");
        self.data_dir
    }
}

impl Consumer {
    /// Stops the consumer gracefully; hands back its data directory.
    pub(crate) async fn stop(self) -> TempDir {
        self.shutdown.cancel();
        self.task
            .await
            .expect("task")
            .expect("the consumer stops cleanly");
        self.data_dir
    }
}

/// The order service with its relay on, in `namespace`, reaching the broker at `amqp_url`.
pub(crate) async fn start_orders(namespace: &str, amqp_url: &str, data_dir: TempDir) -> Orders {
    let consumers = ALL_SERVICES;
    start_orders_declaring(namespace, amqp_url, data_dir, &consumers).await
}

/// [`start_orders`], declaring the queues of `consumers` only.
pub(crate) async fn start_orders_declaring(
    namespace: &str,
    amqp_url: &str,
    data_dir: TempDir,
    consumers: &[&str],
) -> Orders {
    let mut settings = OrderSettings::for_tests(data_dir.path());
    settings.amqp = amqp(namespace, amqp_url);
    settings.transport = TransportKind::Amqp;
    settings.outbox.consumers = consumers
        .iter()
        .map(|consumer| consumer.to_string())
        .collect();
    let application = order_service::startup::Application::build(settings)
        .await
        .expect("order service starts");
    let url = application.url();
    let handle = CancellationToken::new();
    let task = tokio::spawn(application.run(handle.clone()));
    Orders {
        url,
        data_dir,
        handle,
        task,
    }
}

pub(crate) async fn start_inventory(
    namespace: &str,
    amqp_url: &str,
    data_dir: TempDir,
) -> Consumer {
    let settings = consumer_settings(data_dir.path(), namespace, amqp_url);
    let application = inventory_service::Application::build(settings)
        .await
        .expect("inventory starts");
    let (url, shutdown) = (application.url(), CancellationToken::new());
    Consumer {
        url,
        data_dir,
        shutdown: shutdown.clone(),
        task: tokio::spawn(application.run(shutdown)),
    }
}

pub(crate) async fn start_billing(namespace: &str, amqp_url: &str, data_dir: TempDir) -> Consumer {
    let settings = consumer_settings(data_dir.path(), namespace, amqp_url);
    let application = billing_service::Application::build(settings)
        .await
        .expect("billing starts");
    let (url, shutdown) = (application.url(), CancellationToken::new());
    Consumer {
        url,
        data_dir,
        shutdown: shutdown.clone(),
        task: tokio::spawn(application.run(shutdown)),
    }
}

pub(crate) async fn start_notification(
    namespace: &str,
    amqp_url: &str,
    smtp_url: Option<&str>,
    data_dir: TempDir,
) -> Consumer {
    let mut settings =
        notification_service::settings::Settings::for_tests(data_dir.path(), namespace);
    settings.amqp = amqp(namespace, amqp_url);
    settings.smtp.url = smtp_url.map(notification_service::settings::SmtpUrl::new);
    let application = notification_service::Application::build(settings)
        .await
        .expect("notification starts");
    let (url, shutdown) = (application.url(), CancellationToken::new());
    Consumer {
        url,
        data_dir,
        shutdown: shutdown.clone(),
        task: tokio::spawn(application.run(shutdown)),
    }
}

fn consumer_settings(data_dir: &Path, namespace: &str, amqp_url: &str) -> ConsumerSettings {
    let mut settings = ConsumerSettings::for_tests(data_dir, namespace);
    settings.amqp = amqp(namespace, amqp_url);
    settings
}

fn amqp(namespace: &str, amqp_url: &str) -> shared_events::app::settings::AmqpSettings {
    let mut amqp = shared_events::app::settings::AmqpSettings::for_tests(namespace);
    amqp.url = shared_events::app::settings::AmqpUrl::new(amqp_url);
    amqp
}

/// An order body with `items` as (product, quantity, unit price).
pub(crate) fn order(customer: &str, email: Option<&str>, items: &[(&str, u32, &str)]) -> Value {
    json!({
        "customer_name": customer,
        "customer_email": email,
        "items": items.iter().map(|(product, quantity, amount)| json!({
            "product": product, "quantity": quantity, "amount": amount
        })).collect::<Vec<_>>(),
    })
}

/// Deletes every queue and exchange of `namespace` (quorum queues hold broker resources).
pub(crate) async fn delete_namespace(namespace: &str) {
    let settings = shared_events::app::settings::AmqpSettings::for_tests(namespace);
    test_support::namespace::delete(&settings, &ALL_SERVICES).await;
}
