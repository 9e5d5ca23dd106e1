//! The platform's configuration: each service's own settings, loaded from the same layers
//! (defaults, `--config FILE`, `ORDERS__...`), with one data directory holding a folder per
//! service and the transport chosen in one place (`transport`, or whether a broker is
//! configured).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use billing_service::Billing;
use inventory_service::Inventory;
use notification_service::Notification;
use serde::Deserialize;
use shared_events::app::consumer::Consumer;
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

/// Reads consumer `C`'s settings from the layers, its HTTP server on `addr` (a platform key:
/// `http.addr` is the order service's) or else on `C`'s own default.
fn consumer<C: Consumer>(
    check: &mut KeyCheck,
    file: Option<&Path>,
    addr: Option<SocketAddr>,
) -> anyhow::Result<C::Settings> {
    let addr = addr.map_or_else(|| C::DEFAULT_ADDR.to_owned(), |addr| addr.to_string());
    let config = layered(
        |builder| C::defaults(builder)?.set_override("http.addr", addr),
        file,
    )?;
    check
        .read(config)
        .with_context(|| format!("failed to load the {} service's settings", C::name()))
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
        let addresses = own.platform;
        let inventory = consumer::<Inventory>(&mut check, file, addresses.inventory_addr)?;
        let billing = consumer::<Billing>(&mut check, file, addresses.billing_addr)?;
        let notification = consumer::<Notification>(&mut check, file, addresses.notification_addr)?;
        check.finish()?;

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
