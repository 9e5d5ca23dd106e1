//! Starting the platform in process on either transport, and asking it questions over HTTP.

use std::path::Path;

use notification_service::settings::SmtpUrl;
use order_platform::{Platform, PlatformSettings, TransportKind};
use reqwest::{RequestBuilder, Response};
use serde_json::{Value, json};
use test_support::namespace::{self, ALL_SERVICES};
use test_support::wait::wait_until;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The settings of a test platform on `transport`, with data under `root`, the broker
/// namespace `namespace` and emails going to the SMTP server at `smtp_url`.
pub(crate) fn settings(
    transport: TransportKind,
    root: &Path,
    namespace: &str,
    smtp_url: &str,
) -> PlatformSettings {
    let mut settings = PlatformSettings::for_tests(root, transport);
    for amqp in [
        &mut settings.order.amqp,
        &mut settings.inventory.amqp,
        &mut settings.billing.amqp,
        &mut settings.notification.amqp,
    ] {
        amqp.namespace = namespace.to_owned();
    }
    settings.notification.smtp.url = Some(SmtpUrl::new(smtp_url));
    settings
}

/// Deletes the namespace's queues and exchanges (quorum queues hold broker resources).
pub(crate) async fn delete_namespace(settings: &PlatformSettings) {
    if settings.transport == TransportKind::Amqp {
        namespace::delete(&settings.order.amqp, &ALL_SERVICES).await;
    }
}

/// A running platform.
pub(crate) struct TestPlatform {
    pub(crate) url: String,
    pub(crate) inventory_url: String,
    pub(crate) billing_url: String,
    pub(crate) client: reqwest::Client,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl TestPlatform {
    /// Builds and runs the platform.
    pub(crate) async fn start(settings: PlatformSettings) -> TestPlatform {
        let platform_stop = CancellationToken::new();
        let platform = Platform::build(settings)
            .await
            .expect("the platform starts");
        TestPlatform {
            url: platform.url(),
            inventory_url: platform.inventory().url(),
            billing_url: platform.billing().url(),
            client: reqwest::Client::new(),
            shutdown: platform_stop.clone(),
            task: tokio::spawn(platform.run(platform_stop)),
        }
    }

    /// Stops the platform gracefully and checks that it stopped cleanly.
    pub(crate) async fn stop(self) {
        self.shutdown.cancel();
        self.task
            .await
            .expect("the platform task")
            .expect("the platform stops cleanly");
    }

    /// `POST /orders`; the created order.
    pub(crate) async fn create(&self, customer: &str, items: &[(&str, u32, &str)]) -> Value {
        let items: Vec<Value> = items
            .iter()
            .map(|(product, quantity, amount)| {
                json!({"product": product, "quantity": quantity, "amount": amount.parse::<Value>().expect("a number")})
            })
            .collect();
        let body = json!({
            "customer_name": customer,
            "customer_email": format!("{}@example.com", customer.to_lowercase()),
            "items": items,
        });
        let request = self.client.post(format!("{}/orders", self.url));
        let response = answered(request.json(&body), 201, &format!("create {body}")).await;
        response.json().await.expect("an order")
    }

    /// `PATCH /orders/{id}` with `patch`; the changed order.
    pub(crate) async fn patch(&self, order_id: &str, patch: Value) -> Value {
        let request = self.client.patch(format!("{}/orders/{order_id}", self.url));
        let response = answered(request.json(&patch), 200, &format!("patch {patch}")).await;
        response.json().await.expect("an order")
    }

    /// `DELETE /orders/{id}`.
    pub(crate) async fn delete(&self, order_id: &str) {
        let request = self
            .client
            .delete(format!("{}/orders/{order_id}", self.url));
        answered(request, 200, &format!("delete {order_id}")).await;
    }

    /// `GET url`, as JSON, with its status.
    pub(crate) async fn get(&self, url: &str) -> (u16, Value) {
        let response = self.client.get(url).send().await.expect("GET");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `GET url`, as JSON, asserting 200; `what` names the request.
    async fn get_ok(&self, url: &str, what: &str) -> Value {
        let (status, body) = self.get(url).await;
        assert_eq!(status, 200, "{what}");
        body
    }

    /// The order's delivery timeline.
    pub(crate) async fn timeline(&self, order_id: &str) -> Value {
        let url = format!("{}/orders/{order_id}/deliveries", self.url);
        self.get_ok(&url, &format!("timeline of {order_id}")).await
    }

    /// The status each service shows for the order's event of version `sequence`, in the
    /// timeline's order; empty while the event is unknown.
    pub(crate) async fn statuses(&self, order_id: &str, sequence: u64) -> Vec<(String, String)> {
        // A deleted order's timeline may not exist yet: a 404 until its first entry.
        let (_, timeline) = self
            .get(&format!("{}/orders/{order_id}/deliveries", self.url))
            .await;
        timeline["events"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|event| event["sequence"] == sequence)
            .flat_map(|event| event["services"].as_array().cloned().unwrap_or_default())
            .map(|service| {
                (
                    service["service"].as_str().unwrap_or_default().to_owned(),
                    service["status"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    /// Waits until every service has applied the order's events up to version `through`.
    pub(crate) async fn wait_applied(&self, order_id: &str, through: u64) {
        wait_until(
            &format!("{order_id} v1..={through} applied everywhere"),
            || async {
                for sequence in 1..=through {
                    let statuses = self.statuses(order_id, sequence).await;
                    let applied = statuses.len() == 3
                        && statuses.iter().all(|(_, status)| status == "applied");
                    if !applied {
                        return false;
                    }
                }
                true
            },
        )
        .await;
    }

    /// The stock of `product` in the inventory service.
    pub(crate) async fn stock(&self, product: &str) -> Value {
        let url = format!("{}/stock/{product}", self.inventory_url);
        self.get_ok(&url, &format!("stock of {product}")).await
    }

    /// The order's invoice in the billing service.
    pub(crate) async fn invoice(&self, order_id: &str) -> Value {
        let url = format!("{}/invoices/{order_id}", self.billing_url);
        self.get_ok(&url, &format!("invoice of {order_id}")).await
    }
}

/// Sends `request` and asserts that it answers `status`; `what` names the request.
async fn answered(request: RequestBuilder, status: u16, what: &str) -> Response {
    let response = request.send().await.expect("an answer");
    assert_eq!(response.status(), status, "{what}");
    response
}

/// The order journal's segments are `orders-journal-NNNNNN.jsonl` (docs/storage.md).
const JOURNAL_PREFIX: &str = "orders-journal-";

/// Every event in the order journal under `order_dir`, in journal order, each with where it
/// was found (`orders-journal-000001.jsonl line 3`). The tests stay far below the size that
/// starts a compaction, so the journal holds every event.
pub(crate) fn journal_events(order_dir: &Path) -> Vec<(String, Value)> {
    let mut segments: Vec<_> = std::fs::read_dir(order_dir)
        .expect("the order service's data directory")
        .filter_map(|entry| Some(entry.ok()?.path()))
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with(JOURNAL_PREFIX) && name.ends_with(".jsonl"))
        })
        .collect();
    segments.sort();
    let mut events = Vec::new();
    for segment in segments {
        let text = std::fs::read_to_string(&segment).expect("a journal segment");
        let name = segment
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        for (number, line) in text.lines().enumerate() {
            let mut record: Value = serde_json::from_str(line).expect("a whole journal record");
            if let Some(event) = record.get_mut("event") {
                events.push((format!("{name} line {}", number + 1), event.take()));
            }
        }
    }
    events
}
