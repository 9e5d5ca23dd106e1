//! The notification service against the real broker and a real (test) SMTP server.

mod helpers;
mod smtp_server;

mod failures;
mod health;
mod notifications;
mod outbox;
mod restart;
mod smtp;
