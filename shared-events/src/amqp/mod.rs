//! Messaging over RabbitMQ: topology, confirmed publishing, the consumer runner, dead letters.

pub mod handler;

pub use handler::{EventHandler, Handled, HandlerError};
