//! The notification service: an email to the customer for every order change, over SMTP or as
//! `.eml` files. One email per event; only a crash mid-send repeats one, with the same
//! `Message-ID`.
//!
//! # Layout
//!
//! - [`message`]: the subject, body and RFC 5322 message about an event (pure functions).
//! - [`ledger`]: every notification and its status, and each order's last applied version.
//! - [`mailer`]: sending over SMTP (lettre) or writing into the outbox folder.
//! - `smtp_transport`: the SMTP URL and TLS settings made into a transport; a password only
//!   over TLS.
//! - [`handler`]: [`handler::Notifier`], the [`shared_events::runtime::EventHandler`]: decide, send,
//!   record.
//! - [`routes`]: `GET /notifications`, health probes, errors as JSON.
//! - [`settings`]: layered configuration (defaults, file, `ORDERS__...` environment).
//!
//! [`Notification`] puts them together as the one consumer application
//! ([`shared_events::app::consumer`]).

pub mod handler;
pub mod ledger;
pub mod mailer;
pub mod message;
pub mod routes;
pub mod settings;
mod smtp_transport;

use std::sync::Arc;

use actix_web::web;
use config::ConfigError;
use config::builder::{ConfigBuilder, DefaultState};
use shared_events::app::consumer::{Consumer, ConsumerApplication};
use shared_events::storage::durable_state::DurableState;

use crate::handler::{Notifier, Postman};
use crate::ledger::Ledger;
use crate::mailer::Mailer;
use crate::settings::Settings;

/// The notification service's parts.
pub struct Notification;

/// A bound, ready-to-run notification service.
pub type Application = ConsumerApplication<Notification>;

impl Consumer for Notification {
    type Handler = Notifier;
    type Ledger = Ledger;
    type Shared = Postman;
    type Settings = Settings;

    const LEDGER: &'static str = "notifications";
    const DEFAULT_ADDR: &'static str = settings::DEFAULT_ADDR;
    const ABOUT: &'static str = "The order platform's emails: one to the customer for every \
        order change, over SMTP (ORDERS__SMTP__URL) or as .eml files in DATA_DIR/outbox; serves \
        GET /notifications";

    fn defaults(
        builder: ConfigBuilder<DefaultState>,
    ) -> Result<ConfigBuilder<DefaultState>, ConfigError> {
        Settings::defaults(builder)
    }

    fn shared(settings: &Settings) -> anyhow::Result<Postman> {
        let mailer = Mailer::from_settings(&settings.smtp, &settings.data_dir)?;
        tracing::info!("emails go to {mailer}");
        Ok(Postman::new(mailer, settings.smtp.from.clone()))
    }

    fn handler(ledger: DurableState<Ledger>, postman: Arc<Postman>) -> Notifier {
        Notifier::new(ledger, postman)
    }

    fn routes(config: &mut web::ServiceConfig) {
        routes::routes(config);
    }
}
