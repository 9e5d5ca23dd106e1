//! An OTLP/HTTP trace receiver for the tests: it accepts `POST /v1/traces` (protobuf, gzipped
//! or not), records every span with the `service.name` of its resource, and answers as a
//! collector does.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::Read;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
pub use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode as SpanStatus;
use prost::Message;
use tokio::net::TcpListener;
use tokio::process::Command;
use tokio::task::JoinHandle;

/// A span as the receiver got it; ids in lowercase hex, as a `traceparent` writes them.
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    /// `service.name` of the resource the span came with.
    pub service: String,
    /// The span's name.
    pub name: String,
    /// Its kind.
    pub kind: SpanKind,
    /// Its trace id.
    pub trace_id: String,
    /// Its own id.
    pub span_id: String,
    /// Its parent's id; empty for a root span.
    pub parent_span_id: String,
    /// Its attributes, values written out as text.
    pub attributes: HashMap<String, String>,
    /// The trace and span ids of its links.
    pub links: Vec<(String, String)>,
    /// Whether its status is an error.
    pub failed: bool,
}

impl ReceivedSpan {
    /// The attribute `key`, as text.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }
}

/// A receiver on a free loopback port; stops when dropped.
pub struct OtlpReceiver {
    port: u16,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

#[derive(Debug, Default)]
struct State {
    spans: Vec<ReceivedSpan>,
    requests: usize,
}

impl OtlpReceiver {
    /// Starts a receiver on a free port.
    pub async fn start() -> OtlpReceiver {
        OtlpReceiver::on("127.0.0.1:0")
            .await
            .expect("a free port for the OTLP receiver")
    }

    /// Starts a receiver on `address`, if it is free.
    pub async fn on(address: &str) -> std::io::Result<OtlpReceiver> {
        let listener = TcpListener::bind(address).await?;
        let port = listener.local_addr()?.port();
        let state = Arc::new(Mutex::new(State::default()));
        let task = tokio::spawn({
            let state = Arc::clone(&state);
            async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let state = Arc::clone(&state);
                    tokio::spawn(async move {
                        let service = service_fn(move |request| {
                            let state = Arc::clone(&state);
                            async move { Ok::<_, Infallible>(receive(request, &state).await) }
                        });
                        // A client that goes away ends only its own connection.
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            }
        });
        Ok(OtlpReceiver { port, state, task })
    }

    /// Makes `command` export its traces here, in batches every 100 ms, whatever `OTEL_*`
    /// variables the test's own environment holds.
    pub fn export_from<'a>(&self, command: &'a mut Command) -> &'a mut Command {
        without_otel_environment(command)
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", self.endpoint())
            .env("OTEL_BSP_SCHEDULE_DELAY", "100")
    }

    /// `http://127.0.0.1:PORT`: the value of `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.lock().spans.clone()
    }

    /// How many export requests came, valid or not.
    pub fn requests(&self) -> usize {
        self.lock().requests
    }

    /// Waits up to `limit` until `found` picks something out of the spans received, failing
    /// the test naming `what`, with the spans received, otherwise.
    pub async fn wait_for<T>(
        &self,
        what: &str,
        limit: Duration,
        mut found: impl FnMut(&[ReceivedSpan]) -> Option<T>,
    ) -> T {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(value) = found(&self.spans()) {
                return value;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out after {limit:?} waiting for {what}; spans received:{}",
                self.summary()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// One line per span received: service, name, ids; for a test's failure message.
    pub fn summary(&self) -> String {
        self.spans()
            .iter()
            .map(|span| {
                format!(
                    "\n  {} {:?} {:?} trace {} span {} parent {}",
                    span.service,
                    span.name,
                    span.kind,
                    span.trace_id,
                    span.span_id,
                    span.parent_span_id
                )
            })
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("the receiver's state lock")
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `command` without any `OTEL_*` variable of the test's own environment.
pub fn without_otel_environment(command: &mut Command) -> &mut Command {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("OTEL_") {
            command.env_remove(name);
        }
    }
    command
}

/// Answers one request: the spans of a valid export are recorded and acknowledged.
async fn receive(request: Request<Incoming>, state: &Mutex<State>) -> Response<Full<Bytes>> {
    let path_ok = request.uri().path() == "/v1/traces";
    let gzipped = request
        .headers()
        .get("content-encoding")
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let body = match request.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return answer(StatusCode::BAD_REQUEST, Bytes::new()),
    };
    state.lock().expect("the receiver's state lock").requests += 1;
    if !path_ok {
        return answer(StatusCode::NOT_FOUND, Bytes::new());
    }
    let body = if gzipped {
        let mut inflated = Vec::new();
        if flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut inflated)
            .is_err()
        {
            return answer(StatusCode::BAD_REQUEST, Bytes::new());
        }
        Bytes::from(inflated)
    } else {
        body
    };
    let Ok(export) = ExportTraceServiceRequest::decode(body) else {
        return answer(StatusCode::BAD_REQUEST, Bytes::new());
    };
    let spans = spans_of(export);
    state
        .lock()
        .expect("the receiver's state lock")
        .spans
        .extend(spans);
    let reply = ExportTraceServiceResponse::default().encode_to_vec();
    answer(StatusCode::OK, Bytes::from(reply))
}

fn answer(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/x-protobuf"),
    );
    response
}

/// The spans of an export, each with its resource's `service.name`.
fn spans_of(export: ExportTraceServiceRequest) -> Vec<ReceivedSpan> {
    let mut received = Vec::new();
    for resource_spans in export.resource_spans {
        let service = resource_spans
            .resource
            .map(|resource| attributes(&resource.attributes))
            .and_then(|attributes| attributes.get("service.name").cloned())
            .unwrap_or_default();
        for scope_spans in resource_spans.scope_spans {
            for span in scope_spans.spans {
                received.push(ReceivedSpan {
                    service: service.clone(),
                    kind: SpanKind::try_from(span.kind).unwrap_or(SpanKind::Unspecified),
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    attributes: attributes(&span.attributes),
                    links: span
                        .links
                        .iter()
                        .map(|link| (hex(&link.trace_id), hex(&link.span_id)))
                        .collect(),
                    failed: span
                        .status
                        .is_some_and(|status| status.code == SpanStatus::Error as i32),
                    name: span.name,
                });
            }
        }
    }
    received
}

fn attributes(pairs: &[KeyValue]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|pair| {
            (
                pair.key.clone(),
                pair.value.as_ref().map(text).unwrap_or_default(),
            )
        })
        .collect()
}

fn text(value: &AnyValue) -> String {
    match &value.value {
        Some(any_value::Value::StringValue(text)) => text.clone(),
        Some(any_value::Value::BoolValue(flag)) => flag.to_string(),
        Some(any_value::Value::IntValue(number)) => number.to_string(),
        Some(any_value::Value::DoubleValue(number)) => number.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
