//! Serving the router: hyper's HTTP/1.1 + HTTP/2 server on any listener — [`TlsListener`]'s
//! finished handshakes, or plain TCP (both behind the connection caps of
//! [`crate::limits`]).
//!
//! A client gets [`HEADER_TIMEOUT`] to send a request's headers (hyper's
//! `header_read_timeout`), so a connection that trickles bytes or sends nothing (slowloris)
//! is closed instead of holding a socket for ever.
//!
//! Why not `axum::serve`: it turns on RFC 8441 (WebSockets as HTTP/2 `CONNECT` streams),
//! and Chromium then opens every WebSocket that way. Our WebSocket routes are HTTP/1.1
//! upgrades (`GET` + `Upgrade`), and a media WebSocket is better off on its own TCP
//! connection than sharing one h2 flow-control window with page loads. Without the
//! setting, browsers open WebSockets over HTTP/1.1 as they always have; everything else
//! gets h2. Each request carries `ConnectInfo<SocketAddr>`, as in plain mode.

use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use tokio::sync::watch;

use crate::shutdown::Shutdown;
#[cfg(doc)]
use crate::tls::TlsListener;

/// Time a client has to send the headers of a request (each request on a kept-alive
/// connection too).
pub const HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// HTTP/2 requests carry the host in `:authority` (the URI), not in a `Host` header; the
/// router reads `Host` (URLs the API returns, the `Origin` check of state-changing calls),
/// so it is filled in from the URI when missing, as an HTTP/1.1 client would have sent it.
fn host_from_authority<B>(req: &mut hyper::Request<B>) {
    if req.headers().contains_key(hyper::header::HOST) {
        return;
    }
    let host = req
        .uri()
        .authority()
        .and_then(|a| hyper::header::HeaderValue::from_str(a.as_str()).ok());
    if let Some(host) = host {
        req.headers_mut().insert(hyper::header::HOST, host);
    }
}

/// Serves `router` on `listener` until the shutdown, then lets every open connection
/// finish its requests (h2 GOAWAY, HTTP/1.1 close after the response) and returns when
/// all have closed.
pub async fn serve<L>(mut listener: L, router: Router, shutdown: Arc<Shutdown>)
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    // Each connection task holds a receiver; `closed()` resolves when all are gone.
    let (all_closed, open) = watch::channel(());
    loop {
        let (io, peer) = tokio::select! {
            conn = listener.accept() => conn,
            _ = shutdown.triggered() => break,
        };
        let open = open.clone();
        let router = router.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                host_from_authority(&mut req);
                // A Router is always ready, so `call` without `poll_ready` is fine.
                tower_service::Service::call(&mut router.clone(), req)
            });
            let mut builder = Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT);
            let mut conn = pin!(builder.serve_connection_with_upgrades(TokioIo::new(io), service));
            let mut stop = pin!(shutdown.triggered_owned());
            let mut stopping = false;
            loop {
                tokio::select! {
                    result = conn.as_mut() => {
                        if let Err(e) = result {
                            tracing::debug!(%peer, "HTTP connection ended: {e}");
                        }
                        break;
                    }
                    _ = &mut stop, if !stopping => {
                        stopping = true;
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
            drop(open);
        });
    }
    drop(listener);
    drop(open);
    all_closed.closed().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h2_authority_becomes_the_host_header() {
        let mut req = hyper::Request::builder()
            .uri("https://onair.test:8443/api/session")
            .body(())
            .unwrap();
        host_from_authority(&mut req);
        assert_eq!(req.headers()[hyper::header::HOST], "onair.test:8443");
        // An HTTP/1.1 Host header is left alone.
        let mut req = hyper::Request::builder()
            .uri("/x")
            .header(hyper::header::HOST, "a.example")
            .body(())
            .unwrap();
        host_from_authority(&mut req);
        assert_eq!(req.headers()[hyper::header::HOST], "a.example");
    }
}
