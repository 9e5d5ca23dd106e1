//! How order events reach a consumer and what becomes of them, whichever way they travel.
//!
//! What both transports share sits here; [`amqp`] and [`embedded`] are peers beneath it and do
//! not import each other.
//!
//! # Layout
//!
//! - [`handler`]: [`EventHandler`], what a consuming service implements: business logic only.
//! - [`retry`]: [`RetryPolicy`]: retry after a delay tier or give up, and the outcome reported.
//! - [`per_order`](mod@per_order): one order's events in turn, different orders side by side.
//! - [`tasks`]: [`Tasks`], a service's long-running parts under one shutdown.
//! - [`consumer_service`]: [`TransportKind`], the one value that chooses the transport, and a
//!   consumer's workers on its [`Transport`].
//! - [`shards`]: a service's shards, the replicas that share them, and their ledgers.
//! - [`disk_health`]: [`DiskHealth`], whether a consumer's data directory takes writes, and
//!   the pause before it tries again when it does not.
//! - [`outcome_sink`]: [`OutcomeSink`], where outcomes go in process.
//! - [`replay_log`]: which failures a replay takes and how its outcome is noted.
//! - [`failures`]: the `failures list | replay` command on either transport.
//! - [`amqp`]: over RabbitMQ: topology, confirmed publisher, consumer runner, dead letters.
//! - [`embedded`]: in one process: the order journal as the log, a durable offset per consumer.

pub mod amqp;
pub mod consumer_service;
pub mod disk_health;
pub mod embedded;
pub mod failures;
pub mod handler;
pub mod outcome_sink;
pub(crate) mod per_order;
pub mod replay_log;
pub mod retry;
pub mod shards;
pub mod tasks;

pub use consumer_service::{ConsumerParts, Transport, TransportKind, spawn_consumer};
pub use disk_health::DiskHealth;
pub use handler::{EventHandler, Handled, HandlerError};
pub use outcome_sink::{DiscardOutcomes, OutcomeSink};
pub use retry::RetryPolicy;
pub use tasks::Tasks;
