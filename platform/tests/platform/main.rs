//! The all-in-one platform: the delivery conformance suite, run on both transports, and the
//! embedded transport's crash test.

mod conformance;
mod crash;
mod embedded;
mod helpers;
#[path = "../../../notification-service/tests/api/smtp_server.rs"]
#[allow(dead_code)]
mod smtp_server;
