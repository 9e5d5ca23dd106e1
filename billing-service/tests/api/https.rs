//! With a certificate and key configured, the invoice API speaks only HTTPS.

use billing_service::Application;
use serde_json::Value;
use shared_events::app::settings::{ConsumerSettings, TlsSettings};
use test_support::service::RunningService;
use test_support::tls::SelfSigned;

#[tokio::test]
async fn with_a_certificate_the_invoice_api_speaks_only_https() {
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
    let listed = certificate
        .assert_speaks_only_https(&url, "/invoices")
        .await;

    // Assert
    assert_eq!(listed.status().as_u16(), 200);
    assert_eq!(
        listed.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let page: Value = listed.json().await.expect("json");
    assert_eq!(page["invoices"], Value::Array(vec![]), "{page}");
    running.stop().await;
    test_support::namespace::delete(&amqp, &[super::helpers::SERVICE]).await;
}
