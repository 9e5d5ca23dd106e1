//! Duplicates, reordering and lost events: the ledger still ends right.

use shared_events::OrderStatus;

use crate::helpers::{TestOrder, Units, spawn_app};

#[tokio::test]
async fn the_same_event_twice_takes_effect_once() {
    // Arrange
    let app = spawn_app().await;
    let mut order = TestOrder::of_units(&[("widget", 2)]);
    let created = order.created();
    let updated = order.with_items(&[("widget", 3), ("gadget", 1)]);

    // Act
    app.publish(&[created.clone(), created, updated.clone()])
        .await;
    app.publish(&[updated]).await;

    // Assert
    app.wait_for_reserved(&[("widget", 3), ("gadget", 1)]).await;
    app.settle().await;
    assert_eq!(
        app.reservations().await,
        vec![("gadget".to_owned(), 1), ("widget".to_owned(), 3)]
    );
}

#[tokio::test]
async fn version_3_delivered_before_version_2_ends_at_version_3() {
    // Arrange
    let app = spawn_app().await;
    let mut order = TestOrder::of_units(&[("widget", 2)]);
    let v1 = order.created();
    let v2 = order.with_items(&[("widget", 7)]);
    let v3 = order.with_items(&[("widget", 1), ("gadget", 2)]);

    // Act
    app.publish(&[v1, v3, v2]).await;
    app.settle().await;

    // Assert
    assert_eq!(
        app.reservations().await,
        vec![("gadget".to_owned(), 2), ("widget".to_owned(), 1)]
    );
}

#[tokio::test]
async fn a_lost_middle_event_or_a_lost_create_is_made_good_by_the_next() {
    // Arrange
    let app = spawn_app().await;
    let mut lost_middle = TestOrder::of_units(&[("widget", 2)]);
    let created = lost_middle.created();
    let _lost = lost_middle.with_items(&[("widget", 9)]);
    let v3 = lost_middle.with_status(OrderStatus::Confirmed);
    let mut lost_create = TestOrder::of_units(&[("gadget", 4)]);
    let _lost = lost_create.created();
    let update = lost_create.with_items(&[("gadget", 5)]);

    // Act
    app.publish(&[created, v3, update]).await;
    app.settle().await;

    // Assert: version 3's snapshot carries version 2's nine widgets.
    assert_eq!(
        app.reservations().await,
        vec![("gadget".to_owned(), 5), ("widget".to_owned(), 9)]
    );
}

#[tokio::test]
async fn events_older_than_a_deletion_are_not_applied_again() {
    // Arrange
    let app = spawn_app().await;
    let mut order = TestOrder::of_units(&[("widget", 2)]);
    let created = order.created();
    let updated = order.with_items(&[("widget", 4)]);
    let deleted = order.delete();
    app.publish(&[created.clone(), deleted]).await;
    app.settle().await;

    // Act
    app.publish(&[updated, created]).await;
    app.settle().await;

    // Assert
    assert_eq!(app.reservations().await, vec![("widget".to_owned(), 0)]);
}
