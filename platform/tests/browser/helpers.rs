//! The platform under test: every service in this process on the embedded transport, with a
//! fresh data directory, and a plain HTTP client for the JSON API.

use order_platform::{Platform, PlatformSettings, TransportKind};
use secrecy::ExposeSecret;
use serde_json::Value;
use shared_events::app::auth::Role;
use shared_events::app::auth::api_tokens::TokenStore;
use tempfile::TempDir;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A running platform.
pub(crate) struct TestPlatform {
    /// The order service's base URL (the JSON API and the web page).
    pub(crate) url: String,
    /// A client for the JSON API.
    pub(crate) client: reqwest::Client,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
    _data: TempDir,
}

impl TestPlatform {
    /// Builds and runs the platform on the embedded transport.
    pub(crate) async fn start() -> TestPlatform {
        TestPlatform::start_with(|_| {}).await
    }

    /// [`TestPlatform::start`] after `adjust` has changed the settings.
    pub(crate) async fn start_with(adjust: impl FnOnce(&mut PlatformSettings)) -> TestPlatform {
        let data = tempfile::tempdir().expect("a data directory");
        let mut settings = PlatformSettings::for_tests(data.path(), TransportKind::Embedded);
        adjust(&mut settings);
        let platform_stop = CancellationToken::new();
        let platform = Platform::build(settings)
            .await
            .expect("the platform starts");
        TestPlatform {
            url: platform.url(),
            client: reqwest::Client::new(),
            shutdown: platform_stop.clone(),
            task: tokio::spawn(platform.run(platform_stop)),
            _data: data,
        }
    }

    /// Makes an admin token and a clerk's token: from then on every service asks for one, and
    /// [`TestPlatform::client`] sends the admin's. The clerk's token.
    pub(crate) fn require_tokens(&mut self) -> String {
        let store = TokenStore::open(&self._data.path().join("tokens.json"));
        let admin = store
            .create("admin".parse().expect("a name"), Role::Admin)
            .expect("an admin token");
        let mut headers = reqwest::header::HeaderMap::new();
        let bearer = format!("Bearer {}", admin.expose_secret());
        headers.insert(
            reqwest::header::AUTHORIZATION,
            bearer.parse().expect("a header value"),
        );
        self.client = reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .expect("a client");
        let clerk = store
            .create("clerk-ada".parse().expect("a name"), Role::Clerk)
            .expect("a clerk's token");
        clerk.expose_secret().to_owned()
    }

    /// Stops the platform gracefully and checks that it stopped cleanly.
    pub(crate) async fn stop(self) {
        self.shutdown.cancel();
        self.task
            .await
            .expect("the platform task")
            .expect("the platform stops cleanly");
    }

    /// `POST /orders` with `body`; the created order.
    pub(crate) async fn create(&self, body: &Value) -> Value {
        let response = self
            .client
            .post(format!("{}/orders", self.url))
            .json(body)
            .send()
            .await
            .expect("POST /orders");
        assert_eq!(response.status(), 201, "creating {body}");
        response.json().await.expect("an order")
    }

    /// `GET /orders`: the first page of the list.
    pub(crate) async fn orders(&self) -> Value {
        self.client
            .get(format!("{}/orders", self.url))
            .send()
            .await
            .expect("GET /orders")
            .json()
            .await
            .expect("the order list")
    }

    /// `GET /orders/{id}/deliveries`: the order's history, once every version is in it.
    pub(crate) async fn deliveries(&self, order_id: &str) -> Value {
        let url = format!("{}/orders/{order_id}/deliveries", self.url);
        test_support::http::get(&self.client, &url)
            .await
            .json()
            .await
            .expect("the order's history")
    }

    /// The status of `GET /orders/{id}`.
    pub(crate) async fn order_status(&self, order_id: &str) -> u16 {
        let url = format!("{}/orders/{order_id}", self.url);
        test_support::http::get(&self.client, &url)
            .await
            .status()
            .as_u16()
    }
}
