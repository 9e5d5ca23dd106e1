//! The inventory service against the real broker: events in, stock out through HTTP.

mod helpers;

mod auth;
mod crash;
mod events;
mod failures;
mod health;
mod https;
mod openapi;
mod ordering;
mod request_guard;
mod restart;
mod scale_out;
mod shutdown;
mod stock;
