//! TLS from PEM files: the rustls configuration for HTTPS, and the certificates a client trusts.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A server configuration presenting the certificate chain in `cert_file` with the key in
/// `key_file`, TLS 1.2 and 1.3 with rustls' safe defaults.
pub fn server_config(cert_file: &Path, key_file: &Path) -> anyhow::Result<ServerConfig> {
    let certificates = certificates(cert_file)?;
    let key = PrivateKeyDer::from_pem_file(key_file)
        .with_context(|| format!("failed to read a private key from {}", key_file.display()))?;
    let mut config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .context("failed to choose TLS versions")?
            .with_no_client_auth()
            .with_single_cert(certificates, key)
            .context("the certificate and key do not form a usable pair")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The certificates in the PEM file `file`, in order; at least one.
pub fn certificates(file: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certificates = CertificateDer::pem_file_iter(file)
        .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("failed to read certificates from {}", file.display()))?;
    anyhow::ensure!(
        !certificates.is_empty(),
        "no certificate in {}",
        file.display()
    );
    Ok(certificates)
}
