//! Email over TLS: STARTTLS and implicit TLS against a server with a certificate made here,
//! trusted through `ORDERS__SMTP__TLS__CA_FILE`; the password crosses only an encrypted
//! connection, and a server whose certificate is not trusted hears nothing of it.

use notification_service::settings::SmtpUrl;
use test_support::smtp::{Login, SmtpServer};
use test_support::tls::SelfSigned;
use test_support::wait::until;

use crate::helpers::{TestApp, created, new_order, spawn_app_in};

const PASSWORD: &str = "s3cretPW";

/// A service sending to `url` (`PASSWORD` in it), trusting `ca` when given.
async fn sending_to(url: String, ca: Option<&SelfSigned>) -> TestApp {
    let ca_file = ca.map(SelfSigned::cert_file);
    let app = spawn_app_in(
        tempfile::tempdir().expect("temp dir"),
        &test_support::namespace::unique(),
        |settings| {
            settings.smtp.url = Some(SmtpUrl::new(url));
            settings.smtp.tls.ca_file = ca_file;
        },
    )
    .await;
    test_support::http::wait_ready(&format!("{}/health/ready", app.address)).await;
    app
}

#[tokio::test]
async fn with_starttls_the_password_goes_only_over_the_encrypted_connection() {
    // Arrange
    let certificate = SelfSigned::new();
    let smtp = SmtpServer::start_tls(&certificate).await;
    let url = format!(
        "smtp://mailer:{PASSWORD}@127.0.0.1:{}?tls=required",
        smtp.port()
    );
    let app = sending_to(url, Some(&certificate)).await;

    // Act
    app.publish(&created(&new_order(Some("ada@example.com"))))
        .await;
    let counts = app.wait_until_handled(1).await;

    // Assert
    assert_eq!(counts.sent, 1, "{counts:?}");
    assert_eq!(smtp.received().len(), 1);
    assert_eq!(
        smtp.logins(),
        [Login {
            user: "mailer".to_owned(),
            password: PASSWORD.to_owned(),
            over_tls: true,
        }]
    );
    app.finish().await;
}

#[tokio::test]
async fn smtps_speaks_tls_from_the_first_byte() {
    // Arrange
    let certificate = SelfSigned::new();
    let smtp = SmtpServer::start_implicit_tls(&certificate).await;
    let url = format!("smtps://mailer:{PASSWORD}@127.0.0.1:{}", smtp.port());
    let app = sending_to(url, Some(&certificate)).await;

    // Act
    app.publish(&created(&new_order(Some("ada@example.com"))))
        .await;
    let counts = app.wait_until_handled(1).await;

    // Assert
    assert_eq!(counts.sent, 1, "{counts:?}");
    assert_eq!(smtp.received()[0].to, ["ada@example.com"]);
    assert_eq!(smtp.logins().len(), 1);
    assert!(smtp.logins()[0].over_tls);
    app.finish().await;
}

#[tokio::test]
async fn a_server_whose_certificate_is_not_trusted_gets_no_password_and_no_email() {
    // Arrange: the public roots only; the server's certificate is signed by none of them.
    let certificate = SelfSigned::new();
    let smtp = SmtpServer::start_tls(&certificate).await;
    let url = format!(
        "smtp://mailer:{PASSWORD}@127.0.0.1:{}?tls=required",
        smtp.port()
    );
    let app = sending_to(url, None).await;

    // Act: every attempt fails the handshake, until the event is given up on.
    app.publish(&created(&new_order(Some("ada@example.com"))))
        .await;
    let failures = until("the event to be recorded as failed", async || {
        Some(app.failures()).filter(|failures| !failures.is_empty())
    })
    .await;

    // Assert
    assert_eq!(app.counts().sent, 0);
    assert!(smtp.received().is_empty());
    assert!(smtp.logins().is_empty(), "{:?}", smtp.logins());
    assert!(smtp.connections() >= 1, "the server was tried");
    let reason = &failures[0].reason;
    assert!(reason.contains("mailer:***@"), "{reason}");
    assert!(!reason.contains(PASSWORD), "{reason}");
    app.finish().await;
}

#[tokio::test]
async fn a_password_over_plain_smtp_is_refused_before_any_connection() {
    // Arrange
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = notification_service::settings::Settings::for_tests(
        dir.path(),
        &test_support::namespace::unique(),
    );
    settings.smtp.url = Some(SmtpUrl::new(format!(
        "smtp://mailer:{PASSWORD}@127.0.0.1:{}",
        smtp.port()
    )));

    // Act
    let refused = notification_service::Application::build(settings).await;

    // Assert
    let error = format!("{:#}", refused.err().expect("the service refuses to start"));
    assert!(error.contains("does not require TLS"), "{error}");
    assert!(!error.contains(PASSWORD), "{error}");
    assert_eq!(smtp.connections(), 0);
}
