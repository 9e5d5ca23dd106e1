//! Messaging over RabbitMQ: topology, confirmed publishing, the consumer runner, dead letters.
//!
//! # Layout
//!
//! - [`topology`]: the exchange and queue names under a namespace, and their declaration.
//! - [`broker_link`]: whether a service's sessions hold a connection, for its readiness.
//! - [`connection`]: connecting in bounded time, without lapin's automatic recovery.
//! - `tls`: what `amqps://` trusts and the client certificate it presents.
//! - [`publisher`]: [`ConfirmedPublisher`], which counts a message as sent only on an ack
//!   with no return.
//! - [`consumer`]: [`run_consumer`], which feeds a work queue to a handler and owns acks,
//!   retries and dead-lettering.
//! - [`failure_drain`]: [`run_failure_drain`], which moves dead letters into `failure.json`.
//! - [`replay`](mod@replay): sends recorded failures again ([`replay()`]) to a [`ReplayTarget`].
//! - [`teardown`]: deleting a namespace's queues and exchanges (tests, retiring a namespace).
//! - [`headers`]: the headers the runner and the drain read and write.
//! - [`error`]: the broker boundary's error, [`AmqpError`].
//! - [`supervisor`]: the reconnect loop every consuming session runs under (the consumer, the
//!   drain, and a service's own listeners).
//! - [`subscription`]: one consumer on one channel, with bounded acks and a liveness check.
//! - `disposition`: the copy of a message that goes to a retry queue or the dead letters.
//! - `names`: AMQP's length-limited strings, checked instead of panicking.
//!
//! Every long-running task (consumer, drain, listener) is supervised the same way: on any failure the
//! connection and its channels are dropped and a new connection is made after a capped,
//! jittered exponential backoff; the topology is declared again on each connection.

pub mod broker_link;
pub mod connection;
pub mod consumer;
pub(crate) mod disposition;
pub mod error;
pub mod failure_drain;
pub mod headers;
mod names;
pub mod publisher;
pub mod replay;
pub mod subscription;
pub mod supervisor;
pub mod teardown;
mod tls;
pub mod topology;

pub use broker_link::BrokerLink;
pub use connection::connect;
pub use consumer::run_consumer;
pub use error::AmqpError;
pub use failure_drain::run_failure_drain;
pub use lapin::Connection;
pub use publisher::{ConfirmedPublisher, OutgoingMessage, PublishError};
pub use replay::{ReplayTarget, replay};
pub use topology::Topology;
