//! Each kind of order event takes effect on the stock, exactly once.

use shared_events::OrderStatus;

use crate::helpers::{TestOrder, Units, spawn_app};

#[tokio::test]
async fn a_create_reserves_its_items_once() {
    // Arrange
    let app = spawn_app().await;
    let order = TestOrder::of_units(&[("widget", 2), ("gadget", 1), ("widget", 3)]);

    // Act
    app.publish(&[order.created()]).await;

    // Assert
    app.wait_for_reserved(&[("widget", 5), ("gadget", 1)]).await;
    app.settle().await;
    assert_eq!(
        app.reservations().await,
        vec![("gadget".to_owned(), 1), ("widget".to_owned(), 5)]
    );
}

#[tokio::test]
async fn an_update_of_the_items_moves_only_the_difference() {
    // Arrange
    let app = spawn_app().await;
    let mut order = TestOrder::of_units(&[("widget", 2), ("gadget", 1)]);
    let other = TestOrder::of_units(&[("widget", 10)]);
    app.publish(&[order.created(), other.created()]).await;
    app.wait_for_reserved(&[("widget", 12), ("gadget", 1)])
        .await;

    // Act: more widgets, no more gadget, a new gizmo.
    app.publish(&[order.with_items(&[("widget", 5), ("gizmo", 4)])])
        .await;

    // Assert
    app.wait_for_reserved(&[("widget", 15), ("gadget", 0), ("gizmo", 4)])
        .await;
    app.settle().await;
    assert_eq!(
        app.reservations().await,
        vec![
            ("gadget".to_owned(), 0),
            ("gizmo".to_owned(), 4),
            ("widget".to_owned(), 15)
        ]
    );
}

#[tokio::test]
async fn a_status_change_keeps_the_reservation_and_a_cancellation_releases_it() {
    // Arrange
    let app = spawn_app().await;
    let mut order = TestOrder::of_units(&[("widget", 2), ("gadget", 1)]);
    let other = TestOrder::of_units(&[("widget", 1)]);
    app.publish(&[order.created(), other.created()]).await;
    app.wait_for_reserved(&[("widget", 3), ("gadget", 1)]).await;

    // Act
    app.publish(&[order.with_status(OrderStatus::Confirmed)])
        .await;
    app.settle().await;

    // Assert
    app.wait_for_reserved(&[("widget", 3), ("gadget", 1)]).await;

    // Act
    app.publish(&[order.with_status(OrderStatus::Cancelled)])
        .await;

    // Assert
    app.wait_for_reserved(&[("widget", 1), ("gadget", 0)]).await;
    app.settle().await;
    app.wait_for_reserved(&[("widget", 1), ("gadget", 0)]).await;
}

#[tokio::test]
async fn a_deletion_releases_what_the_order_held() {
    // Arrange
    let app = spawn_app().await;
    let mut order = TestOrder::of_units(&[("widget", 2), ("gadget", 1)]);
    let other = TestOrder::of_units(&[("widget", 1)]);
    app.publish(&[order.created(), other.created()]).await;
    app.wait_for_reserved(&[("widget", 3), ("gadget", 1)]).await;

    // Act
    app.publish(&[order.delete()]).await;

    // Assert
    app.wait_for_reserved(&[("widget", 1), ("gadget", 0)]).await;
    app.settle().await;
    app.wait_for_reserved(&[("widget", 1), ("gadget", 0)]).await;
}

#[tokio::test]
async fn a_shortage_is_recorded_as_a_backorder() {
    // Arrange
    let app = spawn_app().await;
    let response = app
        .put_stock("widget", &serde_json::json!({"on_hand": 3}))
        .await;
    assert_eq!(response.status().as_u16(), 200);

    // Act
    app.publish(&[TestOrder::of_units(&[("widget", 5)]).created()])
        .await;

    // Assert
    app.wait_for_reserved(&[("widget", 5)]).await;
    let level = app.level("widget").await.expect("known");
    assert_eq!(
        (level.on_hand, level.available, level.backordered),
        (3, -2, 2)
    );

    // Restocking clears the backorder.
    let response = app
        .put_stock("widget", &serde_json::json!({"on_hand": 8}))
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let level = app.level("widget").await.expect("known");
    assert_eq!((level.available, level.backordered), (3, 0));
}
