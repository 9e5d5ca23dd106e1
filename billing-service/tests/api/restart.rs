//! The invoices survive a graceful restart, and one data directory serves one process.

use crate::helpers::{TestOrder, spawn_app};

#[tokio::test]
async fn the_invoices_survive_a_restart() {
    // Arrange
    let app = spawn_app().await;
    let mut order = TestOrder::new("Ada", &[("widget", 2, "1.25")]);
    let created = order.created();
    let voided = TestOrder::new("Bob", &[("gadget", 1, "3.00")]);
    let mut voided_clone = voided.clone();
    app.publish(&[created.clone(), voided.created(), voided_clone.delete()])
        .await;
    app.wait_for_invoice(&voided.id(), "void", |invoice| invoice["status"] == "void")
        .await;
    app.wait_for_invoice(&order.id(), "opened", |_| true).await;
    let before = app.all_invoices(10).await;

    // Act
    let app = app.restart().await;

    // Assert
    assert_eq!(app.all_invoices(10).await, before);
    // The restarted service still knows what it applied, and applies what is new.
    app.publish(&[created, order.with_lines(&[("widget", 3, "1.25")])])
        .await;
    let invoice = app
        .wait_for_invoice(&order.id(), "amended", |invoice| invoice["version"] == 2)
        .await;
    app.settle().await;
    assert_eq!(app.invoice(&order.id()).await.as_ref(), Some(&invoice));
    assert_eq!(invoice["amount"].to_string(), "3.75");
    assert_eq!(invoice["history"].as_array().expect("history").len(), 2);
}

#[tokio::test]
async fn a_second_process_cannot_open_the_same_data_directory() {
    let app = spawn_app().await;

    app.assert_data_dir_locked().await;
}
