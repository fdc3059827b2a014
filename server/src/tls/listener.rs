//! [`TlsListener`]: TCP in, finished TLS handshakes out, as an `axum::serve::Listener`.
//!
//! The handshake must not run inside `accept()`: one slow or silent client would stall
//! every other. So an accept task takes TCP connections, spawns each handshake (bounded in
//! time by [`HANDSHAKE_TIMEOUT`] and in number by [`MAX_HANDSHAKES`]) and passes finished
//! streams through a bounded channel that `accept()` reads. A failed handshake is logged at
//! debug with the peer's address and touches nothing else.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};

use crate::limits::{ConnLimits, Counted};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::shutdown::Shutdown;

/// A client has this long to finish its handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at once; past it the accept loop waits (the kernel backlog holds
/// the rest), so a flood of half-open connections cannot eat memory.
pub const MAX_HANDSHAKES: usize = 1024;
/// Finished handshakes waiting for `accept()`.
const READY: usize = 64;

/// Accepts TLS connections: `accept()` yields streams whose handshake is done, with the
/// peer's address.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<Counted<TcpStream>>, SocketAddr)>,
    local: SocketAddr,
    accept_task: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// Starts accepting on `tcp` with `config` until the shutdown (or until this drops).
    /// `what` names the listener in logs (`https`, `rtmps`).
    pub fn new(
        tcp: TcpListener,
        config: Arc<ServerConfig>,
        caps: Arc<ConnLimits>,
        shutdown: Arc<Shutdown>,
        what: &'static str,
    ) -> std::io::Result<Self> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(READY);
        let accept_task = tokio::spawn(accept_loop(
            tcp,
            TlsAcceptor::from(config),
            caps,
            tx,
            shutdown,
            what,
        ));
        Ok(Self {
            ready,
            local,
            accept_task,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        // Nobody takes connections any more: stop accepting them.
        self.accept_task.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<Counted<TcpStream>>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The accept loop has stopped (shutdown): nothing more will come, and the
            // server stops calling accept once it hears the same shutdown.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

async fn accept_loop(
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    caps: Arc<ConnLimits>,
    ready: mpsc::Sender<(TlsStream<Counted<TcpStream>>, SocketAddr)>,
    shutdown: Arc<Shutdown>,
    what: &'static str,
) {
    let limit = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let permit = tokio::select! {
            permit = limit.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => return, // never closed; nothing to do if it were
            },
            _ = shutdown.triggered() => return,
        };
        let (sock, peer) = tokio::select! {
            accepted = tcp.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Usually EMFILE: back off instead of spinning.
                    tracing::error!("{what} accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.triggered() => return,
        };
        // Counted from before the handshake, so a flood of handshakes hits the caps too.
        let Ok(admitted) = caps.admit(peer.ip()) else {
            continue;
        };
        crate::tune_socket(&sock);
        let sock = Counted::new(sock, admitted);
        let acceptor = acceptor.clone();
        let ready = ready.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(sock));
            let stream = tokio::select! {
                done = handshake => match done {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, "{what}: TLS handshake failed: {e}");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "{what}: TLS handshake timed out after {HANDSHAKE_TIMEOUT:?}");
                        return;
                    }
                },
                _ = shutdown.triggered() => return,
            };
            drop(permit);
            // Fails only when the listener is gone; the connection just closes.
            let _ = ready.send((stream, peer)).await;
        });
    }
}
