//! Where the API's code and its documents disagreed, settled the way a careful API would: one
//! test per point.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use test_support::process::{spawn_listening_logged, stop_with_signal};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{binary, json_with_status, order_body, send, spawn_app};

/// Posts `body` (raw JSON text) and returns the 422's `field`.
async fn refused_field(app: &crate::helpers::TestApp, body: &str) -> String {
    let response = app.post_raw(body.to_owned(), "application/json").await;
    let answer = json_with_status(response, 422, body).await;
    answer["error"]["field"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}: a field in {answer}"))
        .to_owned()
}

#[tokio::test]
async fn arrays_are_refused_where_objects_are_expected() {
    // Arrange
    let app = spawn_app().await;
    let id = app.created_id("Ada").await;

    // Act and Assert: serde's derived structs would take their fields in order from an array.
    assert_eq!(
        refused_field(&app, r#"["Ada", null, [["widget", 2, "1.50"]]]"#).await,
        "body"
    );
    assert_eq!(
        refused_field(
            &app,
            r#"{"customer_name": "Ada", "items": [["widget", 2, "1.50"]]}"#
        )
        .await,
        "items[0]"
    );
    // RFC 7396 makes an array patch replace the whole order: refused, the order unchanged.
    let patched = app.patch_order(&id, &json!(["Renamed"]), None).await;
    let answer = json_with_status(patched, 422, "an array patch").await;
    assert_eq!(answer["error"]["field"], "body", "{answer}");
    let order = json_with_status(app.get_order(&id).await, 200, "the order").await;
    assert_eq!(order["customer_name"], "Ada");
    assert_eq!(order["version"], 1);
}

#[tokio::test]
async fn the_private_form_of_a_number_is_not_an_amount() {
    // Arrange
    let app = spawn_app().await;

    for amount in [
        r#"{"$serde_json::private::Number": "5"}"#,
        r#"{"$serde_json::private::Number": 5}"#,
    ] {
        // Act
        let body = format!(
            r#"{{"customer_name": "Ada", "items": [{{"product": "widget", "quantity": 1, "amount": {amount}}}]}}"#
        );

        // Assert
        assert_eq!(
            refused_field(&app, &body).await,
            "items[0].amount",
            "{amount}"
        );
    }
    assert_eq!(app.order_count().await, 0);
}

#[tokio::test]
async fn amounts_with_an_exponent_are_the_exact_numbers_they_write() {
    // Arrange
    let app = spawn_app().await;

    for (amount, stored) in [("1e2", "100.00"), ("0.1e1", "1.00"), ("125E-2", "1.25")] {
        // Act
        let body = format!(
            r#"{{"customer_name": "Ada", "items": [{{"product": "widget", "quantity": 2, "amount": {amount}}}]}}"#
        );
        let response = app.post_raw(body, "application/json").await;

        // Assert: the number's exact text, so `1.00` and not `1`, the total from it.
        let text = response.text().await.expect("a body");
        let order: Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(
            order["items"][0]["amount"].to_string(),
            stored,
            "{amount}: {text}"
        );
        assert!(
            text.contains(&format!(r#""amount":{stored}"#)),
            "{amount}: {text}"
        );
    }
    let too_precise = r#"{"customer_name": "Ada", "items": [{"product": "widget", "quantity": 1, "amount": 1e-3}]}"#;
    assert_eq!(refused_field(&app, too_precise).await, "items[0].amount");
}

#[tokio::test]
async fn every_422_names_the_parameter_or_header_to_blame() {
    // Arrange
    let app = spawn_app().await;
    let key = "contract-key";
    let first = app
        .request(Method::POST, "/orders")
        .header("idempotency-key", key)
        .json(&order_body("Ada"));
    assert_eq!(send(first).await.status().as_u16(), 201);

    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=many", "limit"),
        ("cursor=nonsense", "cursor"),
        ("status=lost", "status"),
        ("colour=red", "colour"),
        ("limit=1&limit=2", "limit"),
    ] {
        // Act
        let response = app.list_orders(query).await;

        // Assert
        let answer = json_with_status(response, 422, query).await;
        assert_eq!(
            answer["error"]["code"], "invalid_query",
            "{query}: {answer}"
        );
        assert_eq!(answer["error"]["field"], field, "{query}: {answer}");
    }
    let reused = app
        .request(Method::POST, "/orders")
        .header("idempotency-key", key)
        .json(&order_body("Grace"));
    let answer = json_with_status(send(reused).await, 422, "a reused key").await;
    assert_eq!(
        answer["error"]["code"], "idempotency_key_reused",
        "{answer}"
    );
    assert_eq!(answer["error"]["field"], "Idempotency-Key", "{answer}");
}

#[tokio::test]
async fn a_comma_inside_an_entity_tag_is_part_of_it() {
    // Arrange
    let app = spawn_app().await;
    let id = app.created_id("Ada").await;
    let rename = |name: &str| json!({ "customer_name": name });

    // Act and Assert: one tag that matches no version, not two malformed halves.
    let stale = app
        .patch_order(&id, &rename("Grace"), Some(r#""a,b""#))
        .await;
    assert_eq!(stale.status().as_u16(), 412, "a tag with a comma");
    let matching = app
        .patch_order(&id, &rename("Grace"), Some(r#""a,b", "1""#))
        .await;
    assert_eq!(
        matching.status().as_u16(),
        200,
        "the current version after it"
    );
    let deleted = send(
        app.request(Method::DELETE, &format!("/orders/{id}"))
            .header("if-match", r#""x,y,2""#),
    )
    .await;
    assert_eq!(
        deleted.status().as_u16(),
        412,
        "DELETE reads tags the same way"
    );
    let malformed = send(
        app.request(Method::DELETE, &format!("/orders/{id}"))
            .header("if-match", "2"),
    )
    .await;
    let answer = json_with_status(malformed, 400, "an unquoted tag").await;
    assert_eq!(answer["error"]["code"], "malformed_if_match", "{answer}");
}

#[tokio::test]
async fn a_query_string_that_is_not_utf8_once_decoded_is_refused() {
    // Arrange
    let app = spawn_app().await;
    app.created_id("Ada").await;

    for query in ["customer=%FF", "customer=Ad%C3", "status=%ED%A0%80"] {
        // Act
        let response = app.list_orders(query).await;

        // Assert
        let answer = json_with_status(response, 400, query).await;
        assert_eq!(
            answer["error"]["code"], "malformed_query",
            "{query}: {answer}"
        );
    }
    let decoded = json_with_status(app.list_orders("customer=%41da").await, 200, "UTF-8").await;
    assert_eq!(decoded["orders"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn names_and_products_refuse_direction_controls() {
    // Arrange
    let app = spawn_app().await;
    let id = app.created_id("Ada").await;

    for (mark, what) in [
        ('\u{202E}', "right-to-left override"),
        ('\u{2066}', "left-to-right isolate"),
        ('\u{200F}', "right-to-left mark"),
    ] {
        // Act
        let mut named = order_body(&format!("Ada{mark}lanigiro"));
        let mut product = order_body("Ada");
        product["items"][0]["product"] = json!(format!("widget{mark}"));

        // Assert
        assert_eq!(
            refused_field(&app, &named.to_string()).await,
            "customer_name",
            "{what}"
        );
        assert_eq!(
            refused_field(&app, &product.to_string()).await,
            "items[0].product",
            "{what}"
        );
        named = json!({ "customer_name": format!("{mark}Grace") });
        let patched = app.patch_order(&id, &named, None).await;
        let answer = json_with_status(patched, 422, what).await;
        assert_eq!(
            answer["error"]["field"], "customer_name",
            "{what}: {answer}"
        );
    }
    // Right-to-left text itself is welcome.
    let hebrew = app.post_order(&order_body("שרה")).await;
    assert_eq!(hebrew.status().as_u16(), 201);
}

#[tokio::test]
async fn a_malformed_request_line_is_answered_400_and_not_logged_as_an_error() {
    // Arrange
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut child, url, output) = spawn_listening_logged(binary(dir.path())).await;
    let address = url.trim_start_matches("http://");

    // Act: bytes that are no HTTP request, which the HTTP layer answers itself.
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connects");
    stream
        .write_all(b"GARBAGE \x01\x02 NOT-HTTP\r\n\r\n")
        .await
        .expect("writes");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("the service answers and closes")
        .expect("reads");
    let created = send(
        reqwest::Client::new()
            .post(format!("{url}/orders"))
            .json(&order_body("Ada")),
    )
    .await;
    assert_eq!(created.status().as_u16(), 201, "the service goes on");
    let status = stop_with_signal(&mut child, "TERM", Duration::from_secs(30)).await;

    // Assert
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(status.success(), "stops cleanly: {status}");
    let errors: Vec<String> = output
        .lines()
        .into_iter()
        .filter(|line| line.contains("ERROR"))
        .collect();
    assert!(
        errors.is_empty(),
        "a client's mistake logged at ERROR: {errors:?}"
    );
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_json_413_for_create_and_change_alike() {
    // Arrange
    let app = spawn_app().await;
    let id = app.created_id("Ada").await;
    let large = format!(r#"{{"customer_name": "{}"}}"#, "a".repeat(70_000));

    for (method, path) in [
        (Method::POST, "/orders".to_owned()),
        (Method::PATCH, format!("/orders/{id}")),
    ] {
        // Act
        let response = send(
            app.request(method.clone(), &path)
                .header("content-type", "application/json")
                .body(large.clone()),
        )
        .await;

        // Assert
        let answer = json_with_status(response, 413, &format!("{method} {path}")).await;
        assert_eq!(answer["error"]["code"], "payload_too_large", "{answer}");
    }
}
