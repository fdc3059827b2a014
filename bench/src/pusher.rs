//! The publisher: sends the clip's tags paced in real time over RTMP or an HTTP-FLV POST,
//! on its own thread and runtime so that a thousand viewers cannot delay it.
//!
//! Tag timestamp `ts` is sent at `media_start + ts`, and that instant is the media clock
//! the viewers measure their lag against ([`PushStats::media_start`]).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::{BufMut, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::media::{Media, MediaTag, SCRIPT};
use crate::rtmp_client::{RtmpConn, RtmpUrl, set_data_frame};

/// Where to publish.
#[derive(Debug, Clone)]
pub enum PushTarget {
    /// RTMP publish.
    Rtmp {
        /// The URL's parts.
        url: RtmpUrl,
        /// Resolved address.
        addr: SocketAddr,
    },
    /// `POST` of a chunked FLV body.
    HttpFlv {
        /// Resolved address.
        addr: SocketAddr,
        /// `Host` header value.
        host: String,
        /// Path and query.
        path: String,
    },
}

/// What the publisher reports while it runs.
#[derive(Debug, Default)]
pub struct PushStats {
    /// The instant media time 0 was sent.
    pub media_start: OnceLock<Instant>,
    /// Audio + video body bytes sent.
    pub media_bytes: AtomicU64,
    /// Worst lateness of a tag against its schedule, µs.
    pub max_late_us: AtomicU64,
    /// Why the publisher stopped early.
    pub error: Mutex<Option<String>>,
}

impl PushStats {
    /// The error the publisher stopped with, if any.
    pub fn error(&self) -> Option<String> {
        self.error.lock().map_or(None, |e| e.clone())
    }
}

/// Starts the publisher thread; it stops when `stop` is set.
pub fn spawn(
    target: PushTarget,
    media: Arc<Media>,
    stats: Arc<PushStats>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("pusher".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            let result = match rt {
                Ok(rt) => rt.block_on(run(&target, &media, &stats, &stop)),
                Err(e) => Err(e.into()),
            };
            if let Err(e) = result
                && let Ok(mut slot) = stats.error.lock()
            {
                *slot = Some(format!("{e:#}"));
            }
        })
}

async fn run(
    target: &PushTarget,
    media: &Media,
    stats: &PushStats,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    match target {
        PushTarget::Rtmp { url, addr } => push_rtmp(url, *addr, media, stats, stop).await,
        PushTarget::HttpFlv { addr, host, path } => {
            push_http(*addr, host, path, media, stats, stop).await
        }
    }
}

/// Waits until the tag's due time; records lateness and the media clock's start.
fn due(stats: &PushStats, ts: u64) -> tokio::time::Instant {
    let start = *stats.media_start.get_or_init(Instant::now);
    let due = start + Duration::from_millis(ts);
    let late = Instant::now().saturating_duration_since(due).as_micros() as u64;
    stats.max_late_us.fetch_max(late, Ordering::Relaxed);
    due.into()
}

fn sent(stats: &PushStats, tag: &MediaTag) {
    if tag.type_id != SCRIPT {
        stats
            .media_bytes
            .fetch_add(tag.body.len() as u64, Ordering::Relaxed);
    }
}

async fn push_rtmp(
    url: &RtmpUrl,
    addr: SocketAddr,
    media: &Media,
    stats: &PushStats,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    let mut conn = RtmpConn::open(addr, false, 16 << 10)
        .await
        .with_context(|| format!("RTMP publish to {addr}"))?;
    conn.connect(url, true).await?;
    let stream_id = conn.publish(url).await?;
    conn.flush().await?;
    for (ts, tag) in media.looped() {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let due = due(stats, ts);
        // Meanwhile, answer pings and take the server's acknowledgements off the socket.
        while tokio::time::Instant::now() < due {
            tokio::select! {
                _ = tokio::time::sleep_until(due) => {}
                read = conn.read_events() => {
                    read.context("RTMP publisher connection")?;
                    for event in std::mem::take(&mut conn.events) {
                        if let Some(err) = crate::rtmp_client::error_status(&event) {
                            bail!("RTMP publish: {err}");
                        }
                    }
                    conn.flush().await?;
                }
            }
        }
        let ts = ts as u32;
        if tag.type_id == SCRIPT {
            conn.media(SCRIPT, ts, stream_id, &set_data_frame(&tag.body));
        } else {
            conn.media(tag.type_id, ts, stream_id, &tag.body);
        }
        conn.flush().await.context("RTMP publish: sending")?;
        sent(stats, tag);
    }
    Ok(())
}

async fn push_http(
    addr: SocketAddr,
    host: &str,
    path: &str,
    media: &Media,
    stats: &PushStats,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(crate::connect_error)
        .with_context(|| format!("HTTP-FLV publish to {addr}"))?;
    stream.set_nodelay(true)?;
    let (mut rd, mut wr) = stream.split();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: onair-bench\r\nContent-Type: video/x-flv\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    let mut out = BytesMut::with_capacity(256 << 10);
    out.put_slice(request.as_bytes());
    chunk(&mut out, b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00");
    let mut answer = vec![0u8; 4096];
    for (ts, tag) in media.looped() {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let due = due(stats, ts);
        if tokio::time::Instant::now() < due {
            // The server only answers a POST early to refuse it.
            tokio::select! {
                _ = tokio::time::sleep_until(due) => {}
                n = rd.read(&mut answer) => {
                    let n = n.unwrap_or(0);
                    let text = String::from_utf8_lossy(answer.get(..n).unwrap_or_default());
                    let line = text.lines().next().unwrap_or("connection closed");
                    bail!("HTTP-FLV publish refused: {line}");
                }
            }
        }
        let ts = ts as u32;
        let size = tag.body.len();
        out.put_slice(format!("{:x}\r\n", 11 + size + 4).as_bytes());
        out.put_u8(tag.type_id);
        out.put_uint(size as u64, 3);
        out.put_uint(u64::from(ts & 0xFF_FFFF), 3);
        out.put_u8((ts >> 24) as u8);
        out.put_uint(0, 3);
        out.put_slice(&tag.body);
        out.put_u32(11 + size as u32);
        out.put_slice(b"\r\n");
        wr.write_all(&out)
            .await
            .context("HTTP-FLV publish: sending")?;
        out.clear();
        sent(stats, tag);
    }
    out.put_slice(b"0\r\n\r\n");
    wr.write_all(&out).await?;
    Ok(())
}

fn chunk(out: &mut BytesMut, data: &[u8]) {
    out.put_slice(format!("{:x}\r\n", data.len()).as_bytes());
    out.put_slice(data);
    out.put_slice(b"\r\n");
}
