//! The ledger survives a restart: an event delivered again afterwards sends nothing.

use notification_service::settings::SmtpUrl;

use crate::helpers::{created, new_order, spawn_app, spawn_app_in};
use test_support::smtp::SmtpServer;

#[tokio::test]
async fn an_event_delivered_again_after_a_restart_sends_nothing() {
    // Arrange
    let smtp = SmtpServer::start().await;
    let app = spawn_app(Some(&smtp)).await;
    let event = created(&new_order(Some("ada@example.com")));
    app.publish(&event).await;
    app.wait_until_handled(1).await;
    let namespace = app.settings.amqp.namespace.clone();
    let data_dir = app.stop().await;

    // Act
    let url = smtp.url();
    let app = spawn_app_in(data_dir, &namespace, |settings| {
        settings.smtp.url = Some(SmtpUrl::new(url));
    })
    .await;
    app.publish(&event).await;
    let counts = app.wait_until_handled(1).await;

    // Assert
    assert_eq!((counts.sent, counts.duplicate), (0, 1), "{counts:?}");
    assert_eq!(smtp.received().len(), 1, "still the one email from before");
    let notifications = app.all_notifications(50).await;
    assert_eq!(notifications.len(), 1);
    assert_eq!(notifications[0]["status"], "sent");
    app.finish().await;
}
