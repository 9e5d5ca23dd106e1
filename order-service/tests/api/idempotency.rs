//! `Idempotency-Key`: a retried create answers like the first one and creates nothing more.

use reqwest::header::HeaderValue;
use reqwest::{Method, Response};
use serde_json::Value;

use crate::helpers::{TestApp, header, json_with_status, order_body, send, spawn_app};

#[tokio::test]
async fn a_retry_replays_the_first_answer_and_creates_nothing() {
    // Arrange
    let app = spawn_app().await;
    let body = order_body("Ada").to_string();
    let first = first_post(&app, "retry-1", &body).await;
    assert!(
        first.headers().get("idempotent-replayed").is_none(),
        "the first answer is not a replay"
    );
    let (first_location, first_etag) = (header(&first, "location"), header(&first, "etag"));
    let created: Value = first.json().await.expect("JSON");

    // Act
    let retry = post_with_key(&app, "retry-1", &body).await;

    // Assert
    assert_eq!(retry.status().as_u16(), 201, "the retry answers 201 too");
    assert_eq!(
        header(&retry, "idempotent-replayed"),
        "true",
        "the retry says it is a replay"
    );
    assert_eq!(
        header(&retry, "location"),
        first_location,
        "the same Location"
    );
    assert_eq!(header(&retry, "etag"), first_etag, "the same ETag");
    let replayed: Value = retry.json().await.expect("JSON");
    assert_eq!(replayed, created, "the same order");
    assert_eq!(
        app.list_all_orders(50).await,
        vec![created],
        "only one order exists"
    );
}

#[tokio::test]
async fn the_same_order_written_differently_is_the_same_request() {
    // Arrange
    let app = spawn_app().await;
    let original = r#"{"customer_name":"Ada","customer_email":"ada@example.com","items":[{"product":"widget","quantity":2,"amount":9.99}]}"#;
    let first = first_post(&app, "same-order", original).await;
    let created: Value = first.json().await.expect("JSON");
    let cases = [
        (
            "keys in another order",
            r#"{"items":[{"amount":9.99,"quantity":2,"product":"widget"}],"customer_email":"ada@example.com","customer_name":"Ada"}"#,
        ),
        (
            "other whitespace",
            "{\n  \"customer_name\" : \"Ada\",\n  \"customer_email\" : \"ada@example.com\",\n  \"items\" : [ { \"product\" : \"widget\", \"quantity\" : 2, \"amount\" : 9.99 } ]\n}\n",
        ),
    ];

    for (case, body) in cases {
        // Act
        let retry = post_with_key(&app, "same-order", body).await;

        // Assert
        assert_eq!(retry.status().as_u16(), 201, "{case}: status");
        assert_eq!(
            header(&retry, "idempotent-replayed"),
            "true",
            "{case}: a replay"
        );
        let replayed: Value = retry.json().await.expect("JSON");
        assert_eq!(
            replayed["order_id"], created["order_id"],
            "{case}: the same order"
        );
    }
    assert_eq!(app.order_count().await, 1, "only one order exists");
}

#[tokio::test]
async fn a_key_reused_with_another_order_is_422() {
    // Arrange
    let app = spawn_app().await;
    first_post(&app, "reused", &order_body("Ada").to_string()).await;

    // Act
    let reused = post_with_key(&app, "reused", &order_body("Grace").to_string()).await;

    // Assert
    let body = json_with_status(reused, 422, "another body under the same key is refused").await;
    assert_eq!(
        body["error"]["code"], "idempotency_key_reused",
        "code in {body}"
    );
    let orders = app.list_all_orders(50).await;
    assert_eq!(orders.len(), 1, "only the first order exists");
    assert_eq!(
        orders[0]["customer_name"], "Ada",
        "the first order is untouched"
    );
}

#[tokio::test]
async fn a_retry_after_the_order_was_deleted_says_so_and_creates_nothing() {
    // Arrange
    let app = spawn_app().await;
    let body = order_body("Ada").to_string();
    let created: Value = first_post(&app, "deleted-since", &body)
        .await
        .json()
        .await
        .expect("JSON");
    let id = created["order_id"].as_str().expect("an id");
    assert_eq!(app.delete_order(id).await.status().as_u16(), 200);

    // Act
    let retry = post_with_key(&app, "deleted-since", &body).await;

    // Assert: not a 201 for an order that no longer exists.
    let answer = json_with_status(retry, 409, "a replay of a deleted order").await;
    assert_eq!(answer["error"]["code"], "conflict", "{answer}");
    let message = answer["error"]["message"].as_str().expect("a message");
    assert!(message.contains(id), "names the order: {message}");
    assert_eq!(app.order_count().await, 0, "nothing created again");
}

#[tokio::test]
async fn different_keys_create_different_orders() {
    // Arrange
    let app = spawn_app().await;
    let body = order_body("Ada").to_string();

    // Act
    let first = post_with_key(&app, "key-a", &body).await;
    let second = post_with_key(&app, "key-b", &body).await;

    // Assert
    assert_eq!(
        first.status().as_u16(),
        201,
        "the first key creates an order"
    );
    assert_eq!(
        second.status().as_u16(),
        201,
        "the second key creates an order"
    );
    assert!(
        second.headers().get("idempotent-replayed").is_none(),
        "another key is no replay"
    );
    assert_eq!(app.order_count().await, 2, "two keys, two orders");
}

#[tokio::test]
async fn keys_are_1_to_255_visible_ascii_characters() {
    // Arrange
    let app = spawn_app().await;
    let body = order_body("Ada").to_string();
    let cases = [
        ("one character", HeaderValue::from_static("k"), 201),
        (
            "255 characters",
            HeaderValue::from_str(&"k".repeat(255)).expect("a header"),
            201,
        ),
        (
            "a UUID",
            HeaderValue::from_static("0190b6a8-7d4e-7000-8000-000000000000"),
            201,
        ),
        (
            "256 characters",
            HeaderValue::from_str(&"x".repeat(256)).expect("a header"),
            400,
        ),
        ("empty", HeaderValue::from_static(""), 400),
        ("with a space", HeaderValue::from_static("two words"), 400),
        (
            "not ASCII",
            HeaderValue::from_bytes("clé".as_bytes()).expect("a header"),
            400,
        ),
    ];

    for (case, key, status) in cases {
        // Act
        let response = post_with_header_key(&app, key, &body).await;

        // Assert
        assert_eq!(response.status().as_u16(), status, "{case}: status");
        if status == 400 {
            let error: Value = response.json().await.expect("JSON");
            assert_eq!(
                error["error"]["code"], "malformed_idempotency_key",
                "{case}: code in {error}"
            );
        }
    }
    let count = app.order_count().await;
    assert_eq!(count, 3, "only the accepted keys created orders");
}

#[tokio::test]
async fn keys_survive_a_restart() {
    // Arrange
    let app = spawn_app().await;
    let body = order_body("Ada").to_string();
    let first = first_post(&app, "durable", &body).await;
    let created: Value = first.json().await.expect("JSON");
    let app = app.restart().await;

    // Act
    let retry = post_with_key(&app, "durable", &body).await;
    let reused = post_with_key(&app, "durable", &order_body("Grace").to_string()).await;

    // Assert
    assert_eq!(
        retry.status().as_u16(),
        201,
        "the retry after a restart answers 201"
    );
    assert_eq!(
        header(&retry, "idempotent-replayed"),
        "true",
        "the retry after a restart is a replay"
    );
    let replayed: Value = retry.json().await.expect("JSON");
    assert_eq!(replayed, created, "the same order as before the restart");
    assert_eq!(
        reused.status().as_u16(),
        422,
        "the key still refuses another body"
    );
    assert_eq!(
        app.list_all_orders(50).await,
        vec![created],
        "only one order exists"
    );
}

/// `POST /orders` with a JSON `body` under the idempotency `key`.
async fn post_with_key(app: &TestApp, key: &str, body: &str) -> Response {
    let key = HeaderValue::from_str(key).expect("a header");
    post_with_header_key(app, key, body).await
}

/// The first `POST /orders` under `key`, which must create the order.
async fn first_post(app: &TestApp, key: &str, body: &str) -> Response {
    let first = post_with_key(app, key, body).await;
    assert_eq!(
        first.status().as_u16(),
        201,
        "the first request creates the order"
    );
    first
}

/// `POST /orders` with a JSON `body` under any idempotency key, valid or not.
async fn post_with_header_key(app: &TestApp, key: HeaderValue, body: &str) -> Response {
    let request = app.request(Method::POST, "/orders");
    let request = request.header("content-type", "application/json");
    send(request.header("idempotency-key", key).body(body.to_owned())).await
}
