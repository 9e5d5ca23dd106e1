//! One order's life, seen by every consumer: each change takes effect exactly once, and the
//! emails go through a real SMTP conversation.

use std::time::Duration;

use serde_json::{Value, json};

use test_support::http::strings;
use test_support::smtp::SmtpServer;
use test_support::wait::until_within;

use crate::helpers::{Platform, Wiring, order};

const LIMIT: Duration = Duration::from_secs(30);

async fn reserved(platform: &Platform, product: &str) -> Option<u64> {
    platform
        .read(&platform.inventory, &format!("/stock/{product}"))
        .await
        .map(|stock| stock["reserved"].as_u64().expect("reserved"))
}

async fn invoice(platform: &Platform, id: &str) -> Option<Value> {
    platform
        .read(&platform.billing, &format!("/invoices/{id}"))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_update_and_delete_take_effect_once_in_every_service() {
    // Arrange
    let smtp = SmtpServer::start().await;
    let platform = Platform::start(Wiring {
        smtp_url: Some(smtp.url()),
        ..Wiring::default()
    })
    .await;

    // Act 1: create.
    let created = platform
        .create(&order(
            "Ada",
            Some("ada@example.com"),
            &[("widget", 2, "9.99"), ("gadget", 1, "0.10")],
        ))
        .await;
    let id = created["order_id"].as_str().expect("id").to_owned();

    // Assert 1
    until_within("inventory reserves the created items", LIMIT, || async {
        (reserved(&platform, "widget").await == Some(2)
            && reserved(&platform, "gadget").await == Some(1))
        .then_some(())
    })
    .await;
    let opened = until_within("billing opens the invoice", LIMIT, || {
        invoice(&platform, &id)
    })
    .await;
    assert_eq!(opened["amount"].to_string(), "20.08");
    assert_eq!(opened["status"], "open");

    // Act 2: the items change (gadget gone, bolt new), then the status.
    platform
        .patch(&id, &json!({"items": [{"product": "widget", "quantity": 5, "amount": 9.99}, {"product": "bolt", "quantity": 3, "amount": "1.00"}]}))
        .await;
    platform.patch(&id, &json!({"status": "confirmed"})).await;

    // Assert 2
    until_within("inventory adjusts to the new items", LIMIT, || async {
        let state = (
            reserved(&platform, "widget").await,
            reserved(&platform, "gadget").await,
            reserved(&platform, "bolt").await,
        );
        (state == (Some(5), Some(0), Some(3))).then_some(())
    })
    .await;
    let amended = until_within("billing amends the invoice", LIMIT, || async {
        invoice(&platform, &id)
            .await
            .filter(|invoice| invoice["version"] == 3)
    })
    .await;
    assert_eq!(amended["amount"].to_string(), "52.95");

    // Act 3: delete.
    platform.delete(&id).await;

    // Assert 3: everything released and voided, and exactly one email per change.
    until_within("inventory releases everything", LIMIT, || async {
        let state = (
            reserved(&platform, "widget").await,
            reserved(&platform, "bolt").await,
        );
        (state == (Some(0), Some(0))).then_some(())
    })
    .await;
    let voided = until_within("billing voids the invoice", LIMIT, || async {
        invoice(&platform, &id)
            .await
            .filter(|invoice| invoice["status"] == "void")
    })
    .await;
    let kinds: Vec<&str> = strings(&voided, "history", "kind");
    assert_eq!(
        kinds,
        ["opened", "amended", "voided"],
        "one history entry per effective change"
    );
    let mails = until_within("four emails arrive", LIMIT, || async {
        Some(smtp.received()).filter(|mails| mails.len() >= 4)
    })
    .await;
    assert_eq!(
        mails.len(),
        4,
        "one email per event: created, items, status, deleted"
    );
    assert!(
        mails.iter().all(|mail| mail.to == ["ada@example.com"]),
        "{:?}",
        mails.iter().map(|m| &m.to).collect::<Vec<_>>()
    );
    let notifications = platform.notifications().await;
    assert_eq!(notifications.len(), 4);
    assert!(notifications.iter().all(|n| n["status"] == "sent"));
    platform.stop().await;
}
