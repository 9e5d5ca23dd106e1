//! `PATCH /orders/{id}`: JSON merge patches, the status state machine, and `If-Match`.

use chrono::{DateTime, Utc};
use reqwest::{Method, Response};
use serde_json::{Value, json};
use uuid::Uuid;

use test_support::http::strings;

use crate::helpers::{TestApp, etag, json_with_status, order_body, send, spawn_app};

#[tokio::test]
async fn each_accepted_change_bumps_version_order_update_and_etag() {
    // Arrange
    let app = spawn_app().await;
    let created = app.create_order(&order_body("Ada")).await;
    let id = created["order_id"].as_str().expect("order_id");
    let cases = [
        (
            "rename",
            json!({"customer_name": "  Ada King  "}),
            "/customer_name",
            r#""Ada King""#,
        ),
        (
            "new email",
            json!({"customer_email": "ada@king.example"}),
            "/customer_email",
            r#""ada@king.example""#,
        ),
        (
            "email removed with null",
            json!({"customer_email": null}),
            "/customer_email",
            "null",
        ),
        (
            "email set again",
            json!({"customer_email": "ada@example.com"}),
            "/customer_email",
            r#""ada@example.com""#,
        ),
        (
            "email removed with an empty string",
            json!({"customer_email": ""}),
            "/customer_email",
            "null",
        ),
        (
            "items replaced",
            json!({"items": [{"product": "gizmo", "quantity": 4, "amount": "2.50"}]}),
            "/items",
            r#"[{"amount":2.50,"product":"gizmo","quantity":4}]"#,
        ),
        (
            "total recomputed",
            json!({"items": [{"product": "gizmo", "quantity": 3, "amount": 0.1}]}),
            "/total_amount",
            "0.30",
        ),
        (
            "confirmed",
            json!({"status": "confirmed"}),
            "/status",
            r#""confirmed""#,
        ),
        (
            "two fields at once",
            json!({"customer_name": "Ada", "status": "shipped"}),
            "/status",
            r#""shipped""#,
        ),
    ];
    let mut before = created.clone();

    for (case, patch, pointer, expected) in cases {
        // Act
        let response = app.patch_order(id, &patch, None).await;

        // Assert
        assert_eq!(response.status().as_u16(), 200, "{case}: status");
        let etag = etag(&response);
        let after: Value = response.json().await.expect("JSON");
        let version = before["version"].as_u64().expect("a version") + 1;
        assert_eq!(
            after["version"], version,
            "{case}: the version goes up by one"
        );
        assert_eq!(
            etag,
            format!("\"{version}\""),
            "{case}: the ETag follows the version"
        );
        assert!(
            time(&after["order_update"]) > time(&before["order_update"]),
            "{case}: order_update moves on"
        );
        assert_eq!(
            after["order_date"], created["order_date"],
            "{case}: order_date never changes"
        );
        assert_eq!(
            after.pointer(pointer).map(Value::to_string).as_deref(),
            Some(expected),
            "{case}: {pointer}"
        );
        assert_eq!(
            after,
            get(&app, id).await,
            "{case}: GET shows what PATCH answered"
        );
        before = after;
    }
}

#[tokio::test]
async fn items_are_replaced_whole_and_the_total_recomputed() {
    // Arrange
    let app = spawn_app().await;
    let id = app.created_id("Ada").await;
    let patch = r#"{"items":[{"product":"a","quantity":1,"amount":0.10},{"product":"b","quantity":1,"amount":0.10},{"product":"c","quantity":1,"amount":0.10}]}"#;

    // Act
    let response = patch_raw(&app, &id, patch, "application/merge-patch+json").await;

    // Assert
    assert_eq!(response.status().as_u16(), 200, "the items are replaced");
    let text = response.text().await.expect("a body");
    assert!(
        text.contains(r#""total_amount":0.30"#),
        "the total is exactly 0.30: {text}"
    );
    let order: Value = serde_json::from_str(&text).expect("JSON");
    let products: Vec<&str> = strings(&order, "items", "product");
    assert_eq!(products, ["a", "b", "c"], "the old items are gone");
}

#[tokio::test]
async fn a_patch_that_changes_nothing_keeps_the_version() {
    // Arrange
    let app = spawn_app().await;
    let created = app.create_order(&order_body("Ada")).await;
    let id = created["order_id"].as_str().expect("order_id");
    let cases = [
        ("an empty patch", json!({})),
        ("the same name", json!({"customer_name": "Ada"})),
        (
            "the same email",
            json!({"customer_email": "ada@example.com"}),
        ),
        ("the same status", json!({"status": "pending"})),
        (
            "the same items",
            json!({"items": order_body("Ada")["items"]}),
        ),
    ];

    for (case, patch) in cases {
        // Act
        let response = app.patch_order(id, &patch, None).await;

        // Assert
        assert_eq!(response.status().as_u16(), 200, "{case}: status");
        assert_eq!(etag(&response), "\"1\"", "{case}: the ETag stays");
        let order: Value = response.json().await.expect("JSON");
        assert_eq!(
            order, created,
            "{case}: the order, version and order_update included, is unchanged"
        );
    }
}

#[tokio::test]
async fn status_changes_follow_the_state_machine() {
    // Arrange
    let app = spawn_app().await;
    let statuses = ["pending", "confirmed", "shipped", "delivered", "cancelled"];
    let legal = [
        ("pending", "confirmed"),
        ("pending", "cancelled"),
        ("confirmed", "shipped"),
        ("confirmed", "cancelled"),
        ("shipped", "delivered"),
    ];

    for from in statuses {
        for to in statuses {
            let id = order_in(&app, from).await;
            let (status, version_step) = match () {
                () if from == to => (200, 0),
                () if legal.contains(&(from, to)) => (200, 1),
                () => (409, 0),
            };
            let case = format!("{from} -> {to}");
            let version = get(&app, &id).await["version"].as_u64().expect("a version");

            // Act
            let response = app.patch_order(&id, &json!({"status": to}), None).await;

            // Assert
            let body = json_with_status(response, status, &format!("{case}: status")).await;
            let stored = get(&app, &id).await;
            if status == 200 {
                assert_eq!(body["status"], to, "{case}: the new status");
            } else {
                assert_eq!(body["error"]["code"], "conflict", "{case}: code in {body}");
            }
            assert_eq!(
                stored["status"],
                if status == 200 { to } else { from },
                "{case}: stored status"
            );
            assert_eq!(
                stored["version"],
                version + version_step,
                "{case}: stored version"
            );
        }
    }
}

#[tokio::test]
async fn items_change_only_while_pending_or_confirmed() {
    // Arrange
    let app = spawn_app().await;
    let new_items = json!({"items": [{"product": "gizmo", "quantity": 2, "amount": 3}]});
    let cases = [
        ("pending", 200),
        ("confirmed", 200),
        ("shipped", 409),
        ("delivered", 409),
        ("cancelled", 409),
    ];

    for (from, status) in cases {
        let id = order_in(&app, from).await;
        let before = get(&app, &id).await;

        // Act
        let response = app.patch_order(&id, &new_items, None).await;

        // Assert
        let body = json_with_status(
            response,
            status,
            &format!("items of a {from} order: status"),
        )
        .await;
        let stored = get(&app, &id).await;
        if status == 200 {
            assert_eq!(
                body["total_amount"].to_string(),
                "6.00",
                "items of a {from} order: total recomputed"
            );
            assert_eq!(
                stored, body,
                "items of a {from} order: the change is stored"
            );
        } else {
            assert_eq!(
                body["error"]["code"], "conflict",
                "items of a {from} order: code in {body}"
            );
            assert_eq!(stored, before, "items of a {from} order: nothing changed");
        }
    }
}

#[tokio::test]
async fn a_shipped_order_keeps_its_items_but_takes_other_changes() {
    // Arrange
    let app = spawn_app().await;
    let id = order_in(&app, "shipped").await;
    let cases = [
        (
            "the same items",
            json!({"items": order_body("Ada")["items"]}),
            200,
        ),
        ("a new name", json!({"customer_name": "Ada King"}), 200),
        (
            "a new email",
            json!({"customer_email": "ada@king.example"}),
            200,
        ),
        (
            "a new name with new items",
            json!({"customer_name": "Ada", "items": [{"product": "x", "quantity": 1, "amount": 1}]}),
            409,
        ),
    ];

    for (case, patch, status) in cases {
        // Act
        let response = app.patch_order(&id, &patch, None).await;

        // Assert
        assert_eq!(response.status().as_u16(), status, "{case}: status");
    }
    let stored = get(&app, &id).await;
    assert_eq!(
        stored["customer_name"], "Ada King",
        "the refused patch changed nothing, not even the name"
    );
}

#[tokio::test]
async fn a_final_order_takes_no_change() {
    // Arrange
    let app = spawn_app().await;
    let patches = [
        json!({"customer_name": "Ada King"}),
        json!({"customer_email": null}),
    ];

    for from in ["delivered", "cancelled"] {
        for patch in &patches {
            let id = order_in(&app, from).await;
            let before = get(&app, &id).await;

            // Act
            let response = app.patch_order(&id, patch, None).await;

            // Assert
            assert_eq!(
                response.status().as_u16(),
                409,
                "{patch} on a {from} order: status"
            );
            assert_eq!(
                get(&app, &id).await,
                before,
                "{patch} on a {from} order: nothing changed"
            );
        }
    }
}

#[tokio::test]
async fn if_match_guards_the_update() {
    // Arrange
    let app = spawn_app().await;
    let cases = [
        ("the current ETag", "\"2\"", 200, None),
        ("any version", "*", 200, None),
        ("a list holding the current ETag", "\"1\", \"2\"", 200, None),
        ("a stale ETag", "\"1\"", 412, Some("precondition_failed")),
        ("a future ETag", "\"3\"", 412, Some("precondition_failed")),
        (
            "a weak ETag, which never matches strongly",
            "W/\"2\"",
            412,
            Some("precondition_failed"),
        ),
        ("an unquoted tag", "2", 400, Some("malformed_if_match")),
        ("a half-quoted tag", "\"2", 400, Some("malformed_if_match")),
    ];

    for (case, if_match, status, code) in cases {
        let id = app.order_at_version_2(case).await;

        // Act
        let response = app
            .patch_order(&id, &json!({"status": "confirmed"}), Some(if_match))
            .await;

        // Assert
        let body = json_with_status(response, status, &format!("{case}: status")).await;
        let stored = get(&app, &id).await;
        match code {
            None => assert_eq!(stored["version"], 3, "{case}: the change is made"),
            Some(code) => {
                assert_eq!(body["error"]["code"], code, "{case}: code in {body}");
                assert_eq!(stored["version"], 2, "{case}: nothing changed");
            }
        }
    }
}

#[tokio::test]
async fn a_stale_if_match_loses_to_a_concurrent_change() {
    // Arrange
    let app = spawn_app().await;
    let id = app.created_id("Ada").await;
    let first = app
        .patch_order(&id, &json!({"customer_name": "First"}), Some("\"1\""))
        .await;
    assert_eq!(
        first.status().as_u16(),
        200,
        "the first writer holds the current ETag"
    );

    // Act
    let second = app
        .patch_order(&id, &json!({"customer_name": "Second"}), Some("\"1\""))
        .await;

    // Assert
    assert_eq!(
        second.status().as_u16(),
        412,
        "the second writer's ETag is stale"
    );
    assert_eq!(
        get(&app, &id).await["customer_name"],
        "First",
        "the first change stands"
    );
}

#[tokio::test]
async fn invalid_patches_are_422_naming_the_field() {
    // Arrange
    let app = spawn_app().await;
    let id = app.created_id("Ada").await;
    let cases = [
        (
            "customer_name null",
            json!({"customer_name": null}),
            "customer_name",
        ),
        ("items null", json!({"items": null}), "items"),
        ("status null", json!({"status": null}), "status"),
        (
            "blank customer_name",
            json!({"customer_name": "  "}),
            "customer_name",
        ),
        (
            "malformed email",
            json!({"customer_email": "ada@"}),
            "customer_email",
        ),
        ("empty items", json!({"items": []}), "items"),
        (
            "quantity 0",
            json!({"items": [{"product": "x", "quantity": 0, "amount": 1}]}),
            "items[0].quantity",
        ),
        (
            "amount with 3 decimals",
            json!({"items": [{"product": "x", "quantity": 1, "amount": "0.001"}]}),
            "items[0].amount",
        ),
        ("unknown status", json!({"status": "lost"}), "status"),
        (
            "status in capitals",
            json!({"status": "CONFIRMED"}),
            "status",
        ),
        ("unknown field", json!({"total_amount": 0}), "total_amount"),
        (
            "unknown item field",
            json!({"items": [{"product": "x", "quantity": 1, "amount": 1, "sku": "X1"}]}),
            "items[0].sku",
        ),
    ];

    for (case, patch, field) in cases {
        // Act
        let response = app.patch_order(&id, &patch, None).await;

        // Assert
        let body = json_with_status(response, 422, &format!("{case}: status")).await;
        assert_eq!(
            body["error"]["code"], "invalid_field",
            "{case}: code in {body}"
        );
        assert_eq!(body["error"]["field"], field, "{case}: field in {body}");
    }
    assert_eq!(
        get(&app, &id).await["version"],
        1,
        "no refused patch changed the order"
    );
}

#[tokio::test]
async fn unreadable_patches_are_400() {
    // Arrange
    let app = spawn_app().await;
    let id = app.created_id("Ada").await;
    let cases = [
        (
            "broken JSON",
            r#"{"customer_name": "#,
            "application/merge-patch+json",
            "malformed_json",
        ),
        (
            "trailing garbage",
            r#"{"customer_name": "Bob"} x"#,
            "application/merge-patch+json",
            "malformed_json",
        ),
        (
            "empty body",
            "",
            "application/merge-patch+json",
            "malformed_json",
        ),
        (
            "text/plain",
            r#"{"customer_name": "Bob"}"#,
            "text/plain",
            "unsupported_content_type",
        ),
    ];

    for (case, body, content_type, code) in cases {
        // Act
        let response = patch_raw(&app, &id, body, content_type).await;

        // Assert
        let body = json_with_status(response, 400, &format!("{case}: status")).await;
        assert_eq!(body["error"]["code"], code, "{case}: code in {body}");
    }
    assert_eq!(
        get(&app, &id).await["customer_name"],
        "Ada",
        "no refused patch changed the order"
    );
}

#[tokio::test]
async fn both_json_content_types_are_accepted() {
    // Arrange
    let app = spawn_app().await;
    let id = app.created_id("Ada").await;
    let cases = [
        ("application/json", "Bob"),
        ("application/merge-patch+json", "Carol"),
    ];

    for (content_type, name) in cases {
        // Act
        let response = patch_raw(
            &app,
            &id,
            &json!({"customer_name": name}).to_string(),
            content_type,
        )
        .await;

        // Assert
        let order = json_with_status(response, 200, &format!("{content_type}: status")).await;
        assert_eq!(
            order["customer_name"], name,
            "{content_type}: the change is made"
        );
    }
}

#[tokio::test]
async fn patching_an_unknown_order_is_a_json_404() {
    // Arrange
    let app = spawn_app().await;
    let deleted = app.created_id("Ada").await;
    assert_eq!(
        app.delete_order(&deleted).await.status().as_u16(),
        200,
        "the order is deleted"
    );
    let unknown = Uuid::now_v7().to_string();
    let cases = [
        ("an unknown UUID", unknown.as_str()),
        ("a deleted order", deleted.as_str()),
        ("an id that is not a UUID", "abc"),
    ];

    for (case, id) in cases {
        // Act
        let response = app
            .patch_order(id, &json!({"customer_name": "Bob"}), None)
            .await;

        // Assert
        let body = json_with_status(response, 404, &format!("{case}: status")).await;
        assert_eq!(body["error"]["code"], "not_found", "{case}: code in {body}");
    }
}

/// A new order brought to `status` through legal changes; its id.
async fn order_in(app: &TestApp, status: &str) -> String {
    let path: &[&str] = match status {
        "pending" => &[],
        "confirmed" => &["confirmed"],
        "shipped" => &["confirmed", "shipped"],
        "delivered" => &["confirmed", "shipped", "delivered"],
        "cancelled" => &["cancelled"],
        other => panic!("no status {other}"),
    };
    let id = app.created_id("Ada").await;
    for step in path {
        let response = app.patch_order(&id, &json!({"status": step}), None).await;
        assert_eq!(
            response.status().as_u16(),
            200,
            "on the way to {status}: {step}"
        );
    }
    id
}

async fn get(app: &TestApp, id: &str) -> Value {
    let response = app.get_order(id).await;
    json_with_status(response, 200, &format!("order {id} exists")).await
}

async fn patch_raw(app: &TestApp, id: &str, body: &str, content_type: &str) -> Response {
    let request = app.request(Method::PATCH, &format!("/orders/{id}"));
    send(
        request
            .header("content-type", content_type)
            .body(body.to_owned()),
    )
    .await
}

fn time(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .expect("a timestamp")
        .parse()
        .expect("an RFC 3339 timestamp")
}
