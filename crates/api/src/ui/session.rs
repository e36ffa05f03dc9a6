//! Sign-in sessions and CSRF tokens.
//!
//! Signing in trades an API token for a session cookie, `bosun_session`:
//! `v1.TOKEN_SHA256.EXPIRES.ID.MAC`, where `MAC` is an HMAC-SHA256 over the rest under
//! the server's session key. The cookie holds the token's hash, never the token, and a
//! request's caller is looked up by that hash in the tokens in force: taking a token
//! out of the tokens file (and reloading it) ends its sessions at once. `ID` is random;
//! each session's CSRF token is an HMAC of it, so a token read from one session's page
//! is worth nothing in another.
//!
//! The sign-in form itself is covered by a double-submit token: `GET /login` sets a
//! random `bosun_login` cookie and puts the same value in the form.

use std::time::Duration;

use hmac::{Hmac, Mac as _};
use http::HeaderMap;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// The session cookie.
pub const COOKIE: &str = "bosun_session";
/// The sign-in form's double-submit cookie.
pub const LOGIN_COOKIE: &str = "bosun_login";
/// The form field (or `X-CSRF-Token` header) every POST carries.
pub const CSRF_FIELD: &str = "csrf";
/// The header htmx requests carry the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

type HmacSha256 = Hmac<Sha256>;

/// The key sessions are signed with. Several API replicas behind one load balancer
/// need the same key (`--ui-session-secret-file`); without one, each process makes a
/// random key, and its sessions end when it stops.
#[derive(Clone)]
pub struct SessionKey([u8; 32]);

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(..)")
    }
}

impl SessionKey {
    /// A random key, for one process.
    pub fn random() -> Self {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        Self(key)
    }

    /// The key derived from a configured secret (any length; at least 32 bytes is
    /// advised).
    pub fn from_secret(secret: &[u8]) -> Self {
        let mut h = Sha256::new();
        h.update(b"bosun ui session key\0");
        h.update(secret);
        Self(h.finalize().into())
    }

    fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        for p in parts {
            mac.update(p);
            mac.update(b"\0");
        }
        mac.finalize().into_bytes().into()
    }
}

/// What a valid session cookie says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The SHA-256 of the token signed in with.
    pub token_hash: [u8; 32],
    /// Unix seconds after which the cookie is refused.
    pub expires: u64,
    /// Random: what the CSRF token is bound to.
    id: [u8; 16],
}

impl Claims {
    /// A new session for the token with this hash, ending `ttl` after `now` (Unix
    /// seconds).
    pub fn new(token_hash: [u8; 32], now: u64, ttl: Duration) -> Self {
        let mut id = [0u8; 16];
        rand::rng().fill_bytes(&mut id);
        Self { token_hash, expires: now.saturating_add(ttl.as_secs()), id }
    }

    fn payload(&self) -> String {
        format!("v1.{}.{}.{}", hex::encode(self.token_hash), self.expires, hex::encode(self.id))
    }

    /// The cookie's value.
    pub fn seal(&self, key: &SessionKey) -> String {
        let payload = self.payload();
        let mac = key.mac(&[b"session", payload.as_bytes()]);
        format!("{payload}.{}", hex::encode(mac))
    }

    /// The claims of a cookie value, if its MAC is right and it has not expired at `now`.
    pub fn open(key: &SessionKey, value: &str, now: u64) -> Option<Self> {
        // A real cookie is 2 + 64 + 20 + 32 + 64 characters and four dots.
        if value.len() > 256 {
            return None;
        }
        let (payload, mac) = value.rsplit_once('.')?;
        let mut given = [0u8; 32];
        hex::decode_to_slice(mac, &mut given).ok()?;
        let expected = key.mac(&[b"session", payload.as_bytes()]);
        if !bool::from(expected.ct_eq(&given)) {
            return None;
        }
        let mut fields = payload.split('.');
        let (Some("v1"), Some(hash), Some(expires), Some(id), None) =
            (fields.next(), fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return None;
        };
        let mut claims = Self { token_hash: [0; 32], expires: expires.parse().ok()?, id: [0; 16] };
        hex::decode_to_slice(hash, &mut claims.token_hash).ok()?;
        hex::decode_to_slice(id, &mut claims.id).ok()?;
        (claims.expires > now).then_some(claims)
    }

    /// This session's CSRF token.
    pub fn csrf(&self, key: &SessionKey) -> String {
        hex::encode(key.mac(&[b"csrf", &self.id]))
    }

    /// Whether `presented` is this session's CSRF token (in constant time).
    pub fn csrf_matches(&self, key: &SessionKey, presented: &str) -> bool {
        let expected = self.csrf(key);
        presented.len() == expected.len() && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
    }
}

/// A new random value for the sign-in form's double-submit cookie.
pub fn login_nonce() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Whether two secrets are equal, in constant time.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, for the whole site, `Secure` when
/// the page was served over https, and ending after `max_age` (zero: cleared now).
pub fn set_cookie(name: &str, value: &str, max_age: Duration, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}", max_age.as_secs())
}

/// Whether the request reached bosun over https: directly, or through a load balancer
/// that says so (`X-Forwarded-Proto`, which the ALB sets). A client that claims https
/// falsely only gets a cookie its browser will not send back over http.
pub fn over_https(headers: &HeaderMap, uri: &http::Uri) -> bool {
    uri.scheme_str() == Some("https")
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    #[test]
    fn a_session_opens_with_its_key_until_it_expires() {
        let key = SessionKey::random();
        let claims = Claims::new([7; 32], NOW, Duration::from_secs(3600));
        let sealed = claims.seal(&key);
        assert!(!sealed.contains("bosun_"), "the cookie holds a hash, not a token");
        assert_eq!(Claims::open(&key, &sealed, NOW), Some(claims.clone()));
        assert_eq!(Claims::open(&key, &sealed, NOW + 3599), Some(claims));
        assert_eq!(Claims::open(&key, &sealed, NOW + 3600), None, "expired");
        assert_eq!(Claims::open(&SessionKey::random(), &sealed, NOW), None, "another key");
    }

    #[test]
    fn a_changed_cookie_does_not_open() {
        let key = SessionKey::from_secret(b"s3cret");
        let sealed = Claims::new([7; 32], NOW, Duration::from_secs(3600)).seal(&key);
        // A later expiry, another token hash, a truncated MAC, junk.
        let (payload, mac) = sealed.rsplit_once('.').unwrap();
        let later = payload.replace(&(NOW + 3600).to_string(), &(NOW + 999_999).to_string());
        assert_eq!(Claims::open(&key, &format!("{later}.{mac}"), NOW), None);
        let other = payload.replacen(&"07".repeat(32), &"08".repeat(32), 1);
        assert_eq!(Claims::open(&key, &format!("{other}.{mac}"), NOW), None);
        assert_eq!(Claims::open(&key, &sealed[..sealed.len() - 2], NOW), None);
        for junk in ["", ".", "v1", "v1....", &"a".repeat(300)] {
            assert_eq!(Claims::open(&key, junk, NOW), None, "{junk:?}");
        }
        // The same secret gives the same key (several replicas).
        assert!(Claims::open(&SessionKey::from_secret(b"s3cret"), &sealed, NOW).is_some());
    }

    #[test]
    fn csrf_tokens_belong_to_one_session() {
        let key = SessionKey::random();
        let a = Claims::new([1; 32], NOW, Duration::from_secs(60));
        let b = Claims::new([1; 32], NOW, Duration::from_secs(60));
        assert!(a.csrf_matches(&key, &a.csrf(&key)));
        assert!(!a.csrf_matches(&key, &b.csrf(&key)), "same token, another session");
        assert!(!a.csrf_matches(&key, ""));
        assert!(!a.csrf_matches(&key, &a.csrf(&SessionKey::random())));
    }

    #[test]
    fn cookies_are_found_and_set_strictly() {
        let mut h = HeaderMap::new();
        h.append(http::header::COOKIE, "a=1; bosun_session=xyz".parse().unwrap());
        h.append(http::header::COOKIE, "bosun_login=n".parse().unwrap());
        assert_eq!(cookie(&h, COOKIE), Some("xyz"));
        assert_eq!(cookie(&h, LOGIN_COOKIE), Some("n"));
        assert_eq!(cookie(&h, "b"), None);
        let set = set_cookie(COOKIE, "v", Duration::from_secs(60), true);
        assert_eq!(set, "bosun_session=v; Path=/; HttpOnly; SameSite=Strict; Max-Age=60; Secure");
        assert!(!set_cookie(COOKIE, "", Duration::ZERO, false).contains("Secure"));
    }
}
