//! A self-signed certificate for the loopback address, made for one test, and a client that
//! trusts it and nothing else.

use std::path::PathBuf;

use tempfile::TempDir;

/// A certificate and its key as PEM files, valid for `localhost` and `127.0.0.1`.
pub struct SelfSigned {
    dir: TempDir,
    pem: String,
}

impl SelfSigned {
    /// Makes the certificate and writes `cert.pem` and `key.pem` into a folder of its own.
    pub fn new() -> SelfSigned {
        let certified = rcgen::generate_simple_self_signed(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
        ])
        .expect("a certificate");
        let dir = tempfile::tempdir().expect("temp dir");
        let pem = certified.cert.pem();
        std::fs::write(dir.path().join("cert.pem"), &pem).expect("write the certificate");
        std::fs::write(
            dir.path().join("key.pem"),
            certified.signing_key.serialize_pem(),
        )
        .expect("write the key");
        SelfSigned { dir, pem }
    }

    /// The certificate's PEM file.
    pub fn cert_file(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    /// The private key's PEM file.
    pub fn key_file(&self) -> PathBuf {
        self.dir.path().join("key.pem")
    }

    /// An HTTPS client that trusts this certificate only.
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(
                reqwest::Certificate::from_pem(self.pem.as_bytes()).expect("a PEM certificate"),
            )
            .build()
            .expect("a client")
    }
}

impl Default for SelfSigned {
    fn default() -> SelfSigned {
        SelfSigned::new()
    }
}
