//! The whole event pipeline: the order service and the three consumers against the real broker.

mod broker_proxy;
mod helpers;
#[path = "../../../notification-service/tests/api/smtp_server.rs"]
#[allow(dead_code, unreachable_pub)]
mod smtp_server;

mod crash;
mod end_to_end;
mod outage;
mod unroutable;
