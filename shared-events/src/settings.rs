//! Configuration every service shares: layering, logging, the broker, and a consumer service's
//! whole settings.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use config::builder::DefaultState;
use config::{Config, ConfigBuilder, ConfigError, Environment, File};
use serde::{Deserialize, Deserializer};

/// Builds the layers every service uses: `defaults`, then `file` if given, then `ORDERS__...`
/// environment variables (`ORDERS__AMQP__URL` is `amqp.url`).
pub fn layered(
    defaults: impl FnOnce(
        ConfigBuilder<DefaultState>,
    ) -> Result<ConfigBuilder<DefaultState>, ConfigError>,
    file: Option<&Path>,
) -> Result<Config, ConfigError> {
    let builder = defaults(amqp_defaults(log_defaults(Config::builder())?)?)?;
    with_sources(builder, file).build()
}

/// Only what the file and the environment say, without any defaults: to tell whether a value
/// was configured at all.
pub fn configured(file: Option<&Path>) -> Result<Config, ConfigError> {
    with_sources(Config::builder(), file).build()
}

fn with_sources(
    mut builder: ConfigBuilder<DefaultState>,
    file: Option<&Path>,
) -> ConfigBuilder<DefaultState> {
    if let Some(file) = file {
        builder = builder.add_source(File::from(file).required(true));
    }
    builder.add_source(
        Environment::with_prefix("ORDERS")
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true)
            .list_separator(",")
            .with_list_parse_key("amqp.retry_delays_ms")
            .with_list_parse_key("outbox.consumers"),
    )
}

/// Logging (`ORDERS__LOG__...`).
#[derive(Debug, Clone, Deserialize)]
pub struct LogSettings {
    /// `text` (human-readable) or `json`.
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `order_service=debug,info`; `RUST_LOG` wins if set.
    pub level: String,
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// For people at a terminal.
    Text,
    /// One JSON object a line, for log collectors.
    Json,
}

impl LogSettings {
    /// Quiet logs for tests (`TEST_LOG` in the environment is read by the tests themselves).
    pub fn for_tests() -> LogSettings {
        LogSettings {
            format: LogFormat::Text,
            level: "warn".to_owned(),
        }
    }
}

/// The broker (`ORDERS__AMQP__...`).
#[derive(Debug, Clone, Deserialize)]
pub struct AmqpSettings {
    /// `amqp://` or `amqps://` URL; its password never appears in logs.
    pub url: AmqpUrl,
    /// Prefix of every exchange and queue name.
    pub namespace: String,
    /// Unacknowledged deliveries a consumer may hold.
    pub prefetch: u16,
    /// The quorum queues' `x-delivery-limit`: redeliveries (after crashes or requeues) before
    /// the broker dead-letters a message.
    pub delivery_limit: u32,
    /// Handler attempts before a message is dead-lettered.
    pub max_attempts: u32,
    /// Delay tiers for retries, in milliseconds: attempt n waits the n-th (the last repeats).
    pub retry_delays_ms: Vec<u64>,
    /// How long a publish may wait for the broker's confirm.
    pub publish_timeout_ms: u64,
}

/// A broker URL that hides its password when printed.
#[derive(Clone, PartialEq, Eq)]
pub struct AmqpUrl(String);

impl AmqpUrl {
    /// Wraps a URL.
    pub fn new(url: impl Into<String>) -> AmqpUrl {
        AmqpUrl(url.into())
    }

    /// The URL, password included: only for connecting.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AmqpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for AmqpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // amqp://user:password@host -> amqp://user:***@host
        match (self.0.find("://"), self.0.rfind('@')) {
            (Some(scheme_end), Some(at)) if at > scheme_end => {
                let credentials = &self.0[scheme_end + 3..at];
                match credentials.split_once(':') {
                    Some((user, _)) => write!(
                        f,
                        "{}{user}:***{}",
                        &self.0[..scheme_end + 3],
                        &self.0[at..]
                    ),
                    None => f.write_str(&self.0),
                }
            }
            _ => f.write_str(&self.0),
        }
    }
}

impl<'de> Deserialize<'de> for AmqpUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<AmqpUrl, D::Error> {
        String::deserialize(deserializer).map(AmqpUrl)
    }
}

impl AmqpSettings {
    /// The local broker under `namespace`, with short retry delays: what tests use.
    pub fn for_tests(namespace: &str) -> AmqpSettings {
        AmqpSettings {
            url: AmqpUrl::new("amqp://guest:guest@127.0.0.1:5672/%2f"),
            namespace: namespace.to_owned(),
            prefetch: 32,
            delivery_limit: 5,
            max_attempts: 4,
            retry_delays_ms: vec![100, 200, 400],
            publish_timeout_ms: 5_000,
        }
    }
}

/// The HTTP server of a consumer service (`ORDERS__HTTP__ADDR`).
#[derive(Debug, Clone, Deserialize)]
pub struct HttpAddr {
    /// Address to bind; port 0 picks a free port.
    pub addr: SocketAddr,
}

/// Everything a consumer service (inventory, billing, notification) is configured with.
#[derive(Debug, Clone, Deserialize)]
pub struct ConsumerSettings {
    /// The HTTP server (API, health).
    pub http: HttpAddr,
    /// The folder for the service's JSON files (`ORDERS__DATA_DIR`).
    pub data_dir: PathBuf,
    /// Logging.
    pub log: LogSettings,
    /// The broker.
    pub amqp: AmqpSettings,
}

impl ConsumerSettings {
    /// Loads the layers for `service` (its name, such as `inventory`) whose HTTP server listens
    /// on `default_addr` unless told otherwise.
    pub fn load(
        service: &str,
        default_addr: &str,
        file: Option<&Path>,
    ) -> Result<ConsumerSettings, ConfigError> {
        layered(
            |builder| {
                builder
                    .set_default("http.addr", default_addr)?
                    .set_default("data_dir", format!("./data/{service}-service"))
            },
            file,
        )?
        .try_deserialize()
    }

    /// A consumer on a free loopback port, with `data_dir` and the local broker under `namespace`.
    pub fn for_tests(data_dir: &Path, namespace: &str) -> ConsumerSettings {
        ConsumerSettings {
            http: HttpAddr {
                addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            },
            data_dir: data_dir.to_owned(),
            log: LogSettings::for_tests(),
            amqp: AmqpSettings::for_tests(namespace),
        }
    }
}

fn log_defaults(
    builder: ConfigBuilder<DefaultState>,
) -> Result<ConfigBuilder<DefaultState>, ConfigError> {
    builder
        .set_default("log.format", "text")?
        .set_default("log.level", "info")
}

fn amqp_defaults(
    builder: ConfigBuilder<DefaultState>,
) -> Result<ConfigBuilder<DefaultState>, ConfigError> {
    builder
        .set_default("amqp.url", "amqp://guest:guest@127.0.0.1:5672/%2f")?
        .set_default("amqp.namespace", "orders")?
        .set_default("amqp.prefetch", 64)?
        .set_default("amqp.delivery_limit", 5)?
        .set_default("amqp.max_attempts", 5)?
        .set_default("amqp.retry_delays_ms", vec![1_000, 5_000, 30_000])?
        .set_default("amqp.publish_timeout_ms", 10_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_do_not_print() {
        let url = AmqpUrl::new("amqp://app:s3cret@broker:5672/%2f");
        assert_eq!(url.to_string(), "amqp://app:***@broker:5672/%2f");
        assert_eq!(format!("{url:?}"), "amqp://app:***@broker:5672/%2f");
        assert_eq!(AmqpUrl::new("amqp://broker").to_string(), "amqp://broker");
    }

    #[test]
    fn consumer_defaults_load() {
        let settings =
            ConsumerSettings::load("inventory", "127.0.0.1:8081", None).expect("defaults load");
        assert_eq!(settings.http.addr.port(), 8081);
        assert_eq!(settings.amqp.namespace, "orders");
        assert_eq!(settings.data_dir, PathBuf::from("./data/inventory-service"));
        assert_eq!(settings.amqp.retry_delays_ms, vec![1_000, 5_000, 30_000]);
    }
}
