//! Configuration every service shares: layering, refusing keys nobody understands, logging, the
//! HTTP server, the broker, and a consumer service's whole settings.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use config::builder::DefaultState;
use config::{Config, ConfigBuilder, ConfigError, Environment, File};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use crate::app::secret_url::SecretUrl;
use crate::contract::shard::ShardCount;
use crate::runtime::retry::RetryPolicy;

/// Builds the layers every service uses: `defaults`, then `file` if given, then `ORDERS__...`
/// environment variables (`ORDERS__AMQP__URL` is `amqp.url`).
pub fn layered(
    defaults: impl FnOnce(
        ConfigBuilder<DefaultState>,
    ) -> Result<ConfigBuilder<DefaultState>, ConfigError>,
    file: Option<&Path>,
) -> Result<Config, ConfigError> {
    let builder = defaults(auth_defaults(amqp_defaults(log_defaults(
        Config::builder(),
    )?)?)?)?;
    with_sources(builder, file)?.build()
}

/// Only what the file and the environment say, without any defaults: to tell whether a value
/// was configured at all.
pub fn configured(file: Option<&Path>) -> Result<Config, ConfigError> {
    with_sources(Config::builder(), file)?.build()
}

fn with_sources(
    mut builder: ConfigBuilder<DefaultState>,
    file: Option<&Path>,
) -> Result<ConfigBuilder<DefaultState>, ConfigError> {
    if let Some(file) = file {
        builder = builder.add_source(File::from(file).required(true));
    }
    Ok(builder.add_source(
        Environment::with_prefix("ORDERS")
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true)
            .list_separator(",")
            .with_list_parse_key("amqp.retry_delays_ms")
            .with_list_parse_key("outbox.consumers")
            .with_list_parse_key("http.allowed_hosts")
            .source(Some(environment_with_secret_files(std::env::vars_os())?)),
    ))
}

/// The settings that may instead be read from a file named by the same variable with `_FILE`
/// appended (`ORDERS__AMQP__URL_FILE=/run/secrets/amqp-url`): the way compose and Kubernetes
/// hand secrets over, so that they never stand in the environment or a process listing.
const SECRET_FILE_VARIABLES: [&str; 3] = [
    "ORDERS__AMQP__URL",
    "ORDERS__SMTP__URL",
    "ORDERS__AUTH__OIDC__CLIENT_SECRET",
];

/// The `ORDERS__...` variables of `variables`, with each `<SECRET>_FILE` replaced by `<SECRET>`
/// holding the file's contents (without its final line break). Other variables are left out,
/// whatever their encoding; an `ORDERS__...` value that is not Unicode, naming a secret both
/// ways, or a file that cannot be read is an error that names the variable (and the file),
/// never the value.
fn environment_with_secret_files(
    variables: impl IntoIterator<Item = (OsString, OsString)>,
) -> Result<config::Map<String, String>, ConfigError> {
    let mut environment = config::Map::new();
    for (name, value) in variables {
        let Some(name) = name.to_str().filter(|name| name.starts_with("ORDERS__")) else {
            continue;
        };
        let value = value.into_string().map_err(|_| {
            ConfigError::Message(format!(
                "the variable {name} holds text that is not Unicode"
            ))
        })?;
        environment.insert(name.to_owned(), value);
    }
    for secret in SECRET_FILE_VARIABLES {
        let Some(path) = environment.remove(&format!("{secret}_FILE")) else {
            continue;
        };
        if environment.contains_key(secret) {
            return Err(ConfigError::Message(format!(
                "both {secret} and {secret}_FILE are set: set only one"
            )));
        }
        let contents = std::fs::read_to_string(&path).map_err(|error| {
            ConfigError::Message(format!(
                "{secret}_FILE names `{path}`, which cannot be read: {error}"
            ))
        })?;
        let value = contents.strip_suffix('\n').unwrap_or(&contents);
        let value = value.strip_suffix('\r').unwrap_or(value);
        environment.insert(secret.to_owned(), value.to_owned());
    }
    Ok(environment)
}

/// Reads settings structs from configurations, remembering every key that none of them
/// understood: a typo (`ORDERS__HTTP__ADR`) is refused at startup rather than silently ignored.
/// A process made of several services reads each one's part; a key is unknown only if every
/// part ignored it.
#[derive(Debug, Default)]
pub struct KeyCheck {
    /// The keys every part read so far ignored; `None` before the first part.
    unknown: Option<BTreeSet<String>>,
}

impl KeyCheck {
    /// Reads one settings struct from `config`, noting the keys it ignores.
    pub fn read<T: DeserializeOwned>(&mut self, config: Config) -> Result<T, ConfigError> {
        let mut leaves = BTreeSet::new();
        collect_leaves("", &config.clone().try_deserialize()?, &mut leaves);
        let mut paths = Vec::new();
        let part = serde_ignored::deserialize(config, |path| paths.push(path.to_string()))?;
        // A part that has no field for a whole table (`http`) ignores it as one path; what
        // counts is every key inside it.
        let ignored = leaves
            .into_iter()
            .filter(|leaf| paths.iter().any(|path| covers(path, leaf)))
            .collect::<BTreeSet<_>>();
        self.unknown = Some(match self.unknown.take() {
            None => ignored,
            Some(before) => before.intersection(&ignored).cloned().collect(),
        });
        Ok(part)
    }

    /// Fails, naming them, if some keys were understood by no part.
    pub fn finish(self) -> Result<(), UnknownKeys> {
        match self.unknown {
            Some(unknown) if !unknown.is_empty() => Err(UnknownKeys(unknown.into_iter().collect())),
            _ => Ok(()),
        }
    }
}

/// Every key of `value` that holds a value rather than a table, dotted (`http.tls.cert_file`).
fn collect_leaves(prefix: &str, value: &serde_json::Value, leaves: &mut BTreeSet<String>) {
    match value {
        serde_json::Value::Object(table) if !table.is_empty() => {
            for (key, value) in table {
                let key = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                collect_leaves(&key, value, leaves);
            }
        }
        _ => {
            leaves.insert(prefix.to_owned());
        }
    }
}

/// Whether ignoring `path` ignores `leaf`: the same key, or a table that holds it.
fn covers(path: &str, leaf: &str) -> bool {
    leaf == path
        || leaf
            .strip_prefix(path)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// Configuration keys that no part of a service understands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown configuration key{} {}: not a setting of this service (check ORDERS__... variables and the --config file)", if .0.len() == 1 { "" } else { "s" }, .0.iter().map(|key| format!("`{key}` ({})", env_name(key))).collect::<Vec<_>>().join(", "))]
pub struct UnknownKeys(pub Vec<String>);

/// The environment variable that sets `key`: `http.addr` is `ORDERS__HTTP__ADDR`.
fn env_name(key: &str) -> String {
    format!("ORDERS__{}", key.replace('.', "__").to_uppercase())
}

/// Loads `T` from `defaults`, `file` and the environment, refusing keys `T` does not know.
pub fn load<T: DeserializeOwned>(
    defaults: impl FnOnce(
        ConfigBuilder<DefaultState>,
    ) -> Result<ConfigBuilder<DefaultState>, ConfigError>,
    file: Option<&Path>,
) -> anyhow::Result<T> {
    let mut check = KeyCheck::default();
    let settings = check.read(layered(defaults, file)?)?;
    check.finish()?;
    Ok(settings)
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
    /// What `amqps://` trusts and which client certificate it presents.
    #[serde(default)]
    pub tls: AmqpTlsSettings,
}

/// TLS to the broker (`ORDERS__AMQP__TLS__...`), PEM files, read at each connection so that a
/// renewed certificate is used from the next reconnection on.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AmqpTlsSettings {
    /// Certificate authorities to trust besides the system's (`..._CA_FILE`): for a broker
    /// with a private CA.
    pub ca_file: Option<PathBuf>,
    /// The client certificate, leaf first (`..._CERT_FILE`): for the broker's EXTERNAL
    /// mechanism (`?auth_mechanism=external` in the URL), or a broker that requires one.
    pub cert_file: Option<PathBuf>,
    /// The client certificate's private key (`..._KEY_FILE`).
    pub key_file: Option<PathBuf>,
}

impl AmqpSettings {
    /// How failing events are retried, on either transport.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            delays_ms: self.retry_delays_ms.clone(),
            max_attempts: self.max_attempts,
        }
    }
}

/// The broker's URL, or several nodes' URLs separated by commas (a cluster): connections go to
/// the first that answers. Passwords never print.
#[derive(Clone, PartialEq, Eq)]
pub struct AmqpUrl(SecretUrl);

impl AmqpUrl {
    /// Wraps a URL or a comma-separated list of URLs.
    pub fn new(url: impl Into<String>) -> AmqpUrl {
        AmqpUrl(SecretUrl::new(url))
    }

    /// The URL (or list), passwords included: only for connecting or handing to a child process.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// Each node's URL, in the order given.
    pub fn addresses(&self) -> Vec<SecretUrl> {
        self.expose()
            .split(',')
            .map(|address| SecretUrl::new(address.trim()))
            .collect()
    }
}

impl fmt::Display for AmqpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = self
            .addresses()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>();
        f.write_str(&shown.join(","))
    }
}

impl fmt::Debug for AmqpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl<'de> Deserialize<'de> for AmqpUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<AmqpUrl, D::Error> {
        let url = AmqpUrl(SecretUrl::deserialize(deserializer)?);
        url.check().map_err(serde::de::Error::custom)?;
        Ok(url)
    }
}

impl AmqpUrl {
    /// Checks each URL's shape (`amqp[s]://[user:password@]host[:port][/vhost]`), so that a
    /// mistake stops the service at startup with a message that hides the password.
    pub fn check(&self) -> Result<(), String> {
        self.addresses().iter().try_for_each(check_address)
    }
}

fn check_address(address: &SecretUrl) -> Result<(), String> {
    let invalid = |why: &str| {
        Err(format!(
            "the broker URL `{address}` is not valid: {why} (expected amqp://user:password@host:5672/vhost, several separated by commas)"
        ))
    };
    let Ok(url) = url::Url::parse(address.expose()) else {
        return invalid("it does not parse as a URL");
    };
    if !matches!(url.scheme(), "amqp" | "amqps") {
        return invalid("the scheme must be amqp or amqps");
    }
    if url.cannot_be_a_base() || !address.expose()[url.scheme().len()..].starts_with("://") {
        return invalid("`//` must follow the scheme");
    }
    if url.host_str().is_none_or(str::is_empty) {
        return invalid("it names no host");
    }
    if url.path().trim_start_matches('/').contains('/') {
        return invalid("the virtual host must be one path segment (`/` is %2f)");
    }
    Ok(())
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
            tls: AmqpTlsSettings::default(),
        }
    }
}

/// Every service's HTTP server (`ORDERS__HTTP__...`): API, web page, health.
#[derive(Debug, Clone, Deserialize)]
pub struct HttpSettings {
    /// Address to bind (`ORDERS__HTTP__ADDR`); port 0 picks a free port.
    pub addr: SocketAddr,
    /// Worker threads; by default one per core.
    #[serde(default)]
    pub workers: Option<usize>,
    /// Largest accepted request body in bytes (`ORDERS__HTTP__MAX_BODY_BYTES`).
    pub max_body_bytes: usize,
    /// HTTPS: with both files set, the server speaks only HTTPS.
    #[serde(default)]
    pub tls: TlsSettings,
    /// The host names the server answers (`ORDERS__HTTP__ALLOWED_HOSTS`, comma-separated;
    /// `.example.com` covers its subdomains, `*` any name). Unset: loopback names when bound to
    /// a loopback address, any name otherwise. Health and metrics answer any name.
    #[serde(default)]
    pub allowed_hosts: Option<Vec<String>>,
    /// How long a request body may take to arrive, in milliseconds
    /// (`ORDERS__HTTP__BODY_TIMEOUT_MS`); a slower one is answered 408.
    #[serde(default = "default_body_timeout_ms")]
    pub body_timeout_ms: u64,
}

/// The body timeout unless configured: 10 seconds, ample for 64 KiB on any link.
pub const DEFAULT_BODY_TIMEOUT_MS: u64 = 10_000;

fn default_body_timeout_ms() -> u64 {
    DEFAULT_BODY_TIMEOUT_MS
}

/// Certificate and key for HTTPS (`ORDERS__HTTP__TLS__CERT_FILE`, `..._KEY_FILE`), PEM files.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TlsSettings {
    /// The certificate chain, leaf first.
    pub cert_file: Option<PathBuf>,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: Option<PathBuf>,
}

impl HttpSettings {
    /// A server on a free loopback port with the default body limit, no TLS: what tests use.
    pub fn for_tests() -> HttpSettings {
        HttpSettings {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            workers: Some(2),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            tls: TlsSettings::default(),
            allowed_hosts: None,
            body_timeout_ms: DEFAULT_BODY_TIMEOUT_MS,
        }
    }
}

/// The body limit unless configured: 64 KiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

/// Where the services find the API tokens unless told otherwise: beside their data folders, so
/// that services started from one folder share it.
pub const DEFAULT_TOKENS_FILE: &str = "./data/tokens.json";

/// Who may call the service (`ORDERS__AUTH__...`).
#[derive(Debug, Clone, Deserialize)]
pub struct AuthSettings {
    /// The tokens file every service shares (`ORDERS__AUTH__TOKENS_FILE`).
    pub tokens_file: PathBuf,
    /// How many bad credentials one address may send within the lockout before it is refused
    /// (`ORDERS__AUTH__FAILURE_LIMIT`, default 20).
    pub failure_limit: u32,
    /// How long an address that reached the limit is refused, and the window its failures are
    /// counted in (`ORDERS__AUTH__LOCKOUT_SECS`, default 300).
    pub lockout_secs: u64,
    /// Whether the first start of the service that serves the page makes the tokens file with
    /// an administrator's token and prints a sign-in link (`ORDERS__AUTH__FIRST_TOKEN`,
    /// default true).
    pub first_token: bool,
    /// OpenID Connect access tokens, besides the tokens file (`ORDERS__AUTH__JWT__...`).
    #[serde(default)]
    pub jwt: JwtSettings,
    /// Signing in to the page through the identity provider (`ORDERS__AUTH__OIDC__...`).
    #[serde(default)]
    pub oidc: OidcSettings,
}

/// The identity provider's authorization code flow, for the page's sign-in: off unless the
/// client id is set, and then the JWT settings check the access tokens it hands out.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OidcSettings {
    /// Where people are sent to sign in (`ORDERS__AUTH__OIDC__AUTHORIZATION_URL`).
    pub authorization_url: Option<String>,
    /// Where a code is traded for tokens (`ORDERS__AUTH__OIDC__TOKEN_URL`).
    pub token_url: Option<String>,
    /// This platform's client id at the provider (`ORDERS__AUTH__OIDC__CLIENT_ID`).
    pub client_id: Option<String>,
    /// The client's secret, for a confidential client (`ORDERS__AUTH__OIDC__CLIENT_SECRET`, or
    /// `..._FILE`); a public client relies on PKCE alone. Never printed.
    pub client_secret: Option<secrecy::SecretString>,
    /// The scopes asked for (`ORDERS__AUTH__OIDC__SCOPES`, default `openid profile email`).
    pub scopes: Option<String>,
    /// Where the provider sends people back (`ORDERS__AUTH__OIDC__REDIRECT_URL`): the page's
    /// `/ui/sign-in/callback` as people reach it. Unset: built from the request's `Host` and
    /// whether this service speaks HTTPS (behind a proxy that ends TLS, set it).
    pub redirect_url: Option<String>,
}

/// Where OpenID Connect access tokens (JWTs) come from and what they must say. Off unless a key
/// set is named; then the issuer and the audience are required too, since a token checked
/// without them could have been made for another application.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct JwtSettings {
    /// A JSON Web Key Set in a file (`ORDERS__AUTH__JWT__JWKS_FILE`), read again when it
    /// changes.
    pub jwks_file: Option<PathBuf>,
    /// The identity provider's key set (`ORDERS__AUTH__JWT__JWKS_URL`): `https://`, or `http://`
    /// to a loopback address; fetched at start and every five minutes.
    pub jwks_url: Option<String>,
    /// The `iss` every token must carry (`ORDERS__AUTH__JWT__ISSUER`).
    pub issuer: Option<String>,
    /// The `aud` every token must include (`ORDERS__AUTH__JWT__AUDIENCE`).
    pub audience: Option<String>,
    /// The claim that lists the caller's roles (`ORDERS__AUTH__JWT__ROLES_CLAIM`, default
    /// `roles`); dots reach into objects (`realm_access.roles`).
    pub roles_claim: Option<String>,
}

impl AuthSettings {
    /// The tokens file `tokens.json` in `dir`, and room for the many bad tokens tests send on
    /// purpose: what tests use.
    pub fn for_tests(dir: &Path) -> AuthSettings {
        AuthSettings {
            tokens_file: dir.join("tokens.json"),
            failure_limit: 1_000,
            lockout_secs: DEFAULT_LOCKOUT_SECS,
            first_token: false,
            jwt: JwtSettings::default(),
            oidc: OidcSettings::default(),
        }
    }
}

/// The bad credentials one address may send before it is refused, unless configured.
pub const DEFAULT_FAILURE_LIMIT: u32 = 20;

/// How long an address is refused, unless configured: five minutes.
pub const DEFAULT_LOCKOUT_SECS: u64 = 300;

/// Everything a consumer service (inventory, billing, notification) is configured with.
#[derive(Debug, Clone, Deserialize)]
pub struct ConsumerSettings {
    /// The HTTP server (API, health).
    pub http: HttpSettings,
    /// The folder for the service's JSON files (`ORDERS__DATA_DIR`).
    pub data_dir: PathBuf,
    /// Logging.
    pub log: LogSettings,
    /// The broker.
    pub amqp: AmqpSettings,
    /// Who may call it.
    pub auth: AuthSettings,
    /// How many shards the service's work is split into (`ORDERS__SHARDS`, default 8); every
    /// replica of the service and the order service must agree on it.
    pub shards: ShardCount,
    /// This replica's name (`ORDERS__REPLICA_ID`; unset: host name and process id).
    #[serde(default)]
    pub replica_id: Option<String>,
}

impl ConsumerSettings {
    /// The defaults of `service` (its name, such as `inventory`) whose HTTP server listens on
    /// `default_addr` unless told otherwise.
    pub fn defaults(
        service: &str,
        default_addr: &str,
        builder: ConfigBuilder<DefaultState>,
    ) -> Result<ConfigBuilder<DefaultState>, ConfigError> {
        http_defaults(builder, default_addr)?
            .set_default("data_dir", format!("./data/{service}-service"))?
            .set_default("shards", ShardCount::DEFAULT.get())
    }

    /// A consumer on a free loopback port, with `data_dir` and the local broker under `namespace`.
    pub fn for_tests(data_dir: &Path, namespace: &str) -> ConsumerSettings {
        ConsumerSettings {
            http: HttpSettings::for_tests(),
            data_dir: data_dir.to_owned(),
            log: LogSettings::for_tests(),
            amqp: AmqpSettings::for_tests(namespace),
            auth: AuthSettings::for_tests(data_dir),
            shards: ShardCount::for_tests(),
            replica_id: None,
        }
    }
}

/// The HTTP defaults every service shares, listening on `addr`.
pub fn http_defaults(
    builder: ConfigBuilder<DefaultState>,
    addr: &str,
) -> Result<ConfigBuilder<DefaultState>, ConfigError> {
    builder
        .set_default("http.addr", addr)?
        .set_default("http.max_body_bytes", DEFAULT_MAX_BODY_BYTES as u64)
}

fn log_defaults(
    builder: ConfigBuilder<DefaultState>,
) -> Result<ConfigBuilder<DefaultState>, ConfigError> {
    builder
        .set_default("log.format", "text")?
        .set_default("log.level", "info")
}

fn auth_defaults(
    builder: ConfigBuilder<DefaultState>,
) -> Result<ConfigBuilder<DefaultState>, ConfigError> {
    builder
        .set_default("auth.tokens_file", DEFAULT_TOKENS_FILE)?
        .set_default("auth.failure_limit", DEFAULT_FAILURE_LIMIT)?
        .set_default("auth.lockout_secs", DEFAULT_LOCKOUT_SECS)?
        .set_default("auth.first_token", true)
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
        for hidden in [
            "amqp:app:s3cret@broker",
            "amqp://app:s3cret@",
            "amqp//app:s3cret@x",
            "amqp:///app:s3cret@",
        ] {
            let url = AmqpUrl::new(hidden);
            assert!(
                !url.to_string().contains("s3cret"),
                "{hidden} printed as {url}"
            );
            let error = url.check().expect_err(hidden);
            assert!(!error.contains("s3cret"), "{hidden}: {error}");
        }
        AmqpUrl::new("amqps://app:s3cret@broker:5671/%2f")
            .check()
            .expect("a good URL");
        AmqpUrl::new("amqp://127.0.0.1:5672")
            .check()
            .expect("no vhost is the default");
    }

    #[test]
    fn several_broker_addresses_are_checked_and_hidden_each() {
        let url =
            AmqpUrl::new("amqp://app:s3cret@node-1:5672/%2f, amqp://app:s3cret@node-2:5672/%2f");
        url.check().expect("two good URLs");
        assert_eq!(
            url.to_string(),
            "amqp://app:***@node-1:5672/%2f,amqp://app:***@node-2:5672/%2f"
        );
        assert_eq!(url.addresses().len(), 2);
        let error = AmqpUrl::new("amqp://app:s3cret@node-1,http://app:s3cret@node-2")
            .check()
            .expect_err("the second is not AMQP");
        assert!(
            error.contains("scheme") && !error.contains("s3cret"),
            "{error}"
        );
        assert!(
            AmqpUrl::new("amqp://node-1,").check().is_err(),
            "an empty address"
        );
    }

    #[test]
    fn secrets_are_read_from_the_files_their_variables_name() {
        let folder = tempfile::tempdir().expect("a temporary folder");
        let secret = folder.path().join("amqp-url");
        std::fs::write(&secret, "amqp://app:s3cret@broker:5672/%2f\n").expect("writes");
        let variables = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(name, value)| (OsString::from(name), OsString::from(value)))
                .collect::<Vec<_>>()
        };
        let path = secret.display().to_string();
        let environment = environment_with_secret_files(variables(&[
            ("ORDERS__AMQP__URL_FILE", &path),
            ("ORDERS__HTTP__TLS__CERT_FILE", "/etc/cert.pem"),
        ]))
        .expect("reads the file");
        assert_eq!(
            environment["ORDERS__AMQP__URL"],
            "amqp://app:s3cret@broker:5672/%2f"
        );
        assert!(!environment.contains_key("ORDERS__AMQP__URL_FILE"));
        assert_eq!(
            environment["ORDERS__HTTP__TLS__CERT_FILE"], "/etc/cert.pem",
            "a setting that is itself a file name stays as it is"
        );

        let both = environment_with_secret_files(variables(&[
            ("ORDERS__AMQP__URL_FILE", &path),
            ("ORDERS__AMQP__URL", "amqp://x"),
        ]))
        .expect_err("both ways at once");
        assert!(both.to_string().contains("set only one"), "{both}");

        let missing = folder.path().join("absent").display().to_string();
        let error =
            environment_with_secret_files(variables(&[("ORDERS__SMTP__URL_FILE", &missing)]))
                .expect_err("no such file");
        assert!(
            error.to_string().contains("ORDERS__SMTP__URL_FILE")
                && error.to_string().contains("absent"),
            "{error}"
        );
    }

    #[test]
    fn other_variables_are_ignored_whatever_their_encoding_and_a_non_unicode_setting_is_named() {
        use std::os::unix::ffi::OsStringExt;
        let not_unicode = || OsString::from_vec(vec![0x66, 0x6f, 0x80, 0x6f]);
        let environment = environment_with_secret_files([
            (OsString::from("LANG_OF_SOMETHING_ELSE"), not_unicode()),
            (OsString::from_vec(vec![0xff]), OsString::from("x")),
            (OsString::from("ORDERS__LOG__LEVEL"), OsString::from("warn")),
        ])
        .expect("variables of other programs do not matter");
        assert_eq!(environment.len(), 1);
        assert_eq!(environment["ORDERS__LOG__LEVEL"], "warn");

        let error =
            environment_with_secret_files([(OsString::from("ORDERS__AMQP__URL"), not_unicode())])
                .expect_err("a setting must be text");
        assert!(
            error.to_string().contains("ORDERS__AMQP__URL") && !error.to_string().contains("fo"),
            "{error}"
        );
    }

    #[test]
    fn unknown_keys_are_named_and_known_ones_pass() {
        let config = |pairs: &[(&str, &str)]| {
            let mut builder = Config::builder();
            for (key, value) in pairs {
                builder = builder.set_override(*key, *value).expect("a key");
            }
            ConsumerSettings::defaults(
                "inventory",
                "127.0.0.1:8081",
                log_defaults(builder).expect("log"),
            )
            .and_then(amqp_defaults)
            .and_then(auth_defaults)
            .expect("defaults")
            .build()
            .expect("builds")
        };
        let mut check = KeyCheck::default();
        let _: ConsumerSettings = check
            .read(config(&[("http.adr", "x"), ("log.level", "warn")]))
            .expect("reads");
        let error = check.finish().expect_err("http.adr is unknown");
        assert_eq!(error.0, vec!["http.adr".to_owned()]);
        assert!(
            error.to_string().contains("`http.adr` (ORDERS__HTTP__ADR)"),
            "{error}"
        );

        // A key one part ignores and another knows is not unknown.
        #[derive(Deserialize)]
        struct Extra {
            #[allow(dead_code)]
            smtp: std::collections::HashMap<String, String>,
        }
        let mut check = KeyCheck::default();
        let _: ConsumerSettings = check
            .read(config(&[("smtp.url", "smtp://x")]))
            .expect("reads");
        let _: Extra = check
            .read(config(&[("smtp.url", "smtp://x")]))
            .expect("reads");
        check.finish().expect("smtp.url is known to one part");

        // A part without the whole table ignores each key in it.
        #[derive(Deserialize)]
        struct Nothing {}
        let mut check = KeyCheck::default();
        let _: Nothing = check.read(config(&[("http.adr", "x")])).expect("reads");
        let _: ConsumerSettings = check.read(config(&[("http.adr", "x")])).expect("reads");
        let error = check.finish().expect_err("http.adr is unknown to both");
        assert_eq!(error.0, vec!["http.adr".to_owned()]);
    }

    #[test]
    fn consumer_defaults_load() {
        let settings = load::<ConsumerSettings>(
            |builder| ConsumerSettings::defaults("inventory", "127.0.0.1:8081", builder),
            None,
        )
        .expect("defaults load");
        assert_eq!(settings.http.addr.port(), 8081);
        assert_eq!(settings.amqp.namespace, "orders");
        assert_eq!(settings.data_dir, PathBuf::from("./data/inventory-service"));
        assert_eq!(settings.amqp.retry_delays_ms, vec![1_000, 5_000, 30_000]);
    }
}
