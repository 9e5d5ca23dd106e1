//! What the test suites of the order platform share, so that each suite holds only what is its
//! own: starting its service, its requests and its assertions.
//!
//! Nothing here knows a service: the suites start their `Application`s themselves, and hand
//! over binaries as commands. Only shared-events' settings and namespace teardown are used.
//!
//! # Layout
//!
//! - [`wait`]: polling until a condition holds, failing the test after a deadline.
//! - [`process`]: spawning a service binary, reading the URL it listens on, signalling it.
//! - [`command_line`]: the tests every binary's command line must pass.
//! - [`ports`]: free loopback ports.
//! - [`namespace`]: a fresh broker namespace per test, and deleting it afterwards.
//! - [`proxy`]: a TCP proxy in front of the broker whose connections a test can cut.
//! - [`smtp`]: a small SMTP server that records what it accepts and can be told to refuse.
//! - [`http`]: request helpers several suites use: readiness and paginated lists.
//! - [`logging`]: the services' logs in the test output, on demand.

pub mod command_line;
pub mod http;
pub mod logging;
pub mod namespace;
pub mod ports;
pub mod process;
pub mod proxy;
pub mod smtp;
pub mod wait;
