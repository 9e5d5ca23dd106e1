//! Configuration: built-in defaults, then an optional file, then `ORDERS__...` variables.

use std::path::{Path, PathBuf};
use std::time::Duration;

use config::builder::DefaultState;
use config::{ConfigBuilder, ConfigError};
use lettre::message::Mailbox;
use serde::{Deserialize, Deserializer};
use shared_events::app::secret_url::SecretUrl;
use shared_events::app::settings::{
    AmqpSettings, AuthSettings, ConsumerSettings, HttpSettings, LogSettings, load,
};
use shared_events::contract::shard::ShardCount;
use shared_events::runtime::EventHandler;

use crate::handler::Notifier;

/// Where the HTTP server listens unless configured otherwise.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8083";

/// The `From` used when none is configured.
pub const DEFAULT_FROM: &str = "Orders <orders@localhost>";

/// Everything the notification service can be told.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// The HTTP server (API, health).
    pub http: HttpSettings,
    /// The folder for the service's JSON files and its outbox (`ORDERS__DATA_DIR`).
    pub data_dir: PathBuf,
    /// Logging.
    pub log: LogSettings,
    /// The broker.
    pub amqp: AmqpSettings,
    /// Where emails go.
    pub smtp: SmtpSettings,
    /// Who may call it.
    pub auth: AuthSettings,
    /// How many shards the service's work is split into (`ORDERS__SHARDS`).
    pub shards: ShardCount,
    /// This replica's name (`ORDERS__REPLICA_ID`; unset: host name and process id).
    #[serde(default)]
    pub replica_id: Option<String>,
}

/// The mail server (`ORDERS__SMTP__...`).
#[derive(Debug, Clone, Deserialize)]
pub struct SmtpSettings {
    /// `smtp://host:port` (plain), `smtp://host?tls=required` (STARTTLS) or `smtps://host`
    /// (implicit TLS), credentials in the URL. Unset or empty: emails are written to
    /// `<data_dir>/outbox/<event id>.eml` instead.
    #[serde(default, deserialize_with = "optional_url")]
    pub url: Option<SmtpUrl>,
    /// The `From` of every email (`ORDERS__SMTP__FROM`), such as `Orders <orders@example.com>`.
    #[serde(deserialize_with = "mailbox")]
    pub from: Mailbox,
    /// How long one SMTP conversation may take, in milliseconds.
    pub timeout_ms: u64,
    /// What the TLS of `smtps://` and `?tls=required` trusts.
    #[serde(default)]
    pub tls: SmtpTlsSettings,
}

/// The mail server's TLS (`ORDERS__SMTP__TLS__...`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SmtpTlsSettings {
    /// A PEM file of the certificate authorities to trust instead of the built-in public ones
    /// (`ORDERS__SMTP__TLS__CA_FILE`): for a mail server with a private CA.
    pub ca_file: Option<PathBuf>,
}

/// An SMTP URL that hides its password when printed.
pub type SmtpUrl = SecretUrl;

impl SmtpSettings {
    /// The timeout of one SMTP conversation.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

impl Settings {
    /// The built-in defaults.
    pub fn defaults(
        builder: ConfigBuilder<DefaultState>,
    ) -> Result<ConfigBuilder<DefaultState>, ConfigError> {
        ConsumerSettings::defaults(Notifier::SERVICE, DEFAULT_ADDR, builder)?
            .set_default("http.workers", 2)?
            .set_default("smtp.from", DEFAULT_FROM)?
            .set_default("smtp.timeout_ms", 30_000)
    }

    /// Loads the layers: defaults, then `file` if given, then the environment; refuses keys it
    /// does not know.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Settings> {
        load(Settings::defaults, file)
    }

    /// A service on a free loopback port with `data_dir`, the local broker under `namespace`,
    /// and no mail server (emails go to the outbox): what tests start.
    pub fn for_tests(data_dir: &Path, namespace: &str) -> Settings {
        Settings {
            http: HttpSettings {
                workers: Some(1),
                ..HttpSettings::for_tests()
            },
            data_dir: data_dir.to_owned(),
            log: LogSettings::for_tests(),
            amqp: AmqpSettings::for_tests(namespace),
            smtp: SmtpSettings {
                url: None,
                from: DEFAULT_FROM
                    .parse()
                    .expect("the default From is a valid mailbox"),
                timeout_ms: 5_000,
                tls: SmtpTlsSettings::default(),
            },
            auth: AuthSettings::for_tests(data_dir),
            shards: ShardCount::for_tests(),
            replica_id: None,
        }
    }
}

shared_events::service_settings!(Settings);

fn optional_url<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<SmtpUrl>, D::Error> {
    // `ORDERS__SMTP__URL=` (set but empty) means no mail server, like leaving it unset.
    let url = Option::<String>::deserialize(deserializer)?;
    Ok(url
        .map(|url| url.trim().to_owned())
        .filter(|url| !url.is_empty())
        .map(SmtpUrl::new))
}

fn mailbox<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Mailbox, D::Error> {
    let text = String::deserialize(deserializer)?;
    text.parse().map_err(|error| {
        serde::de::Error::custom(format!("smtp.from `{text}` is not a mailbox: {error}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_do_not_print() {
        let url = SmtpUrl::new("smtps://mailer:s3cret@mail.example.com:465");
        assert_eq!(url.to_string(), "smtps://mailer:***@mail.example.com:465");
        assert_eq!(
            format!("{url:?}"),
            "smtps://mailer:***@mail.example.com:465"
        );
        assert_eq!(
            SmtpUrl::new("smtp://127.0.0.1:2525").to_string(),
            "smtp://127.0.0.1:2525"
        );
    }

    #[test]
    fn defaults_load() {
        let settings = Settings::load(None).expect("defaults load");
        assert_eq!(settings.http.addr.port(), 8083);
        assert_eq!(
            settings.data_dir,
            PathBuf::from("./data/notification-service")
        );
        assert_eq!(settings.smtp.from.to_string(), DEFAULT_FROM);
        assert_eq!(settings.amqp.namespace, "orders");
        assert_eq!(settings.http.workers, Some(2));
    }
}
