//! The contract between the order platform's services, and the crash-safe files they keep state in.
//!
//! Every service depends on this crate: the order service writes [`OrderEvent`]s into its journal
//! and publishes them, and the consumers decode them. The storage primitives are shared so that
//! every JSON file of the platform survives a crash the same way.
//!
//! # Layout
//!
//! - [`money`]: exact decimal amounts, serialised as JSON numbers without floating point.
//! - [`order`]: the order snapshot carried by events, and its status state machine.
//! - [`event`]: the versioned, CloudEvents-shaped envelope.
//! - [`outcome`]: what a consumer did with an event, reported back for the delivery timeline.
//! - [`journal`]: append-only JSON Lines files with torn-tail repair and explicit fsync.
//! - [`durable_state`]: a consumer's state as snapshot plus journal, changed by durable transactions.
//! - [`failure_log`]: `failure.json`, the messages a service gave up on, appended in O(1), crash-safe.
//! - [`atomic_file`]: whole-file replacement (temp file, fsync, rename, fsync directory).
//! - [`data_dir`]: the exclusive lock that keeps two processes out of one data directory.
//! - [`page_cursor`]: opaque cursors for paginated lists.
//! - [`settings`]: layered configuration, logging and broker settings every service shares.
//! - [`telemetry`]: logs through `tracing`, text or JSON.
//! - [`cli`]: every service binary's command line (`--config`, `--help`, `failures`).
//! - [`embedded`]: the in-process transport: the order journal as the log, a durable offset per consumer.
//! - [`amqp`]: messaging over RabbitMQ; [`amqp::EventHandler`] is what a consumer implements.

pub mod amqp;
pub mod atomic_file;
pub mod cli;
pub mod data_dir;
pub mod durable_state;
pub mod embedded;
pub mod event;
pub mod failure_log;
pub mod journal;
pub mod money;
pub mod order;
pub mod outcome;
pub mod page_cursor;
mod per_order;
pub mod settings;
pub mod telemetry;

pub use event::{EventType, OrderEvent, OrderEventData};
pub use money::Money;
pub use order::{Order, OrderLine, OrderStatus};
