//! `spawn_app()`, a broker namespace per test, order events to publish, and typed request
//! helpers shared by every test.

use std::ops::Deref;
use std::path::Path;

use billing_service::Billing;
use billing_service::handler::InvoiceHandler;
use serde_json::Value;
use shared_events::app::settings::AmqpSettings;
use shared_events::runtime::EventHandler;
use test_support::consumer::TestConsumer;
use test_support::http::all_pages;
use test_support::process::{service_command, spawn_listening};
use test_support::wait::until;
use tokio::process::{Child, Command};

use shared_events::contract::shard::ShardCount;
pub(crate) use test_support::broker::TestBroker;
pub(crate) use test_support::orders::TestOrder;
use test_support::orders::one_per_shard;

/// The customer of the orders [`TestApp::settle`] publishes, left out of listings.
pub(crate) const BARRIER: &str = "barrier";

/// A barrier order in every shard of the services the tests start.
pub(crate) fn barriers() -> Vec<TestOrder> {
    one_per_shard(ShardCount::for_tests(), || {
        TestOrder::new(BARRIER, &[("barrier", 1, "1.00")])
    })
}

/// The service under test: its queue, its namespace's topology.
pub(crate) const SERVICE: &str = InvoiceHandler::SERVICE;

/// The service's binary.
pub(crate) const BINARY: &str = env!("CARGO_BIN_EXE_billing-service");

/// A running billing service on a free port with its own data directory and namespace.
pub(crate) struct TestApp(TestConsumer<Billing>);

/// Starts the service on port 0 with a fresh data directory and a fresh namespace.
pub(crate) async fn spawn_app() -> TestApp {
    TestApp(TestConsumer::spawn().await)
}

impl Deref for TestApp {
    type Target = TestConsumer<Billing>;

    fn deref(&self) -> &TestConsumer<Billing> {
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
            for barrier in barriers() {
                self.publish(&[barrier.created()]).await;
                let id = barrier.id();
                until(&format!("the barrier {id} to be applied"), || async {
                    self.invoice(&id).await
                })
                .await;
            }
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
}

/// The real binary on a free port with `data_dir` and `broker`'s namespace; returns the child
/// and its base URL, read from its `listening on <url>` log line.
pub(crate) async fn start_binary(data_dir: &Path, broker: &AmqpSettings) -> (Child, String) {
    spawn_listening(binary(data_dir, broker)).await
}

/// The real binary, configured for `data_dir` and `broker`'s namespace through the
/// environment, as an operator would.
pub(crate) fn binary(data_dir: &Path, broker: &AmqpSettings) -> Command {
    service_command(BINARY, data_dir, broker)
}
