//! SIGTERM of the real binary while it works through a stream of events: it stops with exit
//! code 0, and after a restart every event has had exactly one email, over real SMTP.

use std::collections::HashSet;

use shared_events::OrderEvent;
use shared_events::app::settings::AmqpSettings;
use shared_events::runtime::amqp::ConfirmedPublisher;
use test_support::process::{Interruption, interrupt, service_command, spawn_listening};
use test_support::smtp::{Mode, SmtpServer};
use test_support::wait::wait_until;

use crate::helpers::{created, new_order, publish_event};

/// Events in the stream.
const EVENTS: usize = 60;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_stream_stops_it_cleanly_and_every_event_gets_one_email() {
    // Arrange
    let dir = tempfile::tempdir().expect("temp dir");
    let smtp = SmtpServer::start().await;
    let amqp = AmqpSettings::for_tests(&test_support::namespace::unique());
    let binary = || binary_sending_to(&smtp, dir.path(), &amqp);
    let events: Vec<OrderEvent> = (0..EVENTS)
        .map(|n| created(&new_order(Some(&format!("customer{n}@example.com")))))
        .collect();
    let publisher = ConfirmedPublisher::new(amqp.clone(), "notification-sigterm-test");
    let (mut child, _url) = spawn_listening(binary()).await;

    // Act: the stream, and a SIGTERM once some emails went out.
    for event in &events {
        publish_event(&publisher, &amqp.namespace, event).await;
    }
    wait_until("some emails to go out", || async {
        smtp.received().len() >= 5
    })
    .await;
    interrupt(&mut child, Interruption::Terminate).await;
    let sent_before_restart = smtp.received().len();
    let (_child, _url) = spawn_listening(binary()).await;

    // Assert: two barriers in turn, so that whatever came back (a redelivery) is handled first.
    for round in 1..=2 {
        let barrier = created(&new_order(Some("barrier@example.com")));
        publish_event(&publisher, &amqp.namespace, &barrier).await;
        wait_until("the barrier's email", || async {
            smtp.received().len() >= EVENTS + round
        })
        .await;
    }
    let received = smtp.received();
    let message_ids: HashSet<String> = received
        .iter()
        .map(|mail| mail.header("Message-ID").expect("a Message-ID"))
        .collect();
    assert!(
        sent_before_restart < EVENTS + 2,
        "the restart had work left ({sent_before_restart} sent before it)"
    );
    assert_eq!(
        received.len(),
        EVENTS + 2,
        "one email per event, none twice"
    );
    assert_eq!(
        message_ids.len(),
        EVENTS + 2,
        "every email about another event"
    );
    publisher.close().await;
    test_support::namespace::delete(&amqp, &["notification"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_it_while_the_mail_server_stays_silent_and_the_email_goes_out_after_a_restart()
 {
    // Arrange: a server that never answers, a conversation bounded to two seconds.
    let dir = tempfile::tempdir().expect("temp dir");
    let smtp = SmtpServer::start().await;
    smtp.set_mode(Mode::Silent);
    let amqp = AmqpSettings::for_tests(&test_support::namespace::unique());
    let binary = || {
        let mut command = binary_sending_to(&smtp, dir.path(), &amqp);
        command.env("ORDERS__SMTP__TIMEOUT_MS", "2000");
        command
    };
    let publisher = ConfirmedPublisher::new(amqp.clone(), "notification-silent-smtp-test");
    let (mut child, _url) = spawn_listening(binary()).await;
    let event = created(&new_order(Some("ada@example.com")));

    // Act: SIGTERM while the send hangs; then a restart with a server that answers.
    publish_event(&publisher, &amqp.namespace, &event).await;
    wait_until("the service is talking to the silent server", || async {
        smtp.connections() >= 1
    })
    .await;
    interrupt(&mut child, Interruption::Terminate).await;
    assert!(smtp.received().is_empty());
    smtp.set_mode(Mode::Accept);
    let (_child, _url) = spawn_listening(binary()).await;

    // Assert
    wait_until("the email after the restart", || async {
        smtp.received().len() == 1
    })
    .await;
    publisher.close().await;
    test_support::namespace::delete(&amqp, &["notification"]).await;
}

/// The real binary on `data_dir` and `amqp`'s namespace, sending its emails to `smtp`.
fn binary_sending_to(
    smtp: &SmtpServer,
    data_dir: &std::path::Path,
    amqp: &AmqpSettings,
) -> tokio::process::Command {
    let mut command = service_command(env!("CARGO_BIN_EXE_notification-service"), data_dir, amqp);
    command.env("ORDERS__SMTP__URL", smtp.url());
    command
}
