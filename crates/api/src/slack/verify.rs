//! Slack's request signing: `X-Slack-Signature` is `v0=` and the hex HMAC-SHA256 of
//! `v0:{timestamp}:{raw body}`, keyed with the app's signing secret, and
//! `X-Slack-Request-Timestamp` must be recent. Checked over the body's bytes as they
//! arrived, before anything decodes them.

use hmac::{Hmac, Mac as _};
use http::HeaderMap;
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

/// The header with the signature.
pub const SIGNATURE: &str = "x-slack-signature";
/// The header with the time of signing, in Unix seconds.
pub const TIMESTAMP: &str = "x-slack-request-timestamp";
/// How far the signing time may be from now, either way: Slack's own advice. Beyond
/// it a captured request cannot be replayed.
pub const MAX_SKEW_SECS: u64 = 5 * 60;

/// Why a request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A header is missing or not text.
    #[error("the request has no Slack signature or timestamp")]
    Missing,
    /// The timestamp is not a number, or more than 5 minutes from now.
    #[error("the request's timestamp is not within 5 minutes of the server's clock")]
    Stale,
    /// The signature does not match.
    #[error("the request's Slack signature does not match")]
    Mismatch,
}

impl Refusal {
    /// The error code of the 401.
    pub fn code(self) -> &'static str {
        match self {
            Self::Missing => "missing_signature",
            Self::Stale => "stale_request",
            Self::Mismatch => "invalid_signature",
        }
    }
}

/// Check the request's signature over `body`, at `now` (Unix seconds).
pub fn verify(secret: &[u8], headers: &HeaderMap, body: &[u8], now: u64) -> Result<(), Refusal> {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok()).ok_or(Refusal::Missing);
    let signature = header(SIGNATURE)?;
    let timestamp = header(TIMESTAMP)?;
    let signed_at: u64 = timestamp.parse().map_err(|_| Refusal::Stale)?;
    if signed_at.abs_diff(now) > MAX_SKEW_SECS {
        return Err(Refusal::Stale);
    }
    let given = signature.strip_prefix("v0=").and_then(|h| hex::decode(h).ok()).ok_or(Refusal::Mismatch)?;
    let expected = sign(secret, timestamp, body);
    if bool::from(expected.as_slice().ct_eq(given.as_slice())) { Ok(()) } else { Err(Refusal::Mismatch) }
}

/// The HMAC-SHA256 of `v0:{timestamp}:{body}`.
fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of Slack's documentation ("Verifying requests from Slack").
    const SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";
    const BODY: &[u8] = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const TS: u64 = 1_531_420_618;
    const SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    fn headers(sig: Option<&str>, ts: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(s) = sig {
            h.insert(SIGNATURE, s.parse().unwrap());
        }
        if let Some(t) = ts {
            h.insert(TIMESTAMP, t.parse().unwrap());
        }
        h
    }

    #[test]
    fn slacks_own_example_verifies() {
        assert_eq!(verify(SECRET, &headers(Some(SIG), Some(&TS.to_string())), BODY, TS + 10), Ok(()));
    }

    #[test]
    fn anything_else_is_refused() {
        let ts = TS.to_string();
        let ok = headers(Some(SIG), Some(&ts));
        assert_eq!(verify(b"another secret", &ok, BODY, TS), Err(Refusal::Mismatch));
        assert_eq!(verify(SECRET, &ok, &BODY[1..], TS), Err(Refusal::Mismatch));
        assert_eq!(verify(SECRET, &ok, BODY, TS + MAX_SKEW_SECS + 1), Err(Refusal::Stale));
        assert_eq!(verify(SECRET, &ok, BODY, TS - MAX_SKEW_SECS - 1), Err(Refusal::Stale));
        assert_eq!(verify(SECRET, &ok, BODY, TS + MAX_SKEW_SECS), Ok(()));
        assert_eq!(verify(SECRET, &headers(None, Some(&ts)), BODY, TS), Err(Refusal::Missing));
        assert_eq!(verify(SECRET, &headers(Some(SIG), None), BODY, TS), Err(Refusal::Missing));
        assert_eq!(verify(SECRET, &headers(Some(SIG), Some("soon")), BODY, TS), Err(Refusal::Stale));
        let upper = SIG.to_uppercase().replacen("V0", "v0", 1);
        assert_eq!(verify(SECRET, &headers(Some(&upper), Some(&ts)), BODY, TS), Ok(()), "hex in either case");
        for bad in ["a2114d57", "v1=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503", "v0=zz", "v0="] {
            assert_eq!(verify(SECRET, &headers(Some(bad), Some(&ts)), BODY, TS), Err(Refusal::Mismatch), "{bad}");
        }
        // The timestamp is part of what is signed.
        let later = (TS + 1).to_string();
        assert_eq!(verify(SECRET, &headers(Some(SIG), Some(&later)), BODY, TS), Err(Refusal::Mismatch));
    }
}
