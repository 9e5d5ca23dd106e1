//! The ledger survives a graceful restart, and one data directory serves one process.

use serde_json::json;

use crate::helpers::{TestOrder, Units, spawn_app};

#[tokio::test]
async fn the_ledger_survives_a_restart() {
    // Arrange
    let app = spawn_app().await;
    let mut order = TestOrder::of_units(&[("widget", 2), ("gadget", 1)]);
    let created = order.created();
    let response = app.put_stock("widget", &json!({"on_hand": 5})).await;
    assert_eq!(response.status().as_u16(), 200);
    app.publish(std::slice::from_ref(&created)).await;
    app.wait_for_reserved(&[("widget", 2), ("gadget", 1)]).await;
    let before = app.levels().await;

    // Act
    let app = app.restart().await;

    // Assert
    assert_eq!(app.levels().await, before);
    // The restarted service still knows what it applied, and applies what is new.
    app.publish(&[created, order.with_items(&[("widget", 3)])])
        .await;
    app.wait_for_reserved(&[("widget", 3), ("gadget", 0)]).await;
    app.settle().await;
    assert_eq!(
        app.reservations().await,
        vec![("gadget".to_owned(), 0), ("widget".to_owned(), 3)]
    );
}

#[tokio::test]
async fn a_second_process_cannot_open_the_same_data_directory() {
    let app = spawn_app().await;

    app.assert_data_dir_locked().await;
}
