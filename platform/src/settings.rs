//! The platform's configuration: each service's own settings, loaded from the same layers
//! (defaults, `--config FILE`, `ORDERS__...`), with one data directory holding a folder per
//! service and the transport chosen by whether a broker is configured.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use shared_events::settings::{ConsumerSettings, configured};

/// Where the platform keeps its files unless `ORDERS__DATA_DIR` says otherwise.
pub const DEFAULT_DATA_DIR: &str = "./data/platform";

/// How events travel between the services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// In this process: the order journal is the log, each consumer keeps a durable offset.
    Embedded,
    /// Through RabbitMQ, exactly as the separate services do.
    Amqp,
}

/// Everything the all-in-one platform runs with.
#[derive(Debug, Clone)]
pub struct PlatformSettings {
    /// How events travel.
    pub transport: TransportKind,
    /// The order service (its data in `<data_dir>/order`).
    pub order: order_service::settings::Settings,
    /// The inventory service (`<data_dir>/inventory`).
    pub inventory: ConsumerSettings,
    /// The billing service (`<data_dir>/billing`).
    pub billing: ConsumerSettings,
    /// The notification service (`<data_dir>/notification`).
    pub notification: notification_service::settings::Settings,
}

impl PlatformSettings {
    /// Loads the layers. RabbitMQ is used when `amqp.url` is configured (`ORDERS__AMQP__URL`
    /// or the file); otherwise the embedded transport. The consumers' HTTP servers listen on
    /// `platform.inventory_addr`, `platform.billing_addr` and `platform.notification_addr`
    /// (`ORDERS__PLATFORM__...`; defaults 127.0.0.1:8081, :8082, :8083).
    pub fn load(file: Option<&Path>) -> anyhow::Result<PlatformSettings> {
        let explicit = configured(file).context("failed to read the configuration")?;
        let transport = match explicit.get_string("amqp.url") {
            Ok(url) if !url.is_empty() => TransportKind::Amqp,
            _ => TransportKind::Embedded,
        };
        let root = explicit
            .get_string("data_dir")
            .map_or_else(|_| PathBuf::from(DEFAULT_DATA_DIR), PathBuf::from);
        let address = |key: &str, default: &str| -> anyhow::Result<SocketAddr> {
            let text = explicit
                .get_string(&format!("platform.{key}"))
                .unwrap_or_else(|_| default.to_owned());
            text.parse()
                .with_context(|| format!("platform.{key} `{text}` is not an address"))
        };

        let order = order_service::settings::Settings::load(file)
            .context("failed to load the order service's settings")?;
        let mut inventory = ConsumerSettings::load("inventory", "127.0.0.1:8081", file)
            .context("failed to load the inventory service's settings")?;
        inventory.http.addr = address("inventory_addr", "127.0.0.1:8081")?;
        let mut billing = ConsumerSettings::load("billing", "127.0.0.1:8082", file)
            .context("failed to load the billing service's settings")?;
        billing.http.addr = address("billing_addr", "127.0.0.1:8082")?;
        let mut notification = notification_service::settings::Settings::load(file)
            .context("failed to load the notification service's settings")?;
        notification.http.addr = address("notification_addr", "127.0.0.1:8083")?;

        Ok(PlatformSettings {
            transport,
            order,
            inventory,
            billing,
            notification,
        }
        .rooted_at(&root))
    }

    /// The settings tests use: every server on a free loopback port, data under `root`, a
    /// fresh broker namespace (used only with [`TransportKind::Amqp`]), emails written as
    /// files, short retry delays.
    pub fn for_tests(root: &Path, transport: TransportKind) -> PlatformSettings {
        let order = order_service::settings::Settings::for_tests(root);
        let namespace = order.amqp.namespace.clone();
        PlatformSettings {
            transport,
            inventory: ConsumerSettings::for_tests(root, &namespace),
            billing: ConsumerSettings::for_tests(root, &namespace),
            notification: notification_service::settings::Settings::for_tests(root, &namespace),
            order,
        }
        .rooted_at(root)
    }

    /// The broker namespace every service uses.
    pub fn namespace(&self) -> &str {
        &self.order.amqp.namespace
    }

    /// Puts each service's files in its folder under `root`, and turns the order service's
    /// relay on only when the broker carries the events.
    fn rooted_at(mut self, root: &Path) -> PlatformSettings {
        self.order.data_dir = root.join("order");
        self.inventory.data_dir = root.join("inventory");
        self.billing.data_dir = root.join("billing");
        self.notification.data_dir = root.join("notification");
        self.order.outbox.enabled = self.transport == TransportKind::Amqp;
        self
    }
}
