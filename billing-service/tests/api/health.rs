//! Probes, and the JSON answers for routes and methods that do not exist.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn probes_answer_200_json() {
    // Arrange
    let app = spawn_app().await;

    for (path, status) in [("/health/live", "live"), ("/health/ready", "ready")] {
        // Act
        let response = app.get(path).await;

        // Assert
        assert_eq!(response.status().as_u16(), 200, "{path}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["status"], status, "{path}: {body}");
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_are_json_errors() {
    // Arrange
    let app = spawn_app().await;
    let order_path = format!("/invoices/{}", uuid::Uuid::now_v7());
    let cases = [
        (Method::GET, "/nope".to_owned(), 404, "not_found"),
        (Method::GET, format!("{order_path}/lines"), 404, "not_found"),
        (
            Method::POST,
            "/invoices".to_owned(),
            405,
            "method_not_allowed",
        ),
        (Method::DELETE, order_path, 405, "method_not_allowed"),
    ];

    for (method, path, status, code) in cases {
        // Act
        let response = app
            .client
            .request(method.clone(), format!("{}{path}", app.address))
            .send()
            .await
            .expect("request");

        // Assert
        assert_eq!(response.status().as_u16(), status, "{method} {path}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["code"], code, "{method} {path}: {body}");
    }
}
