//! The inventory service: a stock ledger that reserves on create, adjusts on update and releases
//! on delete or cancel, fed by the order events, with an HTTP API to read and count stock.
//!
//! It is the one consumer application ([`shared_events::app::consumer`]) made of these parts:
//!
//! # Layout
//!
//! - [`ledger`]: the stock ledger as a pure state machine: per product on hand and reserved, per
//!   order the last applied version and what it holds.
//! - [`handler`]: [`handler::StockHandler`], which applies one order event to the ledger.
//! - [`routes`]: `GET /stock`, `GET` and `PUT /stock/{product}`, and the probes.

pub mod handler;
pub mod ledger;
pub mod routes;

use actix_web::web;
use shared_events::app::consumer::{Consumer, ConsumerApplication};
use shared_events::app::settings::ConsumerSettings;
use shared_events::storage::durable_state::DurableState;

use crate::handler::StockHandler;
use crate::ledger::StockLedger;

/// The inventory service's parts.
pub struct Inventory;

/// A bound, ready-to-run inventory service.
pub type Application = ConsumerApplication<Inventory>;

impl Consumer for Inventory {
    type Handler = StockHandler;
    type Ledger = StockLedger;
    type Settings = ConsumerSettings;

    const LEDGER: &'static str = "stock";
    const DEFAULT_ADDR: &'static str = "127.0.0.1:8081";
    const ABOUT: &'static str = "The order platform's stock ledger: consumes order events and \
        serves GET /stock, GET and PUT /stock/{product}";

    fn handler(
        ledger: DurableState<StockLedger>,
        _settings: &ConsumerSettings,
    ) -> anyhow::Result<StockHandler> {
        Ok(StockHandler::new(ledger))
    }

    fn routes(config: &mut web::ServiceConfig) {
        routes::configure(config);
    }
}
