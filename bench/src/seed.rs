//! Filling a data directory with orders fast: the order store opened in this process, creates
//! issued by the thousand so that its writer commits them in large groups.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use futures_util::StreamExt;
use order_service::domain::{
    ChangeOrigin, CustomerEmail, CustomerName, NewOrder, NewOrderLine, OrderLines, ProductName,
    Quantity, UnitPrice,
};
use order_service::store::{OrderStore, StoreOptions};
use shared_events::Money;
use tokio::time::Instant;

/// The body every benchmark request sends: the order of `scripts/post-order.lua`.
pub const ORDER_BODY: &str = r#"{"customer_name":"Bench Customer","customer_email":"bench@example.com","items":[{"product":"widget","quantity":2,"amount":9.99},{"product":"gadget","quantity":1,"amount":0.10}]}"#;

/// Creates in flight while seeding: enough for the writer to fill its groups of 2,048.
const IN_FLIGHT: usize = 4_096;

/// The order of [`ORDER_BODY`], as the domain type the store takes.
pub fn bench_order() -> anyhow::Result<NewOrder> {
    let line = |index, product: &str, quantity, cents| -> anyhow::Result<NewOrderLine> {
        Ok(NewOrderLine {
            product: ProductName::parse(index, product)?,
            quantity: Quantity::parse(index, quantity)?,
            amount: UnitPrice::parse(index, Money::from_cents(cents))?,
        })
    };
    Ok(NewOrder {
        customer_name: CustomerName::parse("Bench Customer")?,
        customer_email: Some(CustomerEmail::parse("bench@example.com")?),
        lines: OrderLines::new(vec![line(0, "widget", 2, 999)?, line(1, "gadget", 1, 10)?])?,
    })
}

/// Creates between two marks of the events as delivered.
const DELIVER_EVERY: usize = 50_000;

/// Stores `count` orders in `dir` (a fresh data directory) through the order store itself, so
/// the files are exactly what the service writes, marks their events delivered, and closes the
/// store. Returns how long it took.
pub async fn seed(dir: &Path, count: usize) -> anyhow::Result<Duration> {
    let start = Instant::now();
    if count == 0 {
        return Ok(start.elapsed());
    }
    let order = bench_order()?;
    let store = OrderStore::open(dir, StoreOptions::default())
        .with_context(|| format!("failed to open a store in {}", dir.display()))?;
    let mut creates = futures_util::stream::iter(0..count)
        .map(|_| store.create(order.clone(), None, ChangeOrigin::default()))
        .buffer_unordered(IN_FLIGHT);
    let mut done = 0usize;
    let mut last_report = Instant::now();
    while let Some(created) = creates.next().await {
        created.context("a seeding create failed")?;
        done += 1;
        if done.is_multiple_of(DELIVER_EVERY) {
            deliver_all(&store).await?;
        }
        if last_report.elapsed() >= Duration::from_secs(5) {
            last_report = Instant::now();
            eprintln!(
                "  seeded {done} of {count} orders ({:.0}/s)",
                done as f64 / start.elapsed().as_secs_f64()
            );
        }
    }
    drop(creates);
    deliver_all(&store).await?;
    store.shutdown().await;
    Ok(start.elapsed())
}

/// Marks every event so far delivered, as a running platform's relay does as it goes: left
/// pending, a million events would ride along in every snapshot and double the memory.
async fn deliver_all(store: &OrderStore) -> anyhow::Result<()> {
    let pending = store.pending_events(store.published_through(), usize::MAX);
    if let Some(last) = pending.last() {
        store
            .mark_published(last.seq)
            .await
            .context("failed to mark the seeded events delivered")?;
    }
    Ok(())
}

/// The bytes of the files directly in `dir` (a store's data directory has no deeper files that
/// matter for its size).
pub fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|entry| entry.metadata().ok())
                .filter(std::fs::Metadata::is_file)
                .map(|metadata| metadata.len())
                .sum()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bench_order_is_valid() -> anyhow::Result<()> {
        let order = bench_order()?;
        assert_eq!(order.lines.total(), Money::from_cents(2008));
        let body: serde_json::Value = serde_json::from_str(ORDER_BODY)?;
        assert_eq!(body["items"].as_array().map(Vec::len), Some(2));
        Ok(())
    }
}
