//! Stores with a history on disk, and what they hold, for the tests of recovery and data check.

use std::path::Path;

use shared_events::storage::data_dir::DataDirLock;
use shared_events::{Money, Order, OrderEvent, OrderStatus};
use tempfile::TempDir;

use crate::domain::{
    ChangeOrigin, CustomerEmail, CustomerName, NewOrder, NewOrderLine, OrderLines, OrderPatch,
    ProductName, Quantity, UnitPrice,
};
use crate::store::record::IdempotencyEntry;
use crate::store::state::StoreState;
use crate::store::{IdempotencyStamp, OrderStore, StoreOptions};

/// The journal size from which the fixtures' stores compact: a few records a segment.
pub(crate) const COMPACT_AFTER_BYTES: u64 = 8 * 1024;

/// Everything a store holds that its files must give back: what tests compare after a
/// reopen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Contents {
    pub(crate) orders: Vec<Order>,
    /// Sorted by key.
    pub(crate) idempotency: Vec<IdempotencyEntry>,
    pub(crate) last_seq: u64,
    pub(crate) published_through: u64,
    pub(crate) outbox: Vec<(u64, OrderEvent)>,
}

impl Contents {
    fn of(state: &StoreState) -> Contents {
        let mut idempotency: Vec<IdempotencyEntry> = state
            .idempotency
            .values()
            .map(|entry| entry.as_ref().clone())
            .collect();
        idempotency.sort_by(|a, b| a.key.cmp(&b.key));
        Contents {
            orders: state
                .orders
                .values()
                .map(|order| order.as_ref().clone())
                .collect(),
            idempotency,
            last_seq: state.last_seq,
            published_through: state.published_through,
            outbox: state
                .outbox
                .iter()
                .map(|(seq, event)| (*seq, event.as_ref().clone()))
                .collect(),
        }
    }
}

/// The options of the fixtures' stores.
pub(crate) fn options() -> StoreOptions {
    StoreOptions {
        compact_after_bytes: COMPACT_AFTER_BYTES,
        ..StoreOptions::default()
    }
}

/// Opens the store in `dir` and reads what it holds, or says why it refused: what a damaged
/// copy is opened with.
pub(crate) fn open_contents(dir: &Path) -> Result<Contents, String> {
    let store = OrderStore::open(dir, options()).map_err(|error| error.to_string())?;
    let contents = store.contents();
    drop(store);
    // The writer thread ends once every handle is gone, and lets go of the directory then.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while DataDirLock::acquire(dir).is_err() {
        assert!(std::time::Instant::now() < deadline, "the writer let go");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    Ok(contents)
}

impl OrderStore {
    /// What the store holds now.
    pub(crate) fn contents(&self) -> Contents {
        Contents::of(&self.shared.state.load())
    }
}

/// A store whose files hold every kind of record and file: `orders.json` (format 2, next
/// segment 2), segments 2 and 3 that two failed compactions kept (sealed), and the newest
/// segment 4; creates with and without idempotency keys, updates, deletes and outbox progress.
/// Shut down; returns its directory and what it holds.
pub(crate) async fn layered_store() -> (TempDir, Contents) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = OrderStore::open(dir.path(), options()).expect("opens");
    let mut writes = Writes::default();
    // A first compaction: orders.json, segment 1 removed.
    writes.until_segment(&store, dir.path(), 2).await;
    store.finish_compaction().await;
    assert!(dir.path().join("orders.json").exists(), "compacted");
    // The next two fail (their temporary file cannot be created): segments 2 and 3 stay.
    let blocker = dir.path().join("orders.json.tmp");
    std::fs::create_dir(&blocker).expect("a directory in the temporary file's place");
    writes.until_segment(&store, dir.path(), 3).await;
    store.finish_compaction().await;
    writes.until_segment(&store, dir.path(), 4).await;
    store.finish_compaction().await;
    assert_eq!(store.failed_compactions(), 2, "two compactions failed");
    std::fs::remove_dir(&blocker).expect("blocker removed");
    for _ in 0..4 {
        writes.one(&store).await;
    }
    let contents = store.contents();
    store.shutdown().await;
    (dir, contents)
}

/// A store of `count` creates in one segment, without a snapshot. Shut down.
pub(crate) async fn single_segment_store(count: usize) -> (TempDir, Contents) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = OrderStore::open(dir.path(), StoreOptions::default()).expect("opens");
    let mut writes = Writes::default();
    for _ in 0..count {
        writes.create(&store).await;
    }
    let contents = store.contents();
    store.shutdown().await;
    (dir, contents)
}

/// A varied stream of changes.
#[derive(Default)]
struct Writes {
    count: usize,
    created: Vec<uuid::Uuid>,
}

impl Writes {
    async fn until_segment(&mut self, store: &OrderStore, dir: &Path, segment: u64) {
        let name = crate::store::files::segment_name(segment);
        while !dir.join(&name).exists() {
            assert!(self.count < 10_000, "segment {segment} never started");
            self.one(store).await;
        }
    }

    async fn one(&mut self, store: &OrderStore) {
        self.count += 1;
        match self.count % 6 {
            2 if self.created.len() > 1 => {
                let id = self.created[self.created.len() - 2];
                let name = format!("Renamed {}", self.count);
                let patch = OrderPatch {
                    customer_name: Some(CustomerName::parse(&name).expect("name")),
                    status: Some(OrderStatus::Confirmed),
                    ..OrderPatch::default()
                };
                store
                    .update(id, patch, None, ChangeOrigin::default())
                    .await
                    .expect("update");
            }
            4 if !self.created.is_empty() => {
                let id = self.created.remove(0);
                store
                    .delete(id, None, ChangeOrigin::default())
                    .await
                    .expect("delete");
            }
            5 => {
                let through = store.pending_events(0, 2).last().map(|pending| pending.seq);
                if let Some(through) = through {
                    store.mark_published(through).await.expect("mark");
                }
            }
            _ => self.create(store).await,
        }
    }

    async fn create(&mut self, store: &OrderStore) {
        self.count += 1;
        let n = self.count;
        let idempotency = (n % 2 == 1).then(|| IdempotencyStamp {
            key: format!("key-{n}"),
            fingerprint: format!("{n:064x}"),
        });
        let created = store
            .create(
                new_order(&format!("Customer {n}")),
                idempotency,
                ChangeOrigin::default(),
            )
            .await
            .expect("create");
        self.created.push(created.order.order_id);
    }
}

/// A valid new order for `name`.
pub(crate) fn new_order(name: &str) -> NewOrder {
    NewOrder {
        customer_name: CustomerName::parse(name).expect("name"),
        customer_email: Some(CustomerEmail::parse("ada@example.com").expect("email")),
        lines: OrderLines::new(vec![NewOrderLine {
            product: ProductName::parse(0, "widget").expect("product"),
            quantity: Quantity::parse(0, 2).expect("quantity"),
            amount: UnitPrice::parse(0, Money::from_cents(999)).expect("price"),
        }])
        .expect("lines"),
    }
}
