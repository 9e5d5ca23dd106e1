//! What an email says about an order event: its subject and plain-text body, and the whole
//! RFC 5322 message around them. Pure functions of the event, so a resend is the same email.

use std::fmt::Write as _;
use std::time::SystemTime;

use lettre::Message;
use lettre::message::{Mailbox, SinglePart};
use shared_events::{EventType, Order, OrderEvent, OrderLine};
use uuid::Uuid;

/// The subject and body of the email about one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    /// One line that says what happened to which order.
    pub subject: String,
    /// The change, then the order as it now stands.
    pub body: String,
}

/// Composes the email about `event`.
pub fn compose(event: &OrderEvent) -> Content {
    let order = &event.data.order;
    let changes = match (event.kind, &event.data.previous) {
        (EventType::Updated, Some(previous)) => changes(previous, order),
        _ => Vec::new(),
    };
    Content {
        subject: subject(event, order),
        body: body(event, order, &changes),
    }
}

/// The `Message-ID` of the email about the event `event_id`: the same for every attempt, so a
/// receiving system can recognise a resend.
pub fn message_id(event_id: Uuid, from: &Mailbox) -> String {
    format!("<{event_id}@{}>", from.email.domain())
}

/// The whole email about `event` from `from` to `to`, with `content` as subject and body.
///
/// `Date` is the time of the change, so every attempt produces the same message.
pub fn email(
    event: &OrderEvent,
    from: &Mailbox,
    to: Mailbox,
    content: &Content,
) -> Result<Message, lettre::error::Error> {
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(content.subject.clone())
        .message_id(Some(message_id(event.id, from)))
        .date(SystemTime::from(event.time))
        .singlepart(SinglePart::plain(content.body.clone()))
}

fn subject(event: &OrderEvent, order: &Order) -> String {
    let id = order.order_id;
    match event.kind {
        EventType::Created => format!("Order {id} received"),
        EventType::Deleted => format!("Order {id} deleted"),
        EventType::Updated => match &event.data.previous {
            Some(previous) if previous.status != order.status => {
                format!("Order {id} {}", order.status)
            }
            Some(previous) if previous.items != order.items => {
                format!("Order {id} updated: items changed")
            }
            _ => format!("Order {id} updated"),
        },
    }
}

fn body(event: &OrderEvent, order: &Order, changes: &[String]) -> String {
    let mut body = String::new();
    // Writing into a String cannot fail.
    let _ = writeln!(body, "Hello {},\n", order.customer_name);
    match event.kind {
        EventType::Created => {
            let _ = writeln!(body, "we have received your order.");
        }
        EventType::Deleted => {
            let _ = writeln!(body, "your order has been deleted.");
        }
        EventType::Updated if changes.is_empty() => {
            let _ = writeln!(body, "your order has been updated.");
        }
        EventType::Updated => {
            let _ = writeln!(body, "your order has changed:");
            for change in changes {
                let _ = writeln!(body, "  - {change}");
            }
        }
    }
    let _ = writeln!(body);
    let _ = writeln!(body, "Order:   {}", order.order_id);
    let _ = writeln!(body, "Status:  {}", order.status);
    let _ = writeln!(body, "Items:");
    for line in &order.items {
        let _ = writeln!(body, "  {}", describe_line(line));
    }
    let _ = writeln!(body, "Total:   {}", order.total_amount);
    let _ = writeln!(
        body,
        "\nVersion {} of {}.",
        order.version,
        order.order_update.format("%Y-%m-%d %H:%M:%S UTC")
    );
    body
}

/// What an update changed, one line per kind of change, in the order of the snapshot's fields.
fn changes(previous: &Order, order: &Order) -> Vec<String> {
    let mut changes = Vec::new();
    if previous.status != order.status {
        changes.push(format!("status: {} -> {}", previous.status, order.status));
    }
    if previous.items != order.items {
        changes.extend(item_changes(&previous.items, &order.items));
    }
    if previous.customer_email != order.customer_email {
        changes.push(format!(
            "email: {} -> {}",
            previous.customer_email.as_deref().unwrap_or("(none)"),
            order.customer_email.as_deref().unwrap_or("(none)")
        ));
    }
    if previous.customer_name != order.customer_name {
        changes.push(format!(
            "name: {} -> {}",
            previous.customer_name, order.customer_name
        ));
    }
    if previous.total_amount != order.total_amount {
        changes.push(format!(
            "total: {} -> {}",
            previous.total_amount, order.total_amount
        ));
    }
    changes
}

/// The item changes, per product: added, removed, or what became of its lines.
fn item_changes(before: &[OrderLine], after: &[OrderLine]) -> Vec<String> {
    let mut products: Vec<&str> = Vec::new();
    for line in before.iter().chain(after) {
        if !products.contains(&line.product.as_str()) {
            products.push(&line.product);
        }
    }
    products
        .into_iter()
        .filter_map(|product| {
            let old: Vec<&OrderLine> = before.iter().filter(|l| l.product == product).collect();
            let new: Vec<&OrderLine> = after.iter().filter(|l| l.product == product).collect();
            match (old.as_slice(), new.as_slice()) {
                (old, new) if old == new => None,
                ([], new) => Some(format!("added {}", describe_lines(new))),
                (old, []) => Some(format!("removed {}", describe_lines(old))),
                ([old], [new]) if old.amount == new.amount => Some(format!(
                    "{product}: quantity {} -> {}",
                    old.quantity, new.quantity
                )),
                ([old], [new]) if old.quantity == new.quantity => Some(format!(
                    "{product}: unit price {} -> {}",
                    old.amount, new.amount
                )),
                (old, new) => Some(format!(
                    "{product}: {} -> {}",
                    quantities_and_prices(old),
                    quantities_and_prices(new)
                )),
            }
        })
        .collect()
}

fn describe_lines(lines: &[&OrderLine]) -> String {
    lines
        .iter()
        .map(|line| describe_line(line))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `2 x widget at 9.99 = 19.98`.
fn describe_line(line: &OrderLine) -> String {
    match line.amount.checked_mul(line.quantity) {
        Some(subtotal) => format!(
            "{} x {} at {} = {subtotal}",
            line.quantity, line.product, line.amount
        ),
        None => format!("{} x {} at {}", line.quantity, line.product, line.amount),
    }
}

/// `2 x 9.99 + 1 x 8.00`, for a product on several lines.
fn quantities_and_prices(lines: &[&OrderLine]) -> String {
    lines
        .iter()
        .map(|line| format!("{} x {}", line.quantity, line.amount))
        .collect::<Vec<_>>()
        .join(" + ")
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use shared_events::{Money, OrderStatus};

    use super::*;

    fn money(text: &str) -> Money {
        Money::parse(text).expect("an amount")
    }

    fn line(product: &str, quantity: u32, amount: &str) -> OrderLine {
        OrderLine {
            product: product.to_owned(),
            quantity,
            amount: money(amount),
        }
    }

    fn order(items: Vec<OrderLine>, total: &str) -> Order {
        let time = Utc
            .with_ymd_and_hms(2026, 11, 24, 20, 1, 48)
            .single()
            .expect("a time");
        Order {
            order_id: "01a20f26-7649-75d2-be62-7d324c60c434"
                .parse()
                .expect("uuid"),
            customer_name: "Ada Lovelace".to_owned(),
            customer_email: Some("ada@example.com".to_owned()),
            items,
            total_amount: money(total),
            status: OrderStatus::Pending,
            order_date: time,
            order_update: time,
            version: 1,
            changed_by: None,
        }
    }

    fn created() -> OrderEvent {
        let order = order(
            vec![line("widget", 2, "9.99"), line("gadget", 1, "0.10")],
            "20.08",
        );
        OrderEvent::new(EventType::Created, "test", order, None, Utc::now())
    }

    fn updated(change: impl FnOnce(&mut Order)) -> OrderEvent {
        let previous = created().data.order;
        let mut order = previous.clone();
        change(&mut order);
        order.version = 2;
        OrderEvent::new(
            EventType::Updated,
            "test",
            order,
            Some(previous),
            Utc::now(),
        )
    }

    #[test]
    fn a_new_order_is_summarised_with_exact_amounts() {
        let content = compose(&created());

        assert_eq!(
            content.subject,
            "Order 01a20f26-7649-75d2-be62-7d324c60c434 received"
        );
        assert_eq!(
            content.body,
            "Hello Ada Lovelace,\n\
             \n\
             we have received your order.\n\
             \n\
             Order:   01a20f26-7649-75d2-be62-7d324c60c434\n\
             Status:  pending\n\
             Items:\n\
             \x20 2 x widget at 9.99 = 19.98\n\
             \x20 1 x gadget at 0.10 = 0.10\n\
             Total:   20.08\n\
             \n\
             Version 1 of 2026-11-24 20:01:48 UTC.\n"
        );
    }

    #[test]
    fn a_status_change_names_both_statuses() {
        let content = compose(&updated(|order| order.status = OrderStatus::Confirmed));

        assert_eq!(
            content.subject,
            "Order 01a20f26-7649-75d2-be62-7d324c60c434 confirmed"
        );
        assert!(
            content
                .body
                .contains("your order has changed:\n  - status: pending -> confirmed\n"),
            "{}",
            content.body
        );
        assert!(
            content.body.contains("Status:  confirmed\n"),
            "{}",
            content.body
        );
    }

    #[test]
    fn item_changes_are_listed_per_product() {
        let cases = [
            (
                vec![line("widget", 3, "9.99"), line("gadget", 1, "0.10")],
                "29.07",
                vec!["widget: quantity 2 -> 3", "total: 20.08 -> 29.07"],
            ),
            (
                vec![line("widget", 2, "8.50"), line("gadget", 1, "0.10")],
                "17.10",
                vec!["widget: unit price 9.99 -> 8.50", "total: 20.08 -> 17.10"],
            ),
            (
                vec![line("widget", 2, "9.99")],
                "19.98",
                vec!["removed 1 x gadget at 0.10 = 0.10", "total: 20.08 -> 19.98"],
            ),
            (
                vec![
                    line("widget", 2, "9.99"),
                    line("gadget", 1, "0.10"),
                    line("gizmo", 3, "0.10"),
                ],
                "20.38",
                vec!["added 3 x gizmo at 0.10 = 0.30", "total: 20.08 -> 20.38"],
            ),
            (
                vec![line("widget", 1, "9.99"), line("widget", 1, "8.00")],
                "17.99",
                vec![
                    "widget: 2 x 9.99 -> 1 x 9.99 + 1 x 8.00",
                    "removed 1 x gadget at 0.10 = 0.10",
                    "total: 20.08 -> 17.99",
                ],
            ),
        ];
        for (items, total, expected) in cases {
            let event = updated(|order| {
                order.items = items;
                order.total_amount = money(total);
            });
            let content = compose(&event);

            assert_eq!(
                content.subject,
                "Order 01a20f26-7649-75d2-be62-7d324c60c434 updated: items changed"
            );
            let listed: Vec<&str> = content
                .body
                .lines()
                .filter_map(|line| line.strip_prefix("  - "))
                .collect();
            assert_eq!(listed, expected, "for the new total {total}");
            assert!(
                content.body.contains(&format!("Total:   {total}\n")),
                "{}",
                content.body
            );
        }
    }

    #[test]
    fn contact_changes_are_listed() {
        let content = compose(&updated(|order| {
            order.customer_email = Some("ada@example.org".to_owned());
            order.customer_name = "Ada King".to_owned();
        }));

        assert_eq!(
            content.subject,
            "Order 01a20f26-7649-75d2-be62-7d324c60c434 updated"
        );
        assert!(
            content.body.contains(
                "  - email: ada@example.com -> ada@example.org\n  \
                 - name: Ada Lovelace -> Ada King\n"
            ),
            "{}",
            content.body
        );
        assert!(
            content.body.starts_with("Hello Ada King,\n"),
            "{}",
            content.body
        );
    }

    #[test]
    fn a_deletion_says_so_and_shows_the_last_state() {
        let mut order = created().data.order;
        order.status = OrderStatus::Cancelled;
        order.version = 3;
        let event = OrderEvent::new(EventType::Deleted, "test", order, None, Utc::now());

        let content = compose(&event);

        assert_eq!(
            content.subject,
            "Order 01a20f26-7649-75d2-be62-7d324c60c434 deleted"
        );
        assert!(
            content.body.contains("your order has been deleted.\n"),
            "{}",
            content.body
        );
        assert!(
            content.body.contains("Status:  cancelled\n"),
            "{}",
            content.body
        );
        assert!(
            content.body.contains("Total:   20.08\n"),
            "{}",
            content.body
        );
    }

    #[test]
    fn the_email_carries_a_message_id_derived_from_the_event() {
        let event = created();
        let from: Mailbox = "Orders <orders@shop.example>".parse().expect("mailbox");
        let to: Mailbox = "Ada Lovelace <ada@example.com>".parse().expect("mailbox");
        let content = compose(&event);

        let first = email(&event, &from, to.clone(), &content).expect("an email");
        let again = email(&event, &from, to, &content).expect("an email");

        let text = String::from_utf8(first.formatted()).expect("utf-8");
        let expected_id = format!("Message-ID: <{}@shop.example>\r\n", event.id);
        assert!(text.contains(&expected_id), "{text}");
        assert!(
            text.contains("To: \"Ada Lovelace\" <ada@example.com>\r\n"),
            "{text}"
        );
        assert!(
            text.contains("From: Orders <orders@shop.example>\r\n"),
            "{text}"
        );
        assert!(
            text.contains("Content-Type: text/plain; charset=utf-8\r\n"),
            "{text}"
        );
        assert_eq!(
            first.formatted(),
            again.formatted(),
            "a resend is byte for byte the same"
        );
    }
}
