//! `POST /orders`: what a valid request becomes, and every way a bad one is refused.

use reqwest::{Method, Response};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use uuid::{Uuid, Version};

use crate::helpers::{assert_error_message, header, order_body, send, spawn_app};

/// The largest request body the service accepts with its test settings.
const BODY_LIMIT: usize = 64 * 1024;

#[tokio::test]
async fn create_answers_201_with_the_order_location_and_etag() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let response = app.post_order(&order_body("Ada Lovelace")).await;

    // Assert
    assert_eq!(response.status().as_u16(), 201, "a valid order is created");
    let location = header(&response, "location");
    let etag = header(&response, "etag");
    let order: Value = response.json().await.expect("the order is JSON");
    let id = order["order_id"].as_str().expect("order_id is a string");
    let uuid = Uuid::parse_str(id).expect("order_id is a UUID");
    assert_eq!(
        uuid.get_version(),
        Some(Version::SortRand),
        "order_id is a UUID v7"
    );
    assert_eq!(
        location,
        format!("/orders/{id}"),
        "Location names the new order"
    );
    assert_eq!(etag, "\"1\"", "the ETag is the first version");
    assert_eq!(order["customer_name"], "Ada Lovelace");
    assert_eq!(order["customer_email"], "ada@example.com");
    assert_eq!(order["status"], "pending", "a new order is pending");
    assert_eq!(order["version"], 1, "a new order is at version 1");
    assert!(
        order["order_date"].is_string(),
        "order_date is a timestamp: {order}"
    );
    assert_eq!(
        order["order_date"], order["order_update"],
        "a new order was last updated when created"
    );
    let items = order["items"].as_array().expect("items is an array");
    let lines: Vec<(String, String, String)> = items
        .iter()
        .map(|item| {
            (
                item["product"].to_string(),
                item["quantity"].to_string(),
                item["amount"].to_string(),
            )
        })
        .collect();
    let expected = [("\"widget\"", "2", "9.99"), ("\"gadget\"", "1", "0.10")].map(
        |(product, quantity, amount)| (product.to_owned(), quantity.to_owned(), amount.to_owned()),
    );
    assert_eq!(
        lines, expected,
        "the items come back as sent, amounts with two decimals"
    );
    assert_eq!(
        order["total_amount"].to_string(),
        "20.08",
        "2 x 9.99 + 1 x 0.10"
    );
}

#[tokio::test]
async fn total_is_the_exact_decimal_sum_of_quantity_times_unit_price() {
    // Arrange
    let app = spawn_app().await;
    let cases = [
        (
            "three items of 0.10",
            r#"[{"product":"a","quantity":1,"amount":0.10},{"product":"b","quantity":1,"amount":0.10},{"product":"c","quantity":1,"amount":0.10}]"#,
            "0.30",
        ),
        (
            "three units of 0.10",
            r#"[{"product":"a","quantity":3,"amount":0.1}]"#,
            "0.30",
        ),
        (
            "amounts as strings and integers",
            r#"[{"product":"a","quantity":1,"amount":"0.1"},{"product":"b","quantity":2,"amount":5}]"#,
            "10.10",
        ),
        (
            "the largest line",
            r#"[{"product":"a","quantity":3,"amount":19.99},{"product":"b","quantity":10000,"amount":1000000000}]"#,
            "10000000000059.97",
        ),
        (
            "a free item",
            r#"[{"product":"a","quantity":7,"amount":0}]"#,
            "0.00",
        ),
    ];

    for (case, items, total) in cases {
        // Act
        let body = format!(r#"{{"customer_name":"Ada","items":{items}}}"#);
        let response = app.post_raw(body, "application/json").await;

        // Assert
        assert_eq!(response.status().as_u16(), 201, "{case}: created");
        let text = response.text().await.expect("a body");
        assert!(
            text.contains(&format!(r#""total_amount":{total}"#)),
            "{case}: expected total {total} in {text}"
        );
    }
}

#[tokio::test]
async fn valid_variations_are_accepted_and_normalised() {
    // Arrange
    let app = spawn_app().await;
    let hundred_items: Vec<Value> = (0..100)
        .map(|n| json!({"product": format!("p{n}"), "quantity": 1, "amount": 1}))
        .collect();
    let cases = [
        (
            "no customer_email",
            without(order_body("Ada"), "customer_email"),
            "/customer_email",
            Value::Null,
        ),
        (
            "customer_email null",
            with(order_body("Ada"), |b| b["customer_email"] = Value::Null),
            "/customer_email",
            Value::Null,
        ),
        (
            "customer_email empty",
            with(order_body("Ada"), |b| b["customer_email"] = json!("")),
            "/customer_email",
            Value::Null,
        ),
        (
            "customer_email blank",
            with(order_body("Ada"), |b| b["customer_email"] = json!("   ")),
            "/customer_email",
            Value::Null,
        ),
        (
            "customer_email padded",
            with(order_body("Ada"), |b| {
                b["customer_email"] = json!("  ada@example.com ")
            }),
            "/customer_email",
            json!("ada@example.com"),
        ),
        (
            "customer_name padded",
            order_body("  Ada  "),
            "/customer_name",
            json!("Ada"),
        ),
        (
            "customer_name of 200 characters",
            order_body(&"x".repeat(200)),
            "/customer_name",
            json!("x".repeat(200)),
        ),
        (
            "customer_name of 200 two-byte characters",
            order_body(&"é".repeat(200)),
            "/customer_name",
            json!("é".repeat(200)),
        ),
        (
            "100 items",
            with(order_body("Ada"), |b| b["items"] = json!(hundred_items)),
            "/items/99/product",
            json!("p99"),
        ),
        (
            "quantity 10000",
            with(order_body("Ada"), |b| {
                b["items"][0]["quantity"] = json!(10_000)
            }),
            "/items/0/quantity",
            json!(10_000),
        ),
        (
            "quantity 1",
            with(order_body("Ada"), |b| b["items"][0]["quantity"] = json!(1)),
            "/items/0/quantity",
            json!(1),
        ),
    ];

    for (case, body, pointer, expected) in cases {
        // Act
        let response = app.post_order(&body).await;

        // Assert
        assert_eq!(response.status().as_u16(), 201, "{case}: created");
        let order: Value = response.json().await.expect("the order is JSON");
        assert_eq!(
            order.pointer(pointer),
            Some(&expected),
            "{case}: {pointer} in {order}"
        );
    }
}

#[tokio::test]
async fn invalid_fields_are_422_naming_the_field() {
    // Arrange
    let app = spawn_app().await;
    let item = |n: usize| json!({"product": format!("p{n}"), "quantity": 1, "amount": 1});
    let cases = [
        (
            "blank customer_name",
            with(order_body("Ada"), |b| b["customer_name"] = json!("")),
            "customer_name",
        ),
        (
            "whitespace customer_name",
            with(order_body("Ada"), |b| b["customer_name"] = json!(" \t ")),
            "customer_name",
        ),
        (
            "201-character customer_name",
            order_body(&"x".repeat(201)),
            "customer_name",
        ),
        (
            "control character in customer_name",
            order_body("Ada\u{7}"),
            "customer_name",
        ),
        (
            "customer_name a number",
            with(order_body("Ada"), |b| b["customer_name"] = json!(42)),
            "customer_name",
        ),
        (
            "customer_name null",
            with(order_body("Ada"), |b| b["customer_name"] = Value::Null),
            "customer_name",
        ),
        (
            "missing customer_name",
            without(order_body("Ada"), "customer_name"),
            "customer_name",
        ),
        (
            "email without @",
            email("ada.example.com"),
            "customer_email",
        ),
        (
            "email without local part",
            email("@example.com"),
            "customer_email",
        ),
        ("email without domain", email("ada@"), "customer_email"),
        (
            "email with a one-label domain",
            email("ada@example"),
            "customer_email",
        ),
        (
            "email with two @",
            email("ada@@example.com"),
            "customer_email",
        ),
        (
            "email with a space",
            email("a da@example.com"),
            "customer_email",
        ),
        (
            "email with a numeric top-level domain",
            email("ada@example.123"),
            "customer_email",
        ),
        (
            "email of 255 characters",
            email(&format!("{}@example.com", "a".repeat(243))),
            "customer_email",
        ),
        (
            "email a number",
            with(order_body("Ada"), |b| b["customer_email"] = json!(42)),
            "customer_email",
        ),
        (
            "missing items",
            without(order_body("Ada"), "items"),
            "items",
        ),
        (
            "empty items",
            with(order_body("Ada"), |b| b["items"] = json!([])),
            "items",
        ),
        (
            "101 items",
            with(order_body("Ada"), |b| {
                b["items"] = (0..101).map(item).collect()
            }),
            "items",
        ),
        (
            "items not an array",
            with(order_body("Ada"), |b| b["items"] = json!("widget")),
            "items",
        ),
        (
            "blank product",
            with(order_body("Ada"), |b| b["items"][0]["product"] = json!(" ")),
            "items[0].product",
        ),
        ("quantity 0", quantity(json!(0)), "items[0].quantity"),
        (
            "quantity 10001",
            quantity(json!(10_001)),
            "items[0].quantity",
        ),
        ("quantity -1", quantity(json!(-1)), "items[0].quantity"),
        ("quantity 1.5", quantity(json!(1.5)), "items[0].quantity"),
        (
            "quantity as a string",
            quantity(json!("3")),
            "items[0].quantity",
        ),
        (
            "quantity beyond u32",
            quantity(json!(4_294_967_297_u64)),
            "items[0].quantity",
        ),
        (
            "quantity 0 on the second line",
            with(order_body("Ada"), |b| b["items"][1]["quantity"] = json!(0)),
            "items[1].quantity",
        ),
        ("negative amount", amount(json!(-1)), "items[0].amount"),
        (
            "negative amount as a string",
            amount(json!("-0.01")),
            "items[0].amount",
        ),
        (
            "amount with 3 decimals",
            amount(json!(1.234)),
            "items[0].amount",
        ),
        (
            "amount with 3 decimals as a string",
            amount(json!("1.234")),
            "items[0].amount",
        ),
        (
            "amount not a number",
            amount(json!("cheap")),
            "items[0].amount",
        ),
        (
            "amount above a billion",
            amount(json!("1000000000.01")),
            "items[0].amount",
        ),
        (
            "unknown top-level field",
            with(order_body("Ada"), |b| b["coupon"] = json!("FREE")),
            "coupon",
        ),
        (
            "unknown item field",
            with(order_body("Ada"), |b| {
                b["items"][0]["colour"] = json!("red")
            }),
            "items[0].colour",
        ),
    ];

    for (case, body, field) in cases {
        // Act
        let response = app.post_order(&body).await;

        // Assert
        let error = expect_error(response, 422, "invalid_field", case).await;
        assert_eq!(error["field"], field, "{case}: the field named in {error}");
    }
    let count = app.order_count().await;
    assert_eq!(count, 0, "no refused request created an order");
}

#[tokio::test]
async fn missing_item_field_is_named_by_its_full_path() {
    // Arrange
    let app = spawn_app().await;
    let body = with(order_body("Ada"), |b| {
        remove(&mut b["items"][0], "quantity")
    });

    // Act
    let response = app.post_order(&body).await;

    // Assert: like a missing top-level field, which is named (`customer_name`), not its parent.
    let error = expect_error(response, 422, "invalid_field", "missing quantity").await;
    assert_eq!(
        error["field"], "items[0].quantity",
        "the field named in {error}"
    );
}

#[tokio::test]
async fn unreadable_bodies_are_400() {
    // Arrange
    let app = spawn_app().await;
    let valid = order_body("Ada").to_string();
    let cases: [(&str, Vec<u8>, Option<&str>, &str); 8] = [
        (
            "broken JSON",
            br#"{"customer_name": "Ada", "items": ["#.to_vec(),
            Some("application/json"),
            "malformed_json",
        ),
        (
            "trailing garbage after a valid order",
            format!("{valid} x").into_bytes(),
            Some("application/json"),
            "malformed_json",
        ),
        (
            "two orders in one body",
            format!("{valid}{valid}").into_bytes(),
            Some("application/json"),
            "malformed_json",
        ),
        (
            "empty body",
            Vec::new(),
            Some("application/json"),
            "malformed_json",
        ),
        (
            "bytes that are not UTF-8",
            b"\xff\xfe".to_vec(),
            Some("application/json"),
            "malformed_json",
        ),
        (
            "text/plain",
            valid.clone().into_bytes(),
            Some("text/plain"),
            "unsupported_content_type",
        ),
        (
            "a form",
            valid.clone().into_bytes(),
            Some("application/x-www-form-urlencoded"),
            "unsupported_content_type",
        ),
        (
            "no content type",
            valid.clone().into_bytes(),
            None,
            "unsupported_content_type",
        ),
    ];

    for (case, body, content_type, code) in cases {
        // Act
        let mut request = app.request(Method::POST, "/orders").body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = send(request).await;

        // Assert
        expect_error(response, 400, code, case).await;
    }
    let count = app.order_count().await;
    assert_eq!(count, 0, "no refused request created an order");
}

#[tokio::test]
async fn json_content_type_is_matched_without_case_or_parameters() {
    // Arrange
    let app = spawn_app().await;
    let body = order_body("Ada").to_string();

    for content_type in ["application/json; charset=utf-8", "Application/JSON"] {
        // Act
        let response = app.post_raw(body.clone(), content_type).await;

        // Assert
        assert_eq!(
            response.status().as_u16(),
            201,
            "Content-Type `{content_type}` is JSON"
        );
    }
}

#[tokio::test]
async fn body_size_is_limited_to_64_kib() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let at_limit = app
        .post_raw(padded_order(BODY_LIMIT), "application/json")
        .await;
    let over_limit = app
        .post_raw(padded_order(BODY_LIMIT + 1), "application/json")
        .await;

    // Assert
    assert_eq!(
        at_limit.status().as_u16(),
        201,
        "a body of exactly 64 KiB is accepted"
    );
    expect_error(
        over_limit,
        413,
        "payload_too_large",
        "a body one byte over 64 KiB",
    )
    .await;
}

#[tokio::test]
async fn chunked_body_is_limited_to_64_kib_too() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let small = post_chunked(&app.address, padded_order(1024).as_bytes()).await;
    let large = post_chunked(&app.address, padded_order(BODY_LIMIT + 1).as_bytes()).await;

    // Assert
    assert!(
        small.starts_with("HTTP/1.1 201 "),
        "a small chunked body is accepted: {small}"
    );
    assert!(
        large.starts_with("HTTP/1.1 413 "),
        "a chunked body over 64 KiB is refused: {large}"
    );
    assert!(
        large.contains(r#""code":"payload_too_large""#),
        "the 413 is a JSON error: {large}"
    );
}

/// Asserts that `response` is a JSON error with `status` and `code`, and returns its `error`.
async fn expect_error(response: Response, status: u16, code: &str, case: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "{case}: status");
    let content_type = header(&response, "content-type");
    assert!(
        content_type.starts_with("application/json"),
        "{case}: content type {content_type}"
    );
    let body: Value = response
        .json()
        .await
        .unwrap_or_else(|error| panic!("{case}: the error is not JSON: {error}"));
    assert_eq!(body["error"]["code"], code, "{case}: code in {body}");
    assert_error_message(&body, case);
    body["error"].clone()
}

/// `body` after `edit`.
fn with(mut body: Value, edit: impl FnOnce(&mut Value)) -> Value {
    edit(&mut body);
    body
}

/// `body` without its field `name`.
fn without(body: Value, name: &str) -> Value {
    with(body, |b| remove(b, name))
}

fn remove(object: &mut Value, name: &str) {
    object.as_object_mut().expect("an object").remove(name);
}

fn email(address: &str) -> Value {
    with(order_body("Ada"), |b| b["customer_email"] = json!(address))
}

fn quantity(value: Value) -> Value {
    with(order_body("Ada"), |b| b["items"][0]["quantity"] = value)
}

fn amount(value: Value) -> Value {
    with(order_body("Ada"), |b| b["items"][0]["amount"] = value)
}

/// A valid order body padded with trailing spaces to exactly `size` bytes.
fn padded_order(size: usize) -> String {
    let body = order_body("Ada").to_string();
    assert!(body.len() <= size, "the order fits in {size} bytes");
    format!("{body}{}", " ".repeat(size - body.len()))
}

/// `POST /orders` with `body` sent in chunks (`Transfer-Encoding: chunked`, no `Content-Length`),
/// written by hand because reqwest streams bodies only with its `stream` feature. Returns the
/// whole response as text.
async fn post_chunked(address: &str, body: &[u8]) -> String {
    let host = address.strip_prefix("http://").expect("an http address");
    let mut stream = TcpStream::connect(host).await.expect("connect");
    let mut request = format!(
        "POST /orders HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for chunk in body.chunks(4096) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    stream.write_all(&request).await.expect("send the request");
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .await
        .expect("read the response");
    String::from_utf8(response).expect("a UTF-8 response")
}
