//! `DELETE /orders/{id}`: 200 with `"deleted": true` once, then 404 with `"deleted": false`.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{json_with_status, order_body, send, spawn_app};

#[tokio::test]
async fn delete_removes_the_order() {
    // Arrange
    let app = spawn_app().await;
    let kept = app.create_order(&order_body("Grace")).await;
    let id = app.created_id("Ada").await;

    // Act
    let response = app.delete_order(&id).await;

    // Assert
    let body = json_with_status(response, 200, "an existing order is deleted").await;
    assert_eq!(
        body,
        json!({"order_id": id, "deleted": true}),
        "the deletion answer"
    );
    assert_eq!(
        app.get_order(&id).await.status().as_u16(),
        404,
        "a deleted order is gone"
    );
    let listed = app.list_all_orders(50).await;
    assert_eq!(listed, vec![kept], "only the other order is listed");
}

#[tokio::test]
async fn deleting_twice_is_a_404_that_says_not_deleted() {
    // Arrange
    let app = spawn_app().await;
    let id = app.created_id("Ada").await;
    assert_eq!(
        app.delete_order(&id).await.status().as_u16(),
        200,
        "the first delete succeeds"
    );

    // Act
    let response = app.delete_order(&id).await;

    // Assert
    let body = json_with_status(response, 404, "the second delete finds nothing").await;
    assert_eq!(
        body["order_id"],
        id.as_str(),
        "the answer names the order: {body}"
    );
    assert_eq!(body["deleted"], false, "nothing was deleted: {body}");
    assert_eq!(
        body["error"]["code"], "not_found",
        "the answer carries an error: {body}"
    );
    assert!(
        body["error"]["message"].is_string(),
        "the error has a message: {body}"
    );
}

#[tokio::test]
async fn deleting_an_id_that_is_not_a_uuid_is_a_404() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let response = app.delete_order("not-a-uuid").await;

    // Assert
    let body = json_with_status(response, 404, "an id that is not a UUID names no order").await;
    assert_eq!(body["deleted"], false, "nothing was deleted: {body}");
    assert_eq!(
        body["error"]["code"], "not_found",
        "the answer carries an error: {body}"
    );
}

#[tokio::test]
async fn if_match_guards_the_delete() {
    // Arrange
    let app = spawn_app().await;
    let cases = [
        ("the current version", "\"2\"", 200, None),
        ("any version", "*", 200, None),
        ("a stale version", "\"1\"", 412, Some("precondition_failed")),
        (
            "a future version",
            "\"3\"",
            412,
            Some("precondition_failed"),
        ),
        ("an unquoted tag", "2", 400, Some("malformed_if_match")),
    ];

    for (case, if_match, status, code) in cases {
        let id = app.order_at_version_2(case).await;

        // Act
        let request = app.request(Method::DELETE, &format!("/orders/{id}"));
        let response = send(request.header("if-match", if_match)).await;

        // Assert
        let body = json_with_status(response, status, &format!("{case}: status")).await;
        let still_there = app.get_order(&id).await.status().as_u16();
        match code {
            None => {
                assert_eq!(body["deleted"], true, "{case}: deleted: {body}");
                assert_eq!(still_there, 404, "{case}: the order is gone");
            }
            Some(code) => {
                assert_eq!(body["error"]["code"], code, "{case}: code in {body}");
                assert_eq!(still_there, 200, "{case}: a refused delete keeps the order");
            }
        }
    }
}
