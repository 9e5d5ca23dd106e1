//! The SMTP transport an `ORDERS__SMTP__URL` describes: implicit TLS for `smtps://`, STARTTLS
//! for `?tls=required`, trusting `ORDERS__SMTP__TLS__CA_FILE` when set. A password goes only
//! over TLS: a URL that would send one in clear is refused before any connection is made.

use anyhow::{Context, bail};
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, Tokio1Executor};

use crate::settings::{SmtpSettings, SmtpUrl};

/// How the conversation is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    /// `smtp://`: no TLS at all.
    Plain,
    /// `?tls=opportunistic`: STARTTLS when the server offers it, which an attacker on the path
    /// can suppress.
    Opportunistic,
    /// `?tls=required`: STARTTLS or no conversation.
    StartTls,
    /// `smtps://`: TLS from the first byte.
    Wrapper,
}

impl Security {
    fn protects_passwords(self) -> bool {
        matches!(self, Security::StartTls | Security::Wrapper)
    }
}

/// The transport for `url`, with the settings' timeout and CA file.
pub(crate) fn transport(
    url: &SmtpUrl,
    settings: &SmtpSettings,
) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    // Parsed here, before lettre sees it, so that every refusal names the URL without its
    // password (`SmtpUrl` prints `***`).
    let parsed = url::Url::parse(url.expose())
        .ok()
        .filter(|parsed| !parsed.cannot_be_a_base() && url.expose().contains("://"))
        .with_context(|| {
            format!("the mail server URL ORDERS__SMTP__URL `{url}` is not a URL of the form smtp://host:port or smtps://host:port")
        })?;
    let tls = parsed
        .query_pairs()
        .find(|(key, _)| key == "tls")
        .map(|(_, value)| value.into_owned());
    let security = match (parsed.scheme(), tls.as_deref()) {
        ("smtp", None) => Security::Plain,
        ("smtp", Some("opportunistic")) => Security::Opportunistic,
        ("smtp", Some("required")) => Security::StartTls,
        ("smtps", None) => Security::Wrapper,
        _ => bail!(
            "the mail server URL ORDERS__SMTP__URL `{url}` is not usable: the scheme is smtp or \
             smtps, and smtp takes ?tls=required or ?tls=opportunistic"
        ),
    };
    let Some(host) = parsed.host_str().filter(|host| !host.is_empty()) else {
        bail!("the mail server URL ORDERS__SMTP__URL `{url}` names no host");
    };
    if parsed.password().is_some() && !security.protects_passwords() {
        bail!(
            "the mail server URL ORDERS__SMTP__URL `{url}` carries a password but does not \
             require TLS: use smtps:// or ?tls=required so that the password is never sent in clear"
        );
    }
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
        .map_err(|error| {
            anyhow::anyhow!("the mail server URL ORDERS__SMTP__URL `{url}` is not usable: {error}")
        })?
        .timeout(Some(settings.timeout()));
    if let Some(ca_file) = &settings.tls.ca_file {
        if security == Security::Plain {
            bail!(
                "ORDERS__SMTP__TLS__CA_FILE is set but the mail server URL `{url}` uses no TLS: \
                 use smtps:// or ?tls=required"
            );
        }
        let parameters = trusting(host, ca_file)?;
        builder = builder.tls(match security {
            Security::Wrapper => Tls::Wrapper(parameters),
            Security::StartTls => Tls::Required(parameters),
            Security::Opportunistic | Security::Plain => Tls::Opportunistic(parameters),
        });
    }
    Ok(builder.build())
}

/// TLS parameters for `host` that trust the certificates in `ca_file` and no others.
fn trusting(host: &str, ca_file: &std::path::Path) -> anyhow::Result<TlsParameters> {
    let context = || {
        format!(
            "ORDERS__SMTP__TLS__CA_FILE {} is not usable",
            ca_file.display()
        )
    };
    let mut parameters =
        TlsParameters::builder(host.to_owned()).certificate_store(CertificateStore::None);
    for certificate in shared_events::app::tls::certificates(ca_file).with_context(context)? {
        parameters = parameters.add_root_certificate(
            Certificate::from_der(certificate.to_vec()).with_context(context)?,
        );
    }
    parameters.build_rustls().with_context(context)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> SmtpSettings {
        crate::settings::Settings::for_tests(std::path::Path::new("."), "unused").smtp
    }

    #[test]
    fn a_password_needs_tls() {
        for url in [
            "smtps://mailer:s3cret@mail.example.com",
            "smtp://mailer:s3cret@mail.example.com:587?tls=required",
            "smtp://mail.example.com:25",
            "smtp://mail.example.com:25?tls=opportunistic",
        ] {
            transport(&SmtpUrl::new(url), &settings()).expect(url);
        }
        for url in [
            "smtp://mailer:s3cret@mail.example.com:25",
            "smtp://mailer:s3cret@mail.example.com:25?tls=opportunistic",
        ] {
            let error = transport(&SmtpUrl::new(url), &settings())
                .err()
                .map(|error| format!("{error:#}"))
                .expect(url);
            assert!(error.contains("does not require TLS"), "{error}");
            assert!(!error.contains("s3cret"), "{error}");
        }
    }

    #[test]
    fn a_ca_file_needs_tls_and_a_certificate() {
        let dir = tempfile::tempdir().expect("temp dir");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").expect("write");
        let mut settings = settings();
        settings.tls.ca_file = Some(empty);
        let error = |url: &str| {
            transport(&SmtpUrl::new(url), &settings)
                .err()
                .map(|error| format!("{error:#}"))
                .expect(url)
        };
        assert!(error("smtp://mail.example.com").contains("uses no TLS"));
        assert!(error("smtps://mail.example.com").contains("no certificate in"));
    }
}
