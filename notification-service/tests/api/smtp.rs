//! Emails over a real SMTP conversation: one per event, to the right address, never two.

use crate::helpers::{created, deleted, new_order, spawn_app, updated};
use shared_events::OrderStatus;
use test_support::smtp::SmtpServer;

#[tokio::test]
async fn create_update_and_delete_send_three_emails_to_the_customer() {
    // Arrange
    let smtp = SmtpServer::start().await;
    let app = spawn_app(Some(&smtp)).await;
    let order = new_order(Some("ada@example.com"));
    let id = order.order_id;
    let (confirmed, update) = updated(&order, |order| order.status = OrderStatus::Confirmed);

    // Act
    app.publish(&created(&order)).await;
    app.wait_until_handled(1).await;
    app.publish(&update).await;
    app.wait_until_handled(2).await;
    app.publish(&deleted(&confirmed)).await;
    let counts = app.wait_until_handled(3).await;

    // Assert
    assert_eq!(counts.sent, 3, "{counts:?}");
    let received = smtp.received();
    let subjects: Vec<String> = received.iter().map(|mail| mail.subject()).collect();
    assert_eq!(
        subjects,
        [
            format!("Order {id} received"),
            format!("Order {id} confirmed"),
            format!("Order {id} deleted"),
        ]
    );
    for mail in &received {
        assert_eq!(mail.from, "orders@localhost");
        assert_eq!(mail.to, ["ada@example.com"]);
        assert_eq!(
            mail.header("To").as_deref(),
            Some("\"Ada Lovelace\" <ada@example.com>")
        );
        assert!(mail.header("Date").is_some(), "a Date header");
    }
    assert!(
        received[1].body().contains("status: pending -> confirmed"),
        "{}",
        received[1].body()
    );
    assert!(
        received[0].body().contains("Total:   20.08"),
        "{}",
        received[0].body()
    );
    let notifications = app.all_notifications(50).await;
    let statuses: Vec<&str> = notifications
        .iter()
        .map(|n| n["status"].as_str().expect("status"))
        .collect();
    assert_eq!(statuses, ["sent", "sent", "sent"]);
    app.finish().await;
}

#[tokio::test]
async fn the_same_event_twice_sends_one_email() {
    // Arrange
    let smtp = SmtpServer::start().await;
    let app = spawn_app(Some(&smtp)).await;
    let order = new_order(Some("ada@example.com"));
    let event = created(&order);
    let (_, update) = updated(&order, |order| order.status = OrderStatus::Confirmed);

    // Act: the event twice, then an update, then the creation once more (now stale too).
    app.publish(&event).await;
    app.publish(&event).await;
    app.wait_until_handled(2).await;
    app.publish(&update).await;
    app.publish(&event).await;
    let counts = app.wait_until_handled(4).await;

    // Assert
    assert_eq!((counts.sent, counts.duplicate), (2, 2), "{counts:?}");
    let received = smtp.received();
    assert_eq!(received.len(), 2, "one email per event");
    let message_ids: Vec<Option<String>> = received
        .iter()
        .map(|mail| mail.header("Message-ID"))
        .collect();
    assert_eq!(
        message_ids,
        [
            Some(format!("<{}@localhost>", event.id)),
            Some(format!("<{}@localhost>", update.id)),
        ]
    );
    app.finish().await;
}

#[tokio::test]
async fn an_order_without_email_is_skipped_and_nothing_is_sent() {
    // Arrange
    let smtp = SmtpServer::start().await;
    let app = spawn_app(Some(&smtp)).await;
    let order = new_order(None);
    let event = created(&order);

    // Act
    app.publish(&event).await;
    let counts = app.wait_until_handled(1).await;

    // Assert
    assert_eq!(counts.skipped, 1, "{counts:?}");
    assert!(smtp.received().is_empty(), "no email");
    assert!(smtp.attempts().is_empty(), "not even an attempt");
    let notification = app.notification(&event).await.expect("recorded");
    assert_eq!(notification["status"], "skipped");
    assert_eq!(notification["recipient"], serde_json::Value::Null);
    assert_eq!(
        notification["reason"],
        format!("order {} has no customer_email", order.order_id)
    );
    app.finish().await;
}
