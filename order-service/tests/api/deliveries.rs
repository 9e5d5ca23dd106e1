//! `GET /orders/{id}/deliveries`: an order's delivery timeline, and its errors.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{order_body, send, spawn_app};

#[tokio::test]
async fn an_order_not_yet_delivered_has_an_empty_timeline() {
    // Arrange (the relay is off: nothing is published)
    let app = spawn_app().await;
    let order = app.create_order(&order_body("Ada")).await;
    let id = order["order_id"].as_str().expect("an id");

    // Act
    let response = app.get(&format!("/orders/{id}/deliveries")).await;

    // Assert
    assert_eq!(response.status(), 200);
    let timeline: Value = response.json().await.expect("json");
    assert_eq!(timeline["order_id"], id);
    assert_eq!(timeline["events"], Value::Array(Vec::new()));
}

#[tokio::test]
async fn unknown_orders_bad_ids_and_other_methods_are_clear_errors() {
    // Arrange
    let app = spawn_app().await;
    let cases = [
        (
            Method::GET,
            "/orders/0190b6a8-7d4e-7000-8000-000000000000/deliveries",
            404,
            "an order nobody has heard of",
        ),
        (
            Method::GET,
            "/orders/not-an-id/deliveries",
            404,
            "a malformed id",
        ),
        (
            Method::POST,
            "/orders/0190b6a8-7d4e-7000-8000-000000000000/deliveries",
            405,
            "the timeline is read-only",
        ),
    ];

    for (method, path, status, case) in cases {
        // Act
        let response = send(app.request(method, path)).await;

        // Assert
        assert_eq!(response.status().as_u16(), status, "{case}");
        let body: Value = response.json().await.expect("a JSON error");
        assert!(body["error"]["code"].is_string(), "{case}: {body}");
    }
}
