//! The billing service against the real broker: events in, invoices out through HTTP.

mod helpers;

mod auth;
mod crash;
mod events;
mod failures;
mod fsync_failure;
mod health;
mod https;
mod invoices;
mod openapi;
mod ordering;
mod restart;
mod scale_out;
mod shutdown;
