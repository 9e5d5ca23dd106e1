//! The OpenAPI document the service serves, and the service held to it by schemathesis.

use serde_json::Value;

use crate::helpers::{header, json_with_status, spawn_app};

#[tokio::test]
async fn the_document_describes_every_route_and_the_page_renders_it_from_here() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let document = json_with_status(app.get("/openapi.json").await, 200, "the document").await;
    let page = app.get("/api-docs").await;
    let policy = header(&page, "content-security-policy");
    let html = page.text().await.expect("the page");
    let script = app
        .get("/api-docs.js")
        .await
        .text()
        .await
        .expect("the script");

    // Assert
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().expect("paths");
    for (path, methods) in [
        ("/orders", &["get", "post"][..]),
        ("/orders/{id}", &["get", "patch", "delete"]),
        ("/orders/{id}/deliveries", &["get"]),
        ("/health/live", &["get"]),
        ("/health/ready", &["get"]),
        ("/metrics", &["get"]),
        ("/openapi.json", &["get"]),
    ] {
        for method in methods {
            assert!(
                paths.get(path).and_then(|item| item.get(*method)).is_some(),
                "{method} {path} in the document"
            );
        }
    }
    let created = &document["paths"]["/orders"]["post"]["responses"]["201"];
    for link in [
        "GetOrder",
        "UpdateOrder",
        "DeleteOrder",
        "GetOrderDeliveries",
    ] {
        assert_eq!(
            created["links"][link]["parameters"]["id"], "$response.body#/order_id",
            "the {link} link"
        );
    }
    assert!(html.contains(r#"<script src="api-docs.js">"#), "{html}");
    for text in [&html, &script] {
        assert!(
            !text.contains("http://") && !text.contains("https://"),
            "nothing fetched from elsewhere"
        );
    }
    assert!(policy.contains("default-src 'none'"), "{policy}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_answer_that_breaks_the_document() {
    // Arrange
    let app = spawn_app().await;

    // Act and Assert: thousands of requests, stateful sequences from a create included.
    test_support::schemathesis::check_api(&app.address, 200, 1_500).await;
    let orders: Value = json_with_status(app.get("/orders").await, 200, "the list").await;
    assert!(
        orders["orders"]
            .as_array()
            .is_some_and(|orders| !orders.is_empty()),
        "schemathesis created orders"
    );
}
