//! `GET /stock`, `GET /stock/{product}` and `PUT /stock/{product}`.

use serde_json::{Value, json};

use crate::helpers::{TestOrder, Units, spawn_app};

#[tokio::test]
async fn a_count_sets_the_stock_on_hand() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let response = app.put_stock("widget", &json!({"on_hand": 12})).await;

    // Assert
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body,
        json!({"product": "widget", "on_hand": 12, "reserved": 0, "available": 12,
               "backordered": 0})
    );
    let level = app.level("widget").await.expect("known after a count");
    assert_eq!((level.on_hand, level.available), (12, 12));
}

#[tokio::test]
async fn products_are_listed_by_name_with_availability() {
    // Arrange
    let app = spawn_app().await;
    for (product, on_hand) in [("widget", 10), ("bolt", 0), ("gadget", 1)] {
        let response = app.put_stock(product, &json!({ "on_hand": on_hand })).await;
        assert_eq!(response.status().as_u16(), 200, "{product}");
    }
    app.publish(&[TestOrder::of_units(&[("widget", 4), ("gadget", 3)]).created()])
        .await;
    app.wait_for_reserved(&[("widget", 4), ("gadget", 3)]).await;

    // Act
    let levels = app.levels().await;

    // Assert
    let rows: Vec<(&str, u64, u64, i64, u64)> = levels
        .iter()
        .map(|level| {
            let row = (
                level.on_hand,
                level.reserved,
                level.available,
                level.backordered,
            );
            (level.product.as_str(), row.0, row.1, row.2, row.3)
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("bolt", 0, 0, 0, 0),
            ("gadget", 1, 3, -2, 2),
            ("widget", 10, 4, 6, 0)
        ]
    );
}

#[tokio::test]
async fn product_names_are_taken_from_events_as_they_are() {
    // Arrange
    let app = spawn_app().await;
    let names = ["blue widget", "50% off/bundle", "Zubehör #2", "a+b?c"];
    let order = TestOrder::of_units(&names.map(|name| (name, 2)));

    // Act
    app.publish(&[order.created()]).await;

    // Assert: the path segment is percent-decoded into the same name.
    let expected: Vec<(&str, u64)> = names.iter().map(|name| (*name, 2)).collect();
    app.wait_for_reserved(&expected).await;
    for name in names {
        let level = app.level(name).await.expect(name);
        assert_eq!(level.product, name);
    }
    let response = app
        .put_stock("50% off/bundle", &json!({"on_hand": 1}))
        .await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(app.level("50% off/bundle").await.expect("known").on_hand, 1);
}

#[tokio::test]
async fn an_unknown_product_is_a_json_404() {
    let app = spawn_app().await;

    let response = app.get_stock("never-seen").await;

    assert_eq!(response.status().as_u16(), 404);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "not_found", "{body}");
}

#[tokio::test]
async fn a_count_that_is_not_a_whole_number_from_0_is_a_422() {
    // Arrange
    let app = spawn_app().await;
    let cases = [
        (json!({"on_hand": -1}), "on_hand", "negative"),
        (json!({"on_hand": 1.5}), "on_hand", "fraction"),
        (json!({"on_hand": "3"}), "on_hand", "string"),
        (json!({"on_hand": null}), "on_hand", "null"),
        (json!({}), "on_hand", "missing"),
        (
            json!({"on_hand": 3, "extra": true}),
            "extra",
            "unknown field",
        ),
        (
            json!({"on_hand": 9_223_372_036_854_775_808_u64}),
            "on_hand",
            "beyond i64",
        ),
        (json!({"on_hand": 1e30}), "on_hand", "huge"),
        (json!([3]), "body", "not an object"),
    ];

    for (body, field, case) in cases {
        // Act
        let response = app.put_stock("widget", &body).await;

        // Assert
        assert_eq!(response.status().as_u16(), 422, "{case}: {body}");
        let error: Value = response.json().await.expect("json");
        assert_eq!(error["error"]["code"], "invalid_field", "{case}: {error}");
        assert_eq!(error["error"]["field"], field, "{case}: {error}");
    }
    assert!(app.level("widget").await.is_none(), "nothing was counted");
}

#[tokio::test]
async fn an_unreadable_count_is_a_400() {
    // Arrange
    let app = spawn_app().await;
    let cases = [
        ("{\"on_hand\": ", "application/json", "malformed_json"),
        ("on_hand=3", "application/json", "malformed_json"),
        ("{\"on_hand\": 3}", "text/plain", "unsupported_content_type"),
    ];

    for (body, content_type, code) in cases {
        // Act
        let response = app.put_raw("widget", body, content_type).await;

        // Assert
        assert_eq!(response.status().as_u16(), 400, "{body} as {content_type}");
        let error: Value = response.json().await.expect("json");
        assert_eq!(error["error"]["code"], code, "{error}");
    }
}

#[tokio::test]
async fn an_oversized_count_is_a_413() {
    let app = spawn_app().await;
    let body = format!("{{\"on_hand\": 3, \"pad\": \"{}\"}}", "x".repeat(10_000));

    let response = app.put_raw("widget", body, "application/json").await;

    assert_eq!(response.status().as_u16(), 413);
}
