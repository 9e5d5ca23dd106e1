//! OpenID Connect access tokens: JWTs that a company's identity provider signs (RS256 or
//! ES256), checked against its JSON Web Key Set, its issuer and this platform's audience. The
//! caller's name is the token's `preferred_username` (else `email`, else `sub`); the role comes
//! from a claim (`roles` unless configured) naming `viewer`, `clerk`, `stock` or `admin`.
//!
//! The key set comes from a file, read again whenever it changes, or from a URL, fetched at
//! start, every [`REFRESH`], and soon after a token names a key the set does not hold (the
//! provider rotated its keys); a failed fetch keeps the keys already known.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, SystemTime};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::Value;
use tokio::sync::Notify;
use url::Url;

use crate::app::auth::api_tokens::TokenName;
use crate::app::auth::{Caller, Role};
use crate::app::settings::JwtSettings;

/// How often a key set from a URL is fetched again.
pub const REFRESH: Duration = Duration::from_secs(300);

/// The soonest a key set is fetched again after a fetch, however many unknown keys arrive.
const REFETCH_GAP: Duration = Duration::from_secs(30);

/// How long one fetch of the key set may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// How far clocks may disagree: a token is accepted this long past its `exp`.
const CLOCK_LEEWAY_SECS: u64 = 30;

/// Checks access tokens; cheap to share.
pub struct JwtVerifier {
    keys: Arc<KeySet>,
    issuer: String,
    audience: String,
    roles_claim: Vec<String>,
}

/// Why a JWT is not let in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwtRefusal {
    /// 401: not a valid token for this platform; the reason names no secret.
    Invalid(&'static str),
    /// 401: no key of the set matches it: the provider may have rotated its keys before the
    /// set was fetched again, so the caller is not counted as guessing.
    UnknownKey,
    /// 403: a valid token whose roles claim names none of the platform's roles.
    NoRole(String),
}

/// Settings that cannot work, or a key set that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct JwtSetupError(String);

impl JwtSetupError {
    pub(crate) fn new(message: String) -> JwtSetupError {
        JwtSetupError(message)
    }
}

impl JwtVerifier {
    /// The verifier `settings` describe, or `None` when no key set is configured. Reads a key
    /// file at once (a missing or damaged one stops the service at its start); a URL is fetched
    /// in the background from now on.
    pub fn from_settings(settings: &JwtSettings) -> Result<Option<JwtVerifier>, JwtSetupError> {
        let source = match (&settings.jwks_file, &settings.jwks_url) {
            (None, None) => return Ok(None),
            (Some(_), Some(_)) => {
                return Err(JwtSetupError(
                    "set ORDERS__AUTH__JWT__JWKS_FILE or ORDERS__AUTH__JWT__JWKS_URL, not both"
                        .to_owned(),
                ));
            }
            (Some(file), None) => KeySource::File(file.clone()),
            (None, Some(url)) => KeySource::Url(provider_url(url, "ORDERS__AUTH__JWT__JWKS_URL")?),
        };
        let required = |value: &Option<String>, variable: &str| {
            value
                .clone()
                .filter(|value| !value.trim().is_empty())
                .ok_or_else(|| {
                    JwtSetupError(format!(
                        "{variable} must be set with a JWT key set: without it a token made for \
                         another application would pass"
                    ))
                })
        };
        let issuer = required(&settings.issuer, "ORDERS__AUTH__JWT__ISSUER")?;
        let audience = required(&settings.audience, "ORDERS__AUTH__JWT__AUDIENCE")?;
        let roles_claim = settings
            .roles_claim
            .as_deref()
            .unwrap_or("roles")
            .split('.')
            .map(str::to_owned)
            .collect();
        let keys = KeySet::start(source)?;
        Ok(Some(JwtVerifier {
            keys,
            issuer,
            audience,
            roles_claim,
        }))
    }

    /// Who `token` stands for, or why it is refused.
    pub fn verify(&self, token: &str) -> Result<Caller, JwtRefusal> {
        let header = decode_header(token).map_err(|_| JwtRefusal::Invalid("not a JWT"))?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(JwtRefusal::Invalid(
                "only RS256 and ES256 tokens are accepted",
            ));
        }
        let keys = self.keys.current();
        let mut candidates = keys
            .iter()
            .filter(|key| key.algorithm == header.alg)
            .filter(|key| header.kid.is_none() || key.kid == header.kid)
            .peekable();
        if candidates.peek().is_none() {
            self.keys.wanted.notify_one();
            return Err(JwtRefusal::UnknownKey);
        }
        for key in candidates {
            match decode::<Value>(token, &key.decoding, &self.validation(key.algorithm)) {
                Ok(data) => return self.caller(&data.claims),
                Err(error) if *error.kind() == ErrorKind::InvalidSignature => continue,
                Err(error) => return Err(JwtRefusal::Invalid(reason(error.kind()))),
            }
        }
        Err(JwtRefusal::Invalid("its signature does not verify"))
    }

    fn validation(&self, algorithm: Algorithm) -> Validation {
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = CLOCK_LEEWAY_SECS;
        validation
    }

    /// The caller a verified token's claims describe.
    fn caller(&self, claims: &Value) -> Result<Caller, JwtRefusal> {
        let name = ["preferred_username", "email", "sub"]
            .iter()
            .find_map(|claim| claims.get(*claim)?.as_str().filter(|name| !name.is_empty()))
            .map(|name| TokenName::from_person(name).as_str().to_owned())
            .ok_or(JwtRefusal::Invalid("it names nobody (no `sub`)"))?;
        let listed = self
            .roles_claim
            .iter()
            .try_fold(claims, |value, key| value.get(key));
        let names: Vec<&str> = match listed {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            Some(Value::String(text)) => text.split_whitespace().collect(),
            _ => Vec::new(),
        };
        // One role per caller: the strongest the token names.
        let role = [Role::Admin, Role::Clerk, Role::Stock, Role::Viewer]
            .into_iter()
            .find(|role| names.contains(&role.name()));
        match role {
            Some(role) => Ok(Caller { name, role }),
            None => Err(JwtRefusal::NoRole(name)),
        }
    }
}

/// Why a token failed a check, in words that name no part of it.
fn reason(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::ExpiredSignature => "it has expired",
        ErrorKind::ImmatureSignature => "it is not valid yet (`nbf`)",
        ErrorKind::InvalidIssuer => "another issuer made it",
        ErrorKind::InvalidAudience => "it was made for another audience",
        ErrorKind::MissingRequiredClaim(_) => "it lacks `exp`, `iss`, `aud` or `sub`",
        ErrorKind::InvalidAlgorithm => "its algorithm does not match the key",
        ErrorKind::InvalidSignature => "its signature does not verify",
        _ => "it is malformed",
    }
}

/// A URL of the identity provider, set as `variable`: `https://`, or `http://` only to this
/// machine (a provider in a test, or a sidecar), since keys and tokens fetched in the clear
/// could be swapped on the way.
pub(crate) fn provider_url(text: &str, variable: &str) -> Result<Url, JwtSetupError> {
    let url = Url::parse(text)
        .map_err(|error| JwtSetupError(format!("{variable} is not a URL: {error}")))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(address)) => address.is_loopback(),
        Some(url::Host::Ipv6(address)) => address.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err(JwtSetupError(format!(
            "{variable} must be https:// (http:// only to a loopback address)"
        ))),
    }
}

/// One key a token may be signed with.
struct Key {
    kid: Option<String>,
    algorithm: Algorithm,
    decoding: DecodingKey,
}

enum KeySource {
    File(PathBuf),
    Url(Url),
}

/// The keys known now, and where they come from.
struct KeySet {
    source: KeySource,
    keys: RwLock<Arc<Vec<Key>>>,
    /// For a file: its modification time and length when last read.
    file_stamp: RwLock<Option<(SystemTime, u64)>>,
    /// Woken when a token names a key the set does not hold.
    wanted: Arc<Notify>,
}

impl KeySet {
    fn start(source: KeySource) -> Result<Arc<KeySet>, JwtSetupError> {
        let set = Arc::new(KeySet {
            source,
            keys: RwLock::new(Arc::new(Vec::new())),
            file_stamp: RwLock::new(None),
            wanted: Arc::new(Notify::new()),
        });
        match &set.source {
            KeySource::File(path) => set.reload_file(path)?,
            KeySource::Url(url) => {
                let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
                    JwtSetupError("a JWT key set URL needs the service's runtime".to_owned())
                })?;
                let wanted = Arc::clone(&set.wanted);
                runtime.spawn(keep_fetching(Arc::downgrade(&set), wanted, url.clone()));
            }
        }
        Ok(set)
    }

    /// The keys to check a token with; a key file that changed is read first.
    fn current(&self) -> Arc<Vec<Key>> {
        if let KeySource::File(path) = &self.source
            && let Err(error) = self.reload_file(path)
        {
            tracing::error!(%error, "cannot read the JWT key file: keeping the keys read before");
        }
        Arc::clone(
            &self
                .keys
                .read()
                .unwrap_or_else(|poison| poison.into_inner()),
        )
    }

    fn reload_file(&self, path: &Path) -> Result<(), JwtSetupError> {
        let unreadable = |error: &dyn std::fmt::Display| {
            JwtSetupError(format!(
                "ORDERS__AUTH__JWT__JWKS_FILE: cannot read {}: {error}",
                path.display()
            ))
        };
        let metadata = fs::metadata(path).map_err(|error| unreadable(&error))?;
        let stamp = (
            metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            metadata.len(),
        );
        if *self.file_stamp.read().unwrap_or_else(|p| p.into_inner()) == Some(stamp) {
            return Ok(());
        }
        let text = fs::read(path).map_err(|error| unreadable(&error))?;
        let keys = usable_keys(&text).map_err(|error| unreadable(&error))?;
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(keys);
        *self.file_stamp.write().unwrap_or_else(|p| p.into_inner()) = Some(stamp);
        Ok(())
    }
}

/// Fetches the key set at `url` now, every [`REFRESH`], and when a token wants a key it lacks,
/// for as long as the set is in use.
async fn keep_fetching(set: Weak<KeySet>, wanted: Arc<Notify>, url: Url) {
    // No redirects: one to plain HTTP would undo the https-only rule.
    let client = reqwest::Client::builder()
        .timeout(FETCH_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build();
    let client = match client {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "cannot make an HTTP client for the JWT key set");
            return;
        }
    };
    loop {
        let fetched = fetch(&client, &url).await;
        let Some(keys) = set.upgrade() else { return };
        match fetched {
            Ok(fetched) => {
                tracing::info!(url = %url, keys = fetched.len(), "fetched the JWT key set");
                *keys.keys.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(fetched);
            }
            Err(error) => {
                tracing::error!(url = %url, %error, "cannot fetch the JWT key set: keeping the keys fetched before");
            }
        }
        drop(keys);
        tokio::time::sleep(REFETCH_GAP).await;
        let _ = tokio::time::timeout(REFRESH - REFETCH_GAP, wanted.notified()).await;
    }
}

async fn fetch(client: &reqwest::Client, url: &Url) -> Result<Vec<Key>, String> {
    let response = client
        .get(url.clone())
        .send()
        .await
        .map_err(|error| error.without_url().to_string())?;
    if !response.status().is_success() {
        return Err(format!("the provider answered {}", response.status()));
    }
    let body = response
        .bytes()
        .await
        .map_err(|error| error.without_url().to_string())?;
    usable_keys(&body)
}

/// The signing keys of a JSON Web Key Set that verify RS256 or ES256. Secret (`oct`) keys and
/// encryption keys are left out: a token must never be checked with a key anyone may hold.
fn usable_keys(text: &[u8]) -> Result<Vec<Key>, String> {
    let set: JwkSet = serde_json::from_slice(text).map_err(|error| {
        format!(
            "not a JSON Web Key Set (line {}, column {})",
            error.line(),
            error.column()
        )
    })?;
    let keys = set
        .keys
        .iter()
        .filter(|jwk| !matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)))
        .filter_map(|jwk| {
            let algorithm = match &jwk.algorithm {
                AlgorithmParameters::RSA(_) => Algorithm::RS256,
                AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
                    Algorithm::ES256
                }
                _ => return None,
            };
            let declared = jwk.common.key_algorithm;
            let matches = match declared {
                None => true,
                Some(KeyAlgorithm::RS256) => algorithm == Algorithm::RS256,
                Some(KeyAlgorithm::ES256) => algorithm == Algorithm::ES256,
                Some(_) => false,
            };
            let decoding = DecodingKey::from_jwk(jwk).ok().filter(|_| matches)?;
            Some(Key {
                kid: jwk.common.key_id.clone(),
                algorithm,
                decoding,
            })
        })
        .collect();
    Ok(keys)
}
