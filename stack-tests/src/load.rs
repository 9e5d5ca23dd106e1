//! Orders placed over the order service's HTTP API while a test breaks something, each with an
//! `Idempotency-Key` so that a request retried after a failed answer creates it once.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// The products orders are made of.
const PRODUCTS: [&str; 4] = ["anvil", "bolt", "cog", "drill"];

/// How long one order may take to be acknowledged, retries included.
const ACKNOWLEDGE: Duration = Duration::from_secs(60);

/// An order the order service acknowledged (201).
#[derive(Debug, Clone)]
pub struct Placed {
    /// Its id.
    pub id: String,
    /// The product of its one line.
    pub product: String,
    /// The units of that line.
    pub quantity: u64,
}

/// Places orders `first..first + count` one after another, `pause` apart, on a task of its
/// own; the task returns them once each was acknowledged.
pub fn place(
    orders_url: &str,
    first: usize,
    count: usize,
    pause: Duration,
) -> JoinHandle<Vec<Placed>> {
    let url = format!("{orders_url}/orders");
    tokio::spawn(async move {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("a client");
        let mut placed = Vec::with_capacity(count);
        for n in first..first + count {
            placed.push(place_one(&client, &url, n).await);
            tokio::time::sleep(pause).await;
        }
        placed
    })
}

async fn place_one(client: &reqwest::Client, url: &str, n: usize) -> Placed {
    let product = PRODUCTS[n % PRODUCTS.len()];
    let quantity = 1 + (n % 3) as u64;
    let body = json!({
        "customer_name": format!("Customer {n}"),
        "customer_email": format!("customer{n}@example.com"),
        "items": [{"product": product, "quantity": quantity, "amount": "2.50"}],
    });
    let key = uuid::Uuid::new_v4().to_string();
    let deadline = tokio::time::Instant::now() + ACKNOWLEDGE;
    loop {
        let answer = client
            .post(url)
            .header("Idempotency-Key", &key)
            .json(&body)
            .send()
            .await;
        let last = match answer {
            Ok(response) if response.status().as_u16() == 201 => {
                let order: Value = response.json().await.expect("the created order as JSON");
                let id = order["order_id"].as_str().expect("an order id").to_owned();
                return Placed {
                    id,
                    product: product.to_owned(),
                    quantity,
                };
            }
            Ok(response) => format!("status {}", response.status()),
            Err(error) => error.to_string(),
        };
        assert!(
            tokio::time::Instant::now() < deadline,
            "order {n} was not acknowledged within {ACKNOWLEDGE:?}: {last}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Units reserved per product once every order of `placed` took effect exactly once.
pub fn reservations(placed: &[Placed]) -> BTreeMap<String, u64> {
    let mut reserved = BTreeMap::new();
    for order in placed {
        *reserved.entry(order.product.clone()).or_default() += order.quantity;
    }
    reserved
}
