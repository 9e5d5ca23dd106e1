//! The inventory service: a stock ledger that reserves on create, adjusts on update and releases
//! on delete or cancel, fed by the order events, with an HTTP API to read and count stock.
//!
//! It is the one consumer application ([`shared_events::app::consumer`]) made of these parts:
//!
//! # Layout
//!
//! - [`ledger`]: one shard's reservations as a pure state machine: per product the units
//!   reserved, per order the last applied version and what it holds.
//! - [`on_hand`]: units on hand, one count per product for every replica, and the stock level
//!   the API shows.
//! - [`handler`]: [`handler::StockHandler`], which applies one order event to the ledger.
//! - [`routes`]: `GET /stock`, `GET` and `PUT /stock/{product}`, and the probes.
//! - `openapi`: the API's OpenAPI document, from the handlers' annotations.

pub mod handler;
pub mod ledger;
pub mod on_hand;
mod openapi;
pub mod routes;

use std::sync::Arc;

use actix_web::web;
use shared_events::app::auth::Permission;
use shared_events::app::consumer::{Consumer, ConsumerApplication, ServiceSettings};
use shared_events::app::settings::ConsumerSettings;
use shared_events::storage::durable_state::DurableState;

use crate::handler::StockHandler;
use crate::ledger::StockLedger;
use crate::on_hand::OnHandBook;

/// The inventory service's parts.
pub struct Inventory;

/// A bound, ready-to-run inventory service.
pub type Application = ConsumerApplication<Inventory>;

impl Consumer for Inventory {
    type Handler = StockHandler;
    type Ledger = StockLedger;
    type Shared = OnHandBook;
    type Settings = ConsumerSettings;

    const LEDGER: &'static str = "stock";
    const DEFAULT_ADDR: &'static str = "127.0.0.1:8081";
    const CHANGES: Permission = Permission::SetStock;
    const ABOUT: &'static str = "The order platform's stock ledger: consumes order events and \
        serves GET /stock, GET and PUT /stock/{product}";

    fn shared(settings: &ConsumerSettings) -> anyhow::Result<OnHandBook> {
        Ok(OnHandBook::new(settings.data_dir()))
    }

    fn handler(ledger: DurableState<StockLedger>, _book: Arc<OnHandBook>) -> StockHandler {
        StockHandler::new(ledger)
    }

    fn routes(config: &mut web::ServiceConfig) {
        routes::configure(config);
    }
}
