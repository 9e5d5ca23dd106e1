//! Each kind of order event takes effect on the order's invoice, exactly once.

use serde_json::Value;
use shared_events::OrderStatus;

use crate::helpers::{TestOrder, spawn_app};

/// `(kind, amount, previous_amount)` of each history entry, amounts as their JSON text.
fn steps(invoice: &Value) -> Vec<(String, String, Option<String>)> {
    invoice["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|entry| {
            (
                entry["kind"].as_str().expect("kind").to_owned(),
                entry["amount"].to_string(),
                entry.get("previous_amount").map(ToString::to_string),
            )
        })
        .collect()
}

fn step(kind: &str, amount: &str, previous: Option<&str>) -> (String, String, Option<String>) {
    (
        kind.to_owned(),
        amount.to_owned(),
        previous.map(str::to_owned),
    )
}

#[tokio::test]
async fn a_create_opens_an_invoice_for_the_exact_total_once() {
    // Arrange
    let app = spawn_app().await;
    let order = TestOrder::new(
        "Ada Lovelace",
        &[("widget", 2, "9.99"), ("gadget", 3, "0.10")],
    );

    // Act
    app.publish(&[order.created()]).await;

    // Assert
    let invoice = app.wait_for_invoice(&order.id(), "opened", |_| true).await;
    app.settle().await;
    let invoice_after = app.invoice(&order.id()).await.expect("still there");
    assert_eq!(invoice_after, invoice, "nothing else happened to it");
    assert_eq!(invoice["order_id"], order.id().as_str());
    assert_eq!(invoice["status"], "open");
    assert_eq!(invoice["customer_name"], "Ada Lovelace");
    assert_eq!(
        invoice["amount"].to_string(),
        "20.28",
        "exact: 2 x 9.99 + 3 x 0.10"
    );
    assert_eq!(invoice["version"], 1);
    assert_eq!(invoice["lines"].as_array().expect("lines").len(), 2);
    assert_eq!(invoice["lines"][1]["amount"].to_string(), "0.10");
    assert_eq!(steps(&invoice), vec![step("opened", "20.28", None)]);
    assert_eq!(invoice["history"][0]["order_version"], 1);
}

#[tokio::test]
async fn an_update_of_the_lines_amends_the_invoice_with_old_and_new_amounts() {
    // Arrange
    let app = spawn_app().await;
    let mut order = TestOrder::new("Ada", &[("widget", 2, "9.99")]);
    app.publish(&[order.created()]).await;
    app.wait_for_invoice(&order.id(), "opened", |_| true).await;

    // Act
    app.publish(&[order.with_lines(&[("widget", 1, "9.99"), ("gizmo", 1, "0.01")])])
        .await;

    // Assert
    let invoice = app
        .wait_for_invoice(&order.id(), "amended", |invoice| invoice["version"] == 2)
        .await;
    app.settle().await;
    assert_eq!(app.invoice(&order.id()).await.as_ref(), Some(&invoice));
    assert_eq!(invoice["amount"].to_string(), "10.00");
    assert_eq!(
        steps(&invoice),
        vec![
            step("opened", "19.98", None),
            step("amended", "10.00", Some("19.98"))
        ]
    );
    assert_eq!(invoice["history"][1]["order_version"], 2);
}

#[tokio::test]
async fn a_status_change_moves_the_version_and_a_cancellation_voids() {
    // Arrange
    let app = spawn_app().await;
    let mut order = TestOrder::new("Ada", &[("widget", 2, "5.00")]);
    app.publish(&[order.created()]).await;
    app.wait_for_invoice(&order.id(), "opened", |_| true).await;

    // Act
    app.publish(&[order.with_status(OrderStatus::Confirmed)])
        .await;

    // Assert: no new history entry, nothing billed differently.
    let invoice = app
        .wait_for_invoice(&order.id(), "at version 2", |invoice| {
            invoice["version"] == 2
        })
        .await;
    assert_eq!(steps(&invoice), vec![step("opened", "10.00", None)]);

    // Act
    app.publish(&[order.with_status(OrderStatus::Cancelled)])
        .await;

    // Assert
    let invoice = app
        .wait_for_invoice(&order.id(), "void", |invoice| invoice["status"] == "void")
        .await;
    app.settle().await;
    assert_eq!(app.invoice(&order.id()).await.as_ref(), Some(&invoice));
    assert_eq!(invoice["version"], 3);
    assert_eq!(
        steps(&invoice),
        vec![step("opened", "10.00", None), step("voided", "10.00", None)]
    );
}

#[tokio::test]
async fn a_deletion_voids_the_invoice() {
    // Arrange
    let app = spawn_app().await;
    let mut order = TestOrder::new("Ada", &[("widget", 1, "7.50")]);
    app.publish(&[order.created()]).await;
    app.wait_for_invoice(&order.id(), "opened", |_| true).await;

    // Act
    app.publish(&[order.delete()]).await;

    // Assert
    let invoice = app
        .wait_for_invoice(&order.id(), "void", |invoice| invoice["status"] == "void")
        .await;
    app.settle().await;
    assert_eq!(app.invoice(&order.id()).await.as_ref(), Some(&invoice));
    assert_eq!(invoice["version"], 2);
    assert_eq!(
        steps(&invoice),
        vec![step("opened", "7.50", None), step("voided", "7.50", None)]
    );
}
