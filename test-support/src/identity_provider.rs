//! An OpenID Connect identity provider as the services see one: a JSON Web Key Set with an
//! ES256 and an RS256 key (made in the test), and access tokens signed with them, good or bad
//! in every way a real provider's (or a forger's) could be.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::rand_core::OsRng;
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use shared_events::app::auth::Role;
use shared_events::app::settings::{JwtSettings, OidcSettings};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

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

    /// Serves the provider's sign-in on a loopback port: an authorization endpoint that signs
    /// anyone in at once (sending them back with a code) and a token endpoint that trades the
    /// code, checked against its PKCE challenge, its redirect URI and the client's id and
    /// `CLIENT_SECRET`, for an access token of `name` with `role`. The settings of a page that
    /// signs people in there.
    pub async fn serve_sign_in(&self, name: &str, role: Role) -> OidcSettings {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let address = listener.local_addr().expect("an address");
        let access_token = self.token(name, role);
        let grants: Arc<Mutex<HashMap<String, Grant>>> = Arc::default();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let grants = Arc::clone(&grants);
                let access_token = access_token.clone();
                tokio::spawn(answer_sign_in(stream, grants, access_token));
            }
        });
        OidcSettings {
            authorization_url: Some(format!("http://{address}/authorize")),
            token_url: Some(format!("http://{address}/token")),
            client_id: Some(CLIENT_ID.to_owned()),
            client_secret: Some(CLIENT_SECRET.into()),
            scopes: None,
            redirect_url: None,
        }
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

/// The client's secret at the test provider.
pub const CLIENT_SECRET: &str = "test-client-secret";

/// The client id at the test provider.
pub const CLIENT_ID: &str = "orders-page";

/// What an authorization handed out, until its code is traded.
struct Grant {
    challenge: String,
    redirect_uri: String,
}

/// One request to the test provider's sign-in endpoints, answered.
async fn answer_sign_in(
    mut stream: tokio::net::TcpStream,
    grants: Arc<Mutex<HashMap<String, Grant>>>,
    access_token: String,
) {
    let mut reader = tokio::io::BufReader::new(&mut stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).await.is_err() {
        return;
    }
    let mut length = 0;
    let mut browser = false;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await.unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
            // A browser navigating gets the provider's page; a program, the redirect at once.
            if name.eq_ignore_ascii_case("accept") && value.contains("text/html") {
                browser = true;
            }
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).await.is_err() {
        return;
    }
    let target = request_line.split_whitespace().nth(1).unwrap_or_default();
    let answer = if let Some(query) = target.strip_prefix("/authorize?") {
        let pairs: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let field = |name: &str| pairs.get(name).cloned().unwrap_or_default();
        let code = URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes());
        let good = field("response_type") == "code"
            && field("client_id") == CLIENT_ID
            && field("code_challenge_method") == "S256";
        if good {
            grants.lock().expect("the grants").insert(
                code.clone(),
                Grant {
                    challenge: field("code_challenge"),
                    redirect_uri: field("redirect_uri"),
                },
            );
        }
        let mut back = url::Url::parse(&field("redirect_uri")).expect("a redirect URI");
        if good {
            back.query_pairs_mut()
                .append_pair("code", &code)
                .append_pair("state", &field("state"));
        } else {
            back.query_pairs_mut()
                .append_pair("error", "invalid_request");
        }
        if browser {
            // As a real provider's sign-in page: the person's click, on the provider's site,
            // starts the way back, a navigation from another site.
            let page = format!(
                "<!doctype html><title>Test provider</title><a id=\"approve\" href=\"{}\">Sign in</a>",
                back.as_str().replace('&', "&amp;")
            );
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
                page.len()
            )
        } else {
            format!(
                "HTTP/1.1 303 See Other\r\nlocation: {back}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            )
        }
    } else if target == "/token" {
        let pairs: HashMap<String, String> =
            url::form_urlencoded::parse(&body).into_owned().collect();
        let field = |name: &str| pairs.get(name).cloned().unwrap_or_default();
        let grant = grants.lock().expect("the grants").remove(&field("code"));
        let verified = grant.is_some_and(|grant| {
            let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(field("code_verifier")));
            challenge == grant.challenge
                && field("redirect_uri") == grant.redirect_uri
                && field("grant_type") == "authorization_code"
                && field("client_id") == CLIENT_ID
                && field("client_secret") == CLIENT_SECRET
        });
        let (status, json) = if verified {
            (
                "200 OK",
                json!({"access_token": access_token, "token_type": "Bearer", "expires_in": 3600}),
            )
        } else {
            ("400 Bad Request", json!({"error": "invalid_grant"}))
        };
        let json = json.to_string();
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{json}",
            json.len()
        )
    } else {
        "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_owned()
    };
    let _ = stream.write_all(answer.as_bytes()).await;
    let _ = stream.shutdown().await;
}
