//! The consumer application honours the one HTTP settings shape: with a certificate and key
//! configured, the stock API speaks only HTTPS.

use inventory_service::Application;
use serde_json::{Value, json};
use shared_events::app::settings::{ConsumerSettings, TlsSettings};
use test_support::service::RunningService;
use test_support::tls::SelfSigned;

#[tokio::test]
async fn with_a_certificate_the_stock_api_speaks_only_https() {
    // Arrange
    let certificate = SelfSigned::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = ConsumerSettings::for_tests(dir.path(), &test_support::namespace::unique());
    settings.http.tls = TlsSettings {
        cert_file: Some(certificate.cert_file()),
        key_file: Some(certificate.key_file()),
    };
    let amqp = settings.amqp.clone();
    let application = Application::build(settings)
        .await
        .expect("the service starts");
    let url = application.url();
    let running = RunningService::spawn(|shutdown| application.run(shutdown));

    // Act
    let counted = certificate
        .client()
        .put(format!("{url}/stock/widget"))
        .json(&json!({"on_hand": 7}))
        .send()
        .await
        .expect("a count over HTTPS");
    let read = certificate
        .assert_speaks_only_https(&url, "/stock/widget")
        .await;

    // Assert
    assert!(url.starts_with("https://"), "{url}");
    assert_eq!(counted.status().as_u16(), 200);
    let level: Value = counted.json().await.expect("json");
    assert_eq!(level["on_hand"], 7, "{level}");
    assert_eq!(read.json::<Value>().await.expect("json"), level);
    running.stop().await;
    test_support::namespace::delete(&amqp, &["inventory"]).await;
}
