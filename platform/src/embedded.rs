//! The embedded transport's side in the platform: one link per consumer, and the task that
//! announces events as published and lets the log forget what every consumer has passed.

use std::sync::Arc;

use chrono::Utc;
use order_service::deliveries::Deliveries;
use order_service::store::OrderStore;
use shared_events::runtime::RetryPolicy;
use shared_events::runtime::embedded::EmbeddedLink;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Events announced as published at a time.
const BATCH: usize = 1024;

/// The log's retention: the consumers' saved offsets, watched.
pub struct Retention {
    store: OrderStore,
    deliveries: Deliveries,
    offsets: Vec<watch::Receiver<u64>>,
}

impl Retention {
    /// A link for each consumer, reading `store` and reporting to `deliveries`, retrying as
    /// that consumer's policy in `retries` says; and the retention that follows their
    /// offsets.
    pub fn links<const N: usize>(
        store: &OrderStore,
        deliveries: &Deliveries,
        retries: [&RetryPolicy; N],
    ) -> ([EmbeddedLink; N], Retention) {
        let mut offsets = Vec::with_capacity(N);
        let links = retries.map(|retry| {
            let (saved_offset, offset) = watch::channel(0);
            offsets.push(offset);
            EmbeddedLink {
                log: Arc::new(store.clone()),
                outcomes: Arc::new(deliveries.clone()),
                retry: retry.clone(),
                saved_offset,
            }
        });
        let retention = Retention {
            store: store.clone(),
            deliveries: deliveries.clone(),
            offsets,
        };
        (links, retention)
    }

    /// Until `shutdown`: notes each new event in the delivery timeline as published (the
    /// journal is the transport, so an event is published when it is committed), and records
    /// in the store that every event up to the lowest saved offset is delivered, so the store
    /// stops keeping it for the consumers.
    pub async fn run(mut self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut announced = self.store.published_through();
        loop {
            let batch = self.store.pending_events(announced, BATCH);
            if let Some(last) = batch.last() {
                announced = last.seq;
                self.deliveries
                    .published(batch.iter().map(|pending| &*pending.event), Utc::now());
            }
            let delivered = self
                .offsets
                .iter()
                .map(|offset| *offset.borrow())
                .fold(announced, u64::min);
            if delivered > self.store.published_through() {
                self.store.mark_published(delivered).await?;
            }
            if batch.len() == BATCH {
                continue;
            }
            let changed = futures_util::future::select_all(
                self.offsets
                    .iter_mut()
                    .map(|offset| Box::pin(offset.changed())),
            );
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = self.store.wait_for_events(announced) => {}
                (changed, _, _) = changed => {
                    if changed.is_err() {
                        // A consumer stopped: the platform is stopping.
                        shutdown.cancelled().await;
                        return Ok(());
                    }
                }
            }
        }
    }
}
