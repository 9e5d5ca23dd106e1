//! `spawn_app()`, a broker namespace per test, order events to publish, and typed request
//! helpers shared by every test.

use std::ops::Deref;
use std::path::Path;

use inventory_service::Inventory;
use inventory_service::handler::StockHandler;
use reqwest::Response;
use serde_json::Value;
use shared_events::OrderEvent;
use shared_events::app::settings::AmqpSettings;
use shared_events::runtime::EventHandler;
use test_support::consumer::TestConsumer;
use test_support::process::{service_command, spawn_listening};
use test_support::wait::until;
use tokio::process::{Child, Command};
use uuid::Uuid;

use shared_events::contract::shard::ShardCount;
pub(crate) use test_support::broker::TestBroker;
pub(crate) use test_support::orders::TestOrder;
use test_support::orders::one_per_shard;

/// The service under test: its queue, its namespace's topology.
pub(crate) const SERVICE: &str = StockHandler::SERVICE;

/// The service's binary.
pub(crate) const BINARY: &str = env!("CARGO_BIN_EXE_inventory-service");

/// A running inventory service on a free port with its own data directory and namespace.
pub(crate) struct TestApp(TestConsumer<Inventory>);

/// A product's stock as `GET /stock/{product}` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub(crate) struct Level {
    pub(crate) product: String,
    pub(crate) on_hand: u64,
    pub(crate) reserved: u64,
    pub(crate) available: i64,
    pub(crate) backordered: u64,
}

/// Starts the service on port 0 with a fresh data directory and a fresh namespace.
pub(crate) async fn spawn_app() -> TestApp {
    TestApp(TestConsumer::spawn().await)
}

impl Deref for TestApp {
    type Target = TestConsumer<Inventory>;

    fn deref(&self) -> &TestConsumer<Inventory> {
        &self.0
    }
}

impl TestApp {
    /// Stops the service and starts a new one on the same data directory and namespace.
    pub(crate) async fn restart(self) -> TestApp {
        TestApp(self.0.restart().await)
    }

    /// Publishes an event of its own and waits until it is applied: what was published before
    /// it has been handled by then, as the consumer takes one queue in order.
    pub(crate) async fn settle(&self) {
        // The consumer handles what it has received as a batch, different orders side by side,
        // so one barrier applied says only that its batch has started. A second barrier, sent
        // after the first is applied, comes in a later batch: the first batch has ended.
        // One barrier per shard: the shards work side by side.
        for _ in 0..2 {
            let product = format!("barrier-{}", Uuid::new_v4());
            let barriers = one_per_shard(ShardCount::for_tests(), || {
                TestOrder::of_units(&[(&product, 1)])
            });
            let events: Vec<_> = barriers.iter().map(TestOrder::created).collect();
            self.publish(&events).await;
            let expected = barriers.len() as u64;
            until(&format!("the barriers {product} to be applied"), || async {
                self.level(&product)
                    .await
                    .filter(|level| level.reserved == expected)
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
}

/// Orders of units at 2.50 each, as only the quantities count for stock.
pub(crate) trait Units {
    /// A new pending order (version 1) of Ada Lovelace's of `(product, quantity)` lines.
    fn of_units(items: &[(&str, u32)]) -> TestOrder;

    /// The next version with `items` (and the same status).
    fn with_items(&mut self, items: &[(&str, u32)]) -> OrderEvent;
}

impl Units for TestOrder {
    fn of_units(items: &[(&str, u32)]) -> TestOrder {
        TestOrder::new("Ada Lovelace", &at_unit_price(items))
    }

    fn with_items(&mut self, items: &[(&str, u32)]) -> OrderEvent {
        self.with_lines(&at_unit_price(items))
    }
}

/// `(product, quantity, unit price)` lines of `items` at 2.50.
fn at_unit_price<'a>(items: &[(&'a str, u32)]) -> Vec<(&'a str, u32, &'static str)> {
    items
        .iter()
        .map(|(product, quantity)| (*product, *quantity, "2.50"))
        .collect()
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
fn binary(data_dir: &Path, broker: &AmqpSettings) -> Command {
    service_command(BINARY, data_dir, broker)
}
