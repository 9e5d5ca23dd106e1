//! Traces over OTLP, on both transports: one `POST /orders` makes one trace, from the request
//! through the store's commit to each consumer's processing, its ledger writes and the email,
//! each consumer's processing a child of the producer's span that its event or message names,
//! and every span reported under the name of the service it belongs to. The real binaries are
//! started, with an OTLP receiver of the test's own as their collector.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use shared_events::app::settings::AmqpSettings;
use test_support::http::{get_json, wait_ready};
use test_support::namespace::{self, ALL_SERVICES};
use test_support::otlp::{OtlpReceiver, ReceivedSpan, SpanKind};
use test_support::process::{service_command, spawn_listening, stop_with_signal};
use test_support::smtp::SmtpServer;
use test_support::wait::wait_until;
use tokio::process::Command;

use crate::helpers::journal_events;

/// How long a span may take to reach the receiver.
const EXPORTED: Duration = Duration::from_secs(30);

/// How long a binary may take to stop after SIGTERM.
const STOP: Duration = Duration::from_secs(15);

/// The consumers, by the short names their spans are tagged with.
const CONSUMERS: [&str; 3] = ALL_SERVICES;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_embedded_transport_each_service_reports_its_part_of_one_trace() {
    // Arrange: batches so far apart that only the flush at SIGTERM sends the spans, gzipped.
    let receiver = OtlpReceiver::start().await;
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut command = Command::new(env!("CARGO_BIN_EXE_order-platform"));
    receiver
        .export_from(&mut command)
        .env("OTEL_BSP_SCHEDULE_DELAY", "600000")
        .env("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
        .env_remove("ORDERS__AMQP__URL")
        .env_remove("ORDERS__TRANSPORT")
        .env("ORDERS__DATA_DIR", dir.path())
        .env("ORDERS__AUTH__TOKENS_FILE", dir.path().join("tokens.json"))
        // Open, as the tests of other things expect: no administrator token at the first start.
        .env("ORDERS__AUTH__FIRST_TOKEN", "false")
        .env("ORDERS__PLATFORM__INVENTORY_ADDR", "127.0.0.1:0")
        .env("ORDERS__PLATFORM__BILLING_ADDR", "127.0.0.1:0")
        .env("ORDERS__PLATFORM__NOTIFICATION_ADDR", "127.0.0.1:0")
        .env("ORDERS__SMTP__URL", smtp.url());
    let (mut child, url) = spawn_listening(command).await;
    let client = reqwest::Client::new();

    // Act: one order, taken by all three consumers; then a graceful stop.
    let order = create_order(&client, &url).await;
    let id = order["order_id"].as_str().expect("an id").to_owned();
    wait_until("every consumer applied the order", || {
        applied_everywhere(&client, &url, &id)
    })
    .await;
    assert_eq!(smtp.received().len(), 1);
    assert_eq!(receiver.requests(), 0, "nothing exported before the stop");
    let status = stop_with_signal(&mut child, "TERM", STOP).await;
    assert!(status.success(), "{status}");

    // Assert: the flush at the stop sent the whole trace, each span under its service.
    let trace = receiver
        .wait_for("the order's trace", EXPORTED, |spans| {
            OrderTrace::find(spans, Transport::Embedded)
        })
        .await;
    trace.assert_complete();
    for process in &trace.processes {
        assert_eq!(process.attribute("messaging.system"), Some("order-journal"));
    }
    let event_traceparent = journal_traceparent(&dir.path().join("order"));
    assert!(
        event_traceparent.contains(&trace.producer.span_id),
        "the event names the span its consumers continue: {event_traceparent}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_rabbitmq_one_trace_runs_through_the_separate_services() {
    // Arrange: the four binaries, each a process of its own, on one namespace.
    let bin_dir = tokio::task::spawn_blocking(|| {
        test_support::binaries::services(env!("CARGO_BIN_EXE_order-platform"))
    })
    .await
    .expect("the services are built");
    let namespace = Namespace(AmqpSettings::for_tests(&namespace::unique()));
    let receiver = OtlpReceiver::start().await;
    let smtp = SmtpServer::start().await;
    let dirs: Vec<_> = (0..4)
        .map(|_| tempfile::tempdir().expect("a temporary directory"))
        .collect();
    let mut children = Vec::new();
    for (consumer, dir) in CONSUMERS.iter().zip(&dirs) {
        let program = bin_dir.join(format!("{consumer}-service"));
        let mut command = service_command(&program.to_string_lossy(), dir.path(), &namespace.0);
        receiver.export_from(&mut command);
        if *consumer == "notification" {
            command.env("ORDERS__SMTP__URL", smtp.url());
        }
        let (child, url) = spawn_listening(command).await;
        wait_ready(&format!("{url}/health/ready")).await;
        children.push(child);
    }
    let program = bin_dir.join("order-service");
    let mut command = service_command(&program.to_string_lossy(), dirs[3].path(), &namespace.0);
    receiver.export_from(&mut command);
    let (order_service, url) = spawn_listening(command).await;
    children.push(order_service);
    let client = reqwest::Client::new();

    // Act
    create_order(&client, &url).await;

    // Assert: while they run, the whole trace arrives, each span under its service.
    let trace = receiver
        .wait_for("the order's trace", EXPORTED, |spans| {
            OrderTrace::find(spans, Transport::Amqp)
        })
        .await;
    trace.assert_complete();
    let publish = &trace.producer;
    assert_eq!(publish.service, "order-service");
    assert_eq!(publish.parent_span_id, trace.server.span_id);
    assert_eq!(publish.attribute("messaging.system"), Some("rabbitmq"));
    assert_eq!(
        publish.attribute("messaging.operation.type"),
        Some("publish")
    );
    let exchange = format!("{}.orders", namespace.0.namespace);
    assert_eq!(
        publish.attribute("messaging.destination.name"),
        Some(exchange.as_str())
    );
    for process in &trace.processes {
        assert_eq!(process.attribute("messaging.system"), Some("rabbitmq"));
        assert_eq!(
            process.attribute("messaging.message.id"),
            publish.attribute("messaging.message.id"),
            "{process:?}"
        );
    }
    for child in &mut children {
        let status = stop_with_signal(child, "TERM", STOP).await;
        assert!(status.success(), "{status}");
    }
}

/// Which transport carried the events, and so which span the consumers continue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    /// The event names the request's server span.
    Embedded,
    /// The message names the outbox's publish span.
    Amqp,
}

/// One order's trace, once every span expected is in.
#[derive(Debug)]
struct OrderTrace {
    /// `POST /orders`.
    server: ReceivedSpan,
    /// The span whose context the consumers continue.
    producer: ReceivedSpan,
    /// Each consumer's processing span, in [`CONSUMERS`]' order.
    processes: Vec<ReceivedSpan>,
    /// Every span of the trace.
    spans: Vec<ReceivedSpan>,
}

impl OrderTrace {
    /// The trace of the one `POST /orders` among `spans`, if each part of it has arrived.
    fn find(spans: &[ReceivedSpan], transport: Transport) -> Option<OrderTrace> {
        let server = spans
            .iter()
            .find(|span| span.name == "POST /orders" && span.kind == SpanKind::Server)?
            .clone();
        let in_trace: Vec<ReceivedSpan> = spans
            .iter()
            .filter(|span| span.trace_id == server.trace_id)
            .cloned()
            .collect();
        let producer = match transport {
            Transport::Embedded => server.clone(),
            Transport::Amqp => in_trace
                .iter()
                .find(|span| span.kind == SpanKind::Producer)?
                .clone(),
        };
        let processes = CONSUMERS
            .iter()
            .map(|consumer| {
                in_trace
                    .iter()
                    .find(|span| {
                        span.kind == SpanKind::Consumer
                            && span.attribute("messaging.consumer.group.name") == Some(consumer)
                    })
                    .cloned()
            })
            .collect::<Option<Vec<_>>>()?;
        let children_of = |parent: &ReceivedSpan, name: &str| {
            in_trace
                .iter()
                .filter(|span| span.name == name && span.parent_span_id == parent.span_id)
                .count()
        };
        let complete = in_trace.iter().any(|span| span.name == "journal commit")
            && processes
                .iter()
                .all(|process| children_of(process, "ledger write") >= 1)
            && children_of(&processes[2], "ledger write") >= 2
            && children_of(&processes[2], "smtp send") == 1;
        complete.then_some(OrderTrace {
            server,
            producer,
            processes,
            spans: in_trace,
        })
    }

    /// Checks what the trace's spans say: kinds, names, attributes, the service each is
    /// reported under, and that each consumer continued the producer's span.
    fn assert_complete(&self) {
        assert_eq!(self.server.service, "order-service");
        assert_eq!(self.server.attribute("http.route"), Some("/orders"));
        assert_eq!(
            self.server.attribute("http.response.status_code"),
            Some("201")
        );
        for (consumer, process) in CONSUMERS.iter().zip(&self.processes) {
            let service = format!("{consumer}-service");
            assert_eq!(process.service, service, "{process:?}");
            assert_eq!(
                process.parent_span_id, self.producer.span_id,
                "{consumer} continues the producer's span: {process:?}"
            );
            assert_eq!(
                process.attribute("messaging.operation.type"),
                Some("process")
            );
            for span in &self.spans {
                if span.parent_span_id == process.span_id {
                    assert_eq!(span.service, service, "{span:?}");
                }
            }
        }
        for span in &self.spans {
            if span.name == "journal commit" || span.kind == SpanKind::Producer {
                assert_eq!(span.service, "order-service", "{span:?}");
            }
            assert!(!span.failed, "{span:?}");
        }
    }
}

/// `POST /orders` of an order with an email address, asserting 201; the order.
async fn create_order(client: &reqwest::Client, url: &str) -> Value {
    let body = json!({
        "customer_name": "Traced Customer",
        "customer_email": "traced@example.com",
        "items": [{"product": "widget", "quantity": 2, "amount": "9.99"}],
    });
    let response = client
        .post(format!("{url}/orders"))
        .json(&body)
        .send()
        .await
        .expect("post");
    assert_eq!(response.status().as_u16(), 201);
    response.json().await.expect("json")
}

/// True once the order's first event is applied by every consumer, per its timeline.
async fn applied_everywhere(client: &reqwest::Client, url: &str, id: &str) -> bool {
    let Some(timeline) = get_json(client, &format!("{url}/orders/{id}/deliveries")).await else {
        return false;
    };
    let services = timeline["events"][0]["services"].as_array().cloned();
    services.is_some_and(|services| {
        services.len() == CONSUMERS.len()
            && services
                .iter()
                .all(|service| service["status"] == "applied")
    })
}

/// The `traceparent` of the first event in the order journal under `dir` that has one.
fn journal_traceparent(dir: &Path) -> String {
    journal_events(dir)
        .into_iter()
        .find_map(|(_, event)| event["traceparent"].as_str().map(str::to_owned))
        .expect("an event with a traceparent")
}

/// A broker namespace, deleted when the test ends, however it ends.
struct Namespace(AmqpSettings);

impl Drop for Namespace {
    fn drop(&mut self) {
        namespace::delete_blocking(&self.0, &ALL_SERVICES);
    }
}
