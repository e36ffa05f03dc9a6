//! What one request, one caller and all callers together may hold.
//!
//! - Plan previews and stackfile validations are the API's expensive work: parsing a
//!   stackfile of up to the body limit, and planning it against live AWS, takes memory
//!   and CPU in proportion to what the caller sent. At most [`Limits::plans`] run at
//!   once, and at most [`Limits::plans_per_caller`] for one token. A request beyond
//!   either gets 429 `too_many_requests` with `Retry-After` at once, before its body is
//!   buffered (the body is read and dropped, so the client sees the answer); it never
//!   waits in a queue that a caller could grow.
//! - The connection cap and the header timeout are [`crate::server`]'s; the body
//!   timeout is [`crate::body::Body`]'s; the request timeout is the telemetry
//!   middleware's ([`crate::telemetry::observe_request`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{FromRequest, FromRequestParts, Request};
use bytes::Bytes;
use http::request::Parts;
use http::{HeaderValue, StatusCode, header};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::auth::Authenticated;
use crate::body::{self, Body};
use crate::error::ApiError;

/// How long a client refused with 429 is asked to wait before it retries.
pub const RETRY_AFTER: Duration = Duration::from_secs(2);

/// The server's resource limits. The defaults hold a `bosun serve` under the memory
/// target of the README's attack benchmark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Plan previews and validations of a caller's stackfile running at once, all
    /// callers together (`GET`/`POST .../plan`, `PUT .../config`, `POST /clusters`).
    pub plans: usize,
    /// The same for one caller (token name), so one token cannot take every slot.
    pub plans_per_caller: usize,
    /// Connections open at once. Beyond it, new connections wait in the listen
    /// backlog until one closes.
    pub connections: usize,
    /// Time a client has to send a request's headers: from connecting, and on a
    /// kept-alive connection from the end of the previous response (so it also ends
    /// idle connections).
    pub header_timeout: Duration,
    /// Time a client has to send a whole request body.
    pub body_timeout: Duration,
    /// Time a request may take from its headers to its response.
    pub request_timeout: Duration,
    /// The shortest lock (freeze) a caller may take: [`bosun_aws::locks::MIN_TTL`], a
    /// minute. Only the end-to-end tests lower it (a hidden flag), so a lock that
    /// expires by itself is tested in seconds rather than a minute.
    pub lock_min_ttl: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            plans: 4,
            plans_per_caller: 2,
            connections: 1024,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(60),
            lock_min_ttl: bosun_aws::locks::MIN_TTL,
        }
    }
}

impl Limits {
    /// Check that every limit allows something.
    pub fn check(&self) -> Result<(), String> {
        let counts =
            [("plans", self.plans), ("plans per caller", self.plans_per_caller), ("connections", self.connections)];
        if let Some((what, _)) = counts.iter().find(|(_, n)| *n == 0) {
            return Err(format!("the limit of {what} must be at least 1"));
        }
        let times = [("header", self.header_timeout), ("body", self.body_timeout), ("request", self.request_timeout)];
        if let Some((what, _)) = times.iter().find(|(_, d)| d.is_zero()) {
            return Err(format!("the {what} timeout must be longer than 0"));
        }
        if self.lock_min_ttl.is_zero() || self.lock_min_ttl > bosun_aws::locks::MAX_TTL {
            return Err("the shortest lock must be longer than 0 and at most a week".to_owned());
        }
        Ok(())
    }
}

/// The plan slots in use: a semaphore for the server-wide bound, and a count per
/// caller. An entry lives only while its caller holds a slot, so the map is bounded
/// by the slots.
#[derive(Debug)]
pub(crate) struct PlanSlots {
    total: Arc<Semaphore>,
    per_caller: Mutex<HashMap<String, usize>>,
    per_caller_max: usize,
}

impl PlanSlots {
    pub(crate) fn new(limits: &Limits) -> Self {
        Self {
            total: Arc::new(Semaphore::new(limits.plans)),
            per_caller: Mutex::default(),
            per_caller_max: limits.plans_per_caller,
        }
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        self.per_caller.lock().expect("the slot counts are never poisoned")
    }
}

/// A slot for one plan preview or validation, held until the response is made.
#[derive(Debug)]
pub struct PlanSlot {
    state: crate::State,
    caller: String,
    _total: OwnedSemaphorePermit,
}

impl PlanSlot {
    /// Take a slot for `caller`, or refuse with 429 when the caller, or the server,
    /// has none left.
    pub fn try_acquire(state: &crate::State, caller: &str) -> Result<Self, ApiError> {
        let slots = &state.plan_slots;
        let mut counts = slots.counts();
        let held = counts.get(caller).copied().unwrap_or(0);
        if held >= slots.per_caller_max {
            return Err(too_many(format!(
                "token {caller} already has {held} plan preview(s) or validation(s) running, its limit; retry when one has finished"
            )));
        }
        let total = slots.total.clone().try_acquire_owned().map_err(|_| {
            too_many(format!(
                "the server is running its limit of {} plan previews and validations; retry shortly",
                state.limits.plans
            ))
        })?;
        *counts.entry(caller.to_owned()).or_default() += 1;
        Ok(Self { state: state.clone(), caller: caller.to_owned(), _total: total })
    }
}

impl Drop for PlanSlot {
    fn drop(&mut self) {
        let mut counts = self.state.plan_slots.counts();
        if let Some(n) = counts.get_mut(&self.caller) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.caller);
            }
        }
    }
}

/// 429 with `Retry-After`.
fn too_many(message: String) -> ApiError {
    ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_requests", message)
        .with_header(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER.as_secs()))
}

impl FromRequestParts<crate::State> for PlanSlot {
    type Rejection = ApiError;

    /// After `Auth<...>` in a handler's arguments: the caller is known by then.
    async fn from_request_parts(parts: &mut Parts, state: &crate::State) -> Result<Self, Self::Rejection> {
        let caller = parts.extensions.get::<Authenticated>().and_then(|a| a.0.as_ref()).map(|c| c.name.as_str());
        Self::try_acquire(state, caller.unwrap_or("-"))
    }
}

/// A plan slot, then the request body: a request refused a slot has its body read and
/// dropped (never buffered) before the 429 goes out.
#[derive(Debug)]
pub struct SlotAndBody(pub PlanSlot, pub Bytes);

impl FromRequest<crate::State> for SlotAndBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &crate::State) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        match PlanSlot::from_request_parts(&mut parts, state).await {
            Ok(slot) => {
                let Body(bytes) = Body::from_request(Request::from_parts(parts, body), state).await?;
                Ok(Self(slot, bytes))
            }
            Err(refused) => {
                body::drain(body, state.limits.body_timeout).await;
                Err(refused)
            }
        }
    }
}
