//! The billing service: an invoice per order, opened on create, amended on update and voided
//! on delete or cancel, fed by the order events, with an HTTP API to read the invoices.
//!
//! # Layout
//!
//! - [`ledger`]: the invoice ledger as a pure state machine: per order the invoice, its last
//!   applied version and its history.
//! - [`handler`]: [`handler::InvoiceHandler`], which applies one order event to the ledger.
//! - [`routes`]: `GET /invoices` (paginated), `GET /invoices/{order_id}`, and the probes.
//! - [`error`]: errors as JSON, `{"error": {"code", "message"}}`.
//! - [`startup`]: [`startup::Application`], which opens the ledger, binds, and runs the HTTP
//!   server, the consumer and the failure drain until stopped.

pub mod error;
pub mod handler;
pub mod ledger;
pub mod routes;
pub mod startup;
