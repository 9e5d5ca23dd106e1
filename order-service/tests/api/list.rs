//! `GET /orders`: newest first, in pages joined by cursors, filtered by status and customer.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::{Value, json};

use test_support::http::strings;

use crate::helpers::{
    TestApp, assert_error_message, json_with_status, order_body, send, spawn_app,
};

#[tokio::test]
async fn orders_are_listed_newest_first() {
    // Arrange
    let app = spawn_app().await;
    let created = create_orders(&app, 3).await;

    // Act
    let response = app.list_orders("").await;

    // Assert
    let page = json_with_status(response, 200, "listing succeeds").await;
    assert_eq!(ids(&page["orders"]), newest_first(&created), "newest first");
    assert_eq!(
        page["next_cursor"],
        Value::Null,
        "one page holds everything: {page}"
    );
    assert_eq!(
        page["orders"][0]["customer_name"], "customer 2",
        "whole orders are listed"
    );
}

#[tokio::test]
async fn an_empty_store_lists_nothing() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let page = page(&app, "").await;

    // Assert
    assert_eq!(
        page,
        json!({"orders": [], "next_cursor": null}),
        "no orders, no cursor"
    );
}

#[tokio::test]
async fn default_page_holds_50_orders() {
    // Arrange
    let app = spawn_app().await;
    let created = create_orders(&app, 51).await;
    let expected = newest_first(&created);

    // Act
    let first = page(&app, "").await;
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a cursor after a full page")
        .to_owned();
    let second = page(&app, &format!("cursor={cursor}")).await;

    // Assert
    assert_eq!(
        ids(&first["orders"]),
        expected[..50],
        "the first page is the newest 50"
    );
    assert_eq!(
        ids(&second["orders"]),
        expected[50..],
        "the second page holds the oldest"
    );
    assert_eq!(
        second["next_cursor"],
        Value::Null,
        "nothing after the last page"
    );
}

#[tokio::test]
async fn limit_from_1_to_500_is_accepted() {
    // Arrange
    let app = spawn_app().await;
    let created = create_orders(&app, 3).await;
    let cases = [
        ("limit=1", 1, true),
        ("limit=2", 2, true),
        ("limit=3", 3, false),
        ("limit=500", 3, false),
    ];

    for (query, count, more) in cases {
        // Act
        let response = app.list_orders(query).await;

        // Assert
        let page = json_with_status(response, 200, &format!("{query}: status")).await;
        assert_eq!(
            ids(&page["orders"]),
            newest_first(&created)[..count],
            "{query}: the newest {count}"
        );
        assert_eq!(
            page["next_cursor"].is_string(),
            more,
            "{query}: a cursor only when more orders exist: {page}"
        );
    }
}

#[tokio::test]
async fn bad_query_parameters_are_422() {
    // Arrange
    let app = spawn_app().await;
    create_orders(&app, 1).await;
    let cases = [
        ("limit=0", "limit 0"),
        ("limit=501", "limit 501"),
        ("limit=abc", "limit not a number"),
        ("limit=-1", "negative limit"),
        ("limit=1.5", "fractional limit"),
        ("limit=1&limit=2", "limit twice"),
        ("cursor=garbage", "a garbage cursor"),
        (
            "cursor=bzE6bm90LWEtdXVpZA",
            "a well-encoded cursor without an id (o1:not-a-uuid)",
        ),
        ("status=lost", "an unknown status"),
        ("sort=asc", "an unknown parameter"),
        (
            "limit=10&colour=red",
            "an unknown parameter beside a good one",
        ),
    ];

    for (query, case) in cases {
        // Act
        let response = app.list_orders(query).await;

        // Assert
        let body = json_with_status(response, 422, &format!("{case} ({query}): status")).await;
        assert_eq!(
            body["error"]["code"], "invalid_query",
            "{case} ({query}): code in {body}"
        );
        assert_error_message(&body, case);
    }
}

#[tokio::test]
async fn cursors_visit_every_order_once_newest_first() {
    // Arrange
    let app = spawn_app().await;
    let created = create_orders(&app, 7).await;
    let expected = newest_first(&created);

    for limit in [1, 2, 3, 6, 7, 8, 500] {
        // Act
        let listed = list_pages(&app, "", limit).await.concat();

        // Assert
        assert_eq!(
            listed, expected,
            "pages of {limit}: every order once, newest first"
        );
    }
}

#[tokio::test]
async fn pages_are_full_until_the_last() {
    // Arrange
    let app = spawn_app().await;
    create_orders(&app, 7).await;

    // Act
    let pages = list_pages(&app, "", 3).await;

    // Assert
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [3, 3, 1], "7 orders in pages of 3");
}

#[tokio::test]
async fn status_filters_the_list_and_its_pages() {
    // Arrange
    let app = spawn_app().await;
    let created = create_orders(&app, 7).await;
    // Statuses by creation order: pending, confirmed, pending, cancelled, pending, confirmed, pending.
    for (index, status) in [(1, "confirmed"), (3, "cancelled"), (5, "confirmed")] {
        let response = app
            .patch_order(&created[index], &json!({"status": status}), None)
            .await;
        assert_eq!(
            response.status().as_u16(),
            200,
            "order {index} becomes {status}"
        );
    }
    let pick = |indexes: &[usize]| -> Vec<String> {
        indexes.iter().rev().map(|&i| created[i].clone()).collect()
    };
    let cases = [
        ("status=pending", pick(&[0, 2, 4, 6])),
        ("status=confirmed", pick(&[1, 5])),
        ("status=cancelled", pick(&[3])),
        ("status=shipped", pick(&[])),
        ("status=", pick(&[0, 1, 2, 3, 4, 5, 6])),
    ];

    for (query, expected) in cases {
        // Act
        let whole = page(&app, query).await;
        let paged = list_pages(&app, query, 1).await.concat();

        // Assert
        assert_eq!(
            ids(&whole["orders"]),
            expected,
            "{query}: the matching orders, newest first"
        );
        assert_eq!(paged, expected, "{query}: pages of 1 visit the same orders");
    }
}

#[tokio::test]
async fn customer_filters_by_name_or_email_ignoring_case() {
    // Arrange
    let app = spawn_app().await;
    let customers = [
        ("Ada Lovelace", Value::from("ada@example.com")),
        ("Grace Hopper", Value::from("grace@navy.mil")),
        ("Alan Turing", Value::Null),
        ("Émile Zola", Value::from("emile@example.fr")),
    ];
    for (name, email) in &customers {
        let mut body = order_body(name);
        body["customer_email"] = email.clone();
        app.create_order(&body).await;
    }
    let cases: [(&str, &[&str]); 11] = [
        ("lovelace", &["Ada Lovelace"]),
        ("LOVELACE", &["Ada Lovelace"]),
        ("ada lovelace", &["Ada Lovelace"]),
        ("NAVY.mil", &["Grace Hopper"]),
        ("example", &["Émile Zola", "Ada Lovelace"]),
        ("turing", &["Alan Turing"]),
        ("émile", &["Émile Zola"]),
        ("ÉMILE", &["Émile Zola"]),
        ("  hopper  ", &["Grace Hopper"]),
        (
            "a",
            &["Émile Zola", "Alan Turing", "Grace Hopper", "Ada Lovelace"],
        ),
        ("nobody", &[]),
    ];

    for (customer, expected) in cases {
        // Act
        let request = app.request(Method::GET, "/orders");
        let response = send(request.query(&[("customer", customer)])).await;

        // Assert
        let page = json_with_status(response, 200, &format!("customer={customer:?}: status")).await;
        let names: Vec<&str> = strings(&page, "orders", "customer_name");
        assert_eq!(
            names, expected,
            "customer={customer:?}: the matching orders, newest first"
        );
    }
}

/// Creates `count` orders one after another; their ids, oldest first.
async fn create_orders(app: &TestApp, count: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(count);
    for n in 0..count {
        let order = app
            .create_order(&order_body(&format!("customer {n}")))
            .await;
        ids.push(order["order_id"].as_str().expect("order_id").to_owned());
    }
    ids
}

/// The page that `GET /orders?{query}` answers, as JSON.
async fn page(app: &TestApp, query: &str) -> Value {
    app.list_orders(query).await.json().await.expect("JSON")
}

fn newest_first(oldest_first: &[String]) -> Vec<String> {
    oldest_first.iter().rev().cloned().collect()
}

/// The ids of a JSON array of orders, in order.
fn ids(orders: &Value) -> Vec<String> {
    let orders = orders.as_array().expect("an array of orders");
    orders
        .iter()
        .map(|order| order["order_id"].as_str().expect("order_id").to_owned())
        .collect()
}

/// The ids on each page of the orders that `query` matches, following cursors through pages of
/// `limit`; a cursor that comes back fails the test rather than loop for ever.
async fn list_pages(app: &TestApp, query: &str, limit: usize) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut cursors = HashSet::new();
    let mut cursor = String::new();
    loop {
        let response = app
            .list_orders(&format!("{query}&limit={limit}&cursor={cursor}"))
            .await;
        let page =
            json_with_status(response, 200, &format!("{query}, limit {limit}: a page")).await;
        pages.push(ids(&page["orders"]));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => return pages,
        }
        assert!(
            cursors.insert(cursor.clone()),
            "{query}, limit {limit}: cursor {cursor} came back"
        );
    }
}
