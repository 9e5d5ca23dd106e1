//! Messaging over RabbitMQ: topology, confirmed publishing, the consumer runner, dead letters.
//!
//! # Layout
//!
//! - [`topology`]: the exchange and queue names under a namespace, and their declaration.
//! - [`connection`]: connecting in bounded time, without lapin's automatic recovery.
//! - [`publisher`]: [`ConfirmedPublisher`], which counts a message as sent only on an ack
//!   with no return.
//! - [`handler`]: [`EventHandler`], what a consuming service implements.
//! - [`consumer`]: [`run_consumer`], which feeds a work queue to a handler and owns acks,
//!   retries and dead-lettering.
//! - [`failure_drain`]: [`run_failure_drain`], which moves dead letters into `failure.json`.
//! - [`outcome_listener`]: the order service's consumer of the outcomes consumers report.
//! - [`replay`](mod@replay): sends recorded failures again ([`replay()`]).
//! - [`service`]: [`ConsumerService`], a consuming service's files, listener and lifecycle;
//!   [`run_consumer_service`] runs its HTTP server, consumer and drain under one shutdown,
//!   stopped by SIGTERM or SIGINT.
//! - [`failures_cli`]: the `failures list | replay` subcommand of every service.
//! - [`teardown`]: deleting a namespace's queues and exchanges (tests, retiring a namespace).
//! - [`headers`]: the headers the runner and the drain read and write.
//! - [`error`]: the broker boundary's error, [`AmqpError`].
//! - `supervisor`: the reconnect loop the consumer and the drain run under.
//! - `subscription`: one consumer on one channel, with bounded acks and a liveness check.
//! - `disposition`: retry or dead-letter, and the copy of the message that goes there.
//! - `names`: AMQP's length-limited strings, checked instead of panicking.
//!
//! Every long-running task (consumer, drain) is supervised the same way: on any failure the
//! connection and its channels are dropped and a new connection is made after a capped,
//! jittered exponential backoff; the topology is declared again on each connection.

pub mod connection;
pub mod consumer;
pub(crate) mod disposition;
pub mod error;
pub mod failure_drain;
pub mod failures_cli;
pub mod handler;
pub mod headers;
mod names;
pub mod outcome_listener;
pub mod publisher;
pub mod replay;
pub mod service;
mod subscription;
mod supervisor;
pub mod teardown;
pub mod topology;

pub use connection::connect;
pub use consumer::run_consumer;
pub use error::AmqpError;
pub use failure_drain::run_failure_drain;
pub use handler::{EventHandler, Handled, HandlerError};
pub use publisher::{ConfirmedPublisher, OutgoingMessage, PublishError};
pub use replay::{ReplaySelection, replay};
pub use service::{ConsumerParts, ConsumerService, Transport, run_consumer_service};
pub use topology::Topology;
