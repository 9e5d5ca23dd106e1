//! The HTTP load generator: keep-alive HTTP/1.1 connections (hyper, one per task, no pool) and
//! a closed-loop driver that records every request's latency in an HDR histogram.
//!
//! hyper's connection API directly over a `TcpStream` is the thinnest client Rust has: no pool,
//! no redirects, no decompression; what it costs is measured by [`crate::load_ceiling`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue, LOCATION};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// The largest latency the histograms hold: a minute, in microseconds.
const MAX_MICROS: u64 = 60_000_000;

/// One keep-alive HTTP/1.1 connection.
pub struct HttpClient {
    sender: SendRequest<Full<Bytes>>,
    host: HeaderValue,
    /// The `Authorization` every request carries, if any.
    authorization: Option<HeaderValue>,
}

/// A response, read whole.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status.
    pub status: StatusCode,
    /// The `Location` header, if any.
    pub location: Option<String>,
    /// The body.
    pub body: Bytes,
}

/// A closed-loop load: each connection sends its next request as soon as the last is answered.
#[derive(Debug, Clone)]
pub struct ClosedLoad {
    /// The server.
    pub addr: SocketAddr,
    /// Connections, each its own task.
    pub connections: usize,
    /// Requests before this long are not counted (connections open, caches warm).
    pub warmup: Duration,
    /// How long requests are counted.
    pub duration: Duration,
    /// The path every request is POSTed to.
    pub path: String,
    /// The JSON body of every request.
    pub body: Bytes,
    /// The status that counts as success.
    pub expect: StatusCode,
    /// The `Authorization` header of every request, if any.
    pub authorization: Option<HeaderValue>,
}

/// What a load measured.
#[derive(Debug, Clone)]
pub struct LoadResult {
    /// Latencies of the successful requests, in microseconds.
    pub latency: Histogram<u64>,
    /// Successful requests.
    pub ok: u64,
    /// Failures by kind (`HTTP 503`, `connect: ...`).
    pub errors: BTreeMap<String, u64>,
    /// The time the counted requests were sent in.
    pub elapsed: Duration,
}

impl HttpClient {
    /// Connects to `addr` (with `TCP_NODELAY`, as every real client of a request/response API).
    pub async fn connect(addr: SocketAddr) -> anyhow::Result<HttpClient> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("failed to connect to {addr}"))?;
        stream.set_nodelay(true)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP handshake failed")?;
        // The connection's I/O runs as its own task; it ends when the sender is dropped.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(HttpClient {
            sender,
            host: HeaderValue::from_str(&addr.to_string())?,
            authorization: None,
        })
    }

    /// `POST path` with a JSON body.
    pub async fn post_json(&mut self, path: &str, body: Bytes) -> anyhow::Result<Reply> {
        self.request(Method::POST, path, body).await
    }

    /// `GET path`.
    pub async fn get(&mut self, path: &str) -> anyhow::Result<Reply> {
        self.request(Method::GET, path, Bytes::new()).await
    }

    /// Any request; a non-empty body is sent as JSON.
    pub async fn request(
        &mut self,
        method: Method,
        path: &str,
        body: Bytes,
    ) -> anyhow::Result<Reply> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.host.clone());
        if !body.is_empty() {
            request = request.header(CONTENT_TYPE, "application/json");
        }
        if let Some(authorization) = &self.authorization {
            request = request.header(AUTHORIZATION, authorization.clone());
        }
        let request = request.body(Full::new(body))?;
        self.sender.ready().await.context("connection closed")?;
        let response = self
            .sender
            .send_request(request)
            .await
            .context("request failed")?;
        let status = response.status();
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let body = response
            .into_body()
            .collect()
            .await
            .context("reading the response body failed")?
            .to_bytes();
        Ok(Reply {
            status,
            location,
            body,
        })
    }
}

/// A histogram for latencies in microseconds, from 1 µs to a minute, 3 significant digits.
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("constant bounds hdrhistogram accepts")
}

/// `duration` in whole microseconds, within the histograms' range.
pub fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros())
        .unwrap_or(MAX_MICROS)
        .clamp(1, MAX_MICROS)
}

impl LoadResult {
    /// Successful requests per second.
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// All failures.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    fn merge(&mut self, other: LoadResult) {
        let _ = self.latency.add(&other.latency);
        self.ok += other.ok;
        for (kind, count) in other.errors {
            *self.errors.entry(kind).or_default() += count;
        }
    }
}

/// Runs `load` and gathers every connection's results. Fails only if no connection could be
/// opened at all; individual failures are counted in [`LoadResult::errors`].
pub async fn run_closed(load: &ClosedLoad) -> anyhow::Result<LoadResult> {
    let start = Instant::now();
    let measure_from = start + load.warmup;
    let until = measure_from + load.duration;
    let mut tasks = Vec::with_capacity(load.connections);
    for _ in 0..load.connections {
        let load = load.clone();
        tasks.push(tokio::spawn(async move {
            connection_loop(&load, measure_from, until).await
        }));
    }
    let mut total = LoadResult {
        latency: latency_histogram(),
        ok: 0,
        errors: BTreeMap::new(),
        elapsed: load.duration,
    };
    for task in tasks {
        match task.await {
            Ok(result) => total.merge(result),
            Err(error) => *total.errors.entry(format!("task: {error}")).or_default() += 1,
        }
    }
    if total.ok == 0 && total.error_count() > 0 {
        let (kind, _) = total
            .errors
            .iter()
            .max_by_key(|(_, count)| **count)
            .context("no errors")?;
        anyhow::bail!("no request succeeded; the most common failure: {kind}");
    }
    Ok(total)
}

/// One connection's closed loop: send, wait for the answer, record, again, until `until`.
async fn connection_loop(load: &ClosedLoad, measure_from: Instant, until: Instant) -> LoadResult {
    let mut result = LoadResult {
        latency: latency_histogram(),
        ok: 0,
        errors: BTreeMap::new(),
        elapsed: load.duration,
    };
    let mut client = None;
    loop {
        let sent = Instant::now();
        if sent >= until {
            break;
        }
        let connection = match client.as_mut() {
            Some(connection) => connection,
            None => match HttpClient::connect(load.addr).await {
                Ok(mut connection) => {
                    connection.authorization = load.authorization.clone();
                    client.insert(connection)
                }
                Err(error) => {
                    count(
                        &mut result,
                        sent >= measure_from,
                        format!("connect: {}", crate::report::brief(&error)),
                    );
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let reply = connection.post_json(&load.path, load.body.clone()).await;
        let done = Instant::now();
        let counted = sent >= measure_from && done <= until;
        match reply {
            Ok(reply) if reply.status == load.expect => {
                if counted {
                    result.ok += 1;
                    let _ = result.latency.record(micros(done - sent));
                }
            }
            Ok(reply) => count(
                &mut result,
                counted,
                format!("HTTP {}", reply.status.as_u16()),
            ),
            Err(error) => {
                client = None;
                count(&mut result, counted, crate::report::brief(&error));
            }
        }
    }
    result
}

fn count(result: &mut LoadResult, counted: bool, kind: String) {
    if counted {
        *result.errors.entry(kind).or_default() += 1;
    }
}
