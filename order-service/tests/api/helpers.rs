//! `spawn_app()` and typed request helpers shared by every test.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use order_service::settings::Settings;
use order_service::startup::Application;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};
use tempfile::TempDir;
use test_support::http::all_pages;
use test_support::process::spawn_listening;
use test_support::wait::wait_until;
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A running order service on a free port with its own data directory.
pub(crate) struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub(crate) address: String,
    /// A client without connection reuse surprises.
    pub(crate) client: reqwest::Client,
    /// The data directory; removed when the last owner drops it.
    pub(crate) data_dir: TempDir,
    handle: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

/// Starts the service on port 0 with a fresh data directory.
pub(crate) async fn spawn_app() -> TestApp {
    let data_dir = tempfile::tempdir().expect("temp dir");
    spawn_app_in(data_dir, |_| {}).await
}

/// Starts the service on `data_dir` (taking it over), after `adjust` has changed the settings.
pub(crate) async fn spawn_app_in(data_dir: TempDir, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    test_support::logging::init();
    let mut settings = Settings::for_tests(data_dir.path());
    adjust(&mut settings);
    let application = Application::build(settings)
        .await
        .expect("the service starts");
    let address = application.url();
    let handle = CancellationToken::new();
    let task = tokio::spawn(application.run(handle.clone()));
    TestApp {
        address,
        client: reqwest::Client::new(),
        data_dir,
        handle,
        task,
    }
}

impl TestApp {
    /// Stops the service gracefully and hands back its data directory.
    pub(crate) async fn stop(self) -> TempDir {
        self.handle.cancel();
        self.task
            .await
            .expect("the server task")
            .expect("the server stops cleanly");
        self.data_dir
    }

    /// Stops the service and starts a new one on the same data directory.
    pub(crate) async fn restart(self) -> TestApp {
        let data_dir = self.stop().await;
        spawn_app_in(data_dir, |_| {}).await
    }

    /// The data directory's path.
    pub(crate) fn data_path(&self) -> PathBuf {
        self.data_dir.path().to_owned()
    }

    /// `GET {path}`.
    pub(crate) async fn get(&self, path: &str) -> Response {
        test_support::http::get(&self.client, &format!("{}{path}", self.address)).await
    }

    /// A `method` request to `path`, to finish and hand to [`send`].
    pub(crate) fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.address))
    }

    /// `POST /orders` with a JSON body.
    pub(crate) async fn post_order(&self, body: &Value) -> Response {
        send(self.request(Method::POST, "/orders").json(body)).await
    }

    /// `POST /orders` with any body and content type.
    pub(crate) async fn post_raw(
        &self,
        body: impl Into<reqwest::Body>,
        content_type: &str,
    ) -> Response {
        let request = self.request(Method::POST, "/orders");
        send(request.header("content-type", content_type).body(body)).await
    }

    /// Creates a valid order and returns its JSON (asserting 201).
    pub(crate) async fn create_order(&self, body: &Value) -> Value {
        let response = self.post_order(body).await;
        assert_eq!(response.status().as_u16(), 201, "create should succeed");
        response.json().await.expect("json")
    }

    /// Creates a valid order for `customer` and returns its id.
    pub(crate) async fn created_id(&self, customer: &str) -> String {
        let order = self.create_order(&order_body(customer)).await;
        order["order_id"].as_str().expect("order_id").to_owned()
    }

    /// Creates an order and renames its customer, so that it stands at version 2; its id.
    pub(crate) async fn order_at_version_2(&self, case: &str) -> String {
        let id = self.created_id("Ada").await;
        let renamed = self
            .patch_order(&id, &json!({"customer_name": "Ada King"}), None)
            .await;
        assert_eq!(
            renamed.status().as_u16(),
            200,
            "{case}: the order reaches version 2"
        );
        id
    }

    /// `GET /orders/{id}`.
    pub(crate) async fn get_order(&self, id: &str) -> Response {
        send(self.request(Method::GET, &format!("/orders/{id}"))).await
    }

    /// `GET /orders?{query}`.
    pub(crate) async fn list_orders(&self, query: &str) -> Response {
        send(self.request(Method::GET, &format!("/orders?{query}"))).await
    }

    /// Every order, by following `next_cursor` through all pages of `limit`.
    pub(crate) async fn list_all_orders(&self, limit: usize) -> Vec<Value> {
        all_pages(limit, "orders", async |query| {
            let response = self.list_orders(&query).await;
            assert_eq!(response.status().as_u16(), 200);
            let page: Value = response.json().await.expect("json");
            page["orders"].as_array().expect("orders");
            page
        })
        .await
    }

    /// How many orders are listed.
    pub(crate) async fn order_count(&self) -> usize {
        self.list_all_orders(500).await.len()
    }

    /// `PATCH /orders/{id}` with a merge patch and an optional `If-Match`.
    pub(crate) async fn patch_order(
        &self,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> Response {
        let mut request = self
            .request(Method::PATCH, &format!("/orders/{id}"))
            .header("content-type", "application/merge-patch+json")
            .body(body.to_string());
        if let Some(tag) = if_match {
            request = request.header("if-match", tag);
        }
        send(request).await
    }

    /// `DELETE /orders/{id}`.
    pub(crate) async fn delete_order(&self, id: &str) -> Response {
        send(self.request(Method::DELETE, &format!("/orders/{id}"))).await
    }
}

/// Sends `request`, failing the test when no answer comes.
pub(crate) async fn send(request: RequestBuilder) -> Response {
    request.send().await.expect("request")
}

/// Asserts the status of `response` (`what` names that check) and returns its JSON body.
pub(crate) async fn json_with_status(response: Response, status: u16, what: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "{what}");
    response
        .json()
        .await
        .unwrap_or_else(|error| panic!("{what}: not JSON: {error}"))
}

/// The `ETag` header of `response`.
pub(crate) fn etag(response: &Response) -> String {
    response
        .headers()
        .get("etag")
        .expect("an ETag header")
        .to_str()
        .expect("a visible ETag")
        .to_owned()
}

/// The value of a response header, which must be present.
pub(crate) fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("a {name} header"))
        .to_str()
        .expect("a visible header value")
        .to_owned()
}

/// Asserts that the error in `body` explains itself with a message.
pub(crate) fn assert_error_message(body: &Value, case: &str) {
    let message = body["error"]["message"].as_str();
    assert!(
        message.is_some_and(|m| !m.is_empty()),
        "{case}: message in {body}"
    );
}

/// A valid order body for `customer`.
pub(crate) fn order_body(customer: &str) -> Value {
    json!({
        "customer_name": customer,
        "customer_email": "ada@example.com",
        "items": [
            {"product": "widget", "quantity": 2, "amount": 9.99},
            {"product": "gadget", "quantity": 1, "amount": "0.10"}
        ]
    })
}

/// The path of the newest journal segment in `dir`.
pub(crate) fn newest_journal(dir: &Path) -> PathBuf {
    let mut segments: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("data dir")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("orders-journal-"))
        })
        .collect();
    segments.sort();
    segments.pop().expect("a journal segment")
}

/// The real binary on a free port with `data_dir`, its events kept in the journal (storage alone
/// is under test, off the shared broker); the child and its base URL.
pub(crate) async fn start_binary(data_dir: &Path) -> (Child, String) {
    spawn_listening(binary(data_dir)).await
}

/// The command that starts the order service binary on `data_dir`, events kept in process.
pub(crate) fn binary(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_order-service"));
    command
        .env("ORDERS__DATA_DIR", data_dir)
        .env("ORDERS__AUTH__TOKENS_FILE", data_dir.join("tokens.json"))
        // Open, as the tests of other things expect: no administrator token at the first start.
        .env("ORDERS__AUTH__FIRST_TOKEN", "false")
        .env("ORDERS__TRANSPORT", "embedded");
    command
}

/// The ids of the orders that got a 201, recorded by the clients as the answers come.
pub(crate) type Acknowledged = Arc<Mutex<Vec<String>>>;

/// Starts `workers` clients that create orders named after `label` at `url`, each until the
/// service stops answering 201, recording in `acknowledged` the id of every order that got one.
pub(crate) fn create_until_refused(
    workers: usize,
    label: &str,
    url: &str,
    acknowledged: &Acknowledged,
) -> Vec<JoinHandle<()>> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    (0..workers)
        .map(|worker| {
            let names = (0..10_000).map({
                let label = label.to_owned();
                move |n| format!("{label} worker {worker} order {n}")
            });
            tokio::spawn(create_each(
                client.clone(),
                url.to_owned(),
                names,
                Arc::clone(acknowledged),
            ))
        })
        .collect()
}

/// Waits until `acknowledged` holds at least `count` ids.
pub(crate) async fn wait_for_acknowledged(acknowledged: &Acknowledged, count: usize) {
    wait_until(&format!("{count} acknowledged creates"), || async move {
        acknowledged.lock().expect("lock").len() >= count
    })
    .await;
}

/// One client: creates an order for each of `names` until the service stops answering 201.
async fn create_each(
    client: reqwest::Client,
    url: String,
    names: impl Iterator<Item = String>,
    acknowledged: Acknowledged,
) {
    for name in names {
        let request = client
            .post(format!("{url}/orders"))
            .json(&order_body(&name));
        let Ok(response) = request.send().await else {
            return;
        };
        if response.status().as_u16() != 201 {
            return;
        }
        let Ok(order) = response.json::<Value>().await else {
            return;
        };
        let id = order["order_id"].as_str().expect("id").to_owned();
        acknowledged.lock().expect("lock").push(id);
    }
}
