//! Tokens and roles: a token is presented as `Authorization: Bearer TOKEN`, or as
//! the password of HTTP Basic auth.
//!
//! The tokens file has one token per line, `ROLE SHA256HEX NAME`: the role, the hex
//! SHA-256 of the token, and a name for logs and job records. Lines starting with `#`
//! and blank lines are ignored. Only hashes are kept in memory; a presented token is
//! hashed and compared with every entry in constant time, so neither the comparison
//! nor the position of a match shows in the timing. Tokens are never logged.
//!
//! The server holds them in [`SharedTokens`], which `bosun serve` replaces whole when
//! the tokens file is read again on SIGHUP: a request sees the old set or the new one,
//! never a mix.

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, RwLock};

use axum::extract::FromRequestParts;
use http::request::Parts;
use http::{HeaderMap, StatusCode, header};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::error::ApiError;

/// What a caller may do. Each role includes the ones below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read: every GET.
    Viewer,
    /// Change clusters that exist: config and service writes, deploy, rollback.
    Deployer,
    /// Everything, including creating clusters.
    Admin,
}

impl Role {
    const ALL: [Role; 3] = [Role::Viewer, Role::Deployer, Role::Admin];

    fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Deployer => "deployer",
            Self::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role `{s}`: use viewer, deployer or admin"))
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's name from the tokens file.
    pub name: String,
    /// Its role.
    pub role: Role,
}

#[derive(Clone)]
struct Entry {
    role: Role,
    hash: [u8; 32],
    name: String,
}

/// The known tokens, as hashes.
#[derive(Clone, Default)]
pub struct Tokens {
    entries: Vec<Entry>,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens").field("count", &self.entries.len()).finish_non_exhaustive()
    }
}

impl Tokens {
    /// Parse a tokens file. Every bad line is reported, as `LINE: message`.
    pub fn parse(text: &str) -> Result<Self, Vec<String>> {
        let mut entries = Vec::new();
        let mut errors = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [role, hash, name] = fields[..] else {
                errors.push(format!("{}: expected `ROLE SHA256HEX NAME`, found {} field(s)", i + 1, fields.len()));
                continue;
            };
            // The message does not repeat the field: a line written wrongly may hold a
            // token there, and these errors are logged.
            let Ok(role) = role.parse::<Role>() else {
                errors.push(format!("{}: the first field must be a role: viewer, deployer or admin", i + 1));
                continue;
            };
            let mut bytes = [0u8; 32];
            if hex::decode_to_slice(hash, &mut bytes).is_err() {
                errors.push(format!("{}: the second field must be the 64 hex digits of the token's SHA-256", i + 1));
                continue;
            }
            entries.push(Entry { role, hash: bytes, name: name.to_owned() });
        }
        if errors.is_empty() { Ok(Self { entries }) } else { Err(errors) }
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no tokens.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The caller a token belongs to. Compares against every entry in constant time.
    pub fn authenticate(&self, token: &str) -> Option<Caller> {
        self.by_hash(&token_hash(token))
    }

    /// The caller whose token has this SHA-256 ([`token_hash`]); what a web session
    /// keeps, so that a token taken out of the file ends its sessions too. Compares
    /// against every entry in constant time.
    pub fn by_hash(&self, hash: &[u8; 32]) -> Option<Caller> {
        let mut found = None;
        for e in &self.entries {
            if bool::from(e.hash.ct_eq(hash)) {
                found = Some(e);
            }
        }
        found.map(|e| Caller { name: e.name.clone(), role: e.role })
    }

    /// The caller of a request, if its `Authorization` header holds a known token:
    /// `Bearer TOKEN`, or HTTP Basic with the token as the password and any user name
    /// (what a client sends for a URL such as `http://bosun:TOKEN@host/`, as nysa's
    /// slackbot is configured).
    pub fn from_headers(&self, headers: &HeaderMap) -> Option<Caller> {
        let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let (scheme, credentials) = value.split_once(' ')?;
        if scheme.eq_ignore_ascii_case("bearer") {
            self.authenticate(credentials.trim())
        } else if scheme.eq_ignore_ascii_case("basic") {
            self.authenticate(&basic_password(credentials.trim())?)
        } else {
            None
        }
    }
}

/// The password of HTTP Basic credentials (`base64(user:password)`), if they decode.
/// Anything that is not base64 of UTF-8 with a colon is no credential.
fn basic_password(credentials: &str) -> Option<String> {
    use base64::Engine as _;
    // A token is 70 characters; credentials far longer than any token are not decoded.
    if credentials.len() > 1024 {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(credentials).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (_user, password) = text.split_once(':')?;
    Some(password.to_owned())
}

/// The tokens in force, shared by every request and replaced whole on a reload. Cheap
/// to clone.
#[derive(Clone, Default)]
pub struct SharedTokens(Arc<RwLock<Arc<Tokens>>>);

impl fmt::Debug for SharedTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.current().fmt(f)
    }
}

impl SharedTokens {
    /// Hold `tokens`.
    pub fn new(tokens: Tokens) -> Self {
        Self(Arc::new(RwLock::new(Arc::new(tokens))))
    }

    /// The tokens in force now.
    pub fn current(&self) -> Arc<Tokens> {
        self.0.read().expect("the tokens lock is never poisoned").clone()
    }

    /// Put `tokens` in force for every request from now on.
    pub fn replace(&self, tokens: Tokens) {
        *self.0.write().expect("the tokens lock is never poisoned") = Arc::new(tokens);
    }
}

impl From<Tokens> for SharedTokens {
    fn from(tokens: Tokens) -> Self {
        Self::new(tokens)
    }
}

/// The SHA-256 of a token, as the tokens file holds it.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A new random token (256 bits, URL-safe) and its tokens-file line.
pub fn new_token(role: Role, name: &str) -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = format!("bosun_{}", hex::encode(bytes));
    let line = format!("{role} {} {name}", hex::encode(Sha256::digest(token.as_bytes())));
    (token, line)
}

/// What the request middleware found in the `Authorization` header; the extractors
/// below read it, so a token is hashed once per request.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Option<Caller>);

/// Viewer: the minimum role of a handler argument `Auth<VIEWER>`.
pub const VIEWER: u8 = 0;
/// Deployer.
pub const DEPLOYER: u8 = 1;
/// Admin.
pub const ADMIN: u8 = 2;

/// A handler argument that requires a caller with at least role `MIN` (401 without a
/// known token, 403 with a lower role).
#[derive(Debug, Clone)]
pub struct Auth<const MIN: u8>(pub Caller);

impl<S: Send + Sync, const MIN: u8> FromRequestParts<S> for Auth<MIN> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let caller = parts.extensions.get::<Authenticated>().and_then(|a| a.0.clone()).ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a valid token is required (Authorization: Bearer TOKEN, or Basic auth with the token as the password)",
            )
        })?;
        let needed = Role::ALL[usize::from(MIN)];
        if caller.role < needed {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("this needs the {needed} role; token {} has {}", caller.name, caller.role),
            ));
        }
        Ok(Self(caller))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_files_and_authenticates() {
        let (admin, admin_line) = new_token(Role::Admin, "root");
        let (viewer, viewer_line) = new_token(Role::Viewer, "dash");
        let file = format!("# tokens\n\n{admin_line}\n  {viewer_line}  \n");
        let tokens = Tokens::parse(&file).unwrap();
        assert_eq!(tokens.len(), 2);
        assert_eq!(tokens.authenticate(&admin), Some(Caller { name: "root".into(), role: Role::Admin }));
        assert_eq!(tokens.authenticate(&viewer).unwrap().role, Role::Viewer);
        assert_eq!(tokens.authenticate("bosun_nope"), None);
        assert_eq!(tokens.authenticate(""), None);
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, format!("Bearer {viewer}").parse().unwrap());
        assert_eq!(tokens.from_headers(&h).unwrap().name, "dash");
        h.insert(header::AUTHORIZATION, format!("Basic {viewer}").parse().unwrap());
        assert_eq!(tokens.from_headers(&h), None);
    }

    #[test]
    fn basic_auth_presents_the_token_as_its_password() {
        use base64::Engine as _;
        let (deployer, line) = new_token(Role::Deployer, "nysa-bot");
        let tokens = Tokens::parse(&line).unwrap();
        let basic = |credentials: &str| {
            let mut h = HeaderMap::new();
            let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
            h.insert(header::AUTHORIZATION, format!("Basic {encoded}").parse().unwrap());
            tokens.from_headers(&h)
        };
        let caller = Some(Caller { name: "nysa-bot".into(), role: Role::Deployer });
        // Any user name, or none; the scheme in any case.
        assert_eq!(basic(&format!("bosun:{deployer}")), caller);
        assert_eq!(basic(&format!(":{deployer}")), caller);
        // The token as the user name, a wrong password, no colon: no caller.
        assert_eq!(basic(&format!("{deployer}:x")), None);
        assert_eq!(basic(&format!("bosun:{deployer}x")), None);
        assert_eq!(basic(&deployer), None);
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "basic !!not-base64!!".parse().unwrap());
        assert_eq!(tokens.from_headers(&h), None);
        h.insert(header::AUTHORIZATION, format!("basic {}", "QUFB".repeat(400)).parse().unwrap());
        assert_eq!(tokens.from_headers(&h), None);
    }

    #[test]
    fn reports_every_bad_line() {
        let err = Tokens::parse("root abc x\nadmin 00 x\nviewer\n").unwrap_err();
        assert_eq!(err.len(), 3);
        assert_eq!(err[0], "1: the first field must be a role: viewer, deployer or admin");
        assert!(err[1].starts_with("2: the second field"), "{err:?}");
        assert!(err[2].starts_with("3: expected"), "{err:?}");
    }

    #[test]
    fn errors_never_repeat_what_the_line_holds() {
        let (token, line) = new_token(Role::Admin, "root");
        // The token pasted where the role goes, and a line with the token alone.
        let err = Tokens::parse(&format!("{token} {line}\n{token}\n{token} x y\n")).unwrap_err();
        assert_eq!(err.len(), 3, "{err:?}");
        assert!(err.iter().all(|e| !e.contains(&token) && !e.contains(&token[6..20])), "{err:?}");
    }

    #[test]
    fn shared_tokens_are_replaced_whole() {
        let (old, old_line) = new_token(Role::Viewer, "old");
        let (new, new_line) = new_token(Role::Deployer, "new");
        let shared = SharedTokens::new(Tokens::parse(&old_line).unwrap());
        let clone = shared.clone();
        let before = shared.current();
        clone.replace(Tokens::parse(&new_line).unwrap());
        assert_eq!(shared.current().authenticate(&old), None);
        assert_eq!(shared.current().authenticate(&new).unwrap().role, Role::Deployer);
        // What a request took before the reload stays as it was.
        assert_eq!(before.authenticate(&old).unwrap().name, "old");
    }

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Viewer < Role::Deployer && Role::Deployer < Role::Admin);
        assert_eq!(Role::ALL[usize::from(DEPLOYER)], Role::Deployer);
    }
}
