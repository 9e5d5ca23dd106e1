//! The platform's configuration: each service's own settings, loaded from the same layers
//! (defaults, `--config FILE`, `ORDERS__...`), with one data directory holding a folder per
//! service and the transport chosen in one place (`transport`, or whether a broker is
//! configured).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;
use shared_events::app::settings::{ConsumerSettings, KeyCheck, configured, layered};
pub use shared_events::runtime::TransportKind;

/// Where the platform keeps its files unless `ORDERS__DATA_DIR` says otherwise.
pub const DEFAULT_DATA_DIR: &str = "./data/platform";

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

/// The keys only the platform reads (`ORDERS__PLATFORM__...`, `ORDERS__TRANSPORT`).
#[derive(Debug, Default, Deserialize)]
struct PlatformKeys {
    #[serde(default)]
    transport: Option<TransportKind>,
    #[serde(default)]
    platform: ConsumerAddresses,
}

/// Where the consumers' HTTP servers listen in the platform.
#[derive(Debug, Default, Deserialize)]
struct ConsumerAddresses {
    inventory_addr: Option<SocketAddr>,
    billing_addr: Option<SocketAddr>,
    notification_addr: Option<SocketAddr>,
}

impl PlatformSettings {
    /// Loads the layers into each service's settings; a key that no service (nor the platform)
    /// knows is refused. The transport is `transport` if configured, else RabbitMQ when
    /// `amqp.url` is configured (`ORDERS__AMQP__URL` or the file), else the embedded one. The
    /// consumers' HTTP servers listen on `platform.inventory_addr`, `platform.billing_addr` and
    /// `platform.notification_addr` (`ORDERS__PLATFORM__...`; defaults 127.0.0.1:8081, :8082,
    /// :8083).
    pub fn load(file: Option<&Path>) -> anyhow::Result<PlatformSettings> {
        let explicit = configured(file).context("failed to read the configuration")?;
        let amqp_configured = matches!(explicit.get_string("amqp.url"), Ok(url) if !url.is_empty());
        let root = explicit
            .get_string("data_dir")
            .map_or_else(|_| PathBuf::from(DEFAULT_DATA_DIR), PathBuf::from);

        let mut check = KeyCheck::default();
        let own: PlatformKeys = check.read(explicit)?;
        let order: order_service::settings::Settings = check
            .read(layered(order_service::settings::Settings::defaults, file)?)
            .context("failed to load the order service's settings")?;
        order.validate()?;
        let consumer = |check: &mut KeyCheck, name: &str, addr: &str| {
            check
                .read::<ConsumerSettings>(layered(
                    |builder| ConsumerSettings::defaults(name, addr, builder),
                    file,
                )?)
                .with_context(|| format!("failed to load the {name} service's settings"))
        };
        let mut inventory = consumer(&mut check, "inventory", "127.0.0.1:8081")?;
        let mut billing = consumer(&mut check, "billing", "127.0.0.1:8082")?;
        let mut notification: notification_service::settings::Settings = check
            .read(layered(
                notification_service::settings::Settings::defaults,
                file,
            )?)
            .context("failed to load the notification service's settings")?;
        check.finish()?;

        let addresses = own.platform;
        let default = |addr: &str| addr.parse().expect("a default address parses");
        inventory.http.addr = addresses
            .inventory_addr
            .unwrap_or_else(|| default("127.0.0.1:8081"));
        billing.http.addr = addresses
            .billing_addr
            .unwrap_or_else(|| default("127.0.0.1:8082"));
        notification.http.addr = addresses
            .notification_addr
            .unwrap_or_else(|| default("127.0.0.1:8083"));
        let transport = own.transport.unwrap_or(if amqp_configured {
            TransportKind::Amqp
        } else {
            TransportKind::Embedded
        });
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

    /// Puts each service's files in its folder under `root`, and tells the order service how
    /// events travel.
    fn rooted_at(mut self, root: &Path) -> PlatformSettings {
        self.order.data_dir = root.join("order");
        self.inventory.data_dir = root.join("inventory");
        self.billing.data_dir = root.join("billing");
        self.notification.data_dir = root.join("notification");
        self.order.transport = self.transport;
        self
    }
}
