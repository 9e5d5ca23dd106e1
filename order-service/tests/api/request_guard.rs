//! What the service checks before its routes see a request: the Host it was sent to, where a
//! change comes from, and how long its body takes; and the headers every answer carries.

use std::time::Duration;

use reqwest::Method;
use reqwest::header::{HOST, ORIGIN};
use serde_json::Value;

use crate::helpers::{TestApp, json_with_status, order_body, send, spawn_app, spawn_app_in};

#[tokio::test]
async fn a_change_another_origin_asks_for_is_refused_and_changes_nothing() {
    // Arrange: one order, created by a program (no Origin, no Sec-Fetch-Site).
    let app = spawn_app().await;
    let id = app.created_id("Ada").await;
    let port = app.address.rsplit(':').next().expect("a port").to_owned();
    let forged: [(&str, &str); 5] = [
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
        ("origin", "http://evil.example"),
        ("origin", "http://127.0.0.1:1"),
        ("origin", "null"),
    ];
    let changes = [
        (Method::POST, "/orders".to_owned()),
        (Method::PATCH, format!("/orders/{id}")),
        (Method::DELETE, format!("/orders/{id}")),
        (Method::POST, "/ui/orders".to_owned()),
        (Method::POST, format!("/ui/orders/{id}/delete")),
    ];

    // Act and assert
    for (name, value) in forged {
        for (method, path) in &changes {
            let answer = send(
                app.request(method.clone(), path)
                    .header(name, value)
                    .json(&order_body("Mallory")),
            )
            .await;
            let body =
                json_with_status(answer, 403, &format!("{method} {path} {name}: {value}")).await;
            assert_eq!(body["error"]["code"], "cross_site_request", "{body}");
        }
    }
    assert_eq!(app.order_count().await, 1, "no forged change went through");
    let order: Value = app.get_order(&id).await.json().await.expect("the order");
    assert_eq!(order["version"], 1, "{order}");
    let same_origin = send(
        app.request(Method::POST, "/orders")
            .header(ORIGIN, format!("http://127.0.0.1:{port}"))
            .header("sec-fetch-site", "same-origin")
            .json(&order_body("Grace")),
    )
    .await;
    assert_eq!(
        same_origin.status().as_u16(),
        201,
        "the service's own page may post"
    );
    assert_eq!(
        same_origin.headers()["referrer-policy"],
        "same-origin",
        "every answer keeps its URL to this origin"
    );
    assert!(
        !same_origin
            .headers()
            .contains_key("strict-transport-security"),
        "no HSTS over plain HTTP"
    );
    app.stop().await;
}

#[tokio::test]
async fn only_the_allowed_host_names_are_answered() {
    // Arrange: the default (loopback) and a listed name.
    let loopback = spawn_app().await;
    let listed = spawn_app_in(tempfile::tempdir().expect("temp dir"), |settings| {
        settings.http.allowed_hosts = Some(vec!["orders.example".to_owned()]);
    })
    .await;
    let cases: [(&TestApp, &str, bool); 6] = [
        (&loopback, "localhost", true),
        (&loopback, "127.0.0.1:9", true),
        (&loopback, "rebound.evil.example", false),
        (&listed, "orders.example", true),
        (&listed, "ORDERS.example.:443", true),
        (&listed, "127.0.0.1", false),
    ];

    // Act and assert
    for (app, host, answered) in cases {
        let orders = send(app.request(Method::GET, "/orders").header(HOST, host)).await;
        let page = send(app.request(Method::GET, "/ui/orders").header(HOST, host)).await;
        let created = send(
            app.request(Method::POST, "/orders")
                .header(HOST, host)
                .json(&order_body("Host")),
        )
        .await;
        let expected = if answered {
            [200, 200, 201]
        } else {
            [400, 400, 400]
        };
        let statuses = [&orders, &page, &created].map(|answer| answer.status().as_u16());
        assert_eq!(
            statuses, expected,
            "GET /orders, GET /ui/orders, POST /orders as {host}"
        );
        if !answered {
            let body = json_with_status(orders, 400, host).await;
            assert_eq!(body["error"]["code"], "host_not_allowed", "{body}");
        }
        for open in ["/health/live", "/metrics"] {
            let probe = send(app.request(Method::GET, open).header(HOST, host)).await;
            assert_eq!(probe.status().as_u16(), 200, "{open} as {host} stays open");
        }
    }
    assert_eq!(loopback.order_count().await, 2);
    let listed_orders = send(
        listed
            .request(Method::GET, "/orders")
            .header(HOST, "orders.example"),
    )
    .await;
    let listed_orders = json_with_status(listed_orders, 200, "the listed name's orders").await;
    assert_eq!(listed_orders["orders"].as_array().map(Vec::len), Some(2));
    loopback.stop().await;
    listed.stop().await;
}

#[tokio::test]
async fn a_body_that_arrives_too_slowly_is_answered_408() {
    // Arrange
    let app = spawn_app_in(tempfile::tempdir().expect("temp dir"), |settings| {
        settings.http.body_timeout_ms = 300;
    })
    .await;
    let patience = Duration::from_secs(10);

    // Act: a head announcing 200 bytes, then 11 of them, then nothing.
    let api = test_support::http::trickle_body(
        "POST",
        &format!("{}/orders", app.address),
        "application/json",
        200,
        br#"{"customer"#,
        patience,
    )
    .await;
    let page = test_support::http::trickle_body(
        "POST",
        &format!("{}/ui/orders", app.address),
        "application/x-www-form-urlencoded",
        200,
        b"customer_name=",
        patience,
    )
    .await;

    // Assert
    assert_eq!(api, Some(408), "the API gives up on the body");
    assert_eq!(page, Some(408), "the page gives up on the form");
    assert_eq!(app.order_count().await, 0);
    let in_time = app.post_order(&order_body("Prompt")).await;
    assert_eq!(
        in_time.status().as_u16(),
        201,
        "a body sent at once is read"
    );
    app.stop().await;
}
