//! The billing service's data directory on a full file system, in the real `order-platform`
//! binary on the embedded transport: orders are still accepted, inventory and notification
//! still apply them, billing says it is not ready (and logs it once) and the process stays up;
//! when the disk has room again, billing catches up on its own, invoicing every order exactly
//! once. The same when the disk is full before the process starts.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::time::Instant;

use test_support::http::{all_pages, get_json};
use test_support::ports::free_port;
use test_support::process::{Interruption, interrupt};
use test_support::tmpfs::Tmpfs;
use test_support::wait::{DEADLINE, until, wait_until};

/// The billing service's file system: room for its files, and little more once filled.
const DISK_BYTES: u64 = 2 << 20;

/// What the billing service logs when its writes start failing, and when they succeed again.
const FAILED: &str = "cannot write to the data directory";
const RESUMED: &str = "consuming resumes";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_stops_only_its_consumer_which_catches_up_exactly_once() {
    // Arrange: billing keeps its files on a small disk of its own; a few orders go through.
    let Some(disk) = Tmpfs::mount(DISK_BYTES) else {
        return;
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::os::unix::fs::symlink(disk.path(), dir.path().join("billing"))
        .expect("billing's data directory is on the small disk");
    let mut platform = Platform::start(dir.path()).await;
    let mut orders = Vec::new();
    for n in 0..3 {
        orders.push(platform.create(n).await);
    }
    platform.wait_invoices(orders.len()).await;

    // Act: the disk fills up while orders keep coming.
    disk.fill();
    for n in 3..15 {
        orders.push(platform.create(n).await);
    }

    // Assert: billing stops and says why, tries again and finds the disk still full;
    // everything else goes on.
    let reason = platform.wait_billing_unready().await;
    assert!(reason.contains("No space left on device"), "{reason}");
    let reason = platform
        .wait_billing_unready_because("does not take writes yet")
        .await;
    assert!(reason.contains("No space left on device"), "{reason}");
    platform.wait_applied_elsewhere(&orders).await;
    for url in [
        &platform.url,
        &platform.inventory_url,
        &platform.notification_url,
    ] {
        assert_ready(&platform.client, url).await;
    }
    assert!(
        platform.invoices().await.len() < orders.len(),
        "billing consumed nothing more once its disk was full"
    );
    platform.assert_running();

    // Act: the disk has room again.
    disk.free();

    // Assert: billing catches up, once per order, and is ready again.
    platform.wait_invoices(orders.len()).await;
    platform.assert_invoiced_once(&orders).await;
    assert_ready(&platform.client, &platform.billing_url).await;
    platform.assert_one_episode_logged();
    assert_eq!(
        failure_records(&disk.path().join("failure.json")),
        0,
        "no event was given up on"
    );
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_full_before_the_start_leaves_its_consumer_waiting_until_it_has_room() {
    // Arrange: billing's disk is full before the process starts.
    let Some(disk) = Tmpfs::mount(DISK_BYTES) else {
        return;
    };
    disk.fill();
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::os::unix::fs::symlink(disk.path(), dir.path().join("billing"))
        .expect("billing's data directory is on the small disk");

    // Act
    let mut platform = Platform::start(dir.path()).await;
    let mut orders = Vec::new();
    for n in 0..5 {
        orders.push(platform.create(n).await);
    }

    // Assert: the platform runs, billing waits and says why.
    let reason = platform.wait_billing_unready().await;
    assert!(reason.contains("No space left on device"), "{reason}");
    platform.wait_applied_elsewhere(&orders).await;
    platform.assert_running();

    // Act: the disk has room.
    disk.free();

    // Assert
    platform.wait_invoices(orders.len()).await;
    platform.assert_invoiced_once(&orders).await;
    assert_ready(&platform.client, &platform.billing_url).await;
    platform.assert_one_episode_logged();
    platform.stop().await;
}

/// A running `order-platform` process on the embedded transport, its log kept.
struct Platform {
    child: Child,
    client: reqwest::Client,
    url: String,
    inventory_url: String,
    billing_url: String,
    notification_url: String,
    log: Arc<Mutex<Vec<String>>>,
}

/// An order the test created: its id and how many widgets it reserves.
struct Created {
    id: String,
    quantity: u64,
}

impl Platform {
    /// Starts the binary on `data_dir` and waits until the order service is ready; fails at
    /// once if the process ends meanwhile.
    async fn start(data_dir: &Path) -> Platform {
        let ports = [free_port(), free_port(), free_port(), free_port()];
        let address = |port: u16| format!("127.0.0.1:{port}");
        let mut child = Command::new(env!("CARGO_BIN_EXE_order-platform"))
            .env_remove("ORDERS__AMQP__URL")
            .env_remove("RUST_LOG")
            .env("ORDERS__DATA_DIR", data_dir)
            .env("ORDERS__AUTH__TOKENS_FILE", data_dir.join("tokens.json"))
            // Open, as the tests of other things expect: no administrator token at the first start.
            .env("ORDERS__AUTH__FIRST_TOKEN", "false")
            .env("ORDERS__HTTP__ADDR", address(ports[0]))
            .env("ORDERS__PLATFORM__INVENTORY_ADDR", address(ports[1]))
            .env("ORDERS__PLATFORM__BILLING_ADDR", address(ports[2]))
            .env("ORDERS__PLATFORM__NOTIFICATION_ADDR", address(ports[3]))
            .env("ORDERS__LOG__LEVEL", "info")
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("order-platform starts");
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let kept = Arc::clone(&log);
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                kept.lock().expect("the log").push(line);
            }
        });
        let mut platform = Platform {
            child,
            client: reqwest::Client::new(),
            url: format!("http://{}", address(ports[0])),
            inventory_url: format!("http://{}", address(ports[1])),
            billing_url: format!("http://{}", address(ports[2])),
            notification_url: format!("http://{}", address(ports[3])),
            log,
        };
        let ready = format!("{}/health/ready", platform.url);
        let deadline = Instant::now() + DEADLINE;
        loop {
            platform.assert_running();
            if get_json(&platform.client, &ready).await.is_some() {
                return platform;
            }
            assert!(Instant::now() < deadline, "the platform is ready in time");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Fails the test, with the process's log, if the process has ended.
    fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().expect("the process's status") {
            panic!(
                "order-platform ended ({status}):\n{}",
                self.log.lock().expect("the log").join("\n")
            );
        }
    }

    /// `POST /orders` for client `n`, which must answer 201.
    async fn create(&self, n: u64) -> Created {
        let quantity = n % 3 + 1;
        let body = json!({
            "customer_name": format!("Client {n}"),
            "customer_email": format!("client{n}@example.com"),
            "items": [{"product": "widget", "quantity": quantity, "amount": 2.5}],
        });
        let response = self
            .client
            .post(format!("{}/orders", self.url))
            .json(&body)
            .send()
            .await
            .expect("an answer");
        assert_eq!(response.status(), 201, "order {n} is accepted");
        let order: Value = response.json().await.expect("an order");
        Created {
            id: order["order_id"].as_str().expect("an id").to_owned(),
            quantity,
        }
    }

    /// Waits until billing's readiness answers 503; the reason it gives.
    async fn wait_billing_unready(&self) -> String {
        self.wait_billing_unready_because("").await
    }

    /// Waits until billing's readiness answers 503 with a reason that contains `because`;
    /// the reason.
    async fn wait_billing_unready_because(&self, because: &str) -> String {
        let url = format!("{}/health/ready", self.billing_url);
        until(&format!("billing not ready: {because}"), || async {
            let response = self.client.get(&url).send().await.expect("an answer");
            if response.status() != 503 {
                return None;
            }
            let body: Value = response.json().await.expect("an error body");
            let reason = body["error"]["message"].as_str().unwrap_or_default();
            reason.contains(because).then(|| reason.to_owned())
        })
        .await
    }

    /// Waits until inventory has reserved every order's widgets and notification has sent an
    /// email for every order.
    async fn wait_applied_elsewhere(&self, orders: &[Created]) {
        let reserved: u64 = orders.iter().map(|order| order.quantity).sum();
        let stock_url = format!("{}/stock/widget", self.inventory_url);
        wait_until("inventory reserves every order", || async {
            get_json(&self.client, &stock_url)
                .await
                .is_some_and(|stock| stock["reserved"].as_u64() == Some(reserved))
        })
        .await;
        let notifications_url = format!("{}/notifications", self.notification_url);
        wait_until("notification emails every order", || async {
            let sent = listed(&self.client, &notifications_url, "notifications").await;
            sent.iter()
                .filter(|notification| notification["status"] == "sent")
                .count()
                == orders.len()
        })
        .await;
    }

    /// Every invoice billing holds.
    async fn invoices(&self) -> Vec<Value> {
        listed(
            &self.client,
            &format!("{}/invoices", self.billing_url),
            "invoices",
        )
        .await
    }

    /// Waits until billing holds `count` invoices.
    async fn wait_invoices(&self, count: usize) {
        wait_until(&format!("{count} invoices"), || async {
            self.invoices().await.len() == count
        })
        .await;
    }

    /// Asserts that billing holds one invoice per order, opened once (one entry in its
    /// history) at the order's first and only version, for its amount (2.50 a widget).
    async fn assert_invoiced_once(&self, orders: &[Created]) {
        let invoices = self.invoices().await;
        assert_eq!(invoices.len(), orders.len(), "one invoice per order");
        for order in orders {
            let invoice = invoices
                .iter()
                .find(|invoice| invoice["order_id"] == order.id.as_str())
                .unwrap_or_else(|| panic!("an invoice for {}", order.id));
            let history = invoice["history"].as_array().expect("a history");
            assert_eq!(history.len(), 1, "invoiced once: {invoice}");
            assert_eq!(invoice["version"], 1, "{invoice}");
            let expected = ["2.50", "5.00", "7.50"][order.quantity as usize - 1];
            assert_eq!(invoice["amount"].to_string(), expected, "{invoice}");
        }
    }

    /// Asserts that billing logged its failure once and its recovery once, however often it
    /// tried meanwhile.
    fn assert_one_episode_logged(&self) {
        let log = self.log.lock().expect("the log");
        let count = |what: &str| {
            log.iter()
                .filter(|line| line.contains(what) && line.contains("billing"))
                .count()
        };
        assert_eq!(count(FAILED), 1, "one failure logged:\n{}", log.join("\n"));
        assert_eq!(
            count(RESUMED),
            1,
            "one recovery logged:\n{}",
            log.join("\n")
        );
    }

    /// Stops the process with SIGTERM, which must end it cleanly.
    async fn stop(mut self) {
        interrupt(&mut self.child, Interruption::Terminate).await;
    }
}

/// Asserts that `url`'s readiness answers 200.
async fn assert_ready(client: &reqwest::Client, url: &str) {
    let response = client
        .get(format!("{url}/health/ready"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status(), 200, "{url} is ready");
}

/// Every item under `key` of the paged list at `url`.
async fn listed(client: &reqwest::Client, url: &str, key: &str) -> Vec<Value> {
    all_pages(500, key, async |query| {
        get_json(client, &format!("{url}?{query}"))
            .await
            .unwrap_or_default()
    })
    .await
}

/// How many records `failure.json` holds.
fn failure_records(path: &Path) -> usize {
    let text = std::fs::read_to_string(path).expect("failure.json");
    let records: Vec<Value> = serde_json::from_str(&text).expect("failure.json is an array");
    records.len()
}
