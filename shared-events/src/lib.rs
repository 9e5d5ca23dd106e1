//! The contract between the order platform's services, the runtime that carries events to them,
//! and the crash-safe files they keep state in.
//!
//! Nothing here names a service: each service brings its handler, its ledger and its routes, and
//! the list of consumers is configuration.
//!
//! # Layout
//!
//! - [`contract`]: what crosses between services: the event, the order, money, outcomes, cursors.
//! - [`storage`]: crash-safe JSON files: journals, durable state, `failure.json`, atomic files,
//!   the data directory's lock.
//! - [`runtime`]: how events reach a consumer and what becomes of them: the handler trait, the
//!   retry policy, per-order batching, the consumer service's lifecycle, and the two transports
//!   ([`runtime::amqp`] and [`runtime::embedded`]) beneath them.
//! - [`app`]: what every service binary shares: settings, the command line, logging, the HTTP
//!   server and its errors, and the generic consumer application.

pub mod app;
pub mod contract;
pub mod runtime;
pub mod storage;

pub use contract::event::{EventType, OrderEvent, OrderEventData};
pub use contract::money::Money;
pub use contract::order::{Order, OrderLine, OrderStatus};
