//! The accept loop: at most [`Limits::connections`] connections at once, a header-read
//! timeout on each, and a graceful shutdown.
//!
//! `axum::serve` builds its hyper connections with no timer, so no header-read timeout
//! applies (a client that sends half a request holds its connection forever), and it
//! accepts every connection it is offered. Its documented way out, which axum's
//! `serve-with-hyper` example shows, is to drive hyper-util's connections directly;
//! this module is that loop, with hyper's own `header_read_timeout` and a semaphore
//! around `accept`. (The body and request timeouts need no connection access, and are
//! answered in the API's JSON error shape: see [`crate::limits`].)

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::limits::Limits;

/// How long the loop pauses after an accept error that is not about one connection
/// (out of file descriptors, say), as `axum::serve` does, so it does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// Extra time, past the request timeout, that a shutdown waits for open connections
/// (a response still being written to a slow reader) before it returns anyway.
const SHUTDOWN_SLACK: Duration = Duration::from_secs(5);

/// Serve `app` on `listener` until `shutdown` resolves; then stop accepting, let the
/// requests in flight finish (for at most the request timeout and a few seconds), and
/// return.
///
/// A connection takes a slot before it is accepted, so beyond the cap new connections
/// wait in the kernel's listen backlog and the server holds nothing for them. hyper
/// closes a connection whose request headers have not all arrived within the header
/// timeout, counted from the connection's start and, on a kept-alive connection, from
/// the end of the previous response.
pub async fn run(listener: TcpListener, app: Router, limits: &Limits, shutdown: impl Future<Output = ()>) {
    let slots = Arc::new(Semaphore::new(limits.connections));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = async {
                let slot = slots.clone().acquire_owned().await.expect("the connection semaphore is never closed");
                (slot, listener.accept().await)
            } => accepted,
        };
        let (tcp, slot) = match accepted {
            (slot, Ok((tcp, _))) => (tcp, slot),
            (_, Err(e)) if is_connection_error(&e) => continue,
            (_, Err(e)) => {
                tracing::error!(error = %e, "could not accept a connection");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let conn = http.serve_connection(TokioIo::new(tcp), TowerToHyperService::new(app.clone()));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            // An error here is the client's (a timeout, a reset, a malformed request);
            // hyper has answered what could be answered.
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    let limit = limits.request_timeout + SHUTDOWN_SLACK;
    if tokio::time::timeout(limit, graceful.shutdown()).await.is_err() {
        tracing::warn!(after = ?limit, "connections still open at shutdown are dropped");
    }
}

/// Errors about one connection that went away before it was accepted; the next
/// accept is unaffected.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}
