//! `spawn_app()`, request helpers for the web page, and small readers of its HTML.

use order_service::deliveries::Deliveries;
use order_service::settings::Settings;
use order_service::startup::Application;
use order_service::store::OrderStore;
use reqwest::redirect::Policy;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A running order service on a free port with its own data directory.
pub(crate) struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub(crate) address: String,
    /// A client that does not follow redirects, so tests see the 303s.
    pub(crate) client: reqwest::Client,
    /// The service's delivery timelines, to change them as consumers would.
    pub(crate) deliveries: Deliveries,
    /// The service's order store.
    pub(crate) store: OrderStore,
    handle: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
    _data_dir: TempDir,
}

/// Starts the service on port 0 with a fresh data directory (no broker needed: the relay is off).
pub(crate) async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// [`spawn_app`] after `adjust` has changed the settings.
pub(crate) async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings::for_tests(data_dir.path());
    adjust(&mut settings);
    let application = Application::build(settings)
        .await
        .expect("the service starts");
    let address = application.url();
    let handle = CancellationToken::new();
    let deliveries = application.deliveries().clone();
    let store = application.store().clone();
    let task = tokio::spawn(application.run(handle.clone()));
    let client = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client");
    TestApp {
        address,
        client,
        deliveries,
        store,
        handle,
        task,
        _data_dir: data_dir,
    }
}

/// Starts the service and creates Ada's order through the JSON API; the order's id.
pub(crate) async fn spawn_app_with_order() -> (TestApp, String) {
    let app = spawn_app().await;
    let order = app.create_order("Ada", "ada@example.com").await;
    let id = order["order_id"].as_str().expect("id").to_owned();
    (app, id)
}

impl TestApp {
    /// The tokens file the service reads.
    pub(crate) fn tokens_file(&self) -> std::path::PathBuf {
        self._data_dir.path().join("tokens.json")
    }

    /// Stops the service gracefully.
    pub(crate) async fn stop(self) {
        self.handle.cancel();
        self.task
            .await
            .expect("the server task")
            .expect("the server stops cleanly");
    }

    /// `GET path`.
    pub(crate) async fn get(&self, path: &str) -> Response {
        test_support::http::get(&self.client, &format!("{}{path}", self.address)).await
    }

    /// A `method` request to `path`, to finish and hand to [`send`].
    pub(crate) fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.address))
    }

    /// `GET path`, asserting `status` and an HTML answer; the page's text.
    pub(crate) async fn page(&self, path: &str, status: u16) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status().as_u16(), status, "GET {path}");
        assert_html(&response);
        response.text().await.expect("body")
    }

    /// `POST path` with an urlencoded form, as a browser sends it.
    pub(crate) async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        send(self.request(Method::POST, path).form(fields)).await
    }

    /// Creates an order through the JSON API; its JSON.
    pub(crate) async fn create_order(&self, customer: &str, email: &str) -> Value {
        let body = json!({
            "customer_name": customer,
            "customer_email": email,
            "items": [{"product": "widget", "quantity": 2, "amount": "9.99"}]
        });
        let response = send(self.request(Method::POST, "/orders").json(&body)).await;
        assert_eq!(response.status().as_u16(), 201, "create through the API");
        response.json().await.expect("json")
    }

    /// Sets an order's status through the JSON API.
    pub(crate) async fn set_status(&self, id: &str, status: &str) {
        let request = self.request(Method::PATCH, &format!("/orders/{id}"));
        let response = send(request.json(&json!({ "status": status }))).await;
        assert_eq!(response.status().as_u16(), 200, "PATCH status {status}");
    }
}

/// Sends `request`, failing the test when no answer comes.
pub(crate) async fn send(request: RequestBuilder) -> Response {
    request.send().await.expect("request")
}

/// The `Location` of a 303.
pub(crate) fn see_other(response: &Response) -> String {
    assert_eq!(response.status().as_u16(), 303, "a redirect after the form");
    response
        .headers()
        .get("location")
        .and_then(|value| value.to_str().ok())
        .expect("a Location")
        .to_owned()
}

/// Asserts that the response is an HTML page.
pub(crate) fn assert_html(response: &Response) {
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    assert!(content_type.starts_with("text/html"), "{content_type}");
}

/// The start tag of the element whose `id` is `id` (`<input id="x" ...>`), if there is one.
pub(crate) fn tag<'a>(html: &'a str, id: &str) -> Option<&'a str> {
    let at = html.find(&format!(" id=\"{id}\""))?;
    let start = html[..at].rfind('<')?;
    let end = at + html[at..].find('>')?;
    Some(&html[start..=end])
}

/// The HTML between the start tag of `#id` and the next `</name>` (its content, for elements
/// that do not nest the same tag).
pub(crate) fn inner<'a>(html: &'a str, id: &str, name: &str) -> &'a str {
    let start_tag = tag(html, id).unwrap_or_else(|| panic!("no #{id} in the page"));
    let start = html.find(start_tag).expect("the tag") + start_tag.len();
    let end = start
        + html[start..]
            .find(&format!("</{name}>"))
            .expect("a closing tag");
    &html[start..end]
}

/// How many times `needle` occurs in `html`.
pub(crate) fn count(html: &str, needle: &str) -> usize {
    html.matches(needle).count()
}

/// The values of every `attribute="..."` in `html`, in order.
pub(crate) fn values_of<'a>(html: &'a str, attribute: &str) -> Vec<&'a str> {
    html.split(&format!(" {attribute}=\""))
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect()
}
