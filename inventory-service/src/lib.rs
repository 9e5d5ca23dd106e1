//! The inventory service: a stock ledger that reserves on create, adjusts on update and releases
//! on delete or cancel, fed by the order events, with an HTTP API to read and count stock.
//!
//! # Layout
//!
//! - [`ledger`]: the stock ledger as a pure state machine: per product on hand and reserved, per
//!   order the last applied version and what it holds.
//! - [`handler`]: [`handler::StockHandler`], which applies one order event to the ledger.
//! - [`routes`]: `GET /stock`, `GET` and `PUT /stock/{product}`, and the probes.
//! - [`error`]: errors as JSON, `{"error": {"code", "message"}}`.
//! - [`startup`]: [`startup::Application`], which opens the ledger, binds, and runs the HTTP
//!   server, the consumer and the failure drain until stopped.

pub mod error;
pub mod handler;
pub mod ledger;
pub mod routes;
pub mod startup;
