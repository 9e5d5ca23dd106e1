//! With a certificate and key configured, the service speaks only HTTPS.

use serde_json::Value;
use test_support::tls::SelfSigned;

use crate::helpers::{order_body, spawn_app_in};

#[tokio::test]
async fn a_client_trusting_the_certificate_creates_and_reads_over_https() {
    // Arrange: a self-signed certificate for the loopback address, made here.
    let certificate = SelfSigned::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let app = spawn_app_in(dir, |settings| {
        settings.http.tls.cert_file = Some(certificate.cert_file());
        settings.http.tls.key_file = Some(certificate.key_file());
    })
    .await;
    assert!(app.address.starts_with("https://"), "{}", app.address);
    let client = certificate.client();

    // Act
    let created = client
        .post(format!("{}/orders", app.address))
        .json(&order_body("Tls"))
        .send()
        .await
        .expect("https");
    assert_eq!(created.status().as_u16(), 201);
    let created: Value = created.json().await.expect("json");
    let read = client
        .get(format!(
            "{}/orders/{}",
            app.address,
            created["order_id"].as_str().expect("id")
        ))
        .send()
        .await
        .expect("https");

    // Assert
    assert_eq!(read.status().as_u16(), 200);
    assert_eq!(
        read.headers()["strict-transport-security"],
        "max-age=31536000",
        "a browser that saw HTTPS never tries plain HTTP again"
    );
    assert_eq!(read.json::<Value>().await.expect("json"), created);
    certificate
        .assert_speaks_only_https(&app.address, "/health/live")
        .await;
}
