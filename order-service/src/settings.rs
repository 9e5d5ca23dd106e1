//! Configuration: built-in defaults, then an optional file, then `ORDERS__...` variables.

use std::path::{Path, PathBuf};
use std::time::Duration;

use config::builder::DefaultState;
use config::{ConfigBuilder, ConfigError};
use serde::Deserialize;

use shared_events::app::settings::{AmqpSettings, AuthSettings, LogSettings, http_defaults, load};
pub use shared_events::app::settings::{HttpSettings, TlsSettings};
use shared_events::contract::shard::{ConsumerEntry, ServiceShards, ShardCount};
pub use shared_events::runtime::TransportKind;

use crate::outbox_relay::OutboxSettings;
use crate::store::StoreOptions;

/// Everything the order service can be told.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// The HTTP server.
    pub http: HttpSettings,
    /// The folder for the service's JSON files (`ORDERS__DATA_DIR`).
    pub data_dir: PathBuf,
    /// Logging.
    pub log: LogSettings,
    /// Storage tuning.
    pub storage: StorageSettings,
    /// How events leave the service: `amqp` (the outbox relay publishes them and the outcomes
    /// come back over the broker) or `embedded` (they stay in the journal for consumers in the
    /// same process: the all-in-one platform).
    pub transport: TransportKind,
    /// The broker the outbox publishes to.
    pub amqp: AmqpSettings,
    /// The outbox relay.
    pub outbox: OutboxSettings,
    /// Who may call it.
    pub auth: AuthSettings,
    /// The shard count of every consumer in `outbox.consumers` listed without one
    /// (`ORDERS__SHARDS`, default 8): the same setting the consumers read.
    pub shards: ShardCount,
}

/// Storage tuning (`ORDERS__STORAGE__...`).
#[derive(Debug, Clone, Deserialize)]
pub struct StorageSettings {
    /// Journal size from which compaction into a new snapshot may start.
    pub compact_after_bytes: u64,
    /// How long an `Idempotency-Key` is remembered, in seconds.
    pub idempotency_ttl_secs: u64,
}

impl Settings {
    /// Loads the layers: defaults, then `file` if given, then the environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Settings> {
        load(Settings::defaults, file)
    }

    /// The built-in defaults.
    pub fn defaults(
        builder: ConfigBuilder<DefaultState>,
    ) -> Result<ConfigBuilder<DefaultState>, ConfigError> {
        http_defaults(builder, "127.0.0.1:8080")?
            .set_default("data_dir", "./data/order-service")?
            .set_default("transport", "amqp")?
            .set_default("storage.compact_after_bytes", 64 * 1024 * 1024)?
            .set_default("storage.idempotency_ttl_secs", 24 * 60 * 60)?
            .set_default("outbox.enabled", true)?
            .set_default("outbox.batch_size", 500)?
            .set_default("outbox.failure_after_ms", 60_000)?
            .set_default("outbox.max_backoff_ms", 1_000)?
            .set_default("shards", ShardCount::DEFAULT.get())?
            .set_default(
                "outbox.consumers",
                vec!["inventory", "billing", "notification"],
            )
    }

    /// Settings for a service on a free loopback port with `data_dir`, its events kept in the
    /// journal (no broker) and a namespace of its own: what tests start (a test of the event
    /// pipeline sets the transport to `amqp`).
    pub fn for_tests(data_dir: &Path) -> Settings {
        Settings {
            http: HttpSettings::for_tests(),
            data_dir: data_dir.to_owned(),
            log: LogSettings::for_tests(),
            storage: StorageSettings {
                compact_after_bytes: 64 << 20,
                idempotency_ttl_secs: 24 * 60 * 60,
            },
            transport: TransportKind::Embedded,
            amqp: AmqpSettings::for_tests(&format!("test-{}", uuid::Uuid::new_v4())),
            outbox: OutboxSettings {
                enabled: true,
                batch_size: 500,
                failure_after_ms: 300,
                max_backoff_ms: 500,
                consumers: ["inventory", "billing", "notification"]
                    .map(|name| ConsumerEntry {
                        service: name.to_owned(),
                        shards: None,
                    })
                    .to_vec(),
            },
            auth: AuthSettings::for_tests(data_dir),
            shards: ShardCount::for_tests(),
        }
    }

    /// The consumers the outbox declares queues for, each with its shard count.
    pub fn consumers(&self) -> Vec<ServiceShards> {
        self.outbox
            .consumers
            .iter()
            .map(|entry| entry.with_default(self.shards))
            .collect()
    }

    /// The store's options.
    pub fn store_options(&self) -> StoreOptions {
        StoreOptions {
            compact_after_bytes: self.storage.compact_after_bytes,
            idempotency_ttl: Duration::from_secs(self.storage.idempotency_ttl_secs),
        }
    }
}
