//! RTMP on `--rtmp`, and RTMPS (the same protocol inside TLS) on `--rtmps`.
//!
//! Publishers: `rtmp://HOST/APP/ROOM?key=KEY` (OBS: server `rtmp://HOST/APP`, key
//! `ROOM?key=KEY`); `rtmps://HOST:PORT/APP/…` likewise. Players: `rtmp://HOST/APP/ROOM`.
//! Media a player receives is the packet's shared RTMP chunk bytes (built once per packet
//! for all players).
//!
//! - this file: the accept loops and [`SplitIo`], what a transport must offer;
//! - [`conn`]: one connection, generic over the transport (monomorphized: plain RTMP keeps
//!   its owned TCP halves, RTMPS splits its TLS stream).

mod conn;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use onair_shared::rtmp::RtmpError;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};

use crate::AppState;
use crate::auth::AuthError;
use crate::hub::HubError;
use crate::limits::{ConnLimits, Counted, Permit};
use crate::shutdown::Tracked;
use crate::tls::TlsListener;
use conn::Conn;

/// The handshake and `connect` must be done within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A write to a player that blocks this long means it is stuck: disconnect it.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Our outgoing chunk size: every player uses it, so media chunks are built once for all.
const CHUNK_SIZE: u32 = 4096;

/// Why an RTMP connection was closed; logged with the peer's address.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    #[error("protocol error: {0}")]
    Protocol(#[from] RtmpError),
    #[error("publish refused: {0}")]
    Auth(#[from] AuthError),
    #[error("publish refused: {0}")]
    Hub(#[from] HubError),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("no data for {0:?}")]
    Idle(Duration),
    #[error("the player did not read for {0:?}")]
    Stuck(Duration),
    #[error("the stream was closed by the server")]
    StreamClosed,
}

impl From<crate::publish::PublishError> for ConnError {
    fn from(e: crate::publish::PublishError) -> Self {
        match e {
            crate::publish::PublishError::Auth(e) => ConnError::Auth(e),
            crate::publish::PublishError::Hub(e) => ConnError::Hub(e),
        }
    }
}

/// Accepts RTMP connections until the shutdown; `_tracked` (the listener) is done when
/// it stops accepting. Each connection is tracked until it has closed.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    caps: Arc<ConnLimits>,
    _tracked: Tracked,
) -> anyhow::Result<()> {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((sock, peer)) => {
                    // Over a cap: dropped (closed) here, before any per-connection work.
                    if let Ok(admitted) = caps.admit(peer.ip()) {
                        crate::tune_socket(&sock);
                        spawn_conn(sock, peer, &state, "rtmp", Some(admitted));
                    }
                }
                Err(e) => {
                    // Usually EMFILE: back off instead of spinning.
                    tracing::error!("RTMP accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = state.shutdown.triggered() => return Ok(()),
        }
    }
}

/// RTMPS: the same connections, after the TLS handshake the listener has done (it tunes
/// the socket, bounds and times handshakes). Tracked like [`serve`].
pub async fn serve_tls(
    mut listener: TlsListener,
    state: Arc<AppState>,
    _tracked: Tracked,
) -> anyhow::Result<()> {
    use axum::serve::Listener as _;
    loop {
        tokio::select! {
            // Admitted by the listener's caps before the handshake; the stream holds it.
            (stream, peer) = listener.accept() => spawn_conn(stream, peer, &state, "rtmps", None),
            _ = state.shutdown.triggered() => return Ok(()),
        }
    }
}

/// Runs one connection in its own task, tracked until it has closed.
fn spawn_conn<S: SplitIo>(
    sock: S,
    peer: SocketAddr,
    state: &Arc<AppState>,
    scheme: &'static str,
    admitted: Option<Permit>,
) {
    let state = state.clone();
    let tracked = state
        .shutdown
        .track("connection", format!("{scheme} {peer}"));
    tokio::spawn(async move {
        let _tracked = tracked;
        let _admitted = admitted;
        let _conn = state.metrics.connection();
        let mut conn = Conn::new(state.clone(), peer);
        match conn.run(sock).await {
            Ok(()) => tracing::debug!(%peer, "{scheme} connection closed"),
            Err(e) => {
                if !matches!(e, ConnError::Io(_)) {
                    state
                        .metrics
                        .rejected_connections
                        .fetch_add(1, Ordering::Relaxed);
                }
                tracing::warn!(%peer, "{scheme} connection closed: {e}");
            }
        }
    });
}

/// A transport an RTMP connection runs on: split into halves the read and the write side
/// own, so a player can be written to while the connection waits for input.
pub trait SplitIo: Send + 'static {
    type Read: AsyncRead + Unpin + Send;
    type Write: AsyncWrite + Unpin + Send;
    fn split_io(self) -> (Self::Read, Self::Write);
}

/// Plain RTMP: the kernel socket's own halves, no lock between them.
impl SplitIo for TcpStream {
    type Read = tokio::net::tcp::OwnedReadHalf;
    type Write = tokio::net::tcp::OwnedWriteHalf;
    fn split_io(self) -> (Self::Read, Self::Write) {
        self.into_split()
    }
}

/// RTMPS: one TLS session has one state, so its halves share it through tokio's split.
impl SplitIo for tokio_rustls::server::TlsStream<Counted<TcpStream>> {
    type Read = tokio::io::ReadHalf<Self>;
    type Write = tokio::io::WriteHalf<Self>;
    fn split_io(self) -> (Self::Read, Self::Write) {
        tokio::io::split(self)
    }
}
