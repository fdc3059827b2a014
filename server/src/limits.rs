//! Connection caps per listener: at most `max_connections` open at once and at most
//! `max_connections_per_ip` from one address. A connection over a cap is closed at accept,
//! counted in `onair_refused_connections_total`, and logged (at most once a second per
//! listener, with how many were refused meanwhile), so a flood from one address cannot
//! take every socket the process may open.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::metrics::Metrics;

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{0} connections are open, the most this listener takes (max_connections)")]
    Total(usize),
    #[error(
        "{1} connections from {0} are open, the most one address may have (max_connections_per_ip)"
    )]
    PerIp(IpAddr, usize),
}

struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
    /// Refusals since the last log line, and when that was.
    unlogged: u64,
    last_log: Option<Instant>,
}

/// The caps of one listener (`rtmp`, `http`, …).
pub struct ConnLimits {
    name: &'static str,
    max_total: usize,
    max_per_ip: usize,
    counts: Mutex<Counts>,
    metrics: Arc<Metrics>,
}

/// An admitted connection's place; given back when dropped.
pub struct Permit {
    limits: Arc<ConnLimits>,
    ip: IpAddr,
}

impl ConnLimits {
    /// `0` for a cap means no cap.
    pub fn new(
        name: &'static str,
        max_total: usize,
        max_per_ip: usize,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        Arc::new(Self {
            name,
            max_total: if max_total == 0 {
                usize::MAX
            } else {
                max_total
            },
            max_per_ip: if max_per_ip == 0 {
                usize::MAX
            } else {
                max_per_ip
            },
            counts: Mutex::new(Counts {
                total: 0,
                per_ip: HashMap::new(),
                unlogged: 0,
                last_log: None,
            }),
            metrics,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Admits a connection from `ip`, or says why not (and counts and logs the refusal).
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Permit, Refusal> {
        let mut c = self.lock();
        let from_ip = c.per_ip.get(&ip).copied().unwrap_or(0);
        let refusal = if c.total >= self.max_total {
            Some(Refusal::Total(c.total))
        } else if from_ip >= self.max_per_ip {
            Some(Refusal::PerIp(ip, from_ip))
        } else {
            None
        };
        if let Some(refusal) = refusal {
            self.metrics
                .refused_connections
                .fetch_add(1, Ordering::Relaxed);
            c.unlogged += 1;
            let now = Instant::now();
            if c.last_log.is_none_or(|t| now - t >= Duration::from_secs(1)) {
                tracing::warn!(
                    listener = self.name,
                    "connection refused: {refusal} ({} refused since the last such line)",
                    c.unlogged
                );
                c.unlogged = 0;
                c.last_log = Some(now);
            }
            return Err(refusal);
        }
        c.total += 1;
        *c.per_ip.entry(ip).or_insert(0) += 1;
        Ok(Permit {
            limits: self.clone(),
            ip,
        })
    }

    /// Connections open now (for tests and logs).
    pub fn open(&self) -> usize {
        self.lock().total
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut c = self.limits.lock();
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                c.per_ip.remove(&self.ip);
            }
        }
    }
}

/// A connection that holds its [`Permit`] for as long as it is open.
pub struct Counted<T> {
    io: T,
    _permit: Permit,
}

impl<T> Counted<T> {
    pub fn new(io: T, permit: Permit) -> Self {
        Self {
            io,
            _permit: permit,
        }
    }

    pub fn get_ref(&self) -> &T {
        &self.io
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Counted<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Counted<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, b)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// An axum listener whose connections are admitted by [`ConnLimits`]; refused ones are
/// closed at once.
pub struct Limited<L> {
    inner: L,
    limits: Arc<ConnLimits>,
}

impl<L> Limited<L> {
    pub fn new(inner: L, limits: Arc<ConnLimits>) -> Self {
        Self { inner, limits }
    }
}

impl<L> axum::serve::Listener for Limited<L>
where
    L: axum::serve::Listener<Addr = std::net::SocketAddr>,
{
    type Io = Counted<L::Io>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (io, addr) = self.inner.accept().await;
            if let Ok(permit) = self.limits.admit(addr.ip()) {
                return (Counted::new(io, permit), addr);
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_ip_and_in_total() {
        let metrics = Arc::new(Metrics::default());
        let limits = ConnLimits::new("test", 3, 2, metrics.clone());
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let a1 = limits.admit(a).unwrap();
        let _a2 = limits.admit(a).unwrap();
        assert_eq!(limits.admit(a).err(), Some(Refusal::PerIp(a, 2)));
        let _b1 = limits.admit(b).unwrap();
        assert_eq!(limits.admit(b).err(), Some(Refusal::Total(3)));
        drop(a1);
        assert_eq!(limits.open(), 2);
        assert!(limits.admit(b).is_ok(), "a place was given back");
        assert_eq!(metrics.refused_connections.load(Ordering::Relaxed), 2);
        let unlimited = ConnLimits::new("none", 0, 0, metrics);
        let held: Vec<_> = (0..1000).map(|_| unlimited.admit(a).unwrap()).collect();
        assert_eq!(unlimited.open(), held.len());
    }
}
