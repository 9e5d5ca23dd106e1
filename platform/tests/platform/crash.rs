//! SIGKILL or SIGTERM of the real `order-platform` binary on the embedded transport while
//! orders are being created: after a restart every order that got a 201 is stored, and every
//! event is applied by each consumer, once. A SIGTERM stops it with exit code 0, and every
//! outcome reached the delivery timeline before it stopped.

use std::collections::HashSet;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::process::{Child, Command};
use tokio::sync::Mutex;

use test_support::http::{all_pages, get_json, wait_ready};
use test_support::ports::free_port;
use test_support::process::{Interruption, interrupt};
use test_support::wait::wait_until;

/// A running `order-platform` process on the embedded transport.
struct Process {
    child: Child,
    url: String,
    inventory_url: String,
    billing_url: String,
    notification_url: String,
}

async fn start(data_dir: &Path, ports: [u16; 4]) -> Process {
    let address = |port: u16| format!("127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_order-platform"))
        .env_remove("ORDERS__AMQP__URL")
        .env("ORDERS__DATA_DIR", data_dir)
        .env("ORDERS__AUTH__TOKENS_FILE", data_dir.join("tokens.json"))
        // Open, as the tests of other things expect: no administrator token at the first start.
        .env("ORDERS__AUTH__FIRST_TOKEN", "false")
        .env("ORDERS__HTTP__ADDR", address(ports[0]))
        .env("ORDERS__PLATFORM__INVENTORY_ADDR", address(ports[1]))
        .env("ORDERS__PLATFORM__BILLING_ADDR", address(ports[2]))
        .env("ORDERS__PLATFORM__NOTIFICATION_ADDR", address(ports[3]))
        .env("ORDERS__LOG__LEVEL", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("order-platform starts");
    let process = Process {
        child,
        url: format!("http://{}", address(ports[0])),
        inventory_url: format!("http://{}", address(ports[1])),
        billing_url: format!("http://{}", address(ports[2])),
        notification_url: format!("http://{}", address(ports[3])),
    };
    wait_ready(&format!("{}/health/ready", process.url)).await;
    process
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_sigkill_every_acknowledged_order_is_stored_and_delivered_once() {
    interrupted_while_creating(Interruption::Kill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_stops_it_cleanly_and_every_order_gets_all_three_outcomes() {
    interrupted_while_creating(Interruption::Terminate).await;
}

async fn interrupted_while_creating(how: Interruption) {
    // Arrange
    let dir = tempfile::tempdir().expect("a temporary directory");
    let ports = [free_port(), free_port(), free_port(), free_port()];
    let mut process = start(dir.path(), ports).await;
    let client = reqwest::Client::new();
    let created = Arc::new(Mutex::new(Vec::<(String, u64)>::new()));
    let stop = Arc::new(AtomicBool::new(false));

    // Act: 16 clients create orders; the process is killed or stopped under them.
    let mut clients = Vec::new();
    for n in 0..16u64 {
        let (client, created, stop, url) = (
            client.clone(),
            Arc::clone(&created),
            Arc::clone(&stop),
            process.url.clone(),
        );
        clients.push(tokio::spawn(async move {
            let quantity = n % 3 + 1;
            while !stop.load(Ordering::SeqCst) {
                let body = json!({
                    "customer_name": format!("Client {n}"),
                    "customer_email": format!("client{n}@example.com"),
                    "items": [{"product": "widget", "quantity": quantity, "amount": 2.5}],
                });
                let Ok(response) = client
                    .post(format!("{url}/orders"))
                    .json(&body)
                    .send()
                    .await
                else {
                    break;
                };
                if response.status() != 201 {
                    break;
                }
                let Ok(order) = response.json::<Value>().await else {
                    break;
                };
                let id = order["order_id"].as_str().unwrap_or_default().to_owned();
                created.lock().await.push((id, quantity));
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    interrupt(&mut process.child, how).await;
    stop.store(true, Ordering::SeqCst);
    for client in clients {
        client.await.expect("a client task");
    }
    let created = created.lock().await.clone();
    assert!(
        created.len() > 50,
        "only {} orders were created",
        created.len()
    );

    // Assert: after a restart, everything acknowledged is there and delivered once.
    let process = start(dir.path(), ports).await;
    for (id, _) in &created {
        let response = client
            .get(format!("{}/orders/{id}", process.url))
            .send()
            .await
            .expect("GET");
        assert_eq!(
            response.status(),
            200,
            "order {id} was acknowledged, then lost"
        );
    }
    let expected: u64 = created.iter().map(|(_, quantity)| quantity).sum();
    let stored = stored_orders(&client, &process.url).await;
    wait_until("every reservation", || async {
        let stock = get_json(&client, &format!("{}/stock/widget", process.inventory_url))
            .await
            .unwrap_or_default();
        stock["reserved"].as_u64() == Some(expected_total(&stored))
    })
    .await;
    assert!(
        expected_total(&stored) >= expected,
        "the stored orders hold the acknowledged ones"
    );
    for (id, _) in &stored {
        wait_until(&format!("the invoice of {id}"), || async {
            client
                .get(format!("{}/invoices/{id}", process.billing_url))
                .send()
                .await
                .is_ok_and(|response| response.status() == 200)
        })
        .await;
    }
    wait_until("one notification per order", || async {
        notified(&client, &process.notification_url).await.len() == stored.len()
    })
    .await;
    let emails = std::fs::read_dir(dir.path().join("notification/outbox"))
        .expect("the email outbox")
        .count();
    assert_eq!(emails, stored.len(), "one email per order");
    if how == Interruption::Terminate {
        for (id, _) in &stored {
            wait_until(
                &format!("a final outcome of {id} from every service"),
                || async {
                    let timeline =
                        get_json(&client, &format!("{}/orders/{id}/deliveries", process.url))
                            .await
                            .unwrap_or_default();
                    finally_delivered(&timeline)
                },
            )
            .await;
        }
    }
}

/// Whether every event of an order's delivery timeline has a final outcome from each of the
/// three services.
fn finally_delivered(timeline: &Value) -> bool {
    let Some(events) = timeline["events"].as_array() else {
        return false;
    };
    !events.is_empty()
        && events.iter().all(|event| {
            event["services"].as_array().is_some_and(|services| {
                services.len() == 3
                    && services.iter().all(|service| {
                        matches!(
                            service["status"].as_str(),
                            Some("applied" | "duplicate" | "skipped" | "failed")
                        )
                    })
            })
        })
}

/// Every order the restarted platform holds, with its quantity of widgets (an order created
/// but never acknowledged before the kill may be there too: it was durable).
async fn stored_orders(client: &reqwest::Client, url: &str) -> Vec<(String, u64)> {
    listed(client, &format!("{url}/orders"), "orders")
        .await
        .iter()
        .map(|order| {
            let quantity = order["items"][0]["quantity"].as_u64().unwrap_or_default();
            let id = order["order_id"].as_str().unwrap_or_default().to_owned();
            (id, quantity)
        })
        .collect()
}

fn expected_total(orders: &[(String, u64)]) -> u64 {
    orders.iter().map(|(_, quantity)| quantity).sum()
}

/// The event ids the notification service reports as sent.
async fn notified(client: &reqwest::Client, url: &str) -> HashSet<String> {
    listed(client, &format!("{url}/notifications"), "notifications")
        .await
        .iter()
        .filter(|notification| notification["status"] == "sent")
        .map(|notification| {
            let id = notification["event_id"].as_str().unwrap_or_default();
            id.to_owned()
        })
        .collect()
}

/// Every item under `key` of the paged list at `url`; pages the service does not answer with
/// end the list.
async fn listed(client: &reqwest::Client, url: &str, key: &str) -> Vec<Value> {
    all_pages(500, key, async |query| {
        get_json(client, &format!("{url}?{query}"))
            .await
            .unwrap_or_default()
    })
    .await
}
