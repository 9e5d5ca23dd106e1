//! A real Prometheus (Debian's `prometheus`, started here on a free port) scrapes the four
//! services and counts what they did: the orders created and each consumer's applied events.
//! A test binary of its own, so that no other test's services add to the counts.

// The pipeline's helpers, shared rather than copied; this suite uses only some of them.
#[allow(dead_code)]
#[path = "../pipeline/helpers.rs"]
mod helpers;
mod server;

use crate::helpers::{Platform, Wiring, order};
use crate::server::Prometheus;

/// The orders the test creates.
const ORDERS: u64 = 7;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_counts_the_orders_created_and_the_events_each_consumer_applied() {
    // Arrange: the four services, and Prometheus scraping each of them every second.
    let platform = Platform::start(Wiring::default()).await;
    let services = [
        ("order", &platform.orders),
        ("inventory", &platform.inventory),
        ("billing", &platform.billing),
        ("notification", &platform.notification),
    ];
    let prometheus =
        Prometheus::start(&services.map(|(name, service)| (name, service.url.clone()))).await;

    // Act
    for n in 0..ORDERS {
        platform
            .create(&order(
                &format!("Customer {n}"),
                Some("customer@example.com"),
                &[("widget", 1, "2.50")],
            ))
            .await;
    }

    // Assert: every target is up, and the counts are the test's.
    prometheus.wait_for("count(up == 1)", 4.0).await;
    prometheus
        .wait_for(
            r#"sum(order_changes_total{change="created"})"#,
            ORDERS as f64,
        )
        .await;
    for consumer in ["inventory", "billing", "notification"] {
        for (query, expected) in [
            (
                format!(r#"sum(consumer_events_total{{service="{consumer}",outcome="applied"}})"#),
                ORDERS as f64,
            ),
            (
                format!(r#"sum(consumer_handling_duration_seconds_count{{service="{consumer}"}})"#),
                ORDERS as f64,
            ),
            (
                format!(
                    r#"max(consumer_shards_configured{{service="{consumer}"}}) - sum(consumer_shards_owned{{service="{consumer}"}})"#
                ),
                0.0,
            ),
            (
                format!(r#"min(amqp_connected{{service="{consumer}"}})"#),
                1.0,
            ),
            (
                format!(r#"sum(failure_records{{service="{consumer}"}})"#),
                0.0,
            ),
        ] {
            prometheus.wait_for(&query, expected).await;
        }
    }
    prometheus
        .wait_for(r#"outbox_oldest_pending_age_seconds{service="order"}"#, 0.0)
        .await;
    let committed = prometheus
        .value(r#"sum(journal_commit_records_sum{service="order",journal="orders"})"#)
        .await;
    assert!(
        committed.is_some_and(|records| records >= ORDERS as f64),
        "the order journal's commits: {committed:?}"
    );
    let scraped = prometheus
        .value(r#"count(count by (instance) (http_requests_total{service="order"}))"#)
        .await;
    assert_eq!(
        scraped,
        Some(1.0),
        "each service's series come from its own port only"
    );
    platform.stop().await;
}
