//! `GET /orders/{id}`: the stored order with its entity tag, or a JSON 404.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{assert_error_message, etag, json_with_status, order_body, spawn_app};

#[tokio::test]
async fn get_returns_the_order_as_created_with_its_etag() {
    // Arrange
    let app = spawn_app().await;
    let created = app.create_order(&order_body("Ada")).await;
    let id = created["order_id"].as_str().expect("order_id");

    // Act
    let response = app.get_order(id).await;

    // Assert
    assert_eq!(response.status().as_u16(), 200, "a stored order is found");
    assert_eq!(etag(&response), "\"1\"", "the ETag is the order's version");
    let order: Value = response.json().await.expect("the order is JSON");
    assert_eq!(
        order, created,
        "GET shows the order as the create answered it"
    );
}

#[tokio::test]
async fn etag_follows_the_version() {
    // Arrange
    let app = spawn_app().await;
    let created = app.create_order(&order_body("Ada")).await;
    let id = created["order_id"].as_str().expect("order_id");
    let patched = app
        .patch_order(id, &json!({"customer_name": "Ada King"}), None)
        .await;
    assert_eq!(patched.status().as_u16(), 200, "the patch is accepted");

    // Act
    let response = app.get_order(id).await;

    // Assert
    assert_eq!(etag(&response), "\"2\"", "the ETag moves with the version");
    let order: Value = response.json().await.expect("the order is JSON");
    assert_eq!(order["version"], 2, "one change, one version");
    assert_eq!(order["customer_name"], "Ada King", "GET shows the change");
}

#[tokio::test]
async fn unknown_ids_are_a_json_404() {
    // Arrange
    let app = spawn_app().await;
    app.create_order(&order_body("Ada")).await;
    let unknown = Uuid::now_v7().to_string();
    let cases = [
        ("an unknown UUID v7", unknown.as_str()),
        ("the nil UUID", "00000000-0000-0000-0000-000000000000"),
        ("a word", "not-a-uuid"),
        ("a number", "123"),
        (
            "a UUID with a trailing character",
            "0190b6a8-7d4e-7000-8000-00000000000x",
        ),
    ];

    for (case, id) in cases {
        // Act
        let response = app.get_order(id).await;

        // Assert
        let body = json_with_status(response, 404, &format!("{case}: status")).await;
        assert_eq!(body["error"]["code"], "not_found", "{case}: code in {body}");
        assert_error_message(&body, case);
    }
}
