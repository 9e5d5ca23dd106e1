//! TLS for `amqps://` from [`AmqpTlsSettings`]: the CA file trusted besides the system's
//! roots, and the client certificate and key presented to the broker (its EXTERNAL mechanism
//! takes the user name from them). The files are read at each connection, so a renewed
//! certificate is used from the next reconnection on, without a restart.

use std::path::Path;

use lapin::tcp::{OwnedIdentity, OwnedTLSConfig};
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;

use crate::app::settings::AmqpTlsSettings;
use crate::app::tls::certificates;
use crate::runtime::amqp::error::AmqpError;

/// lapin's TLS configuration for `settings`; each file checked, so that a wrong one is named
/// here instead of failing the handshake with a vaguer message. Without any file, lapin's
/// defaults: the system's roots, no client certificate.
pub(crate) fn tls_config(settings: &AmqpTlsSettings) -> Result<OwnedTLSConfig, AmqpError> {
    let cert_chain = settings
        .ca_file
        .as_deref()
        .map(|file| certificate_pem(file, "ORDERS__AMQP__TLS__CA_FILE"))
        .transpose()?;
    let identity = match (&settings.cert_file, &settings.key_file) {
        (None, None) => None,
        (Some(cert_file), Some(key_file)) => Some(OwnedIdentity::PKCS8 {
            pem: certificate_pem(cert_file, "ORDERS__AMQP__TLS__CERT_FILE")?.into_bytes(),
            key: key_pem(key_file)?,
        }),
        _ => {
            return Err(AmqpError::InvalidTls(
                "ORDERS__AMQP__TLS__CERT_FILE and ORDERS__AMQP__TLS__KEY_FILE go together: set both or neither".to_owned(),
            ));
        }
    };
    Ok(OwnedTLSConfig {
        identity,
        cert_chain,
    })
}

/// The PEM text of `file`, which holds at least one certificate.
fn certificate_pem(file: &Path, setting: &str) -> Result<String, AmqpError> {
    certificates(file)
        .and_then(|_| Ok(std::fs::read_to_string(file)?))
        .map_err(|error| AmqpError::InvalidTls(format!("{setting}: {error:#}")))
}

/// The bytes of the PEM private key `file`; never quoted in an error.
fn key_pem(file: &Path) -> Result<Vec<u8>, AmqpError> {
    let invalid = |error: &dyn std::fmt::Display| {
        AmqpError::InvalidTls(format!(
            "ORDERS__AMQP__TLS__KEY_FILE: failed to read a private key from {}: {error}",
            file.display()
        ))
    };
    let bytes = std::fs::read(file).map_err(|error| invalid(&error))?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|error| invalid(&error))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_empty_or_unpaired_files_are_named() {
        let dir = tempfile::tempdir().expect("temp dir");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").expect("write");
        let cases = [
            (
                AmqpTlsSettings {
                    ca_file: Some(dir.path().join("missing.pem")),
                    ..AmqpTlsSettings::default()
                },
                "ORDERS__AMQP__TLS__CA_FILE: failed to read certificates from",
            ),
            (
                AmqpTlsSettings {
                    ca_file: Some(empty.clone()),
                    ..AmqpTlsSettings::default()
                },
                "no certificate in",
            ),
            (
                AmqpTlsSettings {
                    cert_file: Some(empty.clone()),
                    ..AmqpTlsSettings::default()
                },
                "set both or neither",
            ),
        ];
        for (settings, expected) in cases {
            let error = tls_config(&settings).expect_err(expected).to_string();
            assert!(error.contains(expected), "{error}");
            assert!(!AmqpError::InvalidTls(error).is_transient());
        }
        assert!(
            tls_config(&AmqpTlsSettings::default())
                .expect("no files")
                .cert_chain
                .is_none()
        );
    }
}
