//! With a certificate and key configured, the notification API speaks only HTTPS.

use serde_json::Value;
use shared_events::app::settings::TlsSettings;
use test_support::tls::SelfSigned;

use crate::helpers::spawn_app_in;

#[tokio::test]
async fn with_a_certificate_the_notification_api_speaks_only_https() {
    // Arrange
    let certificate = SelfSigned::new();
    let tls = TlsSettings {
        cert_file: Some(certificate.cert_file()),
        key_file: Some(certificate.key_file()),
    };
    let app = spawn_app_in(
        tempfile::tempdir().expect("temp dir"),
        &test_support::namespace::unique(),
        |settings| settings.http.tls = tls,
    )
    .await;

    // Act
    let listed = certificate
        .assert_speaks_only_https(&app.address, "/notifications")
        .await;

    // Assert
    assert_eq!(listed.status().as_u16(), 200);
    assert_eq!(
        listed.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let page: Value = listed.json().await.expect("json");
    assert_eq!(page["notifications"], Value::Array(vec![]), "{page}");
    app.finish().await;
}
