//! The delivery promises, tested once and run on both transports, so that the embedded
//! transport and RabbitMQ cannot drift apart: every change reaches every service once; a
//! failing delivery is retried with backoff; one given up on is recorded in `failure.json` and
//! can be replayed; nothing is lost across a restart. Emails go over real SMTP. In every case,
//! each event and outcome message the platform emits matches docs/asyncapi.yaml.

use std::collections::HashSet;

use order_platform::{PlatformSettings, TransportKind, failures};
use serde_json::{Value, json};
use test_support::namespace;
use test_support::smtp::{Mode, SmtpServer};
use test_support::wait::wait_until;

use crate::asyncapi::Emitted;
use crate::helpers::{TestPlatform, delete_namespace, settings};

/// Runs each case as `embedded::<case>` and `rabbitmq::<case>`.
macro_rules! on_both_transports {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(order_platform::TransportKind::Embedded).await;
                }
            )*
        }
        mod rabbitmq {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(order_platform::TransportKind::Amqp).await;
                }
            )*
        }
    };
}

on_both_transports!(
    every_change_reaches_every_service_once,
    a_failing_delivery_is_retried_until_it_succeeds,
    a_delivery_given_up_on_is_recorded_and_can_be_replayed,
    events_accepted_before_a_restart_are_delivered_after_it,
);

struct Case {
    settings: PlatformSettings,
    smtp: SmtpServer,
    /// What the platform emits, captured from before it starts.
    emitted: Emitted,
    _dir: tempfile::TempDir,
}

async fn case(transport: TransportKind) -> Case {
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let settings = settings(transport, dir.path(), &namespace::unique(), &smtp.url());
    Case {
        emitted: Emitted::capture(&settings).await,
        settings,
        smtp,
        _dir: dir,
    }
}

/// Once the platform has stopped: asserts that every message it emitted matches the AsyncAPI
/// document, then removes the case's broker namespace.
async fn finish(case: Case) {
    case.emitted.assert_match_the_asyncapi_document().await;
    delete_namespace(&case.settings).await;
}

/// Waits until the order's changes up to version `through` are applied everywhere, then asserts
/// the reserved pens and ink and the invoiced amount.
async fn assert_effects(
    platform: &TestPlatform,
    order_id: &str,
    through: u64,
    (pens, ink): (u64, u64),
    amount: &str,
) {
    platform.wait_applied(order_id, through).await;
    assert_eq!(platform.stock("pen").await["reserved"], pens);
    assert_eq!(platform.stock("ink").await["reserved"], ink);
    assert_eq!(
        platform.invoice(order_id).await["amount"].to_string(),
        amount
    );
}

/// The distinct `Message-ID`s of the emails `smtp` has received.
fn message_ids(smtp: &SmtpServer) -> HashSet<String> {
    let received = smtp.received();
    received
        .iter()
        .filter_map(|mail| mail.header("Message-ID"))
        .collect()
}

fn id(order: &Value) -> String {
    order["order_id"].as_str().expect("an order id").to_owned()
}

async fn every_change_reaches_every_service_once(transport: TransportKind) {
    // Arrange
    let case = case(transport).await;
    let platform = TestPlatform::start(case.settings.clone()).await;

    // Act and assert, change by change.
    let order = platform
        .create("Ada", &[("pen", 2, "1.50"), ("ink", 1, "4.00")])
        .await;
    let order_id = id(&order);
    assert_effects(&platform, &order_id, 1, (2, 1), "7.00").await;

    platform
        .patch(
            &order_id,
            json!({"items": [{"product": "pen", "quantity": 5, "amount": 1.50}]}),
        )
        .await;
    assert_effects(&platform, &order_id, 2, (5, 0), "7.50").await;

    platform
        .patch(&order_id, json!({"status": "cancelled"}))
        .await;
    platform.wait_applied(&order_id, 3).await;
    assert_eq!(platform.stock("pen").await["reserved"], 0);
    assert_eq!(platform.invoice(&order_id).await["status"], "void");

    let other = platform.create("Bob", &[("pen", 1, "1.50")]).await;
    let other_id = id(&other);
    platform.delete(&other_id).await;
    platform.wait_applied(&other_id, 2).await;
    assert_eq!(platform.stock("pen").await["reserved"], 0);
    assert_eq!(platform.invoice(&other_id).await["status"], "void");

    // One email per event, each once.
    wait_until("five emails", || async { case.smtp.received().len() >= 5 }).await;
    let ids = message_ids(&case.smtp);
    assert_eq!(ids.len(), 5, "one email per event");
    assert_eq!(case.smtp.received().len(), 5, "no email twice");

    let timeline = platform.timeline(&order_id).await;
    let events = timeline["events"].as_array().expect("events");
    assert_eq!(events.len(), 3, "{timeline}");
    assert!(
        events.iter().all(|event| !event["published_at"].is_null()),
        "{timeline}"
    );

    platform.stop().await;
    finish(case).await;
}

async fn a_failing_delivery_is_retried_until_it_succeeds(transport: TransportKind) {
    // Arrange: the mail server says "try later"; enough attempts to outlast the test's pause.
    let mut case = case(transport).await;
    case.settings.notification.amqp.max_attempts = 30;
    case.smtp.set_mode(Mode::RefuseMail);
    let platform = TestPlatform::start(case.settings.clone()).await;

    // Act
    let order_id = id(&platform.create("Ada", &[("pen", 1, "1.50")]).await);
    wait_until("the notification to be retrying", || async {
        platform
            .statuses(&order_id, 1)
            .await
            .contains(&("notification".to_owned(), "retrying".to_owned()))
    })
    .await;
    case.smtp.set_mode(Mode::Accept);

    // Assert
    platform.wait_applied(&order_id, 1).await;
    assert_eq!(case.smtp.received().len(), 1, "one email");
    assert!(case.smtp.attempts().len() >= 2, "the email was tried again");
    let timeline = platform.timeline(&order_id).await;
    let notification = &timeline["events"][0]["services"][2];
    assert_eq!(notification["service"], "notification");
    let history: Vec<&str> = notification["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|attempt| attempt["status"].as_str())
        .collect();
    assert_eq!(history.first(), Some(&"retrying"), "{notification}");
    assert_eq!(history.last(), Some(&"applied"), "{notification}");
    assert!(
        notification["history"][0]["detail"]
            .as_str()
            .is_some_and(|detail| detail.contains("451")),
        "the reason is shown: {notification}"
    );

    platform.stop().await;
    finish(case).await;
}

async fn a_delivery_given_up_on_is_recorded_and_can_be_replayed(transport: TransportKind) {
    // Arrange: the mail server refuses the recipient for good.
    let case = case(transport).await;
    case.smtp.set_mode(Mode::RejectRecipient);
    let platform = TestPlatform::start(case.settings.clone()).await;

    // Act
    let order = platform.create("Ada", &[("pen", 1, "1.50")]).await;
    let order_id = id(&order);

    // Assert: failed in the timeline with the reason, recorded in failure.json, the other
    // services unaffected.
    wait_until("the notification to fail", || async {
        platform
            .statuses(&order_id, 1)
            .await
            .contains(&("notification".to_owned(), "failed".to_owned()))
    })
    .await;
    let failure_log = case.settings.notification.data_dir.join("failure.json");
    let records = || {
        std::fs::read(&failure_log)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Vec<Value>>(&bytes).ok())
            .unwrap_or_default()
    };
    wait_until("the failure record", || async { records().len() == 1 }).await;
    let record = &records()[0];
    assert_eq!(record["order_id"], order_id.as_str());
    assert!(
        record["reason"]
            .as_str()
            .is_some_and(|reason| reason.contains("550")),
        "{record}"
    );
    // The other services are unaffected (their outcomes may come after notification's).
    wait_until("inventory and billing to apply the event", || async {
        let statuses = platform.statuses(&order_id, 1).await;
        statuses.len() == 3 && statuses[..2].iter().all(|(_, status)| status == "applied")
    })
    .await;

    // Act: the mail server takes mail again; replay.
    case.smtp.set_mode(Mode::Accept);
    let args = ["notification", "replay", "--all"].map(String::from);
    failures::run(&args, &case.settings)
        .await
        .expect("the replay is queued");

    // Assert
    platform.wait_applied(&order_id, 1).await;
    wait_until("the replayed email", || async {
        case.smtp.received().len() == 1
    })
    .await;
    let replays = &records()[0]["replays"];
    assert_eq!(replays[0]["outcome"], "published", "{replays}");

    platform.stop().await;
    finish(case).await;
}

async fn events_accepted_before_a_restart_are_delivered_after_it(transport: TransportKind) {
    // Arrange
    let case = case(transport).await;
    let platform = TestPlatform::start(case.settings.clone()).await;

    // Act: stop right after the orders were accepted, whatever was delivered by then.
    let mut ids = Vec::new();
    for n in 0..20 {
        ids.push(id(&platform
            .create(&format!("Customer{n}"), &[("pen", 1, "1.50")])
            .await));
    }
    platform.stop().await;
    let platform = TestPlatform::start(case.settings.clone()).await;

    // Assert
    for order_id in &ids {
        platform.wait_applied(order_id, 1).await;
    }
    assert_eq!(platform.stock("pen").await["reserved"], 20);
    wait_until("twenty emails", || async {
        case.smtp.received().len() >= 20
    })
    .await;
    let distinct = message_ids(&case.smtp);
    assert_eq!(distinct.len(), 20, "one email per order");

    platform.stop().await;
    finish(case).await;
}
