//! Duplicates, reordering and lost events: the invoices still end right.

use serde_json::Value;
use shared_events::OrderStatus;

use test_support::http::strings;

use crate::helpers::{TestOrder, spawn_app};

/// The kinds of an invoice's history entries.
fn kinds(invoice: &Value) -> Vec<&str> {
    strings(invoice, "history", "kind")
}

#[tokio::test]
async fn the_same_event_twice_takes_effect_once() {
    // Arrange
    let app = spawn_app().await;
    let mut order = TestOrder::new("Ada", &[("widget", 2, "1.00")]);
    let created = order.created();
    let updated = order.with_lines(&[("widget", 3, "1.00")]);

    // Act
    app.publish(&[created.clone(), created, updated.clone()])
        .await;
    app.publish(&[updated]).await;
    app.settle().await;

    // Assert
    let invoice = app.invoice(&order.id()).await.expect("an invoice");
    assert_eq!(kinds(&invoice), vec!["opened", "amended"]);
    assert_eq!(invoice["amount"].to_string(), "3.00");
    assert_eq!(invoice["version"], 2);
}

#[tokio::test]
async fn version_3_delivered_before_version_2_ends_at_version_3() {
    // Arrange
    let app = spawn_app().await;
    let mut order = TestOrder::new("Ada", &[("widget", 2, "1.00")]);
    let v1 = order.created();
    let v2 = order.with_lines(&[("widget", 7, "1.00")]);
    let v3 = order.with_lines(&[("widget", 4, "1.00")]);

    // Act
    app.publish(&[v1, v3, v2]).await;
    app.settle().await;

    // Assert
    let invoice = app.invoice(&order.id()).await.expect("an invoice");
    assert_eq!(invoice["amount"].to_string(), "4.00");
    assert_eq!(invoice["version"], 3);
    assert_eq!(kinds(&invoice), vec!["opened", "amended"]);
    assert_eq!(invoice["history"][1]["previous_amount"].to_string(), "2.00");
}

#[tokio::test]
async fn an_update_whose_create_was_lost_opens_the_invoice_from_its_snapshot() {
    // Arrange
    let app = spawn_app().await;
    let mut order = TestOrder::new("Ada", &[("widget", 2, "1.00")]);
    let created = order.created();
    let updated = order.with_lines(&[("widget", 5, "1.00")]);

    // Act: the update arrives, the create only later.
    app.publish(&[updated, created]).await;
    app.settle().await;

    // Assert
    let invoice = app.invoice(&order.id()).await.expect("an invoice");
    assert_eq!(invoice["status"], "open");
    assert_eq!(invoice["amount"].to_string(), "5.00");
    assert_eq!(invoice["version"], 2);
    assert_eq!(kinds(&invoice), vec!["opened"]);
}

#[tokio::test]
async fn a_lost_middle_event_is_made_good_by_the_next() {
    // Arrange
    let app = spawn_app().await;
    let mut order = TestOrder::new("Ada", &[("widget", 2, "1.00")]);
    let created = order.created();
    let _lost = order.with_lines(&[("widget", 9, "1.00")]);
    let v3 = order.with_status(OrderStatus::Confirmed);

    // Act
    app.publish(&[created, v3]).await;
    app.settle().await;

    // Assert: version 3's snapshot carries version 2's nine widgets.
    let invoice = app.invoice(&order.id()).await.expect("an invoice");
    assert_eq!(invoice["amount"].to_string(), "9.00");
    assert_eq!(invoice["version"], 3);
    assert_eq!(kinds(&invoice), vec!["opened", "amended"]);
    assert_eq!(invoice["history"][1]["order_version"], 3);
    assert_eq!(invoice["history"][1]["previous_amount"].to_string(), "2.00");
}

#[tokio::test]
async fn events_older_than_a_deletion_do_not_reopen_the_invoice() {
    // Arrange
    let app = spawn_app().await;
    let mut order = TestOrder::new("Ada", &[("widget", 2, "1.00")]);
    let created = order.created();
    let updated = order.with_lines(&[("widget", 4, "1.00")]);
    let deleted = order.delete();
    app.publish(&[created.clone(), deleted]).await;
    app.settle().await;

    // Act
    app.publish(&[updated, created]).await;
    app.settle().await;

    // Assert
    let invoice = app.invoice(&order.id()).await.expect("an invoice");
    assert_eq!(invoice["status"], "void");
    assert_eq!(invoice["version"], 3);
    assert_eq!(kinds(&invoice), vec!["opened", "voided"]);
}
