//! What the test suites of the order platform share, so that each suite holds only what is its
//! own: starting its service, its requests and its assertions.
//!
//! Nothing here knows a particular service: the suites hand over their binaries as commands,
//! and the consumers' suites their `Consumer` type, whose `ConsumerApplication` is started here.
//!
//! # Layout
//!
//! - [`auth`]: tokens of every role, and the check that every route asks for the right one.
//! - [`wait`]: polling until a condition holds, failing the test after a deadline.
//! - [`process`]: spawning a service binary, reading the URL it listens on, signalling it.
//! - [`service`]: an application running on a task of the test, and its graceful stop.
//! - [`consumer`]: a consumer service on its own data directory and namespace, and the checks
//!   every consumer's suite makes the same way.
//! - [`broker`]: a namespace with one service's queues declared, and publishing into it.
//! - [`orders`]: orders whose every change makes the event of their next version.
//! - [`command_line`]: the tests every binary's command line must pass.
//! - [`replicas`]: several replicas of a consumer on one data directory, taken through kills,
//!   joins and leaves under a stream of events, and the checks on their shards.
//! - [`ports`]: free loopback ports.
//! - [`namespace`]: a fresh broker namespace per test, and deleting it afterwards.
//! - [`proxy`]: a TCP proxy in front of the broker whose connections a test can cut.
//! - [`smtp`]: a small SMTP server that records what it accepts and can be told to refuse.
//! - [`otlp`]: an OTLP/HTTP receiver that records the spans exported to it.
//! - [`binaries`]: the workspace's service binaries, built for the tests that start them all.
//! - [`tls`]: a self-signed certificate per test, and a client that trusts only it.
//! - [`tls_broker`]: a RabbitMQ node of the test's own that speaks only AMQP over TLS, with a
//!   test CA and a client certificate for EXTERNAL.
//! - [`http`]: request helpers several suites use: readiness and paginated lists.
//! - [`identity_provider`]: an OpenID Connect provider's key set and access tokens, good and bad.
//! - [`logging`]: the services' logs in the test output, on demand.
//! - [`fsync_fault`]: fsyncs that fail on demand in a real service binary.
//! - [`tmpfs`]: a small file system of a test's own, filled up and freed on demand.
//! - [`damage`]: data files damaged one flipped byte at a time, each trial on a copy.
//! - [`schemathesis`]: fuzzing a running service against the OpenAPI document it serves.

pub mod auth;
pub mod binaries;
pub mod broker;
pub mod command_line;
pub mod consumer;
pub mod damage;
pub mod fsync_fault;
pub mod http;
pub mod identity_provider;
pub mod logging;
pub mod namespace;
pub mod orders;
pub mod otlp;
pub mod ports;
pub mod process;
pub mod proxy;
pub mod replicas;
pub mod schemathesis;
pub mod service;
pub mod smtp;
pub mod tls;
pub mod tls_broker;
pub mod tmpfs;
pub mod wait;
