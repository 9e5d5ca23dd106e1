//! `GET /invoices` (paginated, newest first) and `GET /invoices/{order_id}`.

use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{TestOrder, spawn_app};

#[tokio::test]
async fn pages_list_every_invoice_newest_first_once() {
    // Arrange
    let app = spawn_app().await;
    let orders: Vec<TestOrder> = (0..7)
        .map(|n| TestOrder::new(&format!("customer {n}"), &[("widget", 1, "1.00")]))
        .collect();
    let events: Vec<_> = orders.iter().map(TestOrder::created).collect();
    app.publish(&events).await;
    // Shards work side by side: the newest order's invoice may come before older ones'.
    for order in &orders {
        app.wait_for_invoice(&order.id(), "opened", |_| true).await;
    }

    for limit in [1, 3, 7, 50] {
        // Act
        let invoices = app.all_invoices(limit).await;

        // Assert
        let ids: Vec<&str> = invoices
            .iter()
            .map(|invoice| invoice["order_id"].as_str().expect("id"))
            .collect();
        let expected: Vec<String> = orders.iter().rev().map(TestOrder::id).collect();
        assert_eq!(ids, expected, "limit {limit}");
    }
}

#[tokio::test]
async fn the_first_page_has_50_and_a_cursor_when_more_follow() {
    // Arrange
    let app = spawn_app().await;
    let orders: Vec<TestOrder> = (0..51)
        .map(|n| TestOrder::new(&format!("customer {n}"), &[("widget", 1, "1.00")]))
        .collect();
    let events: Vec<_> = orders.iter().map(TestOrder::created).collect();
    app.publish(&events).await;
    // Shards work side by side: the newest order's invoice may come before older ones'.
    for order in &orders {
        app.wait_for_invoice(&order.id(), "opened", |_| true).await;
    }

    // Act
    let response = app.get("/invoices").await;

    // Assert
    assert_eq!(response.status().as_u16(), 200);
    let page: Value = response.json().await.expect("json");
    assert_eq!(page["invoices"].as_array().expect("invoices").len(), 50);
    let cursor = page["next_cursor"].as_str().expect("a next cursor");
    let rest: Value = app
        .get(&format!("/invoices?cursor={cursor}"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(rest["invoices"][0]["order_id"], orders[0].id().as_str());
    assert_eq!(rest["next_cursor"], Value::Null);
}

#[tokio::test]
async fn bad_list_parameters_are_a_422() {
    // Arrange
    let app = spawn_app().await;
    let cases = [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=-1", "limit"),
        ("limit=ten", "limit"),
        ("cursor=not-a-cursor", "cursor"),
        ("limit=1&limit=2", "limit"),
        ("status=open", "status"),
    ];

    for (query, field) in cases {
        // Act
        let response = app.get(&format!("/invoices?{query}")).await;

        // Assert
        assert_eq!(response.status().as_u16(), 422, "{query}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["code"], "invalid_query", "{query}: {body}");
        assert_eq!(body["error"]["field"], field, "{query}: {body}");
    }
}

#[tokio::test]
async fn a_query_that_is_not_utf8_once_decoded_is_a_400() {
    let app = spawn_app().await;

    let response = app.get("/invoices?cursor=%C3").await;

    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "malformed_query", "{body}");
}

#[tokio::test]
async fn an_unknown_or_malformed_order_id_is_a_json_404() {
    let app = spawn_app().await;

    for id in [Uuid::now_v7().to_string(), "not-a-uuid".to_owned()] {
        let response = app.get(&format!("/invoices/{id}")).await;

        assert_eq!(response.status().as_u16(), 404, "{id}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["code"], "not_found", "{id}: {body}");
    }
}
