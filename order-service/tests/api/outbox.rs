//! The outbox inside the order store: every change's event waits until it is marked published,
//! across restarts and compactions.

use std::time::{Duration, Instant};

use order_service::domain::{
    ChangeOrigin, CustomerEmail, CustomerName, NewOrder, NewOrderLine, OrderLines, ProductName,
    Quantity, UnitPrice,
};
use order_service::store::{OrderStore, StoreOptions};
use shared_events::{EventType, Money};

fn new_order(name: &str) -> NewOrder {
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

fn open(dir: &std::path::Path, compact_after_bytes: u64) -> OrderStore {
    OrderStore::open(
        dir,
        StoreOptions {
            compact_after_bytes,
            ..StoreOptions::default()
        },
    )
    .expect("store opens")
}

#[tokio::test]
async fn events_wait_in_order_until_marked_published_and_survive_a_restart() {
    // Arrange
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path(), 64 << 20);
    let first = store
        .create(new_order("First"), None, ChangeOrigin::default())
        .await
        .expect("create")
        .order;
    store
        .create(new_order("Second"), None, ChangeOrigin::default())
        .await
        .expect("create");
    store
        .delete(first.order_id, None, ChangeOrigin::default())
        .await
        .expect("delete");

    // Act
    let pending = store.pending_events(0, 10);
    store.mark_published(pending[1].seq).await.expect("mark");

    // Assert
    let kinds: Vec<EventType> = pending.iter().map(|p| p.event.kind).collect();
    assert_eq!(
        kinds,
        [EventType::Created, EventType::Created, EventType::Deleted]
    );
    assert!(
        pending.windows(2).all(|pair| pair[0].seq < pair[1].seq),
        "oldest first"
    );
    assert_eq!(store.pending_count(), 1);
    assert_eq!(
        store.pending_events(store.published_through(), 10)[0]
            .event
            .kind,
        EventType::Deleted
    );
    store.shutdown().await;
    let store = open(dir.path(), 64 << 20);
    assert_eq!(store.pending_count(), 1, "the mark is durable");
    assert_eq!(
        store.pending_events(store.published_through(), 10)[0]
            .event
            .kind,
        EventType::Deleted
    );
    assert_eq!(
        store.pending_events(0, 10).len(),
        1,
        "published events are gone for good"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_keeps_unpublished_events() {
    // Arrange: a tiny compaction threshold, half the events published.
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path(), 4 * 1024);
    for n in 0..60 {
        store
            .create(
                new_order(&format!("Customer {n}")),
                None,
                ChangeOrigin::default(),
            )
            .await
            .expect("create");
    }
    let halfway = store.pending_events(0, 30).last().expect("events").seq;
    store.mark_published(halfway).await.expect("mark");
    for n in 60..90 {
        store
            .create(
                new_order(&format!("Customer {n}")),
                None,
                ChangeOrigin::default(),
            )
            .await
            .expect("create");
    }
    let expected: Vec<_> = store
        .pending_events(0, 1000)
        .iter()
        .map(|p| p.event.id)
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !dir.path().join("orders.json").exists() {
        assert!(Instant::now() < deadline, "no snapshot was written");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Act
    store.shutdown().await;
    let store = open(dir.path(), 4 * 1024);

    // Assert
    let after: Vec<_> = store
        .pending_events(0, 1000)
        .iter()
        .map(|p| p.event.id)
        .collect();
    assert_eq!(after, expected);
    assert_eq!(after.len(), 60);
}

#[tokio::test]
async fn waiting_for_events_wakes_on_a_new_event() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path(), 64 << 20);
    let waiter = {
        let store = store.clone();
        tokio::spawn(async move { store.wait_for_events(0).await })
    };
    tokio::task::yield_now().await;
    store
        .create(new_order("Wake"), None, ChangeOrigin::default())
        .await
        .expect("create");
    tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("woken")
        .expect("task");
}
