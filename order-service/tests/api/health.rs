//! Probes, and the JSON answers for routes and methods that do not exist.

use reqwest::{Method, Response};
use serde_json::Value;

use crate::helpers::{TestApp, assert_error_message, order_body, send, spawn_app, start_binary};

#[tokio::test]
async fn probes_answer_200_json() {
    // Arrange
    let app = spawn_app().await;
    let cases = [("/health/live", "live"), ("/health/ready", "ready")];

    for (path, status) in cases {
        // Act
        let response = app.get(path).await;

        // Assert
        assert_eq!(response.status().as_u16(), 200, "{path}: status");
        let body = json_body(response, path).await;
        assert_eq!(body["status"], status, "{path}: body {body}");
    }
}

#[tokio::test]
async fn metrics_count_requests_by_route_pattern_and_changes_by_kind() {
    // Arrange
    let app = spawn_app().await;
    let id = app.created_id("Metrics").await;

    // Act
    let _ = app.get_order(&id).await;
    let response = app.get("/metrics").await;

    // Assert: Prometheus' text format; the route is the pattern, never a path with an id.
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = response.text().await.expect("a body");
    assert!(
        text.contains(
            r#"http_requests_total{service="order",method="GET",route="/orders/{id}",status="200"}"#
        ),
        "{text}"
    );
    assert!(!text.contains(&id), "an order id became a label");
    assert!(
        text.contains(r#"order_changes_total{service="order",change="created"}"#),
        "{text}"
    );
    assert!(
        text.contains("http_request_duration_seconds_bucket"),
        "{text}"
    );
}

/// In a process of its own, so that no other test has installed the recorder first: the
/// journal's series, registered as the store opens, record the first commit.
#[tokio::test]
async fn the_binarys_metrics_count_the_journals_commits_from_the_first() {
    // Arrange
    let dir = tempfile::tempdir().expect("temp dir");
    let (_child, url) = start_binary(dir.path()).await;
    let client = reqwest::Client::new();
    let created = send(
        client
            .post(format!("{url}/orders"))
            .json(&order_body("Metrics")),
    )
    .await;
    assert_eq!(created.status().as_u16(), 201);

    // Act
    let text = send(client.get(format!("{url}/metrics")))
        .await
        .text()
        .await
        .expect("a body");

    // Assert
    assert!(
        text.contains(r#"journal_commit_records_count{service="order",journal="orders"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"failure_records{service="order"} 0"#),
        "{text}"
    );
}

#[tokio::test]
async fn unknown_routes_are_a_json_404() {
    // Arrange
    let app = spawn_app().await;
    let cases = [
        (Method::GET, "/nope"),
        (
            Method::GET,
            "/orders/0190b6a8-7d4e-7000-8000-000000000000/items",
        ),
        (Method::POST, "/health"),
        (Method::DELETE, "/nothing/here"),
    ];

    for (method, path) in cases {
        // Act and Assert
        let (case, body) = json_answer(&app, method, path, 404).await;
        assert_eq!(body["error"]["code"], "not_found", "{case}: code in {body}");
        assert_error_message(&body, &case);
    }
}

#[tokio::test]
async fn missing_methods_are_a_json_405() {
    // Arrange
    let app = spawn_app().await;
    let order = app.create_order(&order_body("Ada")).await;
    let order_path = format!("/orders/{}", order["order_id"].as_str().expect("order_id"));
    let cases = [
        (Method::PUT, "/orders"),
        (Method::DELETE, "/orders"),
        (Method::PUT, order_path.as_str()),
        (Method::POST, order_path.as_str()),
        (Method::POST, "/health/live"),
        (Method::DELETE, "/health/ready"),
    ];

    for (method, path) in cases {
        // Act and Assert
        let (case, body) = json_answer(&app, method, path, 405).await;
        assert_eq!(
            body["error"]["code"], "method_not_allowed",
            "{case}: code in {body}"
        );
    }
}

#[tokio::test]
async fn a_405_names_the_allowed_methods() {
    // Arrange
    let app = spawn_app().await;
    let order_path = "/orders/0190b6a8-7d4e-7000-8000-000000000000";
    let cases = [
        (Method::PUT, "/orders", ["GET", "POST"].as_slice()),
        (
            Method::PUT,
            order_path,
            ["DELETE", "GET", "PATCH"].as_slice(),
        ),
        (Method::POST, "/health/live", ["GET"].as_slice()),
    ];

    for (method, path, allowed) in cases {
        // Act
        let (case, response) = answer(&app, method, path).await;

        // Assert: RFC 9110, section 15.5.6: a 405 must carry `Allow`.
        assert_eq!(response.status().as_u16(), 405, "{case}: status");
        let allow = response
            .headers()
            .get("allow")
            .map(|value| value.to_str().expect("visible"));
        let mut methods: Vec<&str> = allow
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .collect();
        methods.sort_unstable();
        methods.retain(|method| *method != "HEAD");
        assert_eq!(methods, allowed, "{case}: Allow header {allow:?}");
    }
}

/// The answer to `method path`, and the case's name for failure messages.
async fn answer(app: &TestApp, method: Method, path: &str) -> (String, Response) {
    let case = format!("{method} {path}");
    (case, send(app.request(method, path)).await)
}

/// The answer to `method path`, which must be `status` and JSON; the case's name and the body.
async fn json_answer(app: &TestApp, method: Method, path: &str, status: u16) -> (String, Value) {
    let (case, response) = answer(app, method, path).await;
    assert_eq!(response.status().as_u16(), status, "{case}: status");
    let body = json_body(response, &case).await;
    (case, body)
}

/// The body of `response`, which must be JSON and say so.
async fn json_body(response: Response, case: &str) -> Value {
    let content_type = response
        .headers()
        .get("content-type")
        .map(|value| value.to_str().expect("visible").to_owned());
    assert!(
        content_type
            .as_deref()
            .is_some_and(|value| value.starts_with("application/json")),
        "{case}: content type {content_type:?}"
    );
    response
        .json()
        .await
        .unwrap_or_else(|error| panic!("{case}: the body is not JSON: {error}"))
}
