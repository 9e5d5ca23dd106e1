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

impl SelfSigned {
    /// Asserts that `url` (`https://HOST:PORT`) answers `GET path` over HTTPS to a client that
    /// trusts this certificate, and that neither plain HTTP to the same port nor a client that
    /// does not trust the certificate gets an answer. Returns the HTTPS answer.
    pub async fn assert_speaks_only_https(&self, url: &str, path: &str) -> reqwest::Response {
        assert!(url.starts_with("https://"), "{url}");
        let answer = self
            .client()
            .get(format!("{url}{path}"))
            .send()
            .await
            .expect("an answer over HTTPS");
        let plain = reqwest::Client::new()
            .get(format!("{}{path}", url.replacen("https://", "http://", 1)))
            .send()
            .await;
        assert!(
            plain.is_err(),
            "plain HTTP to the TLS port must fail, got {plain:?}"
        );
        let untrusting = reqwest::Client::builder()
            .use_rustls_tls()
            .build()
            .expect("a client");
        let unverified = untrusting.get(format!("{url}{path}")).send().await;
        assert!(
            unverified.is_err(),
            "a client that does not trust the certificate must be refused, got {unverified:?}"
        );
        answer
    }
}

impl Default for SelfSigned {
    fn default() -> SelfSigned {
        SelfSigned::new()
    }
}
