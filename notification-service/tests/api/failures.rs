//! A mail server that refuses: retries with growing delays, `failure.json`, replay.

use std::time::Duration;

use serde_json::Value;
use shared_events::OrderEvent;
use shared_events::storage::failure_log::FailureRecord;

use test_support::smtp::{Mode, SmtpServer};
use test_support::wait::until;

use crate::helpers::{TestApp, created, new_order, spawn_app, spawn_app_in};

#[tokio::test]
async fn a_refused_email_is_retried_then_recorded_and_a_replay_sends_it_once() {
    // Arrange
    let (smtp, app) = app_and_smtp_in(Mode::RefuseMail).await;
    let event = created(&new_order(Some("ada@example.com")));

    // Act: every attempt is refused until the runner gives up.
    let record = publish_until_failed(&app, &event).await;

    // Assert: each retry waited at least its delay tier, and the reason was kept.
    let amqp = &app.settings.amqp;
    let attempts = smtp.attempts();
    assert_eq!(
        attempts.len(),
        amqp.max_attempts as usize,
        "one SMTP attempt per handler attempt"
    );
    for (n, pair) in attempts.windows(2).enumerate() {
        let tier = amqp.retry_delays_ms[n.min(amqp.retry_delays_ms.len() - 1)];
        let gap = pair[1] - pair[0];
        assert!(
            gap >= Duration::from_millis(tier * 9 / 10),
            "retry {} came after {gap:?}, before its {tier} ms delay",
            n + 1
        );
    }
    assert_eq!(record.attempts, amqp.max_attempts);
    assert!(
        record.reason.contains("451") && record.reason.contains("try later"),
        "{}",
        record.reason
    );
    assert_eq!(record.order_id, Some(event.subject.to_string()));
    assert!(smtp.received().is_empty());
    let notification = app.notification(&event).await.expect("recorded");
    assert_eq!(
        notification["status"], "sending",
        "the intent stays until sent"
    );

    // Act: the server takes mail again; the operator replays with the binary.
    smtp.set_mode(Mode::Accept);
    let listed = run_failures_command(&app, &["failures", "list", "--json"]).await;
    let listed: Value = serde_json::from_str(&listed).expect("a JSON array");
    assert_eq!(listed[0]["id"], record.id.as_str());
    run_failures_command(&app, &["failures", "replay", &record.id]).await;

    // Assert: exactly one email, with the Message-ID of the event.
    until("the replayed email is sent", async || {
        let notification = app.notification(&event).await?;
        (notification["status"] == "sent").then_some(())
    })
    .await;
    let received = smtp.received();
    assert_eq!(received.len(), 1, "exactly one email");
    assert_eq!(
        received[0].header("Message-ID"),
        Some(format!("<{}@localhost>", event.id))
    );
    // The handler counts an email once its "sent" is recorded: a moment after the ledger shows it.
    until("the email is counted", async || {
        (app.counts().sent == 1).then_some(())
    })
    .await;
    app.finish().await;
}

#[tokio::test]
async fn a_permanent_refusal_is_recorded_after_one_attempt() {
    // Arrange
    let (smtp, app) = app_and_smtp_in(Mode::RejectRecipient).await;
    let event = created(&new_order(Some("nobody@example.com")));

    // Act
    let record = publish_until_failed(&app, &event).await;

    // Assert
    assert_eq!(record.attempts, 1, "a 5xx is not retried");
    assert!(
        record.reason.contains("550") && record.reason.contains("permanent"),
        "{}",
        record.reason
    );
    assert_eq!(smtp.attempts().len(), 1);
    assert!(smtp.received().is_empty());
    app.finish().await;
}

#[tokio::test]
async fn a_mail_server_that_hangs_up_is_retried_until_it_takes_the_email() {
    // Arrange: enough attempts that the server is back long before the runner gives up.
    let smtp = SmtpServer::start().await;
    smtp.set_mode(Mode::Close);
    let data_dir = tempfile::tempdir().expect("temp dir");
    let namespace = format!("test-{}", uuid::Uuid::new_v4());
    let url = smtp.url();
    let app = spawn_app_in(data_dir, &namespace, |settings| {
        settings.smtp.url = Some(notification_service::settings::SmtpUrl::new(url));
        settings.amqp.max_attempts = 100;
    })
    .await;
    let event = created(&new_order(Some("ada@example.com")));

    // Act
    app.publish(&event).await;
    until("a retry reached the server", async || {
        (smtp.connections() >= 2).then_some(())
    })
    .await;
    smtp.set_mode(Mode::Accept);
    until("the email is sent", async || {
        (app.counts().sent == 1).then_some(())
    })
    .await;

    // Assert
    assert_eq!(smtp.received().len(), 1);
    assert!(app.counts().failed >= 2, "{:?}", app.counts());
    assert!(app.failures().is_empty(), "nothing was given up on");
    app.finish().await;
}

#[tokio::test]
async fn a_mail_server_that_stays_silent_fails_the_send_after_the_timeout_and_gets_the_email_once_it_answers()
 {
    // Arrange: a server that takes the connection and never greets, a short timeout.
    let smtp = SmtpServer::start().await;
    smtp.set_mode(Mode::Silent);
    let data_dir = tempfile::tempdir().expect("temp dir");
    let namespace = format!("test-{}", uuid::Uuid::new_v4());
    let url = smtp.url();
    let app = spawn_app_in(data_dir, &namespace, |settings| {
        settings.smtp.url = Some(notification_service::settings::SmtpUrl::new(url));
        settings.smtp.timeout_ms = 300;
        settings.amqp.max_attempts = 100;
    })
    .await;
    let event = created(&new_order(Some("ada@example.com")));

    // Act
    app.publish(&event).await;
    until("two sends timed out", async || {
        (app.counts().failed >= 2).then_some(())
    })
    .await;
    assert!(
        smtp.connections() >= 2,
        "each attempt is a new conversation"
    );
    assert!(smtp.received().is_empty());
    smtp.set_mode(Mode::Accept);
    until("the email is sent", async || {
        (app.counts().sent == 1).then_some(())
    })
    .await;

    // Assert
    assert_eq!(smtp.received().len(), 1);
    assert!(app.failures().is_empty(), "nothing was given up on");
    app.finish().await;
}

/// A test SMTP server in `mode`, and the service sending to it.
async fn app_and_smtp_in(mode: Mode) -> (SmtpServer, TestApp) {
    let smtp = SmtpServer::start().await;
    smtp.set_mode(mode);
    let app = spawn_app(Some(&smtp)).await;
    (smtp, app)
}

/// Publishes `event` and waits until `failure.json` has its record.
async fn publish_until_failed(app: &TestApp, event: &OrderEvent) -> FailureRecord {
    app.publish(event).await;
    let event_id = event.id.to_string();
    until("the event is recorded in failure.json", async || {
        app.failures()
            .into_iter()
            .find(|record| record.event_id.as_deref() == Some(event_id.as_str()))
    })
    .await
}

/// Runs the binary's `failures ...` subcommand against the app's data directory and namespace;
/// returns its standard output.
async fn run_failures_command(app: &TestApp, args: &[&str]) -> String {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_notification-service"))
        .args(args)
        .env("ORDERS__DATA_DIR", app.data_path())
        .env("ORDERS__AMQP__URL", app.settings.amqp.url.expose())
        .env("ORDERS__AMQP__NAMESPACE", &app.settings.amqp.namespace)
        .env("ORDERS__LOG__LEVEL", "warn")
        .env_remove("ORDERS__SMTP__URL")
        .output()
        .await
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}
