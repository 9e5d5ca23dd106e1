//! Every change's event carries the W3C trace context of the request that made it.

use serde_json::Value;

use crate::helpers::{newest_journal, order_body, spawn_app};

/// The `traceparent` of the last event in the journal.
fn last_traceparent(app: &crate::helpers::TestApp) -> String {
    let journal = std::fs::read_to_string(newest_journal(&app.data_path())).expect("journal");
    let record: Value =
        serde_json::from_str(journal.lines().last().expect("a record")).expect("json");
    record["event"]["traceparent"]
        .as_str()
        .expect("the event has a traceparent")
        .to_owned()
}

#[tokio::test]
async fn the_event_continues_the_callers_trace() {
    // Arrange
    let app = spawn_app().await;
    let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    // Act
    let response = app
        .client
        .post(format!("{}/orders", app.address))
        .header("traceparent", incoming)
        .json(&order_body("Traced"))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status().as_u16(), 201);

    // Assert: same trace, a span of the service's own.
    let traceparent = last_traceparent(&app);
    assert!(
        traceparent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "{traceparent}"
    );
    assert_ne!(traceparent, incoming);
}

#[tokio::test]
async fn a_request_without_trace_context_starts_a_trace_for_each_change() {
    let app = spawn_app().await;
    let created = app.create_order(&order_body("Untraced")).await;
    let first = last_traceparent(&app);
    let id = created["order_id"].as_str().expect("id");
    let response = app
        .patch_order(id, &serde_json::json!({"status": "confirmed"}), None)
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let second = last_traceparent(&app);
    for traceparent in [&first, &second] {
        let parts: Vec<&str> = traceparent.split('-').collect();
        assert_eq!(parts.len(), 4, "{traceparent}");
        assert_eq!(
            (parts[0], parts[1].len(), parts[2].len(), parts[3]),
            ("00", 32, 16, "01"),
            "{traceparent}"
        );
    }
    assert_ne!(
        first[3..35],
        second[3..35],
        "separate requests, separate traces"
    );
}
