//! The billing service: an invoice per order, opened on create, amended on update and voided
//! on delete or cancel, fed by the order events, with an HTTP API to read invoices.
//!
//! It is the one consumer application ([`shared_events::app::consumer`]) made of these parts:
//!
//! # Layout
//!
//! - [`ledger`]: the invoice ledger as a pure state machine: per order its invoice, the history
//!   of its amounts, and the last applied version.
//! - [`handler`]: [`handler::InvoiceHandler`], which applies one order event to the ledger.
//! - [`routes`]: `GET /invoices`, `GET /invoices/{order_id}`, and the probes.
//! - `openapi`: the API's OpenAPI document, from the handlers' annotations.

pub mod handler;
pub mod ledger;
mod openapi;
pub mod routes;

use std::sync::Arc;

use actix_web::web;
use shared_events::app::consumer::{Consumer, ConsumerApplication};
use shared_events::app::settings::ConsumerSettings;
use shared_events::storage::durable_state::DurableState;

use crate::handler::InvoiceHandler;
use crate::ledger::InvoiceLedger;

/// The billing service's parts.
pub struct Billing;

/// A bound, ready-to-run billing service.
pub type Application = ConsumerApplication<Billing>;

impl Consumer for Billing {
    type Handler = InvoiceHandler;
    type Ledger = InvoiceLedger;
    type Shared = ();
    type Settings = ConsumerSettings;

    const LEDGER: &'static str = "invoices";
    const DEFAULT_ADDR: &'static str = "127.0.0.1:8082";
    const ABOUT: &'static str = "The order platform's invoices: consumes order events and serves \
        GET /invoices and GET /invoices/{order_id}";

    fn shared(_settings: &ConsumerSettings) -> anyhow::Result<()> {
        Ok(())
    }

    fn handler(ledger: DurableState<InvoiceLedger>, _shared: Arc<()>) -> InvoiceHandler {
        InvoiceHandler::new(ledger)
    }

    fn routes(config: &mut web::ServiceConfig) {
        routes::configure(config);
    }
}
