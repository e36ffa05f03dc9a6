//! Each request's id: made by the telemetry middleware (never taken from the client,
//! who could use it to forge log lines), sent back in `x-request-id`, and logged with
//! the access line and with the cause of any 5xx.

use std::fmt;
use std::future::Future;

use http::HeaderValue;

/// The response header that carries the id.
pub const HEADER: &str = "x-request-id";

tokio::task_local! {
    /// The id of the request whose handler is running; set by the middleware, read by
    /// [`crate::ApiError`]'s `IntoResponse` and by `/readyz`.
    static CURRENT: RequestId;
}

/// A request id: a UUIDv7, so ids sort by time in the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestId(uuid::Uuid);

impl RequestId {
    /// A new id.
    pub fn new() -> Self {
        Self(uuid::Uuid::now_v7())
    }

    /// The id of the request being handled, or a new one outside any request (the
    /// cause of a 5xx is logged under an id in either case).
    pub fn current() -> Self {
        CURRENT.try_with(|id| *id).unwrap_or_default()
    }

    /// Run `f` as the handling of the request with this id.
    pub async fn scope<F: Future>(self, f: F) -> F::Output {
        CURRENT.scope(self, f).await
    }

    /// The id as a header value.
    pub fn header_value(&self) -> HeaderValue {
        HeaderValue::from_str(&self.to_string()).expect("a UUID is a valid header value")
    }
}

impl Default for RequestId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn current_is_the_scoped_id_or_a_new_one_outside_a_request() {
        let id = RequestId::new();
        assert_eq!(id.scope(async { RequestId::current() }).await, id);
        assert_ne!(RequestId::current(), RequestId::current());
        assert_ne!(RequestId::new(), id);
    }
}
