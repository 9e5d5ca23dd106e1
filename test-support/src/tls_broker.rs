//! A RabbitMQ node of the test's own that speaks only AMQP over TLS, with a certificate
//! authority made for the test: the broker's certificate for `localhost` and `127.0.0.1`, and
//! a client certificate whose common name is a broker user that signs in with EXTERNAL.
//!
//! The node has its own name, ports, data, logs and Erlang cookie, so it never touches the
//! shared broker; it is killed when dropped.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use shared_events::app::settings::{AmqpSettings, AmqpTlsSettings, AmqpUrl};
use tempfile::TempDir;
use tokio::process::{Child, Command};

use crate::ports::free_port;

/// The broker user the client certificate names; it has every permission on `/`.
pub const CLIENT_USER: &str = "orders-tls-client";

/// Where Debian's package puts the server scripts that run as the calling user (the ones on the
/// PATH switch to the `rabbitmq` user and the system node's files).
const SERVER: &str = "/usr/lib/rabbitmq/bin/rabbitmq-server";
const CTL: &str = "/usr/lib/rabbitmq/bin/rabbitmqctl";

/// How long the node may take to start.
const START_LIMIT: Duration = Duration::from_secs(120);

/// A running TLS-only broker node and the files of its test CA.
pub struct TlsBroker {
    dir: TempDir,
    node: String,
    port: u16,
    server: Child,
}

impl TlsBroker {
    /// Makes the certificates, starts the node and waits until it takes connections.
    pub async fn start() -> TlsBroker {
        let dir = tempfile::tempdir().expect("temp dir");
        write_certificates(dir.path());
        let port = free_port();
        let node = format!(
            "orders-tls-{}@localhost",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let files = dir.path();
        std::fs::write(
            files.join("rabbitmq.conf"),
            format!(
                "listeners.tcp = none\n\
                 listeners.ssl.default = {port}\n\
                 ssl_options.cacertfile = {ca}\n\
                 ssl_options.certfile = {cert}\n\
                 ssl_options.keyfile = {key}\n\
                 ssl_options.verify = verify_peer\n\
                 ssl_options.fail_if_no_peer_cert = false\n\
                 auth_mechanisms.1 = PLAIN\n\
                 auth_mechanisms.2 = AMQPLAIN\n\
                 auth_mechanisms.3 = EXTERNAL\n\
                 ssl_cert_login_from = common_name\n",
                ca = files.join("ca.pem").display(),
                cert = files.join("broker.pem").display(),
                key = files.join("broker-key.pem").display(),
            ),
        )
        .expect("write rabbitmq.conf");
        std::fs::write(
            files.join("enabled_plugins"),
            "[rabbitmq_auth_mechanism_ssl].\n",
        )
        .expect("write enabled_plugins");
        // The node and rabbitmqctl find the same cookie in this HOME.
        std::fs::write(
            files.join(".erlang.cookie"),
            uuid::Uuid::new_v4().simple().to_string(),
        )
        .expect("write the cookie");
        set_owner_only(&files.join(".erlang.cookie"));
        let server = node_command(files, &node, SERVER)
            .env("RABBITMQ_DIST_PORT", free_port().to_string())
            .env("RABBITMQ_NODE_PORT", free_port().to_string())
            .env("RABBITMQ_CONFIG_FILE", files.join("rabbitmq.conf"))
            .env(
                "RABBITMQ_ENABLED_PLUGINS_FILE",
                files.join("enabled_plugins"),
            )
            .env("RABBITMQ_MNESIA_BASE", files.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", files.join("log"))
            .env("RABBITMQ_PID_FILE", files.join("node.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| {
                panic!("{SERVER} starts (is rabbitmq-server installed?): {error}")
            });
        let broker = TlsBroker {
            dir,
            node,
            port,
            server,
        };
        let pid_file = broker.dir.path().join("node.pid");
        let timeout = START_LIMIT.as_secs().to_string();
        broker
            .ctl(&["wait", "--timeout", &timeout, &pid_file.to_string_lossy()])
            .await;
        broker
            .ctl(&["add_user", CLIENT_USER, &uuid::Uuid::new_v4().to_string()])
            .await;
        broker
            .ctl(&["set_permissions", "-p", "/", CLIENT_USER, ".*", ".*", ".*"])
            .await;
        broker
    }

    /// `amqps://guest:guest@localhost:PORT/%2f`: a password over TLS.
    pub fn password_url(&self) -> String {
        format!("amqps://guest:guest@localhost:{}/%2f", self.port)
    }

    /// `amqps://localhost:PORT/%2f?auth_mechanism=external`: the client certificate names the
    /// user.
    pub fn external_url(&self) -> String {
        format!(
            "amqps://localhost:{}/%2f?auth_mechanism=external",
            self.port
        )
    }

    /// `amqp://guest:guest@localhost:PORT/%2f`: plain AMQP to the TLS port.
    pub fn plain_url(&self) -> String {
        format!("amqp://guest:guest@localhost:{}/%2f", self.port)
    }

    /// The test CA's certificate, to trust.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A certificate of another CA, which did not sign the broker's.
    pub fn stranger_ca_file(&self) -> PathBuf {
        self.dir.path().join("stranger-ca.pem")
    }

    /// The client certificate and key, for EXTERNAL.
    pub fn client_identity(&self) -> (PathBuf, PathBuf) {
        (
            self.dir.path().join("client.pem"),
            self.dir.path().join("client-key.pem"),
        )
    }

    /// Settings for `url` in `namespace` that trust the test CA, without a client certificate.
    pub fn settings(&self, url: String, namespace: &str) -> AmqpSettings {
        AmqpSettings {
            url: AmqpUrl::new(url),
            tls: AmqpTlsSettings {
                ca_file: Some(self.ca_file()),
                ..AmqpTlsSettings::default()
            },
            ..AmqpSettings::for_tests(namespace)
        }
    }

    /// The names of the connections the node has open, with the user of each.
    pub async fn connections(&self) -> String {
        self.ctl(&["list_connections", "-q", "name", "user", "ssl"])
            .await
    }

    async fn ctl(&self, args: &[&str]) -> String {
        let output = node_command(self.dir.path(), &self.node, CTL)
            .args(["-n", &self.node])
            .args(args)
            .output()
            .await
            .expect("rabbitmqctl runs");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "rabbitmqctl {args:?}: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        text
    }
}

impl Drop for TlsBroker {
    fn drop(&mut self) {
        // The Erlang VM may run under the script that was spawned: kill it by its own pid.
        if let Ok(pid) = std::fs::read_to_string(self.dir.path().join("node.pid")) {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", pid.trim()])
                .status();
        }
        let _ = self.server.start_kill();
    }
}

/// A command of the node's: its name and its HOME (where both find the cookie).
fn node_command(dir: &Path, node: &str, program: &str) -> Command {
    let mut command = Command::new(program);
    command.env("HOME", dir).env("RABBITMQ_NODENAME", node);
    command
}

fn set_owner_only(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o400))
        .expect("the cookie's permissions");
}

/// Writes the test CA (`ca.pem`), the broker's certificate and key (`broker.pem`,
/// `broker-key.pem`), the client's (`client.pem`, `client-key.pem`) and another CA's
/// certificate (`stranger-ca.pem`) into `dir`.
fn write_certificates(dir: &Path) {
    let write = |name: &str, pem: String| {
        std::fs::write(dir.join(name), pem).expect("write a PEM file");
    };
    let (ca_pem, ca) = authority("orders test CA");
    write("ca.pem", ca_pem);
    write("stranger-ca.pem", authority("a stranger CA").0);

    let mut broker = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("broker names");
    broker
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    broker.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().expect("a key");
    write(
        "broker.pem",
        broker.signed_by(&key, &ca).expect("signed").pem(),
    );
    write("broker-key.pem", key.serialize_pem());

    let mut client = CertificateParams::new(Vec::<String>::new()).expect("client params");
    client
        .distinguished_name
        .push(DnType::CommonName, CLIENT_USER);
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let key = KeyPair::generate().expect("a key");
    write(
        "client.pem",
        client.signed_by(&key, &ca).expect("signed").pem(),
    );
    write("client-key.pem", key.serialize_pem());
}

/// A new CA: its certificate's PEM and the issuer that signs with its key.
fn authority(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = KeyPair::generate().expect("a key");
    let pem = params.self_signed(&key).expect("self-signed").pem();
    (pem, Issuer::new(params, key))
}
