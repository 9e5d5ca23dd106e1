//! The messaging runtime against the local RabbitMQ (`amqp://guest:guest@127.0.0.1:5672/%2f`).
//!
//! Every test works in a namespace of its own (`test-<uuid>`) and deletes it at the end, so the
//! tests run in parallel beside other teams' on the shared broker. Connection failures are
//! simulated with a TCP proxy of the test's own; the broker itself is never disturbed.

mod cli;
mod consumer;
mod failures;
mod helpers;
mod publisher;
mod recovery;
mod replay;
mod retries;
mod scripted_handler;
mod shutdown;
mod tls;
mod topology;
