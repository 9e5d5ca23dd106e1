//! Many clients at once: every create is answered, stored once, and listed once.

use std::collections::HashSet;

use serde_json::Value;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::helpers::{order_body, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_are_all_stored_and_listed_once() {
    // Arrange
    let app = spawn_app().await;
    let url = format!("{}/orders", app.address);
    let mut requests = JoinSet::new();

    // Act
    for n in 0..500 {
        let (client, url) = (app.client.clone(), url.clone());
        requests.spawn(async move {
            let response = client
                .post(url)
                .json(&order_body(&format!("customer {n}")))
                .send()
                .await
                .expect("request");
            let status = response.status().as_u16();
            let order: Value = response.json().await.expect("JSON");
            (n, status, order)
        });
    }
    let answers = requests.join_all().await;

    // Assert
    let mut created = HashSet::new();
    for (n, status, order) in &answers {
        assert_eq!(*status, 201, "create {n}: status, body {order}");
        assert_eq!(
            order["customer_name"],
            format!("customer {n}").as_str(),
            "create {n}: its own order"
        );
        let id: Uuid = order["order_id"]
            .as_str()
            .expect("order_id")
            .parse()
            .expect("a UUID");
        assert!(created.insert(id), "create {n}: id {id} was given twice");
    }
    assert_eq!(created.len(), 500, "500 creates, 500 orders");
    for limit in [37, 500] {
        let listed: Vec<Uuid> = app
            .list_all_orders(limit)
            .await
            .iter()
            .map(|order| {
                order["order_id"]
                    .as_str()
                    .expect("order_id")
                    .parse()
                    .expect("a UUID")
            })
            .collect();
        assert!(
            listed.windows(2).all(|pair| pair[0] > pair[1]),
            "pages of {limit}: ids strictly descending"
        );
        assert_eq!(
            listed.len(),
            500,
            "pages of {limit}: every order listed once"
        );
        assert_eq!(
            listed.into_iter().collect::<HashSet<_>>(),
            created,
            "pages of {limit}: exactly the created orders"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_retries_with_one_key_create_one_order() {
    // Arrange
    let app = spawn_app().await;
    let url = format!("{}/orders", app.address);
    let body = order_body("Ada").to_string();
    let mut requests = JoinSet::new();

    // Act
    for _ in 0..50 {
        let (client, url, body) = (app.client.clone(), url.clone(), body.clone());
        requests.spawn(async move {
            let response = client
                .post(url)
                .header("content-type", "application/json")
                .header("idempotency-key", "one-key")
                .body(body)
                .send()
                .await
                .expect("request");
            let status = response.status().as_u16();
            let replayed = response.headers().contains_key("idempotent-replayed");
            let order: Value = response.json().await.expect("JSON");
            (status, replayed, order["order_id"].clone())
        });
    }
    let answers = requests.join_all().await;

    // Assert
    assert!(
        answers.iter().all(|(status, _, _)| *status == 201),
        "every retry answers 201: {answers:?}"
    );
    let ids: HashSet<String> = answers.iter().map(|(_, _, id)| id.to_string()).collect();
    assert_eq!(ids.len(), 1, "every answer names the same order: {ids:?}");
    let originals = answers.iter().filter(|(_, replayed, _)| !replayed).count();
    assert_eq!(originals, 1, "exactly one answer is not a replay");
    assert_eq!(app.list_all_orders(50).await.len(), 1, "one order exists");
}
