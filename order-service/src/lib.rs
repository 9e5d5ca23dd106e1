//! The order service: an HTTP API for orders over crash-safe JSON storage.
//!
//! # Layout
//!
//! - [`domain`]: the rules of an order as types (names, emails, quantities, prices, patches),
//!   the bodies they are parsed from, and the event each change emits.
//! - [`store`]: the order store: it appends the events the domain decides; in-memory state, the
//!   fsync'd journal, snapshots, compaction, list queries.
//! - [`deliveries`]: each order's delivery timeline (published; applied or failed per service).
//! - [`outbox_relay`]: publishes the journal's events to RabbitMQ, confirmed, in order.
//! - [`outcome_listener`]: consumes the outcomes the consumers report over RabbitMQ into the
//!   delivery timelines.
//! - [`http`]: the API's routes, request parsing, errors as JSON, request ids.
//! - [`settings`]: layered configuration (defaults, file, `ORDERS__...` environment).
//! - [`web`]: the web page (order list, order page with live delivery timeline, forms); it and
//!   [`http`] do not import each other, and [`startup`] mounts both.
//! - [`startup`]: [`startup::Application`], which binds, then serves, publishes and listens until
//!   its shutdown token is cancelled.
//! - [`data_files`]: the files `order-service data check | repair` looks at.
//! - [`standby`]: a second service on a data directory that another process holds: it answers
//!   as a standby until that process is gone, then becomes the service.

pub mod data_files;
pub mod deliveries;
pub mod domain;
pub mod http;
pub mod outbox_relay;
pub mod outcome_listener;
pub mod settings;
pub mod standby;
pub mod startup;
pub mod store;
pub mod web;

/// The service's name in its metrics, and the tag of its spans.
pub const SERVICE: &str = "order";
