//! What every acknowledged order must lead to, read from the stack's own APIs and the mail
//! catcher: its units reserved once, one invoice, one notification, one email.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use test_support::http::get_json;

use crate::load::{Placed, reservations};

/// How long the effects of every order may take, a broker's restart and the services'
/// reconnection included.
const ARRIVE: Duration = Duration::from_secs(180);

/// Where the effects show.
pub struct Observers {
    /// Any inventory replica.
    pub inventory: String,
    /// Any billing replica.
    pub billing: String,
    /// Any notification replica.
    pub notification: String,
    /// The mail catcher's HTTP API.
    pub mail: String,
}

/// How the emails may repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Copies {
    /// Each email arrives once.
    None,
    /// A replica killed between sending and recording sends that email again, byte for byte,
    /// with the same `Message-ID` (which the receiver uses to drop the copy); no other repeat.
    SameMessageId,
}

/// What the stack shows now.
struct Seen {
    reserved: BTreeMap<String, u64>,
    invoices: u64,
    notifications: u64,
    message_ids: BTreeSet<String>,
    emails: u64,
    subjects: String,
}

/// Waits until every order of `placed` took effect in all three services and reached the mail
/// catcher, then checks, after the stack had time to do anything more, that each took effect
/// exactly once. Fails the test naming what is missing or doubled.
pub async fn every_order_once(observers: &Observers, placed: &[Placed], copies: Copies) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("a client");
    let expected = reservations(placed);
    let count = placed.len() as u64;
    let deadline = tokio::time::Instant::now() + ARRIVE;
    let mut last = None;
    loop {
        if let Some(seen) = observe(&client, observers).await {
            let complete = seen.reserved == expected
                && seen.invoices == count
                && seen.notifications == count
                && seen.message_ids.len() as u64 == count;
            if complete {
                break;
            }
            last = Some(seen);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "within {ARRIVE:?} the effects of {count} orders did not all arrive: expected reservations {expected:?}, \
             {count} invoices, notifications and emails; last seen {last:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Late repeats would show now.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let seen = observe(&client, observers)
        .await
        .expect("the stack answers");
    assert_eq!(seen.reserved, expected, "units reserved twice");
    assert_eq!(seen.invoices, count, "invoices");
    assert_eq!(seen.notifications, count, "notifications");
    assert_eq!(seen.message_ids.len() as u64, count, "distinct emails");
    if copies == Copies::None {
        assert_eq!(seen.emails, count, "emails sent twice");
    }
    for order in placed {
        assert!(
            seen.subjects.contains(&order.id),
            "no email about order {}",
            order.id
        );
    }
}

impl std::fmt::Debug for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "reservations {:?}, {} invoices, {} notifications, {} emails ({} distinct)",
            self.reserved,
            self.invoices,
            self.notifications,
            self.emails,
            self.message_ids.len()
        )
    }
}

async fn observe(client: &reqwest::Client, observers: &Observers) -> Option<Seen> {
    let stock = get_json(client, &format!("{}/stock", observers.inventory)).await?;
    let reserved = stock["products"]
        .as_array()?
        .iter()
        .filter_map(|product| {
            let reserved = product["reserved"].as_u64()?;
            let name = product["product"].as_str()?.to_owned();
            (reserved > 0).then_some((name, reserved))
        })
        .collect();
    // From the lists, not the readiness documents: a replica between two broker connections is
    // rightly not ready, while its data still answers.
    let invoices = count_listed(
        client,
        &format!("{}/invoices", observers.billing),
        "invoices",
    )
    .await?;
    let notifications = count_listed(
        client,
        &format!("{}/notifications", observers.notification),
        "notifications",
    )
    .await?;
    let mail = get_json(
        client,
        &format!("{}/api/v1/messages?limit=100000", observers.mail),
    )
    .await?;
    let messages = mail["messages"].as_array()?;
    Some(Seen {
        reserved,
        invoices,
        notifications,
        message_ids: messages
            .iter()
            .filter_map(|message| Some(message["MessageID"].as_str()?.to_owned()))
            .collect(),
        emails: messages.len() as u64,
        subjects: messages
            .iter()
            .filter_map(|message| message["Subject"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
    })
}

/// How many items the paged list at `url` holds under `key`, every page read; `None` while a
/// page does not answer.
async fn count_listed(client: &reqwest::Client, url: &str, key: &str) -> Option<u64> {
    let mut count = 0;
    let mut cursor: Option<String> = None;
    loop {
        let page = match &cursor {
            Some(cursor) => format!("{url}?limit=500&cursor={cursor}"),
            None => format!("{url}?limit=500"),
        };
        let page = get_json(client, &page).await?;
        count += page[key].as_array()?.len() as u64;
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return Some(count),
        }
    }
}
