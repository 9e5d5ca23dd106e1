//! The invoice ledger: one invoice per order, opened, amended and voided by the order's events.
//!
//! An event is applied only if its version is newer than the invoice's, and then as the
//! difference between the invoice and the event's snapshot. So a duplicate changes nothing, a
//! version 3 that overtakes version 2 makes version 2 stale, a lost middle event is made good by
//! the next one, and an update whose create was lost opens the invoice from its snapshot.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared_events::storage::durable_state::StateMachine;
use shared_events::{EventType, Money, OrderEvent, OrderLine};
use uuid::Uuid;

/// Every invoice, by order id; UUID v7 ids sort by creation, so the map is oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceLedger {
    invoices: BTreeMap<Uuid, Invoice>,
}

/// The invoice of one order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Invoice {
    /// The order billed.
    pub order_id: Uuid,
    /// `open`, or `void` once the order is cancelled or deleted.
    pub status: InvoiceStatus,
    /// Who is billed.
    pub customer_name: String,
    /// The order's total, exact.
    pub amount: Money,
    /// The order's lines: product, quantity, unit price.
    pub lines: Vec<OrderLine>,
    /// The last order version applied.
    pub version: u64,
    /// What happened to the invoice, oldest first.
    pub history: Vec<HistoryEntry>,
}

/// Whether an invoice is owed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    /// The order is live; the amount is owed.
    Open,
    /// The order was cancelled or deleted; nothing is owed. Final.
    Void,
}

/// One step in an invoice's life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    /// When the order changed.
    pub at: DateTime<Utc>,
    /// The order version that made the step.
    pub order_version: u64,
    /// What the step was.
    pub kind: EntryKind,
    /// The invoice's amount after the step (for a voiding: the amount voided).
    pub amount: Money,
    /// The amount before an amendment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_amount: Option<Money>,
}

/// The kinds of [`HistoryEntry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// The invoice was opened.
    Opened,
    /// Its amount or lines changed.
    Amended,
    /// The order was cancelled or deleted.
    Voided,
}

/// What an order event says the order's invoice should be, worked out before the ledger is
/// locked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceTarget {
    /// The order.
    pub order_id: Uuid,
    /// The order's version after the event.
    pub version: u64,
    /// Who ordered.
    pub customer_name: String,
    /// The order's total.
    pub amount: Money,
    /// The order's lines.
    pub lines: Vec<OrderLine>,
    /// True when the order is cancelled or deleted.
    pub void: bool,
    /// When the order changed.
    pub at: DateTime<Utc>,
}

/// One durable change, as the journal stores it: an invoice's new state and its history entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceChange {
    /// The order.
    pub order_id: Uuid,
    /// The invoice's status after the change.
    pub status: InvoiceStatus,
    /// Who is billed.
    pub customer_name: String,
    /// The amount after the change.
    pub amount: Money,
    /// The lines after the change.
    pub lines: Vec<OrderLine>,
    /// The order version applied.
    pub version: u64,
    /// The step this change adds to the history, if it is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<HistoryEntry>,
}

/// What applying an order event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The event's version is not newer than `last`, the version already applied.
    Stale {
        /// The invoice's version.
        last: u64,
    },
    /// The event was applied; `step` is the history entry it added, if any.
    Applied {
        /// The kind of entry added (none for a change that bills nothing new).
        step: Option<EntryKind>,
    },
}

/// One page of invoices, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Up to the page's limit of invoices.
    pub invoices: Vec<Invoice>,
    /// The last invoice's order id when more follow.
    pub next: Option<Uuid>,
}

impl InvoiceLedger {
    /// Decides what `target` changes: nothing if its version is not newer than the invoice's,
    /// else the invoice opened, amended, voided, or only brought to the new version.
    pub fn decide(&self, target: InvoiceTarget) -> (Option<InvoiceChange>, Outcome) {
        let current = self.invoices.get(&target.order_id);
        if let Some(invoice) = current
            && target.version <= invoice.version
        {
            return (
                None,
                Outcome::Stale {
                    last: invoice.version,
                },
            );
        }
        let change = match current {
            None => {
                let (status, kind) = if target.void {
                    (InvoiceStatus::Void, EntryKind::Voided)
                } else {
                    (InvoiceStatus::Open, EntryKind::Opened)
                };
                let entry = target.entry(kind, target.amount, None);
                target.into_change(status, Some(entry))
            }
            // Cancelled and deleted are final: a void invoice only learns the new version.
            Some(invoice) if invoice.status == InvoiceStatus::Void => InvoiceChange {
                version: target.version,
                entry: None,
                ..invoice.as_change()
            },
            Some(invoice) if target.void => {
                let entry = target.entry(EntryKind::Voided, invoice.amount, None);
                InvoiceChange {
                    status: InvoiceStatus::Void,
                    version: target.version,
                    entry: Some(entry),
                    ..invoice.as_change()
                }
            }
            Some(invoice) if invoice.amount != target.amount || invoice.lines != target.lines => {
                let entry = target.entry(EntryKind::Amended, target.amount, Some(invoice.amount));
                target.into_change(InvoiceStatus::Open, Some(entry))
            }
            Some(_) => target.into_change(InvoiceStatus::Open, None),
        };
        let step = change.entry.as_ref().map(|entry| entry.kind);
        (Some(change), Outcome::Applied { step })
    }

    /// The invoice of `order_id`, if the ledger has one.
    pub fn get(&self, order_id: Uuid) -> Option<&Invoice> {
        self.invoices.get(&order_id)
    }

    /// Up to `limit` invoices, newest first, starting after the order id `before` if given.
    pub fn page(&self, before: Option<Uuid>, limit: usize) -> Page {
        let newest_first: Box<dyn Iterator<Item = &Invoice>> = match before {
            Some(before) => Box::new(
                self.invoices
                    .range(..before)
                    .rev()
                    .map(|(_, invoice)| invoice),
            ),
            None => Box::new(self.invoices.values().rev()),
        };
        let mut invoices: Vec<Invoice> = newest_first.take(limit + 1).cloned().collect();
        let next = if invoices.len() > limit {
            invoices.truncate(limit);
            invoices.last().map(|invoice| invoice.order_id)
        } else {
            None
        };
        Page { invoices, next }
    }

    /// The first `limit` invoices, newest first, of the shards' `pages` (each asked for
    /// `limit` after the same cursor): the page of the whole service.
    pub fn merge(pages: Vec<Page>, limit: usize) -> Page {
        let more_in_shards = pages.iter().any(|page| page.next.is_some());
        let mut invoices: Vec<Invoice> = pages.into_iter().flat_map(|page| page.invoices).collect();
        invoices.sort_by_key(|invoice| std::cmp::Reverse(invoice.order_id));
        let more = more_in_shards || invoices.len() > limit;
        invoices.truncate(limit);
        let next = if more {
            invoices.last().map(|invoice| invoice.order_id)
        } else {
            None
        };
        Page { invoices, next }
    }

    /// How many invoices the ledger holds, void ones included.
    pub fn len(&self) -> usize {
        self.invoices.len()
    }

    /// True while no order has been billed.
    pub fn is_empty(&self) -> bool {
        self.invoices.is_empty()
    }
}

impl StateMachine for InvoiceLedger {
    type Change = InvoiceChange;

    fn apply(&mut self, change: &InvoiceChange) {
        let invoice = self
            .invoices
            .entry(change.order_id)
            .or_insert_with(|| Invoice {
                order_id: change.order_id,
                status: change.status,
                customer_name: String::new(),
                amount: Money::ZERO,
                lines: Vec::new(),
                version: 0,
                history: Vec::new(),
            });
        invoice.status = change.status;
        invoice.customer_name.clone_from(&change.customer_name);
        invoice.amount = change.amount;
        invoice.lines.clone_from(&change.lines);
        invoice.version = change.version;
        invoice.history.extend(change.entry.clone());
    }
}

impl EntryKind {
    /// The name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Opened => "opened",
            EntryKind::Amended => "amended",
            EntryKind::Voided => "voided",
        }
    }
}

impl InvoiceTarget {
    /// What `event` says its order's invoice should be.
    pub fn from_event(event: &OrderEvent) -> InvoiceTarget {
        let order = &event.data.order;
        InvoiceTarget {
            order_id: event.subject,
            version: event.sequence,
            customer_name: order.customer_name.clone(),
            amount: order.total_amount,
            lines: order.items.clone(),
            void: event.kind == EventType::Deleted || order.status.is_cancelled(),
            at: event.time,
        }
    }

    fn entry(
        &self,
        kind: EntryKind,
        amount: Money,
        previous_amount: Option<Money>,
    ) -> HistoryEntry {
        HistoryEntry {
            at: self.at,
            order_version: self.version,
            kind,
            amount,
            previous_amount,
        }
    }

    fn into_change(self, status: InvoiceStatus, entry: Option<HistoryEntry>) -> InvoiceChange {
        InvoiceChange {
            order_id: self.order_id,
            status,
            customer_name: self.customer_name,
            amount: self.amount,
            lines: self.lines,
            version: self.version,
            entry,
        }
    }
}

impl Invoice {
    /// The invoice as it stands, as a change that adds nothing to its history.
    fn as_change(&self) -> InvoiceChange {
        InvoiceChange {
            order_id: self.order_id,
            status: self.status,
            customer_name: self.customer_name.clone(),
            amount: self.amount,
            lines: self.lines.clone(),
            version: self.version,
            entry: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use shared_events::{Order, OrderStatus};

    use super::*;

    fn at(second: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, second)
            .single()
            .expect("a valid time")
    }

    /// An order of `lines` of (product, quantity, unit price in cents).
    fn order(id: Uuid, version: u64, status: OrderStatus, lines: &[(&str, u32, i64)]) -> Order {
        let items: Vec<OrderLine> = lines
            .iter()
            .map(|(product, quantity, cents)| OrderLine {
                product: (*product).to_owned(),
                quantity: *quantity,
                amount: Money::from_cents(*cents),
            })
            .collect();
        let total = lines
            .iter()
            .map(|(_, quantity, cents)| i64::from(*quantity) * cents)
            .sum();
        Order {
            order_id: id,
            customer_name: "Ada".to_owned(),
            customer_email: None,
            items,
            total_amount: Money::from_cents(total),
            status,
            order_date: at(0),
            order_update: at(0),
            version,
            changed_by: None,
        }
    }

    fn created(id: Uuid, lines: &[(&str, u32, i64)]) -> OrderEvent {
        let order = order(id, 1, OrderStatus::Pending, lines);
        OrderEvent::new(EventType::Created, "test", order, None, at(1))
    }

    fn updated(
        id: Uuid,
        version: u64,
        status: OrderStatus,
        lines: &[(&str, u32, i64)],
    ) -> OrderEvent {
        let order = order(id, version, status, lines);
        let previous = Order {
            version: version - 1,
            ..order.clone()
        };
        OrderEvent::new(EventType::Updated, "test", order, Some(previous), at(2))
    }

    fn deleted(id: Uuid, version: u64, lines: &[(&str, u32, i64)]) -> OrderEvent {
        let order = order(id, version, OrderStatus::Pending, lines);
        OrderEvent::new(EventType::Deleted, "test", order, None, at(3))
    }

    fn handle(ledger: &mut InvoiceLedger, event: &OrderEvent) -> Outcome {
        let (change, outcome) = ledger.decide(InvoiceTarget::from_event(event));
        if let Some(change) = change {
            ledger.apply(&change);
        }
        outcome
    }

    fn invoice(ledger: &InvoiceLedger, id: Uuid) -> &Invoice {
        ledger.get(id).expect("an invoice")
    }

    /// `(kind, amount, previous amount)` of each history entry.
    fn steps(invoice: &Invoice) -> Vec<(EntryKind, Money, Option<Money>)> {
        invoice
            .history
            .iter()
            .map(|entry| (entry.kind, entry.amount, entry.previous_amount))
            .collect()
    }

    fn cents(cents: i64) -> Money {
        Money::from_cents(cents)
    }

    /// The ledger as its files hold it: a snapshot of the first orders and a journal of the rest.
    fn ledger_on_disk(dir: &std::path::Path) -> InvoiceLedger {
        use shared_events::storage::durable_state::DurableState;
        let state = DurableState::<InvoiceLedger>::open_with(dir, "invoices", 2048).expect("opens");
        for n in 0..6u32 {
            let id = Uuid::now_v7();
            let lines = [("widget", n + 1, 250), ("gadget", 1, 999)];
            for event in [
                created(id, &lines),
                updated(id, 2, OrderStatus::Confirmed, &lines),
            ] {
                let target = InvoiceTarget::from_event(&event);
                state
                    .transact_blocking(move |ledger| ledger.decide(target))
                    .expect("durable");
            }
        }
        state.read(Clone::clone)
    }

    #[test]
    fn every_flipped_byte_of_the_invoice_files_opens_the_same_ledger_or_is_refused_with_its_offset()
    {
        use shared_events::storage::durable_state::DurableState;
        use test_support::damage::flip_files;
        let dir = tempfile::tempdir().expect("temp dir");
        let expected = ledger_on_disk(dir.path());
        let open = |copy: &std::path::Path| {
            DurableState::<InvoiceLedger>::open(copy, "invoices")
                .map(|state| state.read(Clone::clone))
                .map_err(|error| error.to_string())
        };
        let files = ["invoices.json", "invoices-journal.jsonl"];
        flip_files(dir.path(), &files, 150, open, &expected);
    }

    #[test]
    fn create_opens_an_invoice_for_the_order_total() {
        let mut ledger = InvoiceLedger::default();
        let id = Uuid::now_v7();

        let outcome = handle(
            &mut ledger,
            &created(id, &[("widget", 2, 999), ("gadget", 1, 10)]),
        );

        assert_eq!(
            outcome,
            Outcome::Applied {
                step: Some(EntryKind::Opened)
            }
        );
        let invoice = invoice(&ledger, id);
        assert_eq!(
            (invoice.status, invoice.amount, invoice.version),
            (InvoiceStatus::Open, cents(2008), 1)
        );
        assert_eq!(invoice.lines.len(), 2);
        assert_eq!(invoice.customer_name, "Ada");
        assert_eq!(steps(invoice), vec![(EntryKind::Opened, cents(2008), None)]);
        assert_eq!(invoice.history[0].at, at(1));
    }

    #[test]
    fn an_update_that_changes_the_bill_amends_it_and_one_that_does_not_only_moves_the_version() {
        // (case, new status, new lines, the history entry expected, the amount in cents after)
        type Lines = &'static [(&'static str, u32, i64)];
        type Case = (&'static str, OrderStatus, Lines, Option<EntryKind>, i64);
        let cases: [Case; 4] = [
            (
                "more units",
                OrderStatus::Pending,
                &[("widget", 3, 100)],
                Some(EntryKind::Amended),
                300,
            ),
            (
                "same total, other lines",
                OrderStatus::Pending,
                &[("gadget", 1, 200)],
                Some(EntryKind::Amended),
                200,
            ),
            (
                "status only",
                OrderStatus::Confirmed,
                &[("widget", 2, 100)],
                None,
                200,
            ),
            (
                "cancelled",
                OrderStatus::Cancelled,
                &[("widget", 2, 100)],
                Some(EntryKind::Voided),
                200,
            ),
        ];
        for (case, status, lines, step, amount) in cases {
            let mut ledger = InvoiceLedger::default();
            let id = Uuid::now_v7();
            handle(&mut ledger, &created(id, &[("widget", 2, 100)]));

            let outcome = handle(&mut ledger, &updated(id, 2, status, lines));

            assert_eq!(outcome, Outcome::Applied { step }, "{case}");
            let invoice = invoice(&ledger, id);
            assert_eq!(
                (invoice.amount, invoice.version),
                (cents(amount), 2),
                "{case}"
            );
            assert_eq!(
                invoice.history.len(),
                1 + usize::from(step.is_some()),
                "{case}"
            );
        }
    }

    #[test]
    fn an_amendment_records_the_old_and_new_amounts() {
        let mut ledger = InvoiceLedger::default();
        let id = Uuid::now_v7();
        handle(&mut ledger, &created(id, &[("widget", 2, 100)]));

        handle(
            &mut ledger,
            &updated(id, 2, OrderStatus::Pending, &[("widget", 5, 100)]),
        );

        let expected = vec![
            (EntryKind::Opened, cents(200), None),
            (EntryKind::Amended, cents(500), Some(cents(200))),
        ];
        assert_eq!(steps(invoice(&ledger, id)), expected);
    }

    #[test]
    fn delete_and_cancel_void_the_invoice_for_good() {
        for cancel in [false, true] {
            let mut ledger = InvoiceLedger::default();
            let id = Uuid::now_v7();
            handle(&mut ledger, &created(id, &[("widget", 2, 100)]));

            let event = if cancel {
                updated(id, 2, OrderStatus::Cancelled, &[("widget", 2, 100)])
            } else {
                deleted(id, 2, &[("widget", 2, 100)])
            };
            handle(&mut ledger, &event);
            // A later change (a new name on a cancelled order, say) does not reopen it.
            let later = handle(
                &mut ledger,
                &updated(id, 3, OrderStatus::Cancelled, &[("widget", 9, 100)]),
            );

            let invoice = invoice(&ledger, id);
            assert_eq!(later, Outcome::Applied { step: None }, "cancel: {cancel}");
            assert_eq!(
                (invoice.status, invoice.version),
                (InvoiceStatus::Void, 3),
                "cancel: {cancel}"
            );
            assert_eq!(
                steps(invoice),
                vec![
                    (EntryKind::Opened, cents(200), None),
                    (EntryKind::Voided, cents(200), None)
                ],
                "cancel: {cancel}"
            );
        }
    }

    #[test]
    fn duplicates_change_nothing() {
        let mut ledger = InvoiceLedger::default();
        let id = Uuid::now_v7();
        let create = created(id, &[("widget", 2, 100)]);
        let update = updated(id, 2, OrderStatus::Pending, &[("widget", 3, 100)]);
        handle(&mut ledger, &create);
        handle(&mut ledger, &update);
        let before = ledger.clone();

        for event in [&create, &update, &update] {
            let outcome = handle(&mut ledger, event);

            assert_eq!(
                outcome,
                Outcome::Stale { last: 2 },
                "version {}",
                event.sequence
            );
        }
        assert_eq!(ledger, before);
    }

    #[test]
    fn version_3_before_version_2_ends_at_version_3() {
        let mut ledger = InvoiceLedger::default();
        let id = Uuid::now_v7();
        handle(&mut ledger, &created(id, &[("widget", 2, 100)]));
        let v2 = updated(id, 2, OrderStatus::Pending, &[("widget", 5, 100)]);
        let v3 = updated(id, 3, OrderStatus::Confirmed, &[("widget", 4, 100)]);

        handle(&mut ledger, &v3);
        let late = handle(&mut ledger, &v2);

        assert_eq!(late, Outcome::Stale { last: 3 });
        let invoice = invoice(&ledger, id);
        assert_eq!((invoice.amount, invoice.version), (cents(400), 3));
        assert_eq!(
            steps(invoice).last(),
            Some(&(EntryKind::Amended, cents(400), Some(cents(200))))
        );
    }

    #[test]
    fn a_lost_middle_event_is_made_good_by_the_next() {
        let mut ledger = InvoiceLedger::default();
        let id = Uuid::now_v7();
        handle(&mut ledger, &created(id, &[("widget", 2, 100)]));
        // Version 2 (widget 7) never arrives.

        handle(
            &mut ledger,
            &updated(id, 3, OrderStatus::Pending, &[("widget", 4, 100)]),
        );

        assert_eq!(invoice(&ledger, id).amount, cents(400));
    }

    #[test]
    fn an_update_whose_create_was_lost_opens_the_invoice_from_its_snapshot() {
        let mut ledger = InvoiceLedger::default();
        let id = Uuid::now_v7();

        let outcome = handle(
            &mut ledger,
            &updated(id, 2, OrderStatus::Confirmed, &[("widget", 3, 100)]),
        );
        let late_create = handle(&mut ledger, &created(id, &[("widget", 2, 100)]));

        assert_eq!(
            outcome,
            Outcome::Applied {
                step: Some(EntryKind::Opened)
            }
        );
        assert_eq!(late_create, Outcome::Stale { last: 2 });
        let invoice = invoice(&ledger, id);
        assert_eq!(
            (invoice.status, invoice.amount, invoice.version),
            (InvoiceStatus::Open, cents(300), 2)
        );
    }

    #[test]
    fn a_deletion_of_an_unknown_order_leaves_a_void_tombstone() {
        let mut ledger = InvoiceLedger::default();
        let id = Uuid::now_v7();

        handle(&mut ledger, &deleted(id, 3, &[("widget", 2, 100)]));
        let late = handle(
            &mut ledger,
            &updated(id, 2, OrderStatus::Pending, &[("widget", 2, 100)]),
        );

        assert_eq!(late, Outcome::Stale { last: 3 });
        let invoice = invoice(&ledger, id);
        assert_eq!(invoice.status, InvoiceStatus::Void);
        assert_eq!(steps(invoice), vec![(EntryKind::Voided, cents(200), None)]);
    }

    #[test]
    fn pages_run_newest_first_without_gaps_or_repeats() {
        let mut ledger = InvoiceLedger::default();
        let ids: Vec<Uuid> = (0..7).map(|_| Uuid::now_v7()).collect();
        for id in &ids {
            handle(&mut ledger, &created(*id, &[("widget", 1, 100)]));
        }

        let mut seen = Vec::new();
        let mut before = None;
        loop {
            let page = ledger.page(before, 3);
            seen.extend(page.invoices.iter().map(|invoice| invoice.order_id));
            match page.next {
                Some(next) => before = Some(next),
                None => break,
            }
        }

        let newest_first: Vec<Uuid> = ids.iter().rev().copied().collect();
        assert_eq!(seen, newest_first);
        assert_eq!(
            ledger.page(None, 7).next,
            None,
            "an exact fit has no next page"
        );
    }

    #[test]
    fn replaying_the_changes_rebuilds_the_same_ledger() {
        let mut ledger = InvoiceLedger::default();
        let mut changes = Vec::new();
        let id = Uuid::now_v7();
        for event in [
            created(id, &[("widget", 2, 100)]),
            updated(id, 2, OrderStatus::Pending, &[("gadget", 1, 50)]),
            updated(id, 3, OrderStatus::Confirmed, &[("gadget", 1, 50)]),
            deleted(id, 4, &[("gadget", 1, 50)]),
        ] {
            let (change, _) = ledger.decide(InvoiceTarget::from_event(&event));
            let change = change.expect("newer");
            ledger.apply(&change);
            changes.push(change);
        }

        let json = serde_json::to_string(&changes).expect("serialises");
        let mut replayed = InvoiceLedger::default();
        for change in serde_json::from_str::<Vec<InvoiceChange>>(&json).expect("parses") {
            replayed.apply(&change);
        }

        assert_eq!(replayed, ledger);
    }
}
