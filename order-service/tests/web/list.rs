//! `GET /ui/orders`: the list, its filters and its pages.

use reqwest::Method;

use crate::helpers::{send, spawn_app, tag, values_of};

#[tokio::test]
async fn the_root_redirects_to_the_list() {
    let app = spawn_app().await;

    for path in ["/", "/ui", "/ui/"] {
        let response = app.get(path).await;

        assert_eq!(response.status().as_u16(), 303, "{path}");
        assert_eq!(response.headers()["location"], "/ui/orders", "{path}");
    }
    app.stop().await;
}

#[tokio::test]
async fn pages_answer_head_without_a_body() {
    let app = spawn_app().await;

    let response = send(app.request(Method::HEAD, "/ui/orders")).await;

    assert_eq!(response.status().as_u16(), 200);
    assert!(response.text().await.expect("body").is_empty());
    app.stop().await;
}

#[tokio::test]
async fn the_list_shows_orders_newest_first_and_filters_them() {
    let app = spawn_app().await;
    let ada = app.create_order("Ada Lovelace", "ada@example.com").await;
    let grace = app.create_order("Grace Hopper", "grace@example.org").await;
    let bob = app.create_order("Bob", "bob@example.net").await;
    let id = |order: &serde_json::Value| order["order_id"].as_str().expect("id").to_owned();
    app.set_status(&id(&grace), "confirmed").await;

    let cases = [
        (
            "",
            vec![id(&bob), id(&grace), id(&ada)],
            "every order, newest first",
        ),
        ("?status=confirmed", vec![id(&grace)], "by status"),
        ("?customer=ADA", vec![id(&ada)], "by name, ignoring case"),
        ("?customer=example.net", vec![id(&bob)], "by email"),
        ("?status=pending&customer=grace", vec![], "both filters"),
    ];
    for (query, expected, message) in cases {
        let html = app.page(&format!("/ui/orders{query}"), 200).await;
        assert_eq!(values_of(&html, "data-order-id"), expected, "{message}");
        if expected.is_empty() {
            assert!(tag(&html, "no-orders").is_some(), "{message}: says so");
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn the_filter_form_shows_the_filters_in_use() {
    let app = spawn_app().await;

    let html = app
        .page("/ui/orders?status=shipped&customer=ada", 200)
        .await;

    let select = tag(&html, "filter-status").expect("a status filter");
    assert!(select.starts_with("<select"), "{select}");
    assert!(
        html.contains(r#"<option value="shipped" selected>"#),
        "the status is selected"
    );
    let customer = tag(&html, "filter-customer").expect("a customer filter");
    assert!(customer.contains(r#"value="ada""#), "{customer}");
    assert!(html.contains(r#"<label for="filter-customer">"#));
    app.stop().await;
}

#[tokio::test]
async fn the_list_pages_with_cursors_and_keeps_the_filters() {
    let app = spawn_app().await;
    for name in ["Ada 1", "Ada 2", "Ada 3", "Bob"] {
        app.create_order(name, "someone@example.com").await;
    }

    let first = app.page("/ui/orders?customer=ada&limit=2", 200).await;
    let next = tag(&first, "next-page").expect("a next page");
    let href = values_of(next, "href")[0].replace("&amp;", "&");
    let second = app.page(&href, 200).await;

    let mut seen = values_of(&first, "data-order-id");
    assert_eq!(seen.len(), 2, "the first page");
    seen.extend(values_of(&second, "data-order-id"));
    assert_eq!(seen.len(), 3, "every Ada once: {href}");
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 3, "no order twice");
    assert!(tag(&second, "next-page").is_none(), "the last page");
    assert!(tag(&second, "first-page").is_some(), "a way back");
    app.stop().await;
}

#[tokio::test]
async fn bad_list_parameters_are_422_pages_not_5xx() {
    let app = spawn_app().await;

    for query in ["status=lost", "cursor=not-a-cursor", "limit=0", "limit=x"] {
        let html = app.page(&format!("/ui/orders?{query}"), 422).await;
        assert!(tag(&html, "error-message").is_some(), "{query}");
    }
    // Parameters the page does not use are ignored, not refused.
    app.page("/ui/orders?utm_source=mail", 200).await;
    app.stop().await;
}
