//! The viewers: HTTP-FLV (raw HTTP/1.1, chunked decoded here), WS-FLV (tokio-tungstenite)
//! and RTMP play ([`RtmpConn`]). They run beside the server on the same cores, so they
//! stay light: no media is copied or decoded; only tag / message headers are looked at.
//!
//! Each viewer counts wire and media bytes into shared atomics (the main thread reads them
//! at the edges of the steady window), and records its time to first video tag and to
//! first key frame (from the start of its TCP connect), and its lag on every 10th video
//! tag inside the window: wall clock now − (media clock start + tag timestamp).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::flv_scan::{Dechunker, FlvScanner, TagInfo, is_keyframe};
use crate::media::{AUDIO, VIDEO};
use crate::rtmp_client::{Event, RtmpConn, RtmpUrl, error_status};

/// Connecting (TCP + handshake + request) must finish within this.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Lag is sampled on every n-th video tag.
const LAG_EVERY: u32 = 10;

/// What to play.
#[derive(Debug, Clone)]
pub enum PlayTarget {
    /// `GET` of a chunked FLV body.
    HttpFlv {
        /// Resolved address.
        addr: SocketAddr,
        /// `Host` header value.
        host: String,
        /// Path and query.
        path: String,
    },
    /// WebSocket, one FLV tag (or the file header) per binary message.
    WsFlv {
        /// Resolved address.
        addr: SocketAddr,
        /// The `ws://` URL.
        url: String,
    },
    /// RTMP play.
    Rtmp {
        /// Resolved address.
        addr: SocketAddr,
        /// The URL's parts.
        url: RtmpUrl,
    },
}

impl PlayTarget {
    /// Short protocol name for the table.
    pub fn proto(&self) -> &'static str {
        match self {
            Self::HttpFlv { .. } => "http-flv",
            Self::WsFlv { .. } => "ws-flv",
            Self::Rtmp { .. } => "rtmp",
        }
    }
}

/// Byte counters of one viewer, read by the main thread while the viewer runs.
#[derive(Debug, Default)]
pub struct Counters {
    /// Bytes read from the socket (RTMP chunk headers, HTTP chunking, WS payloads).
    pub wire: AtomicU64,
    /// Audio + video payload bytes (tag / message body sizes).
    pub media: AtomicU64,
}

/// The instants every viewer works against.
#[derive(Debug, Clone, Copy)]
pub struct Timeline {
    /// When the publisher sent media time 0.
    pub media_start: Instant,
    /// Lag is sampled between these two.
    pub window_start: Instant,
    /// End of the steady window.
    pub window_end: Instant,
    /// Viewers disconnect here.
    pub end: Instant,
}

/// What one viewer saw.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// The server accepted the play request.
    pub connected: bool,
    /// From connect start to the server accepting the play request.
    pub setup: Option<Duration>,
    /// From connect start to the first video tag.
    pub first_video: Option<Duration>,
    /// From connect start to the first key frame (a picture a player can show).
    pub first_key: Option<Duration>,
    /// Lag samples in the window, ms.
    pub lag_ms: Vec<f32>,
    /// Why the viewer stopped before the end.
    pub error: Option<String>,
}

struct Meter<'a> {
    tl: &'a Timeline,
    counters: &'a Counters,
    began: Instant,
    out: Outcome,
    videos: u32,
}

impl Meter<'_> {
    fn connected(&mut self) {
        self.out.connected = true;
        self.out.setup = Some(self.began.elapsed());
    }

    fn wire(&self, n: usize) {
        self.counters.wire.fetch_add(n as u64, Ordering::Relaxed);
    }

    fn tag(
        &mut self,
        now: Instant,
        type_id: u8,
        timestamp: u32,
        size: u32,
        first: Option<[u8; 2]>,
    ) {
        if type_id != AUDIO && type_id != VIDEO {
            return;
        }
        self.counters
            .media
            .fetch_add(u64::from(size), Ordering::Relaxed);
        if type_id != VIDEO {
            return;
        }
        let since = now.saturating_duration_since(self.began);
        self.out.first_video.get_or_insert(since);
        if self.out.first_key.is_none() && first.is_some_and(is_keyframe) {
            self.out.first_key = Some(since);
        }
        self.videos += 1;
        if self.videos.is_multiple_of(LAG_EVERY)
            && now >= self.tl.window_start
            && now < self.tl.window_end
        {
            let wall_ms = now
                .saturating_duration_since(self.tl.media_start)
                .as_secs_f64()
                * 1000.0;
            self.out
                .lag_ms
                .push((wall_ms - f64::from(timestamp)) as f32);
        }
    }

    fn flv_tag(&mut self, now: Instant, t: TagInfo) {
        self.tag(now, t.type_id, t.timestamp, t.size, t.first);
    }
}

/// Runs `n` viewers on their own thread and runtime (`threads` workers; 1 = current-thread),
/// viewer `i` starting at `join_start + i · join_within / n`. Returns their outcomes.
pub fn spawn_all(
    target: Arc<PlayTarget>,
    tl: Timeline,
    counters: Arc<Vec<Counters>>,
    join_start: Instant,
    join_within: Duration,
    threads: usize,
    read_buf: usize,
) -> std::io::Result<std::thread::JoinHandle<anyhow::Result<Vec<Outcome>>>> {
    std::thread::Builder::new()
        .name("viewers".into())
        .spawn(move || {
            let rt = worker_runtime(threads)?;
            rt.block_on(async move {
                let n = counters.len();
                let mut tasks = Vec::with_capacity(n);
                for i in 0..n {
                    let offset = join_within.mul_f64(i as f64 / n.max(1) as f64);
                    let (target, counters) = (target.clone(), counters.clone());
                    tasks.push(tokio::spawn(async move {
                        let counters = counters.get(i).context("viewer index")?;
                        Ok::<_, anyhow::Error>(
                            run(&target, &tl, counters, join_start + offset, read_buf).await,
                        )
                    }));
                }
                let mut outcomes = Vec::with_capacity(n);
                for task in tasks {
                    outcomes.push(task.await??);
                }
                Ok(outcomes)
            })
        })
}

/// One viewer, from its start time to the end of the run.
async fn run(
    target: &PlayTarget,
    tl: &Timeline,
    counters: &Counters,
    start_at: Instant,
    read_buf: usize,
) -> Outcome {
    tokio::time::sleep_until(start_at.into()).await;
    let mut meter = Meter {
        tl,
        counters,
        began: Instant::now(),
        out: Outcome::default(),
        videos: 0,
    };
    let play = async {
        match target {
            PlayTarget::HttpFlv { addr, host, path } => {
                http_flv(&mut meter, *addr, host, path, read_buf).await
            }
            PlayTarget::WsFlv { addr, url } => ws_flv(&mut meter, *addr, url, read_buf).await,
            PlayTarget::Rtmp { addr, url } => rtmp(&mut meter, *addr, url, read_buf).await,
        }
    };
    let result = tokio::time::timeout_at(tl.end.into(), play).await;
    match result {
        Ok(Err(e)) => meter.out.error = Some(format!("{e:#}")),
        Ok(Ok(())) => meter.out.error = Some("stream ended".into()),
        Err(_) if !meter.out.connected => {
            meter.out.error = Some("not connected by the end of the run".into())
        }
        Err(_) => {}
    }
    meter.out
}

async fn connect(addr: SocketAddr) -> anyhow::Result<TcpStream> {
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| anyhow!("connect: timed out after {CONNECT_TIMEOUT:?}"))?
        .map_err(crate::connect_error)?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Checks the status line and finds `Transfer-Encoding: chunked`.
fn parse_response_head(head: &[u8]) -> anyhow::Result<bool> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let status = lines.next().unwrap_or_default();
    let code = status.split_whitespace().nth(1).unwrap_or_default();
    if code != "200" {
        bail!(
            "HTTP {}",
            status.split_once(' ').map_or(status, |(_, rest)| rest)
        );
    }
    Ok(lines.any(|line| {
        line.split_once(':').is_some_and(|(name, value)| {
            name.trim().eq_ignore_ascii_case("transfer-encoding")
                && value.to_ascii_lowercase().contains("chunked")
        })
    }))
}

async fn http_flv(
    m: &mut Meter<'_>,
    addr: SocketAddr,
    host: &str,
    path: &str,
    read_buf: usize,
) -> anyhow::Result<()> {
    let mut stream = connect(addr).await?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: onair-bench\r\nAccept: */*\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut buf = vec![0u8; read_buf.max(4096)];
    let mut filled = 0;
    let (body_start, chunked) = loop {
        let n = tokio::time::timeout(
            CONNECT_TIMEOUT,
            stream.read(buf.get_mut(filled..).unwrap_or_default()),
        )
        .await
        .map_err(|_| anyhow!("no response headers within {CONNECT_TIMEOUT:?}"))??;
        if n == 0 {
            bail!("closed before the response headers");
        }
        m.wire(n);
        filled += n;
        let head = buf.get(..filled).unwrap_or_default();
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break (
                end + 4,
                parse_response_head(head.get(..end).unwrap_or_default())?,
            );
        }
        if filled == buf.len() {
            bail!("response headers longer than {} bytes", buf.len());
        }
    };
    m.connected();
    let mut scanner = FlvScanner::new();
    let mut dechunker = Dechunker::new();
    let mut feed = |m: &mut Meter<'_>, data: &[u8]| -> anyhow::Result<()> {
        let now = Instant::now();
        if chunked {
            dechunker.feed(data, |body| scanner.feed(body, |t| m.flv_tag(now, t)))?;
            if dechunker.done() {
                bail!("stream ended (last chunk)");
            }
        } else {
            scanner.feed(data, |t| m.flv_tag(now, t));
        }
        Ok(())
    };
    feed(m, buf.get(body_start..filled).unwrap_or_default())?;
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            bail!("closed by server");
        }
        m.wire(n);
        feed(m, buf.get(..n).unwrap_or_default())?;
    }
}

async fn ws_flv(
    m: &mut Meter<'_>,
    addr: SocketAddr,
    url: &str,
    read_buf: usize,
) -> anyhow::Result<()> {
    let stream = connect(addr).await?;
    let config = WebSocketConfig::default().read_buffer_size(read_buf.max(4096));
    let handshake = tokio_tungstenite::client_async_with_config(url, stream, Some(config));
    let (mut ws, _) = tokio::time::timeout(CONNECT_TIMEOUT, handshake)
        .await
        .map_err(|_| anyhow!("WebSocket handshake: no answer within {CONNECT_TIMEOUT:?}"))?
        .map_err(|e| anyhow!("WebSocket handshake: {e}"))?;
    m.connected();
    let mut scanner = FlvScanner::new();
    while let Some(message) = ws.next().await {
        match message? {
            Message::Binary(data) => {
                let frame_header = match data.len() {
                    0..126 => 2,
                    126..65536 => 4,
                    _ => 10,
                };
                m.wire(data.len() + frame_header);
                let now = Instant::now();
                scanner.feed(&data, |t| m.flv_tag(now, t));
            }
            Message::Close(frame) => {
                bail!(
                    "closed by server{}",
                    frame
                        .map(|f| format!(": {} {}", f.code, f.reason))
                        .unwrap_or_default()
                )
            }
            _ => {}
        }
    }
    bail!("closed by server")
}

async fn rtmp(
    m: &mut Meter<'_>,
    addr: SocketAddr,
    url: &RtmpUrl,
    read_buf: usize,
) -> anyhow::Result<()> {
    let mut stage = "TCP connect";
    let setup = async {
        let stream = connect(addr).await?;
        stage = "handshake";
        let mut conn = RtmpConn::handshake(stream, true, read_buf).await?;
        stage = "connect command";
        conn.connect(url, false).await?;
        stage = "createStream/play";
        conn.play(url).await?;
        Ok::<_, anyhow::Error>(conn)
    };
    let setup = tokio::time::timeout(CONNECT_TIMEOUT, setup).await;
    let mut conn =
        setup.map_err(|_| anyhow!("RTMP {stage}: no answer within {CONNECT_TIMEOUT:?}"))??;
    m.connected();
    m.wire(conn.received() as usize + 2 * 1536 + 1);
    let mut events = Vec::new();
    loop {
        let n = conn.read_events().await?;
        m.wire(n);
        let now = Instant::now();
        std::mem::swap(&mut events, &mut conn.events);
        for event in events.drain(..) {
            match event {
                Event::Media {
                    type_id,
                    timestamp,
                    len,
                    first,
                } => m.tag(
                    now,
                    type_id,
                    timestamp,
                    len,
                    (type_id == VIDEO && len >= 2).then_some(first),
                ),
                command => {
                    if let Some(err) = error_status(&command) {
                        bail!("RTMP play: {err}");
                    }
                }
            }
        }
        conn.flush().await?;
    }
}

/// The runtime simulated clients run on, on their own thread: one thread stays the
/// lightest for the cores the measured server shares; more when the bench's own delay
/// would show in the figures.
pub fn worker_runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_heads() {
        let ok = b"HTTP/1.1 200 OK\r\ncontent-type: video/x-flv\r\nTransfer-Encoding: chunked";
        assert!(parse_response_head(ok).unwrap());
        assert!(!parse_response_head(b"HTTP/1.1 200 OK\r\nContent-Length: 5").unwrap());
        let err = parse_response_head(b"HTTP/1.1 404 Not Found\r\n").unwrap_err();
        assert_eq!(err.to_string(), "HTTP 404 Not Found");
    }
}
