//! The orders in memory: persistent maps, so a copy for readers or a snapshot costs nothing.

use std::sync::Arc;

use imbl::{HashMap, OrdMap};
use shared_events::{EventType, Order, OrderEvent};
use uuid::Uuid;

use crate::store::list_query::{ListQuery, Page};
use crate::store::record::{IdempotencyEntry, JournalRecord, PendingEvent};

/// Every stored order and the live idempotency keys, as of one journal sequence number.
#[derive(Debug, Clone, Default)]
pub(crate) struct StoreState {
    /// Orders by id; UUID v7 ids make this creation order.
    pub(crate) orders: OrdMap<Uuid, Arc<Order>>,
    /// Idempotency keys of recent creates.
    pub(crate) idempotency: HashMap<String, Arc<IdempotencyEntry>>,
    /// The sequence number of the last record applied.
    pub(crate) last_seq: u64,
    /// Events not yet confirmed by the broker, by record sequence number: the outbox.
    pub(crate) outbox: OrdMap<u64, Arc<OrderEvent>>,
    /// Every event in a record up to this sequence number has been published.
    pub(crate) published_through: u64,
}

impl StoreState {
    /// Applies one record; refuses a record that does not follow the last one.
    pub(crate) fn apply(&mut self, record: &JournalRecord) -> Result<(), String> {
        if record.seq != self.last_seq + 1 {
            return Err(format!(
                "record {} comes where record {} is due: records are missing or repeated",
                record.seq,
                self.last_seq + 1
            ));
        }
        if let Some(through) = record.published_through {
            self.mark_published(through);
        }
        if let Some(event) = &record.event {
            self.apply_event(record, event);
        }
        self.last_seq = record.seq;
        Ok(())
    }

    fn apply_event(&mut self, record: &JournalRecord, event: &OrderEvent) {
        let order = &event.data.order;
        match event.kind {
            EventType::Created | EventType::Updated => {
                let order = Arc::new(order.clone());
                if let Some(stamp) = &record.idempotency {
                    let entry = IdempotencyEntry {
                        key: stamp.key.clone(),
                        fingerprint: stamp.fingerprint.clone(),
                        created_at: event.time,
                        order: Arc::clone(&order),
                    };
                    self.idempotency.insert(stamp.key.clone(), Arc::new(entry));
                }
                self.orders.insert(order.order_id, order);
            }
            EventType::Deleted => {
                self.orders.remove(&order.order_id);
            }
        }
        if record.seq > self.published_through {
            self.outbox.insert(record.seq, Arc::new(event.clone()));
        }
    }

    /// Drops every outbox event up to `through` (inclusive).
    pub(crate) fn mark_published(&mut self, through: u64) {
        if through > self.published_through {
            self.published_through = through;
            let (_, waiting) = std::mem::take(&mut self.outbox).split(&through);
            self.outbox = waiting;
        }
    }

    /// Up to `limit` outbox events after sequence number `after`, oldest first.
    pub(crate) fn pending_events(&self, after: u64, limit: usize) -> Vec<PendingEvent> {
        self.outbox
            .range((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded))
            .take(limit)
            .map(|(seq, event)| PendingEvent {
                seq: *seq,
                event: Arc::clone(event),
            })
            .collect()
    }

    /// The page of orders that `query` asks for, newest first.
    pub(crate) fn list(&self, query: &ListQuery) -> Page {
        let needle = query.customer.as_deref().map(str::to_lowercase);
        let matches = |order: &&Arc<Order>| {
            query.status.is_none_or(|status| order.status == status)
                && needle
                    .as_deref()
                    .is_none_or(|needle| customer_matches(order, needle))
        };
        let newest_first: Box<dyn Iterator<Item = (&Uuid, &Arc<Order>)>> = match query.before {
            Some(before) => Box::new(self.orders.range(..before).rev()),
            None => Box::new(self.orders.iter().rev()),
        };
        let mut orders: Vec<Arc<Order>> = newest_first
            .map(|(_, order)| order)
            .filter(matches)
            .take(query.limit + 1)
            .cloned()
            .collect();
        let next = if orders.len() > query.limit {
            orders.truncate(query.limit);
            orders.last().map(|order| order.order_id)
        } else {
            None
        };
        Page { orders, next }
    }
}

fn customer_matches(order: &Order, needle: &str) -> bool {
    let contains = |text: &str| {
        if text.is_ascii() && needle.is_ascii() {
            text.as_bytes()
                .windows(needle.len())
                .any(|window| window.eq_ignore_ascii_case(needle.as_bytes()))
        } else {
            text.to_lowercase().contains(needle)
        }
    };
    needle.is_empty()
        || contains(&order.customer_name)
        || order.customer_email.as_deref().is_some_and(contains)
}
