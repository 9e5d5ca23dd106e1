//! The notification service: an email to the customer for every order change, over SMTP or as
//! `.eml` files. One email per event; only a crash mid-send repeats one, with the same
//! `Message-ID`.
//!
//! # Layout
//!
//! - [`message`]: the subject, body and RFC 5322 message about an event (pure functions).
//! - [`ledger`]: every notification and its status, and each order's last applied version.
//! - [`mailer`]: sending over SMTP (lettre) or writing into the outbox folder.
//! - [`handler`]: [`handler::Notifier`], the [`shared_events::amqp::EventHandler`]: decide, send,
//!   record.
//! - [`routes`]: `GET /notifications`, health probes, errors as JSON.
//! - [`settings`]: layered configuration (defaults, file, `ORDERS__...` environment).
//! - [`startup`]: [`startup::Application`], which runs the HTTP server, the consumer and the
//!   failure drain together and stops them together.

pub mod handler;
pub mod ledger;
pub mod mailer;
pub mod message;
pub mod routes;
pub mod settings;
pub mod startup;
