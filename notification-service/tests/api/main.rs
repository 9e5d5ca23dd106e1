//! The notification service against the real broker and a real (test) SMTP server.

mod helpers;

mod auth;
mod failures;
mod health;
mod https;
mod notifications;
mod openapi;
mod outbox;
mod restart;
mod scale_out;
mod sigterm;
mod smtp;
mod smtp_tls;
