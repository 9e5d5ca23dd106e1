//! An OpenID Connect identity provider as the services see one: a JSON Web Key Set with an
//! ES256 and an RS256 key (made in the test), and access tokens signed with them, good or bad
//! in every way a real provider's (or a forger's) could be.

use std::path::Path;
use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::rand_core::OsRng;
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{Value, json};
use shared_events::app::auth::Role;
use shared_events::app::settings::JwtSettings;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The issuer the provider's tokens name.
pub const ISSUER: &str = "https://login.example.com/realms/shop";

/// The audience the services are configured with.
pub const AUDIENCE: &str = "orders";

/// A signing key and its public half as a JSON Web Key.
struct SigningKey {
    kid: &'static str,
    algorithm: Algorithm,
    private: EncodingKey,
    public: Value,
}

/// The provider: its keys, and a key of the same kinds that it does not publish (a forger's).
pub struct IdentityProvider {
    es256: SigningKey,
    rs256: SigningKey,
    forger: SigningKey,
}

impl Default for IdentityProvider {
    fn default() -> Self {
        IdentityProvider::new()
    }
}

impl IdentityProvider {
    /// A provider with fresh keys.
    pub fn new() -> IdentityProvider {
        IdentityProvider {
            es256: es256_key("es-1"),
            rs256: rs256_key("rs-1"),
            // The forger even names the provider's key.
            forger: es256_key("es-1"),
        }
    }

    /// The public key set, as the provider serves it at its `jwks_uri`.
    pub fn key_set(&self) -> Value {
        json!({"keys": [self.es256.public, self.rs256.public]})
    }

    /// Writes the key set to `path`.
    pub fn write_key_set(&self, path: &Path) {
        std::fs::write(path, self.key_set().to_string()).expect("write the key set");
    }

    /// Serves the key set over HTTP on a loopback port, as a provider's `jwks_uri`, until the
    /// test ends; its URL.
    pub async fn serve_key_set(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let address = listener.local_addr().expect("an address");
        let body = self.key_set().to_string();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                tokio::spawn(async move {
                    let mut request = [0u8; 4096];
                    let _ = stream.read(&mut request).await;
                    let _ = stream.write_all(answer.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        format!("http://{address}/realms/shop/protocol/openid-connect/certs")
    }

    /// Settings that trust this provider through the key set in `jwks_file`.
    pub fn settings(&self, jwks_file: &Path) -> JwtSettings {
        self.write_key_set(jwks_file);
        JwtSettings {
            jwks_file: Some(jwks_file.to_owned()),
            jwks_url: None,
            issuer: Some(ISSUER.to_owned()),
            audience: Some(AUDIENCE.to_owned()),
            roles_claim: None,
        }
    }

    /// A good ES256 token for `name` with `role`, valid for an hour.
    pub fn token(&self, name: &str, role: Role) -> String {
        sign(&self.es256, &self.claims(name, &[role.name()]))
    }

    /// The same, signed with the RS256 key.
    pub fn rs256_token(&self, name: &str, role: Role) -> String {
        sign(&self.rs256, &self.claims(name, &[role.name()]))
    }

    /// A good token whose claims are `adjust`ed from a viewer's.
    pub fn token_with(&self, adjust: impl FnOnce(&mut Value)) -> String {
        let mut claims = self.claims("someone", &[Role::Viewer.name()]);
        adjust(&mut claims);
        sign(&self.es256, &claims)
    }

    /// The claims of a good token: issuer, audience, an hour of validity, name and roles.
    pub fn claims(&self, name: &str, roles: &[&str]) -> Value {
        let now = now();
        json!({
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": format!("subject-{name}"),
            "preferred_username": name,
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "roles": roles,
        })
    }

    /// Tokens that must be refused with 401, each with what is wrong with it. All name the
    /// `admin` role, so that only the check can stop them.
    pub fn bad_tokens(&self) -> Vec<(&'static str, String)> {
        let admin = || self.claims("mallory", &[Role::Admin.name()]);
        let with = |change: &dyn Fn(&mut Value)| {
            let mut claims = admin();
            change(&mut claims);
            sign(&self.es256, &claims)
        };
        let good = sign(&self.es256, &admin());
        let (head, rest) = good.split_once('.').expect("a JWT");
        let (_, signature) = rest.split_once('.').expect("a JWT");
        let elevated = URL_SAFE_NO_PAD.encode(admin().to_string().replace("mallory", "root"));
        vec![
            (
                "signed with a key the provider never published",
                sign(&self.forger, &admin()),
            ),
            (
                "expired",
                with(&|claims| claims["exp"] = json!(now() - 600)),
            ),
            (
                "made for another audience",
                with(&|claims| claims["aud"] = json!("billing-app")),
            ),
            (
                "made by another issuer",
                with(&|claims| claims["iss"] = json!("https://evil.example")),
            ),
            (
                "not valid for another hour",
                with(&|claims| claims["nbf"] = json!(now() + 3600)),
            ),
            (
                "without an expiry",
                with(&|claims| {
                    claims.as_object_mut().expect("claims").remove("exp");
                }),
            ),
            (
                "claims changed after signing",
                format!("{head}.{elevated}.{signature}"),
            ),
            (
                "unsigned (alg none)",
                format!(
                    "{}.{}.",
                    URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
                    URL_SAFE_NO_PAD.encode(admin().to_string())
                ),
            ),
            ("HS256 with the public key as the secret", {
                let secret = self.es256.public.to_string();
                encode(
                    &Header::new(Algorithm::HS256),
                    &admin(),
                    &EncodingKey::from_secret(secret.as_bytes()),
                )
                .expect("sign")
            }),
            ("not a JWT at all", "a.b.c".to_owned()),
        ]
    }
}

fn sign(key: &SigningKey, claims: &Value) -> String {
    let mut header = Header::new(key.algorithm);
    header.kid = Some(key.kid.to_owned());
    encode(&header, claims, &key.private).expect("sign a token")
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn es256_key(kid: &'static str) -> SigningKey {
    let pair = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("an EC key");
    let point = pair.public_key_raw();
    let (x, y) = point[1..].split_at(32);
    SigningKey {
        kid,
        algorithm: Algorithm::ES256,
        private: EncodingKey::from_ec_der(&pair.serialize_der()),
        public: json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y),
        }),
    }
}

/// An RSA key takes a while to make: one per test process.
fn rs256_key(kid: &'static str) -> SigningKey {
    static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
    let private = KEY.get_or_init(|| RsaPrivateKey::new(&mut OsRng, 2048).expect("an RSA key"));
    let public = RsaPublicKey::from(private);
    let der = private.to_pkcs1_der().expect("DER");
    SigningKey {
        kid,
        algorithm: Algorithm::RS256,
        private: EncodingKey::from_rsa_der(der.as_bytes()),
        public: json!({
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
            "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        }),
    }
}
