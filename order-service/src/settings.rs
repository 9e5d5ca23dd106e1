//! Configuration: built-in defaults, then an optional file, then `ORDERS__...` variables.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use config::ConfigError;
use serde::Deserialize;

use shared_events::settings::{AmqpSettings, LogSettings, layered};

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
    /// The broker the outbox publishes to.
    pub amqp: AmqpSettings,
    /// The outbox relay.
    pub outbox: OutboxSettings,
}

/// The HTTP server (`ORDERS__HTTP__...`).
#[derive(Debug, Clone, Deserialize)]
pub struct HttpSettings {
    /// Address to bind (`ORDERS__HTTP__ADDR`); port 0 picks a free port.
    pub addr: SocketAddr,
    /// Worker threads; by default one per core.
    #[serde(default)]
    pub workers: Option<usize>,
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
    /// HTTPS: with both files set, the server speaks only HTTPS.
    #[serde(default)]
    pub tls: TlsSettings,
}

/// Certificate and key for HTTPS (`ORDERS__HTTP__TLS__CERT_FILE`, `..._KEY_FILE`), PEM files.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TlsSettings {
    /// The certificate chain, leaf first.
    pub cert_file: Option<PathBuf>,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: Option<PathBuf>,
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
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        let settings: Settings = layered(
            |builder| {
                builder
                    .set_default("http.addr", "127.0.0.1:8080")?
                    .set_default("http.max_body_bytes", 64 * 1024)?
                    .set_default("data_dir", "./data/order-service")?
                    .set_default("storage.compact_after_bytes", 64 * 1024 * 1024)?
                    .set_default("storage.idempotency_ttl_secs", 24 * 60 * 60)?
                    .set_default("outbox.enabled", true)?
                    .set_default("outbox.batch_size", 500)?
                    .set_default("outbox.failure_after_attempts", 8)?
                    .set_default("outbox.max_backoff_ms", 5_000)?
                    .set_default(
                        "outbox.consumers",
                        vec!["inventory", "billing", "notification"],
                    )
            },
            file,
        )?
        .try_deserialize()?;
        settings.check()?;
        Ok(settings)
    }

    /// Settings for a service on a free loopback port with `data_dir`, its outbox relay off and a
    /// namespace of its own: what tests start (a test of the event pipeline turns the relay on).
    pub fn for_tests(data_dir: &Path) -> Settings {
        Settings {
            http: HttpSettings {
                addr: SocketAddr::from(([127, 0, 0, 1], 0)),
                workers: Some(2),
                max_body_bytes: 64 * 1024,
                tls: TlsSettings::default(),
            },
            data_dir: data_dir.to_owned(),
            log: LogSettings::for_tests(),
            storage: StorageSettings {
                compact_after_bytes: 64 << 20,
                idempotency_ttl_secs: 24 * 60 * 60,
            },
            amqp: AmqpSettings::for_tests(&format!("test-{}", uuid::Uuid::new_v4())),
            outbox: OutboxSettings {
                enabled: false,
                batch_size: 500,
                failure_after_attempts: 3,
                max_backoff_ms: 500,
                consumers: ["inventory", "billing", "notification"]
                    .map(String::from)
                    .to_vec(),
            },
        }
    }

    /// The store's options.
    pub fn store_options(&self) -> StoreOptions {
        StoreOptions {
            compact_after_bytes: self.storage.compact_after_bytes,
            idempotency_ttl: Duration::from_secs(self.storage.idempotency_ttl_secs),
        }
    }

    fn check(&self) -> Result<(), ConfigError> {
        match (&self.http.tls.cert_file, &self.http.tls.key_file) {
            (Some(_), None) | (None, Some(_)) => Err(ConfigError::Message(
                "HTTPS needs both ORDERS__HTTP__TLS__CERT_FILE and ORDERS__HTTP__TLS__KEY_FILE"
                    .to_owned(),
            )),
            _ => Ok(()),
        }
    }
}
