//! Mistakes get HTML pages with 4xx statuses, never a 5xx.

use uuid::Uuid;

use crate::helpers::{assert_html, send, spawn_app, tag};

#[tokio::test]
async fn unknown_orders_and_pages_are_404_pages() {
    let app = spawn_app().await;
    let unknown = Uuid::now_v7();
    let paths = [
        format!("/ui/orders/{unknown}"),
        format!("/ui/orders/{unknown}/edit"),
        format!("/ui/orders/{unknown}/delete"),
        "/ui/orders/not-an-id".to_owned(),
        "/ui/nowhere".to_owned(),
    ];
    for path in paths {
        let html = app.page(&path, 404).await;
        assert!(tag(&html, "error-message").is_some(), "{path}");
    }
    for path in [
        format!("/ui/orders/{unknown}"),
        format!("/ui/orders/{unknown}/delete"),
    ] {
        let response = app
            .post_form(&path, &[("customer_name", "Ada"), ("version", "1")])
            .await;
        assert_eq!(response.status().as_u16(), 404, "POST {path}");
        assert_html(&response);
    }
    app.stop().await;
}

#[tokio::test]
async fn unreadable_forms_are_4xx_pages() {
    let app = spawn_app().await;
    let url = format!("{}/ui/orders", app.address);
    let requests = [
        (
            app.client
                .post(&url)
                .json(&serde_json::json!({"customer_name": "Ada"})),
            400,
            "JSON instead of a form",
        ),
        (
            app.client
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("customer_name={}", "a".repeat(70 * 1024))),
            413,
            "larger than the body limit",
        ),
        (app.client.delete(&url), 405, "a method the page has not"),
        (
            app.client
                .post(format!("{url}/{}/delete", Uuid::now_v7()))
                .form(&[("version", "one")]),
            400,
            "a version that is not a number",
        ),
    ];
    for (request, status, message) in requests {
        let response = send(request).await;

        assert_eq!(response.status().as_u16(), status, "{message}");
        assert_html(&response);
    }
    app.stop().await;
}
