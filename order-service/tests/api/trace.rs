//! Every change's event carries the W3C trace context of the request that made it. With traces
//! exported over OTLP, that is the request's server span, which continues the caller's trace or
//! starts one; without an endpoint nothing is exported and a caller's context passes through
//! unchanged.

use std::time::Duration;

use serde_json::{Value, json};
use test_support::otlp::{OtlpReceiver, ReceivedSpan, SpanKind, without_otel_environment};
use test_support::process::{spawn_listening, spawn_listening_logged, stop_with_signal};
use tokio::process::Command;

use crate::helpers::{binary, newest_journal, order_body, spawn_app};

const INCOMING: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// How long spans may take to reach the receiver.
const EXPORTED: Duration = Duration::from_secs(20);

/// The `traceparent` of every event in the journal of `data_dir`, oldest first.
fn traceparents(data_dir: &std::path::Path) -> Vec<Option<String>> {
    let journal = std::fs::read_to_string(newest_journal(data_dir)).expect("journal");
    journal
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("json"))
        .filter(|record| record["event"].is_object())
        .map(|record| record["event"]["traceparent"].as_str().map(str::to_owned))
        .collect()
}

/// `POST /orders` with `traceparent` when given, asserting 201; the order.
async fn create(client: &reqwest::Client, url: &str, traceparent: Option<&str>) -> Value {
    let mut request = client
        .post(format!("{url}/orders"))
        .json(&order_body("Traced"));
    if let Some(traceparent) = traceparent {
        request = request.header("traceparent", traceparent);
    }
    let response = request.send().await.expect("post");
    assert_eq!(response.status().as_u16(), 201);
    response.json().await.expect("json")
}

/// The server span named `name` whose span id is the one `traceparent` names.
fn server_span<'a>(spans: &'a [ReceivedSpan], name: &str, traceparent: &str) -> &'a ReceivedSpan {
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "{traceparent}");
    spans
        .iter()
        .find(|span| span.name == name && span.span_id == parts[2])
        .unwrap_or_else(|| panic!("no server span {name} named by {traceparent}"))
}

#[tokio::test]
async fn without_an_exporter_the_callers_context_passes_through_unchanged() {
    // Arrange: the service in process, with no trace exporter installed.
    let app = spawn_app().await;

    // Act
    let traced = app
        .client
        .post(format!("{}/orders", app.address))
        .header("traceparent", INCOMING)
        .json(&order_body("Traced"))
        .send()
        .await
        .expect("post");
    assert_eq!(traced.status().as_u16(), 201);
    app.create_order(&order_body("Untraced")).await;

    // Assert: the caller's context as it came; none where the caller sent none.
    assert_eq!(
        traceparents(&app.data_path()),
        vec![Some(INCOMING.to_owned()), None]
    );
}

#[tokio::test]
async fn each_event_names_the_server_span_of_its_request() {
    // Arrange
    let receiver = OtlpReceiver::start().await;
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut command = binary(data_dir.path());
    receiver.export_from(&mut command);
    let (mut child, url) = spawn_listening(command).await;
    let client = reqwest::Client::new();

    // Act: a change in the caller's trace, and two without one; a probe.
    let probe = client
        .get(format!("{url}/health/live"))
        .send()
        .await
        .expect("probe");
    assert_eq!(probe.status().as_u16(), 200);
    create(&client, &url, Some(INCOMING)).await;
    let created = create(&client, &url, None).await;
    let id = created["order_id"].as_str().expect("id");
    let patched = client
        .patch(format!("{url}/orders/{id}"))
        .json(&json!({"status": "confirmed"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(patched.status().as_u16(), 200);

    // Assert: each event names its request's server span.
    let events: Vec<String> = traceparents(data_dir.path())
        .into_iter()
        .map(|traceparent| traceparent.expect("every event has a traceparent"))
        .collect();
    assert_eq!(events.len(), 3);
    let spans = receiver
        .wait_for("the three requests' spans", EXPORTED, |spans| {
            let servers = spans
                .iter()
                .filter(|span| span.attribute("http.route").is_some())
                .count();
            let commits = spans
                .iter()
                .filter(|span| span.name == "journal commit")
                .count();
            (servers >= 3 && commits >= 1).then(|| spans.to_vec())
        })
        .await;
    assert!(
        spans.iter().all(|span| !span.name.contains("/health")),
        "probes are not traced"
    );
    assert!(
        spans.iter().all(|span| span.name != "request"),
        "the request id's span is for the logs only: {spans:#?}"
    );
    let continued = server_span(&spans, "POST /orders", &events[0]);
    assert_eq!(continued.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(
        continued.parent_span_id, "00f067aa0ba902b7",
        "the caller's span"
    );
    let started = server_span(&spans, "POST /orders", &events[1]);
    let changed = server_span(&spans, "PATCH /orders/{id}", &events[2]);
    for (span, method, route, status) in [
        (continued, "POST", "/orders", "201"),
        (started, "POST", "/orders", "201"),
        (changed, "PATCH", "/orders/{id}", "200"),
    ] {
        assert_eq!(span.service, "order-service");
        assert_eq!(span.kind, SpanKind::Server);
        assert_eq!(span.attribute("http.request.method"), Some(method));
        assert_eq!(span.attribute("http.route"), Some(route));
        assert_eq!(span.attribute("http.response.status_code"), Some(status));
        assert!(span.attribute("url.path").is_some(), "{span:?}");
        assert!(!span.failed, "{span:?}");
    }
    assert!(
        started.parent_span_id.is_empty() && changed.parent_span_id.is_empty(),
        "requests without a caller's context start traces"
    );
    let trace_ids = [&continued.trace_id, &started.trace_id, &changed.trace_id];
    assert!(
        trace_ids[0] != trace_ids[1] && trace_ids[1] != trace_ids[2],
        "separate requests, separate traces: {trace_ids:?}"
    );
    for event in &events {
        assert!(
            event.starts_with("00-") && event.ends_with("-01"),
            "{event}"
        );
    }
    let commit = spans
        .iter()
        .find(|span| span.name == "journal commit" && span.trace_id == continued.trace_id)
        .expect("the first change's commit is in its trace");
    assert_eq!(commit.service, "order-service");
    assert!(
        commit
            .attribute("records")
            .is_some_and(|records| records.parse::<u64>().is_ok_and(|n| n >= 1)),
        "{commit:?}"
    );

    let status = stop_with_signal(&mut child, "TERM", Duration::from_secs(15)).await;
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn without_an_endpoint_nothing_is_sent() {
    // Arrange: the receiver where an exporter without an endpoint would send
    // (localhost:4318), when that port is free here.
    let Ok(receiver) = OtlpReceiver::on("127.0.0.1:4318").await else {
        eprintln!("port 4318 is taken here: skipping the check of the default endpoint");
        return;
    };
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut command = binary(data_dir.path());
    without_otel_environment(&mut command)
        .env("OTEL_SERVICE_NAME", "orders-under-test")
        .env("OTEL_BSP_SCHEDULE_DELAY", "50");
    let (mut child, url) = spawn_listening(command).await;

    // Act
    create(&reqwest::Client::new(), &url, Some(INCOMING)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let status = stop_with_signal(&mut child, "TERM", Duration::from_secs(15)).await;

    // Assert: the service worked, passed the caller's context on, and sent nothing.
    assert!(status.success(), "{status}");
    assert_eq!(
        traceparents(data_dir.path()),
        vec![Some(INCOMING.to_owned())]
    );
    assert_eq!(receiver.requests(), 0);
}

#[tokio::test]
async fn traces_turned_off_send_nothing_even_with_an_endpoint() {
    let receiver = OtlpReceiver::start().await;
    for (variable, value) in [
        ("OTEL_TRACES_EXPORTER", "none"),
        ("OTEL_SDK_DISABLED", "true"),
    ] {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let mut command = binary(data_dir.path());
        receiver.export_from(&mut command).env(variable, value);
        let (mut child, url) = spawn_listening(command).await;
        create(&reqwest::Client::new(), &url, None).await;
        let status = stop_with_signal(&mut child, "TERM", Duration::from_secs(15)).await;
        assert!(status.success(), "{variable}: {status}");
    }
    assert_eq!(receiver.requests(), 0);
}

#[tokio::test]
async fn an_unreachable_collector_slows_nothing_and_is_reported_once() {
    // Arrange: an endpoint where nothing listens, with credentials that must not be logged.
    let closed = test_support::ports::free_port();
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut command = binary(data_dir.path());
    without_otel_environment(&mut command)
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://collector:s3cret-pw@127.0.0.1:{closed}"),
        )
        .env("OTEL_BSP_SCHEDULE_DELAY", "20");
    let (mut child, url, output) = spawn_listening_logged(command).await;
    let client = reqwest::Client::new();

    // Act: changes over several export rounds.
    let started = std::time::Instant::now();
    for _ in 0..20 {
        create(&client, &url, None).await;
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let elapsed = started.elapsed();
    let status = stop_with_signal(&mut child, "TERM", Duration::from_secs(15)).await;

    // Assert
    assert!(status.success(), "{status}");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    let warnings = output
        .lines()
        .into_iter()
        .filter(|line| line.contains("cannot export traces"))
        .count();
    assert_eq!(warnings, 1, "{:#?}", output.lines());
    assert!(
        output
            .lines()
            .iter()
            .all(|line| !line.contains("s3cret-pw")),
        "the endpoint's password is logged: {:#?}",
        output.lines()
    );
}

#[tokio::test]
async fn an_unsupported_protocol_stops_the_service_with_a_clear_error() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut command: Command = binary(data_dir.path());
    without_otel_environment(&mut command)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .env("ORDERS__HTTP__ADDR", "127.0.0.1:0");
    let output = tokio::time::timeout(Duration::from_secs(30), command.output())
        .await
        .expect("the service exits in time")
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("OTEL_EXPORTER_OTLP_PROTOCOL `grpc` is not supported"),
        "{stderr}"
    );
}
