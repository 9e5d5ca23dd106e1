//! Orders as the order service announces them, for the consumers' suites to publish: each
//! change makes the next version's event.

use chrono::Utc;
use shared_events::contract::shard::ShardCount;
use shared_events::{EventType, Money, Order, OrderEvent, OrderLine, OrderStatus};
use uuid::Uuid;

/// The source the events name.
const SOURCE: &str = "tests";

/// An order and the events of its versions.
#[derive(Debug, Clone)]
pub struct TestOrder {
    /// The order as of its last event.
    pub order: Order,
}

impl TestOrder {
    /// A new pending order (version 1) for `customer` of `(product, quantity, unit price)`
    /// lines.
    pub fn new(customer: &str, lines: &[(&str, u32, &str)]) -> TestOrder {
        let now = Utc::now();
        let (items, total_amount) = priced(lines);
        TestOrder {
            order: Order {
                order_id: Uuid::now_v7(),
                customer_name: customer.to_owned(),
                customer_email: Some("ada@example.com".to_owned()),
                items,
                total_amount,
                status: OrderStatus::Pending,
                order_date: now,
                order_update: now,
                version: 1,
                changed_by: None,
            },
        }
    }

    /// The order's id, as URLs spell it.
    pub fn id(&self) -> String {
        self.order.order_id.to_string()
    }

    /// The `order.created` event of version 1.
    pub fn created(&self) -> OrderEvent {
        let order = Order {
            version: 1,
            ..self.order.clone()
        };
        OrderEvent::new(EventType::Created, SOURCE, order, None, Utc::now())
    }

    /// The next version with `lines` of `(product, quantity, unit price)` (and the same
    /// status).
    pub fn with_lines(&mut self, lines: &[(&str, u32, &str)]) -> OrderEvent {
        let (items, total) = priced(lines);
        self.update(|order| {
            order.items = items;
            order.total_amount = total;
        })
    }

    /// The next version in `status`.
    pub fn with_status(&mut self, status: OrderStatus) -> OrderEvent {
        self.update(|order| order.status = status)
    }

    /// The `order.updated` event of the next version, after `change`.
    pub fn update(&mut self, change: impl FnOnce(&mut Order)) -> OrderEvent {
        let previous = self.order.clone();
        change(&mut self.order);
        self.order.version += 1;
        self.order.order_update = Utc::now();
        let order = self.order.clone();
        OrderEvent::new(
            EventType::Updated,
            SOURCE,
            order,
            Some(previous),
            Utc::now(),
        )
    }

    /// The `order.deleted` event, one version on.
    pub fn delete(&mut self) -> OrderEvent {
        self.order.version += 1;
        let order = self.order.clone();
        OrderEvent::new(EventType::Deleted, SOURCE, order, None, Utc::now())
    }
}

/// One order in every shard of `shards`, in shard order: `make` is called until each shard has
/// one (ids are random, so a few calls per shard). What a barrier needs, now that shards work
/// side by side: a barrier in one shard says nothing of the others.
pub fn one_per_shard(shards: ShardCount, mut make: impl FnMut() -> TestOrder) -> Vec<TestOrder> {
    let mut found: Vec<Option<TestOrder>> = vec![None; usize::from(shards.get())];
    while found.iter().any(Option::is_none) {
        let order = make();
        let shard = usize::from(shards.shard_of(order.order.order_id));
        found[shard].get_or_insert(order);
    }
    found.into_iter().flatten().collect()
}

/// The order lines of `(product, quantity, unit price)`, and their exact total.
fn priced(lines: &[(&str, u32, &str)]) -> (Vec<OrderLine>, Money) {
    let items: Vec<OrderLine> = lines
        .iter()
        .map(|(product, quantity, price)| OrderLine {
            product: (*product).to_owned(),
            quantity: *quantity,
            amount: Money::parse(price).expect("a price"),
        })
        .collect();
    let total = items.iter().fold(Money::ZERO, |sum, line| {
        let amount = line.amount.checked_mul(line.quantity).expect("no overflow");
        sum.checked_add(amount).expect("no overflow")
    });
    (items, total)
}
