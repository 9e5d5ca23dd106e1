//! The whole order platform in one process: the order service (API and web page) and the
//! inventory, billing and notification consumers, composed from their libraries.
//!
//! Without a broker configured, events travel over the embedded transport
//! ([`shared_events::runtime::embedded`]): the order journal is the log and each consumer keeps a
//! durable offset into it. With `ORDERS__AMQP__URL` set, every service uses RabbitMQ exactly as
//! the separate binaries do.
//!
//! # Layout
//!
//! - [`settings`]: each service's settings from one set of layers, a folder per service.
//! - [`embedded`]: the consumers' links to the log, and the log's retention.
//! - [`platform`]: [`Platform`], which builds, runs and stops the four services together.
//! - [`failures`]: `failures <service> list | replay` for either transport.
//! - [`data_files`]: `data check | repair` over every service's files.

pub mod data_files;
pub mod embedded;
pub mod failures;
pub mod platform;
pub mod settings;

pub use platform::Platform;
pub use settings::{PlatformSettings, TransportKind};
