//! `amqps://` end to end against a node of the test's own that speaks only TLS, with a CA and
//! certificates made here: a password over TLS, a client certificate signing in with EXTERNAL,
//! and the connections that must not be made.

use std::collections::HashSet;

use shared_events::app::settings::{AmqpSettings, AmqpTlsSettings};
use shared_events::runtime::amqp::connection::connect;
use test_support::tls_broker::{CLIENT_USER, TlsBroker};

use crate::helpers::{Script, ScriptedHandler, TestBroker, wait_until};

/// Publishes events through `broker` (on the TLS node) and waits until a consumer applies them.
async fn round_trip(broker: &TestBroker) {
    let handler = ScriptedHandler::new(Script::Apply);
    let consumer = broker.spawn_consumer(handler.clone());
    let events = broker.publish_events(5).await;
    let expected: HashSet<_> = events.iter().map(|event| event.id).collect();
    wait_until("the events sent over TLS are applied", || {
        handler.applied() == expected
    })
    .await;
    consumer.stop().await;
}

#[tokio::test]
async fn events_travel_over_amqps_with_a_password_and_the_test_ca_trusted() {
    // Arrange
    let node = TlsBroker::start().await;
    let broker = TestBroker::with_settings(|settings| {
        *settings = node.settings(node.password_url(), &settings.namespace);
    })
    .await;

    // Act
    round_trip(&broker).await;

    // Assert: the node has no plain listener, so the connections are TLS; the broker says so.
    let connections = node.connections().await;
    assert!(
        connections
            .lines()
            .any(|line| line.contains("guest") && line.ends_with("true")),
        "{connections}"
    );
    broker.cleanup().await;
}

#[tokio::test]
async fn a_client_certificate_signs_in_with_external_and_no_password() {
    // Arrange
    let node = TlsBroker::start().await;
    let (cert_file, key_file) = node.client_identity();
    let broker = TestBroker::with_settings(|settings| {
        *settings = AmqpSettings {
            tls: AmqpTlsSettings {
                ca_file: Some(node.ca_file()),
                cert_file: Some(cert_file),
                key_file: Some(key_file),
            },
            ..node.settings(node.external_url(), &settings.namespace)
        };
    })
    .await;

    // Act
    round_trip(&broker).await;

    // Assert
    let connections = node.connections().await;
    assert!(
        connections.lines().any(|line| line.contains(CLIENT_USER)),
        "the connections sign in as the certificate's name: {connections}"
    );
    assert!(
        !connections.contains("guest"),
        "no password user: {connections}"
    );
    broker.cleanup().await;
}

#[tokio::test]
async fn untrusted_brokers_plain_amqp_and_unusable_files_are_refused() {
    let node = TlsBroker::start().await;
    let namespace = test_support::namespace::unique();

    // A broker whose certificate no trusted CA signed: the system's roots and another CA.
    let mut stranger = node.settings(node.password_url(), &namespace);
    stranger.tls.ca_file = Some(node.stranger_ca_file());
    let error = connect(&stranger, "tls-tests")
        .await
        .expect_err("an untrusted certificate is refused");
    assert!(error.is_transient(), "{error}");
    assert!(
        format!("{error:?}").to_lowercase().contains("certificate"),
        "the reason names the certificate: {error:?}"
    );

    // Plain AMQP to the TLS port.
    let plain = node.settings(node.plain_url(), &namespace);
    connect(&plain, "tls-tests")
        .await
        .expect_err("plain AMQP to a TLS port fails");

    // EXTERNAL without a client certificate: the broker has no one to sign in.
    let anonymous = node.settings(node.external_url(), &namespace);
    connect(&anonymous, "tls-tests")
        .await
        .expect_err("EXTERNAL needs a certificate");

    // A CA file that is not there: a configuration mistake, not retried.
    let mut missing = node.settings(node.password_url(), &namespace);
    missing.tls.ca_file = Some(node.ca_file().with_file_name("missing.pem"));
    let error = connect(&missing, "tls-tests")
        .await
        .expect_err("a missing CA file is refused");
    assert!(!error.is_transient(), "{error}");
    assert!(error.to_string().contains("missing.pem"), "{error}");

    // And with the right CA, the same node answers: the refusals were not the node's fault.
    let trusted = node.settings(node.password_url(), &namespace);
    let connection = connect(&trusted, "tls-tests").await.expect("connects");
    connection.close(200, "OK".into()).await.expect("closes");
}
