//! API tokens: random secrets shown once when made, kept only as SHA-256 hashes in a tokens
//! file that every service reads (`ORDERS__AUTH__TOKENS_FILE`).
//!
//! A token is `orders_` and 43 characters of URL-safe base64: 256 random bits, so a plain
//! SHA-256 of it is as good as a slow password hash and lets a check cost one hash. The file is
//! a [`SharedDocument`]: every command changes it under its lock, and every service sees a
//! change (a revocation) at its next request, without a restart.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SubsecRound, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::app::auth::Caller;
use crate::app::auth::role::Role;
use crate::storage::shared_document::{DocumentError, SharedDocument};

/// What every token starts with: it tells a reader (and a secret scanner) what it is.
pub const TOKEN_PREFIX: &str = "orders_";

/// The tokens file.
pub struct TokenStore {
    document: SharedDocument<TokensFile>,
}

/// What the tokens file holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokensFile {
    /// Every token that is valid, oldest first.
    pub tokens: Vec<TokenEntry>,
    /// The page's signed-in sessions, each made with one of the tokens.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sessions: Vec<SessionEntry>,
}

/// A session of the page, as the file keeps it: never the session's secret. It lasts until it
/// expires, is ended by signing out, or its token is revoked.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionEntry {
    /// The token it was signed in with: its name and role are the session's. For a session
    /// signed in through the identity provider, the person's name.
    pub token: TokenName,
    /// The role of a session signed in through the identity provider (a token's session takes
    /// its token's role).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// The SHA-256 of the session's secret (its cookie).
    pub sha256: TokenHash,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// One token, as the file keeps it: never the token itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenEntry {
    /// Who or what holds it; unique in the file.
    pub name: TokenName,
    /// What it may do.
    pub role: Role,
    /// The SHA-256 of the token.
    pub sha256: TokenHash,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// A token's name: 1 to 64 letters, digits, `.`, `_`, `@` or `-`, so that it prints safely in
/// logs and an order's history.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct TokenName(String);

/// A token's SHA-256.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

/// Why a token could not be made, revoked or checked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The tokens file cannot be read or written, or does not hold tokens.
    #[error(transparent)]
    File(#[from] DocumentError),
    /// A token of that name exists already.
    #[error("a token named `{0}` exists already: revoke it first, or choose another name")]
    NameTaken(TokenName),
    /// No token has that name.
    #[error("no token is named `{0}`")]
    NoSuchName(TokenName),
    /// The JWT settings cannot work, or the JWT key file cannot be read.
    #[error(transparent)]
    Jwt(#[from] crate::app::auth::jwt::JwtSetupError),
}

/// A name that is not a valid token name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a token name is 1 to 64 letters, digits, `.`, `_`, `@` or `-` (for example ci-pipeline or ana@shop)"
)]
pub struct InvalidTokenName;

impl TokenStore {
    /// The tokens file at `path`; a file that does not exist holds no token.
    pub fn open(path: &Path) -> TokenStore {
        TokenStore {
            document: SharedDocument::new(path),
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        self.document.path()
    }

    /// Makes a token named `name` with `role`, and returns it: the only time it is seen. The
    /// file keeps only its hash. Blocks: call it on a blocking thread.
    pub fn create(&self, name: TokenName, role: Role) -> Result<SecretString, TokenError> {
        let token = new_token();
        let sha256 = TokenHash::of(token.expose_secret());
        self.document.update(|file| {
            if file.tokens.iter().any(|entry| entry.name == name) {
                return Err(TokenError::NameTaken(name));
            }
            file.tokens.push(TokenEntry {
                name,
                role,
                sha256,
                created_at: Utc::now().trunc_subsecs(0),
            });
            Ok(())
        })?;
        Ok(token)
    }

    /// Every valid token, oldest first.
    pub fn list(&self) -> Result<Vec<TokenEntry>, TokenError> {
        Ok(self.document.read()?.tokens)
    }

    /// Ends every page session in the name `name` (a person the identity provider signed in);
    /// how many there were. Blocks: call it on a blocking thread.
    pub fn end_sessions_of(&self, name: &TokenName) -> Result<usize, TokenError> {
        if self.tokens()?.is_none() {
            return Ok(0);
        }
        self.document.update(|file| {
            let before = file.sessions.len();
            file.sessions.retain(|session| &session.token != name);
            Ok(before - file.sessions.len())
        })
    }

    /// Removes the token named `name`, and the page sessions signed in with it: they stop
    /// working at every service's next request. Blocks: call it on a blocking thread.
    pub fn revoke(&self, name: &TokenName) -> Result<TokenEntry, TokenError> {
        self.document.update(|file| {
            let position = file
                .tokens
                .iter()
                .position(|entry| &entry.name == name)
                .ok_or_else(|| TokenError::NoSuchName(name.clone()))?;
            file.sessions.retain(|session| &session.token != name);
            Ok(file.tokens.remove(position))
        })
    }

    /// Starts a page session for the holder of `token`, lasting `lifetime`: its secret (for the
    /// cookie) and who it is, or `None` if `token` is not a valid token. Expired sessions are
    /// dropped on the way. Blocks: call it on a blocking thread.
    pub fn start_session(
        &self,
        token: &str,
        lifetime: chrono::Duration,
    ) -> Result<Option<(SecretString, Caller)>, TokenError> {
        // A token that is not valid changes nothing: not even a tokens file that is absent.
        if self
            .tokens()?
            .is_none_or(|file| file.token_entry(token).is_none())
        {
            return Ok(None);
        }
        let secret = new_secret(SESSION_PREFIX);
        let caller = self.document.update(|file| {
            let Some(entry) = file.token_entry(token) else {
                return Ok::<_, TokenError>(None);
            };
            let caller = entry.caller();
            file.add_session(&secret, entry.name.clone(), None, lifetime);
            Ok(Some(caller))
        })?;
        Ok(caller.map(|caller| (secret, caller)))
    }

    /// Starts a page session for `caller`, whom the identity provider signed in, lasting
    /// `lifetime`: its secret, for the cookie. Blocks: call it on a blocking thread.
    pub fn start_provider_session(
        &self,
        caller: &Caller,
        lifetime: chrono::Duration,
    ) -> Result<SecretString, TokenError> {
        let secret = new_secret(SESSION_PREFIX);
        let name = TokenName::from_person(&caller.name);
        self.document.update(|file| {
            file.add_session(&secret, name, Some(caller.role), lifetime);
            Ok::<_, TokenError>(())
        })?;
        Ok(secret)
    }

    /// Ends the page session whose secret is `secret`, if there is one. Blocks: call it on a
    /// blocking thread.
    pub fn end_session(&self, secret: &str) -> Result<(), TokenError> {
        let sha256 = TokenHash::of(secret);
        let now = Utc::now();
        self.document.update(|file| {
            file.sessions
                .retain(|session| session.sha256 != sha256 && session.expires_at > now);
            Ok(())
        })
    }

    /// The tokens as the file holds them now, or `None` if there is no tokens file.
    pub fn tokens(&self) -> Result<Option<Arc<TokensFile>>, TokenError> {
        Ok(self.document.read_if_exists()?)
    }

    /// Who holds `presented`, if it is a valid token.
    pub fn verify(&self, presented: &str) -> Result<Option<Caller>, TokenError> {
        Ok(self.tokens()?.and_then(|tokens| tokens.holder(presented)))
    }
}

impl TokensFile {
    /// Adds the session whose secret is `secret`, in `name` (with `role` when no token gives
    /// it), lasting `lifetime`; expired sessions are dropped on the way.
    fn add_session(
        &mut self,
        secret: &SecretString,
        name: TokenName,
        role: Option<Role>,
        lifetime: chrono::Duration,
    ) {
        let now = Utc::now();
        self.sessions.retain(|session| session.expires_at > now);
        self.sessions.push(SessionEntry {
            token: name,
            role,
            sha256: TokenHash::of(secret.expose_secret()),
            expires_at: (now + lifetime).trunc_subsecs(0),
        });
    }

    /// Who holds `presented`, if it is one of these tokens.
    pub fn holder(&self, presented: &str) -> Option<Caller> {
        self.token_entry(presented).map(TokenEntry::caller)
    }

    /// Who signed in the page session whose secret is `secret`, if it is one of these sessions
    /// and has not expired.
    pub fn session_holder(&self, secret: &str) -> Option<Caller> {
        if !secret.starts_with(SESSION_PREFIX) {
            return None;
        }
        let sha256 = TokenHash::of(secret);
        let now = Utc::now();
        let session = self
            .sessions
            .iter()
            .find(|session| session.sha256 == sha256 && session.expires_at > now)?;
        if let Some(role) = session.role {
            return Some(Caller {
                name: session.token.0.clone(),
                role,
            });
        }
        self.tokens
            .iter()
            .find(|entry| entry.name == session.token)
            .map(TokenEntry::caller)
    }

    fn token_entry(&self, presented: &str) -> Option<&TokenEntry> {
        if !presented.starts_with(TOKEN_PREFIX) || presented.starts_with(SESSION_PREFIX) {
            return None;
        }
        let sha256 = TokenHash::of(presented);
        self.tokens.iter().find(|entry| entry.sha256 == sha256)
    }
}

impl TokenEntry {
    fn caller(&self) -> Caller {
        Caller {
            name: self.name.0.clone(),
            role: self.role,
        }
    }
}

/// What a page session's secret starts with: never taken for an API token.
const SESSION_PREFIX: &str = "orders_session_";

/// A new random token.
fn new_token() -> SecretString {
    new_secret(TOKEN_PREFIX)
}

/// `prefix` and 256 random bits in URL-safe base64.
pub(crate) fn new_secret(prefix: &str) -> SecretString {
    let mut bytes = [0_u8; 32];
    // Without randomness from the system there is no safe token to make: nothing can go on.
    getrandom::fill(&mut bytes).expect("the system's random number generator failed");
    SecretString::from(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

impl TokenName {
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A person's name from the identity provider, as a name: every character a name may not
    /// hold becomes `-`, and it is cut to 64 characters, so that it prints as safely.
    pub fn from_person(name: &str) -> TokenName {
        let allowed = |c: char| c.is_ascii_alphanumeric() || "._@-".contains(c);
        let name: String = name
            .chars()
            .map(|c| if allowed(c) { c } else { '-' })
            .take(64)
            .collect();
        if name.is_empty() {
            TokenName("someone".to_owned())
        } else {
            TokenName(name)
        }
    }
}

impl TryFrom<String> for TokenName {
    type Error = InvalidTokenName;

    fn try_from(name: String) -> Result<TokenName, InvalidTokenName> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || "._@-".contains(c);
        if (1..=64).contains(&name.len()) && name.chars().all(allowed) {
            Ok(TokenName(name))
        } else {
            Err(InvalidTokenName)
        }
    }
}

impl std::str::FromStr for TokenName {
    type Err = InvalidTokenName;

    fn from_str(name: &str) -> Result<TokenName, InvalidTokenName> {
        TokenName::try_from(name.to_owned())
    }
}

impl<'de> Deserialize<'de> for TokenName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<TokenName, D::Error> {
        TokenName::try_from(String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for TokenName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TokenHash {
    /// The hash of `token`.
    pub fn of(token: &str) -> TokenHash {
        TokenHash(Sha256::digest(token.as_bytes()).into())
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash(..)")
    }
}

impl Serialize for TokenHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let hex: String = self.0.iter().map(|byte| format!("{byte:02x}")).collect();
        serializer.serialize_str(&hex)
    }
}

impl<'de> Deserialize<'de> for TokenHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<TokenHash, D::Error> {
        let text = String::deserialize(deserializer)?;
        let invalid = || serde::de::Error::custom("a token's sha256 is 64 hexadecimal digits");
        if text.len() != 64 || !text.is_ascii() {
            return Err(invalid());
        }
        let mut bytes = [0_u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(text.as_bytes().chunks(2)) {
            let pair = std::str::from_utf8(pair).map_err(|_| invalid())?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| invalid())?;
        }
        Ok(TokenHash(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> TokenName {
        text.parse().expect("a valid name")
    }

    #[test]
    fn a_made_token_verifies_until_revoked_and_only_its_hash_is_stored() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = TokenStore::open(&dir.path().join("tokens.json"));
        let token = store.create(name("ci"), Role::Clerk).expect("create");
        let token = token.expose_secret();
        assert!(token.starts_with(TOKEN_PREFIX) && token.len() == TOKEN_PREFIX.len() + 43);

        let caller = store.verify(token).expect("read").expect("valid");
        assert_eq!((caller.name.as_str(), caller.role), ("ci", Role::Clerk));
        let file = std::fs::read_to_string(store.path()).expect("read the file");
        assert!(
            !file.contains(token),
            "the file holds only the hash: {file}"
        );
        assert!(store.verify(&format!("{token}x")).expect("read").is_none());
        assert!(store.verify("").expect("read").is_none());

        // Another process's revocation is seen by a store opened before it.
        TokenStore::open(store.path())
            .revoke(&name("ci"))
            .expect("revoke");
        assert!(store.verify(token).expect("read").is_none());
    }

    #[test]
    fn two_tokens_never_match_and_names_are_unique() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = TokenStore::open(&dir.path().join("tokens.json"));
        let first = store.create(name("a"), Role::Viewer).expect("create");
        let second = store.create(name("b"), Role::Admin).expect("create");
        assert_ne!(first.expose_secret(), second.expose_secret());
        let taken = store
            .create(name("a"), Role::Admin)
            .expect_err("name taken");
        assert!(matches!(taken, TokenError::NameTaken(_)), "{taken}");
        let missing = store.revoke(&name("c")).expect_err("no such token");
        assert!(matches!(missing, TokenError::NoSuchName(_)), "{missing}");
        let names: Vec<_> = store
            .list()
            .expect("list")
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, [name("a"), name("b")]);
        assert_eq!(
            store
                .verify(second.expose_secret())
                .expect("read")
                .map(|c| c.role),
            Some(Role::Admin)
        );
    }

    #[test]
    fn a_session_lasts_until_it_ends_expires_or_its_token_is_revoked() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = TokenStore::open(&dir.path().join("tokens.json"));
        let token = store.create(name("ana"), Role::Clerk).expect("create");
        let hour = chrono::Duration::hours(1);
        assert!(
            store
                .start_session("orders_nonsense", hour)
                .expect("read")
                .is_none()
        );
        let (secret, caller) = store
            .start_session(token.expose_secret(), hour)
            .expect("read")
            .expect("a valid token");
        assert_eq!((caller.name.as_str(), caller.role), ("ana", Role::Clerk));
        let secret = secret.expose_secret();
        let file = store.tokens().expect("read").expect("exists");
        assert_eq!(file.session_holder(secret), Some(caller.clone()));
        assert_eq!(file.holder(secret), None, "a session is not an API token");
        assert_eq!(
            file.session_holder(token.expose_secret()),
            None,
            "nor the reverse"
        );
        assert!(
            !std::fs::read_to_string(store.path())
                .expect("read")
                .contains(secret)
        );

        store.end_session(secret).expect("sign out");
        let file = store.tokens().expect("read").expect("exists");
        assert_eq!(file.session_holder(secret), None, "ended");

        let (expired, _) = store
            .start_session(token.expose_secret(), chrono::Duration::seconds(-1))
            .expect("read")
            .expect("valid");
        let file = store.tokens().expect("read").expect("exists");
        assert_eq!(
            file.session_holder(expired.expose_secret()),
            None,
            "expired"
        );

        let (revoked, _) = store
            .start_session(token.expose_secret(), hour)
            .expect("read")
            .expect("valid");
        store.revoke(&name("ana")).expect("revoke");
        let file = store.tokens().expect("read").expect("exists");
        assert_eq!(
            file.session_holder(revoked.expose_secret()),
            None,
            "revoked"
        );
        assert!(file.sessions.is_empty(), "{:?}", file.sessions);
    }

    #[test]
    fn names_are_short_and_printable() {
        for good in [
            "a",
            "ci-pipeline",
            "ana@shop.example",
            "x_1.2",
            &"n".repeat(64),
        ] {
            assert!(good.parse::<TokenName>().is_ok(), "{good}");
        }
        for bad in ["", "two words", "a/b", "é", "line\nbreak", &"n".repeat(65)] {
            assert_eq!(bad.parse::<TokenName>(), Err(InvalidTokenName), "{bad:?}");
        }
    }
}
