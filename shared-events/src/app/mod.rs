//! What every service binary shares: its settings, command line, logging, HTTP server, error
//! answers, and the one consumer application.
//!
//! # Layout
//!
//! - [`settings`]: layered configuration that refuses unknown keys; the HTTP, log and broker
//!   settings every service has; a consumer's settings.
//! - [`cli`]: the command line on clap (`--config`, `--help`, `--version`, `failures`, `data`),
//!   the exit code, and a consumer service's whole `main`.
//! - [`auth`]: the roles, the API tokens file and every binary's `tokens` command.
//! - [`data_command`]: `data check` and `data repair` over the files a service keeps.
//! - [`secret_url`]: URLs whose passwords never print.
//! - [`signals`]: what `main` does with SIGTERM and SIGINT (only `main` listens for them).
//! - [`telemetry`]: logs through `tracing`, text or JSON; traces over OTLP (`OTEL_*`).
//! - [`server`]: binding an HTTP server from the one settings shape (address, workers, TLS).
//! - [`request_trace`]: each request's trace context, and its server span when traces are
//!   exported.
//! - [`tls`]: the rustls server configuration for HTTPS.
//! - [`request_guard`]: what every request is checked for (Host, cross-site changes, a body
//!   that arrives in time) and the headers every answer carries.
//! - [`error_envelope`]: the one JSON shape of every error answer.
//! - [`api_error`]: [`api_error::ApiError`], the consumer APIs' errors.
//! - [`openapi`]: the service's OpenAPI document at `/openapi.json` and the page at `/api-docs`.
//! - [`paging`]: the `limit` and `cursor` of a paginated list.
//! - [`strict_query`]: a query string that must be UTF-8 once decoded.
//! - [`replica_health`]: whether a consumer replica can consume (broker, shards).
//! - [`routes`]: route helpers: probes and liveness, JSON 404 and 405, the JSON body limit.
//! - [`consumer`]: [`consumer::ConsumerApplication`], a consumer service made of a
//!   [`consumer::Consumer`]'s handler, ledger, routes and settings.

pub mod api_error;
pub mod auth;
pub mod cli;
pub mod consumer;
pub mod data_command;
pub mod error_envelope;
pub mod metrics;
pub mod openapi;
pub mod paging;
pub mod replica_health;
pub mod request_guard;
pub mod request_trace;
pub mod routes;
pub mod secret_url;
pub mod server;
pub mod settings;
pub mod signals;
pub mod strict_query;
pub mod telemetry;
pub mod tls;
