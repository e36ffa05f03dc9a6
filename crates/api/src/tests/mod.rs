//! The router's behaviour that needs no AWS, through `Router::oneshot`: who may call
//! what, bodies, names, routes, error shapes, request ids, and the limits on plans,
//! bodies and time. The app's AWS is a
//! closed port, so a request that reaches AWS fails at once with a 5xx, which the
//! server-error tests use; what needs a real AWS is tested against the emulator in
//! `tests/`.

mod auth;
mod errors;
mod fixture;
mod input;
mod limits;
mod ui;
