//! A second process on the same data directory waits as a standby, and when the active process
//! dies or stops, takes over with every order that got a 201.

use std::time::Duration;

use reqwest::{Client, Method};
use test_support::process::{GRACEFUL_STOP, Interruption, interrupt, kill, stop_with_signal};
use test_support::wait::until_within;
use tokio::time::Instant;

use crate::helpers::{
    Acknowledged, create_until_refused, header, json_with_status, order_body, send, start_binary,
    wait_for_acknowledged,
};

/// How long a standby may take to serve once the active process is gone. The service promises
/// 3 s; the bound leaves room for a loaded machine, and each test prints what it measured.
const TAKEOVER_LIMIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_stands_by_until_it_is_told_to_stop() {
    // Arrange
    let dir = tempfile::tempdir().expect("temp dir");
    let (_active, active_url) = start_binary(dir.path()).await;
    let (mut standby, url) = start_binary(dir.path()).await;
    let client = Client::new();
    let cases = [
        (Method::GET, "/orders"),
        (Method::POST, "/orders"),
        (Method::GET, "/orders/0190b6a8-7d4e-7000-8000-000000000000"),
        (Method::GET, "/"),
    ];

    // Act and Assert: live, not ready, and every other request a 503 to try again later.
    let live = send(client.get(format!("{url}/health/live"))).await;
    let body = json_with_status(live, 200, "live").await;
    assert_eq!(body["status"], "live", "live: {body}");
    let ready = send(client.get(format!("{url}/health/ready"))).await;
    let body = json_with_status(ready, 503, "ready").await;
    assert_eq!(body["status"], "standby", "ready: {body}");
    for (method, path) in cases {
        let case = format!("{method} {path}");
        let response = send(client.request(method, format!("{url}{path}"))).await;
        let retry_after = header(&response, "retry-after");
        assert!(
            retry_after.parse::<u64>().is_ok_and(|seconds| seconds >= 1),
            "{case}: Retry-After {retry_after}"
        );
        let body = json_with_status(response, 503, &case).await;
        assert_eq!(body["error"]["code"], "unavailable", "{case}: {body}");
    }

    // A SIGTERM ends the standby cleanly, and the active serves on.
    let status = stop_with_signal(&mut standby, "TERM", GRACEFUL_STOP).await;
    assert!(
        status.success(),
        "SIGTERM ends the standby cleanly: {status}"
    );
    assert!(is_ready(&client, &active_url).await, "the active serves on");
}

test_support::interruption_tests!(
    a_standby_takes_over_with_every_acknowledged_order_when_the_active_is_killed,
    a_standby_takes_over_with_every_acknowledged_order_when_the_active_stops,
    takes_over_under_load
);

async fn takes_over_under_load(how: Interruption) {
    // Arrange: the active under a stream of creates from 8 clients, a standby beside it.
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut active, active_url) = start_binary(dir.path()).await;
    let (_standby, url) = start_binary(dir.path()).await;
    let acknowledged = Acknowledged::default();
    let clients = create_until_refused(8, "before the takeover", &active_url, &acknowledged);
    wait_for_acknowledged(&acknowledged, 300).await;
    let client = Client::new();
    assert!(
        !is_ready(&client, &url).await,
        "the standby is not ready yet"
    );

    // Act
    interrupt(&mut active, how).await;
    let gone = Instant::now();
    wait_for_takeover(&url, &format!("after {how:?}"), gone).await;
    for task in clients {
        task.await.expect("client task");
    }

    // Assert: every 201'd order is there, and the new active takes writes.
    let acknowledged = acknowledged.lock().expect("lock").clone();
    assert!(acknowledged.len() >= 300);
    for id in &acknowledged {
        let response = send(client.get(format!("{url}/orders/{id}"))).await;
        assert_eq!(
            response.status().as_u16(),
            200,
            "order {id} got a 201 from the active but is not on the standby"
        );
    }
    let created = send(
        client
            .post(format!("{url}/orders"))
            .json(&order_body("after the takeover")),
    )
    .await;
    assert_eq!(created.status().as_u16(), 201, "the standby takes writes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_standbys_one_takes_over_and_the_other_stands_by_for_it() {
    // Arrange
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut active, active_url) = start_binary(dir.path()).await;
    let mut standbys = vec![
        start_binary(dir.path()).await,
        start_binary(dir.path()).await,
    ];
    let client = Client::new();
    let created = send(
        client
            .post(format!("{active_url}/orders"))
            .json(&order_body("Ada")),
    )
    .await;
    let order = json_with_status(created, 201, "create on the active").await;
    let path = format!("/orders/{}", order["order_id"].as_str().expect("order_id"));

    // Act: the active dies; the two standbys race for the data directory.
    kill(&mut active).await;
    let gone = Instant::now();
    let winner = until_within("one standby to serve", TAKEOVER_LIMIT, || async {
        for (index, (_, url)) in standbys.iter().enumerate() {
            if is_ready(&client, url).await {
                return Some(index);
            }
        }
        None
    })
    .await;
    eprintln!(
        "takeover by one of two standbys: {:?} after the active was gone",
        gone.elapsed()
    );
    let (mut winner, _) = standbys.remove(winner);
    let (mut other, other_url) = standbys.remove(0);

    // Assert: the other stands by on, and takes over in its turn, with the order.
    let ready = send(client.get(format!("{other_url}/health/ready"))).await;
    let body = json_with_status(ready, 503, "the other standby's ready").await;
    assert_eq!(body["status"], "standby", "the other standby: {body}");
    assert!(
        other
            .try_wait()
            .expect("the other standby's state")
            .is_none(),
        "the other standby runs on"
    );
    kill(&mut winner).await;
    let gone = Instant::now();
    wait_for_takeover(&other_url, "by the other standby", gone).await;
    let response = send(client.get(format!("{other_url}{path}"))).await;
    assert_eq!(
        response.status().as_u16(),
        200,
        "the order is there after two takeovers"
    );
}

/// Waits until the standby at `url` is ready, at most [`TAKEOVER_LIMIT`] from `gone`, and prints
/// how long after `gone` that was; `case` names the takeover. The standby answers every probe
/// meanwhile: it hands its listening socket to the service, so no connection is refused. Each
/// probe opens a connection of its own: the standby's server closes its idle keep-alive
/// connections when it hands over, as any server may, and a pooled connection closed under a
/// request is the client's to retry, not a refused connection.
async fn wait_for_takeover(url: &str, case: &str, gone: Instant) {
    let client = Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("a client");
    let client = &client;
    until_within("the standby to serve", TAKEOVER_LIMIT, || async {
        let response = client
            .get(format!("{url}/health/ready"))
            .send()
            .await
            .unwrap_or_else(|error| panic!("takeover {case}: a probe got no answer: {error}"));
        response.status().is_success().then_some(())
    })
    .await;
    eprintln!(
        "takeover {case}: the standby served {:?} after the active was gone",
        gone.elapsed()
    );
}

/// Whether the service at `url` answers its readiness probe with 200.
async fn is_ready(client: &Client, url: &str) -> bool {
    client
        .get(format!("{url}/health/ready"))
        .send()
        .await
        .is_ok_and(|response| response.status().is_success())
}
