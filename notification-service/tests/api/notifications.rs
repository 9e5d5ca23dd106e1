//! `GET /notifications`: newest first, paginated, filtered by order.

use serde_json::Value;

use crate::helpers::{created, new_order, spawn_app, updated};
use shared_events::OrderStatus;
use test_support::smtp::SmtpServer;

#[tokio::test]
async fn notifications_are_listed_newest_first_in_pages_and_by_order() {
    // Arrange: five events about two orders, one of them without an address.
    let smtp = SmtpServer::start().await;
    let app = spawn_app(Some(&smtp)).await;
    let ada = new_order(Some("ada@example.com"));
    let (ada_v2, ada_confirmed) = updated(&ada, |order| order.status = OrderStatus::Confirmed);
    let (_, ada_shipped) = updated(&ada_v2, |order| order.status = OrderStatus::Shipped);
    let anonymous = new_order(None);
    let (_, anonymous_confirmed) =
        updated(&anonymous, |order| order.status = OrderStatus::Confirmed);
    let events = [
        created(&ada),
        created(&anonymous),
        ada_confirmed,
        anonymous_confirmed,
        ada_shipped,
    ];
    for (n, event) in events.iter().enumerate() {
        app.publish(event).await;
        app.wait_until_handled(n as u64 + 1).await;
    }

    // Act
    let all = app.all_notifications(2).await;
    let ada_page: Value = app
        .get_notifications(&format!("order_id={}", ada.order_id))
        .await
        .json()
        .await
        .expect("json");

    // Assert
    let event_ids: Vec<String> = all
        .iter()
        .map(|n| n["event_id"].as_str().expect("event_id").to_owned())
        .collect();
    let newest_first: Vec<String> = events.iter().rev().map(|e| e.id.to_string()).collect();
    assert_eq!(event_ids, newest_first);
    let shipped = &all[0];
    assert_eq!(shipped["order_id"], ada.order_id.to_string());
    assert_eq!(shipped["event_type"], "order.updated");
    assert_eq!(shipped["order_version"], 3);
    assert_eq!(shipped["recipient"], "ada@example.com");
    assert_eq!(
        shipped["subject"],
        format!("Order {} shipped", ada.order_id)
    );
    assert_eq!(shipped["status"], "sent");
    assert!(shipped["at"].is_string(), "{shipped}");
    assert_eq!(all[1]["status"], "skipped");
    let ada_versions: Vec<u64> = ada_page["notifications"]
        .as_array()
        .expect("notifications")
        .iter()
        .map(|n| n["order_version"].as_u64().expect("version"))
        .collect();
    assert_eq!(ada_versions, [3, 2, 1]);
    assert_eq!(ada_page["next_cursor"], Value::Null);
    app.finish().await;
}

#[tokio::test]
async fn invalid_query_parameters_are_422() {
    let app = spawn_app(None).await;
    let cases = [
        ("limit=0", "limit", "a limit below 1"),
        ("limit=501", "limit", "a limit above 500"),
        ("limit=ten", "limit", "a limit that is not a number"),
        (
            "cursor=bm90LW91cnM",
            "cursor",
            "a cursor this service did not give out",
        ),
        ("order_id=42", "order_id", "an order id that is not a UUID"),
        ("colour=red", "colour", "an unknown parameter"),
    ];
    for (query, field, case) in cases {
        let response = app.get_notifications(query).await;

        assert_eq!(response.status().as_u16(), 422, "{case}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["code"], "invalid_query", "{case}");
        assert_eq!(body["error"]["field"], field, "{case}: {body}");
    }
    let response = app.get_notifications("order_id=%FF").await;
    assert_eq!(response.status().as_u16(), 400, "not UTF-8 once decoded");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "malformed_query", "{body}");
    app.finish().await;
}
