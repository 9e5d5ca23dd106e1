//! `GET /ui/orders/{id}/live`: the timeline fragment on connect and after every change.

use std::time::Duration;

use chrono::Utc;
use reqwest::Response;
use shared_events::contract::outcome::{DeliveryOutcome, OutcomeStatus};
use uuid::Uuid;

use crate::helpers::{spawn_app, spawn_app_with_order, tag};

/// Reads a server-sent event stream one event at a time.
struct Events {
    response: Response,
    buffer: String,
}

impl Events {
    /// The next event (comments skipped); fails the test after 10 seconds without one.
    async fn next(&mut self) -> String {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let event: String = self.buffer.drain(..end + 2).collect();
                if event.starts_with(':') {
                    continue;
                }
                return event;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.response.chunk())
                .await
                .expect("an event within 10 seconds")
                .expect("the stream reads")
                .expect("the stream is still open");
            self.buffer
                .push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
        }
    }
}

/// The HTML an event carries.
fn data(event: &str) -> String {
    event
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn the_live_stream_sends_the_timeline_then_every_change() {
    let (app, id) = spawn_app_with_order().await;
    let page = app.page(&format!("/ui/orders/{id}"), 200).await;
    let timeline = tag(&page, "timeline").expect("the timeline");
    assert!(
        timeline.contains(&format!(r#"data-live="/ui/orders/{id}/live""#)),
        "{timeline}"
    );

    let response = app.get(&format!("/ui/orders/{id}/live")).await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut events = Events {
        response,
        buffer: String::new(),
    };
    let first = events.next().await;
    // The relay is off in tests: publish the order's event as it would.
    let pending = app.store.pending_events(0, 10);
    let event = pending[0].event.as_ref();
    app.deliveries.published([event], Utc::now());
    let published = events.next().await;
    app.deliveries
        .record(vec![DeliveryOutcome::of(
            "inventory",
            event,
            OutcomeStatus::Applied,
            None,
            1,
        )])
        .await
        .expect("recorded");
    let applied = events.next().await;

    assert!(first.starts_with("event: timeline\n"), "{first}");
    assert!(
        data(&first).contains(r#"id="no-events""#),
        "nothing known yet: {first}"
    );
    let published = data(&published);
    assert!(
        published.contains(r#"data-published="true""#),
        "{published}"
    );
    for service in ["inventory", "billing", "notification"] {
        let pending =
            format!(r#"data-service="{service}" data-status="pending" data-sequence="1""#);
        assert!(
            published.contains(&pending),
            "{service} pending: {published}"
        );
    }
    let applied = data(&applied);
    assert!(
        applied.contains(r#"data-service="inventory" data-status="applied" data-sequence="1""#),
        "{applied}"
    );
    assert!(
        applied.contains(r#"data-service="billing" data-status="pending""#),
        "{applied}"
    );
    drop(events);
    app.stop().await;
}

#[tokio::test]
async fn the_order_page_shows_failures_with_their_reason() {
    let (app, id) = spawn_app_with_order().await;
    let pending = app.store.pending_events(0, 10);
    let event = pending[0].event.as_ref();
    let outcomes = vec![
        DeliveryOutcome::of(
            "billing",
            event,
            OutcomeStatus::Retrying,
            Some("ledger <locked>".to_owned()),
            1,
        ),
        DeliveryOutcome::of(
            "billing",
            event,
            OutcomeStatus::Failed,
            Some("gave up".to_owned()),
            5,
        ),
        DeliveryOutcome::of(
            "notification",
            event,
            OutcomeStatus::Skipped,
            Some("no email".to_owned()),
            1,
        ),
    ];
    app.deliveries.record(outcomes).await.expect("recorded");

    let page = app.page(&format!("/ui/orders/{id}"), 200).await;

    assert!(page.contains(r#"data-service="billing" data-status="failed" data-sequence="1""#));
    assert!(page.contains(r#"data-service="notification" data-status="skipped""#));
    assert!(page.contains("gave up") && page.contains("after 5 attempts"));
    assert!(
        page.contains("ledger &lt;locked&gt;"),
        "every report, escaped"
    );
    app.stop().await;
}

#[tokio::test]
async fn there_is_no_stream_for_an_unknown_order() {
    let app = spawn_app().await;

    app.page(&format!("/ui/orders/{}/live", Uuid::now_v7()), 404)
        .await;
    app.stop().await;
}
