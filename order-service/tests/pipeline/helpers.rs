//! Starting the four services in one namespace, and reading their state over HTTP.

use shared_events::contract::shard::ConsumerEntry;
use std::future::Future;
use std::path::Path;
use std::time::Duration;

use order_service::settings::{Settings as OrderSettings, TransportKind};
use serde_json::{Value, json};
use shared_events::app::settings::ConsumerSettings;
use tempfile::TempDir;
use test_support::http::{all_pages, get_json, wait_ready};
use test_support::namespace::{self, ALL_SERVICES};
use test_support::proxy::TcpProxy;
use test_support::wait::until_within;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The order service and the three consumers, sharing one namespace.
pub(crate) struct Platform {
    pub(crate) namespace: String,
    pub(crate) client: reqwest::Client,
    pub(crate) orders: Service,
    pub(crate) inventory: Service,
    pub(crate) billing: Service,
    pub(crate) notification: Service,
}

/// A running service: the order service or a consumer.
pub(crate) struct Service {
    pub(crate) url: String,
    pub(crate) data_dir: TempDir,
    /// What the service is, for the message when it does not stop cleanly.
    kind: &'static str,
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

impl Wiring {
    /// The default wiring, with every service reaching the broker through `proxy`.
    pub(crate) fn through(proxy: &TcpProxy) -> Wiring {
        Wiring {
            amqp_url: proxy.url(),
            ..Wiring::default()
        }
    }
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
        let url = format!("{}/orders", self.orders.url);
        let response = send(self.client.post(url).json(body)).await;
        assert_eq!(response.status().as_u16(), 201);
        response.json().await.expect("json")
    }

    /// `PATCH /orders/{id}`, asserting 200; the changed order.
    pub(crate) async fn patch(&self, id: &str, body: &Value) -> Value {
        let url = format!("{}/orders/{id}", self.orders.url);
        let response = send(self.client.patch(url).json(body)).await;
        assert_eq!(response.status().as_u16(), 200);
        response.json().await.expect("json")
    }

    /// `DELETE /orders/{id}`, asserting 200.
    pub(crate) async fn delete(&self, id: &str) {
        let url = format!("{}/orders/{id}", self.orders.url);
        let response = send(self.client.delete(url)).await;
        assert_eq!(response.status().as_u16(), 200);
    }

    /// A consumer's JSON at `path`, or `None` for a 404.
    pub(crate) async fn read(&self, consumer: &Service, path: &str) -> Option<Value> {
        let response = send(self.client.get(format!("{}{path}", consumer.url))).await;
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
    async fn all_pages(&self, consumer: &Service, path: &str, key: &str) -> Vec<Value> {
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
        let response = send(self.client.get(url)).await;
        response.json().await.expect("json")
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

impl Service {
    /// Runs `run` (an application's `run`) under a new shutdown token.
    fn spawn<F>(
        kind: &'static str,
        url: String,
        data_dir: TempDir,
        run: impl FnOnce(CancellationToken) -> F,
    ) -> Service
    where
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run(shutdown.clone()));
        Service {
            url,
            data_dir,
            kind,
            shutdown,
            task,
        }
    }

    /// Stops the service gracefully; hands back its data directory.
    pub(crate) async fn stop(self) -> TempDir {
        self.shutdown.cancel();
        let stopped = self.task.await.expect("task");
        if let Err(error) = stopped {
            panic!("the {} stops cleanly: {error:?}", self.kind);
        }
        self.data_dir
    }

    /// Waits up to 30 s until this inventory holds `reserved` of `product`; `what` names the wait.
    pub(crate) async fn wait_reserved(&self, product: &str, reserved: u64, what: &str) {
        let (client, url) = (
            reqwest::Client::new(),
            format!("{}/stock/{product}", self.url),
        );
        until_within(what, Duration::from_secs(30), || async {
            let stock = get_json(&client, &url).await?;
            (stock["reserved"] == reserved).then_some(())
        })
        .await;
    }
}

/// Sends `request`, failing the test when no answer comes.
pub(crate) async fn send(request: reqwest::RequestBuilder) -> reqwest::Response {
    request.send().await.expect("request")
}

/// The order service with its relay on, in `namespace`, reaching the broker at `amqp_url`.
pub(crate) async fn start_orders(namespace: &str, amqp_url: &str, data_dir: TempDir) -> Service {
    let consumers = ALL_SERVICES;
    start_orders_declaring(namespace, amqp_url, data_dir, &consumers).await
}

/// [`start_orders`], declaring the queues of `consumers` only.
pub(crate) async fn start_orders_declaring(
    namespace: &str,
    amqp_url: &str,
    data_dir: TempDir,
    consumers: &[&str],
) -> Service {
    let mut settings = OrderSettings::for_tests(data_dir.path());
    settings.amqp = amqp(namespace, amqp_url);
    settings.transport = TransportKind::Amqp;
    settings.outbox.consumers = consumers
        .iter()
        .map(|consumer| ConsumerEntry {
            service: (*consumer).to_owned(),
            shards: None,
        })
        .collect();
    let application = order_service::startup::Application::build(settings)
        .await
        .expect("order service starts");
    let url = application.url();
    Service::spawn("order service", url, data_dir, |stop| application.run(stop))
}

/// The inventory service in `namespace`.
pub(crate) async fn start_inventory(namespace: &str, amqp_url: &str, data_dir: TempDir) -> Service {
    let settings = consumer_settings(data_dir.path(), namespace, amqp_url);
    let application = inventory_service::Application::build(settings)
        .await
        .expect("inventory starts");
    let url = application.url();
    Service::spawn("consumer", url, data_dir, |stop| application.run(stop))
}

/// The billing service in `namespace`.
pub(crate) async fn start_billing(namespace: &str, amqp_url: &str, data_dir: TempDir) -> Service {
    let settings = consumer_settings(data_dir.path(), namespace, amqp_url);
    let application = billing_service::Application::build(settings)
        .await
        .expect("billing starts");
    let url = application.url();
    Service::spawn("consumer", url, data_dir, |stop| application.run(stop))
}

/// The notification service in `namespace`, sending mail to `smtp_url` (or `.eml` files).
pub(crate) async fn start_notification(
    namespace: &str,
    amqp_url: &str,
    smtp_url: Option<&str>,
    data_dir: TempDir,
) -> Service {
    let mut settings =
        notification_service::settings::Settings::for_tests(data_dir.path(), namespace);
    settings.amqp = amqp(namespace, amqp_url);
    settings.smtp.url = smtp_url.map(notification_service::settings::SmtpUrl::new);
    let application = notification_service::Application::build(settings)
        .await
        .expect("notification starts");
    let url = application.url();
    Service::spawn("consumer", url, data_dir, |stop| application.run(stop))
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
