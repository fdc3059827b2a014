//! One live stream: publisher state, configs, the GOP cache, the broadcast ring and stats.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::broadcast;

use super::{Hub, HubConfig, HubError, Protocol, Subscriber, lock};
use crate::media::{MediaKind, Packet, Unit};
use crate::metrics::Metrics;
use onair_shared::media::{MediaError, Parser};

/// Packets kept for new viewers of an audio-only stream (about 1 s of AAC).
const AUDIO_ONLY_CACHE: usize = 48;

pub struct Stream {
    /// `app/name`.
    pub key: String,
    pub created: Instant,
    config: HubConfig,
    metrics: Arc<Metrics>,
    hub: Weak<Hub>,
    state: Mutex<State>,
    /// Newest timestamp sent, for viewers to measure their lag in media time.
    pub(super) newest_ts: AtomicU64,
    pub(super) viewers: [AtomicUsize; 3],
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
}

struct State {
    tx: Option<broadcast::Sender<Batch>>,
    /// Packets not yet broadcast: audio waits for the next video frame (see [`Batch`]).
    pending: Vec<Arc<Packet>>,
    pending_bytes: usize,
    publisher: Option<(u64, Protocol)>,
    /// Bumped on every publisher change, so a stale grace timer knows it lost.
    generation: u64,
    /// Tag bodies → typed units, on the stream's one 64-bit timeline (after the republish
    /// shift, so every output sees the same times).
    parser: Parser,
    /// Packets ingest could not use (dropped, counted, logged now and then).
    unusable: u64,
    metadata: Option<Arc<Packet>>,
    video_config: Option<Arc<Packet>>,
    audio_config: Option<Arc<Packet>>,
    gop: Vec<Arc<Packet>>,
    gop_bytes: usize,
    gop_full: bool,
    /// Republish continuity: output timestamp = input + offset (wrapping 32-bit ms).
    ts_offset: u32,
    ts_rebase_pending: bool,
    last_out_ts: Option<u32>,
    rate: RateWindow,
    published_at: Option<Instant>,
}

/// Bitrates in and out and the frame rate over the last full second, rolled by the
/// publisher's pushes (so an idle stream keeps its last figures).
#[derive(Default)]
struct RateWindow {
    start: Option<Instant>,
    bytes: u64,
    frames: u32,
    out_at_start: u64,
    bitrate: f64,
    bitrate_out: f64,
    fps: f64,
}

impl RateWindow {
    fn add(&mut self, now: Instant, bytes: usize, video_frame: bool, bytes_out: u64) {
        let start = *self.start.get_or_insert(now);
        self.bytes += bytes as u64;
        self.frames += u32::from(video_frame);
        let elapsed = now.duration_since(start).as_secs_f64();
        if elapsed >= 1.0 {
            self.bitrate = self.bytes as f64 * 8.0 / elapsed;
            self.bitrate_out = bytes_out.saturating_sub(self.out_at_start) as f64 * 8.0 / elapsed;
            self.fps = f64::from(self.frames) / elapsed;
            self.start = Some(now);
            self.bytes = 0;
            self.frames = 0;
            self.out_at_start = bytes_out;
        }
    }
}

/// What `/api/streams` shows of a stream.
#[derive(Debug, serde::Serialize)]
pub struct StreamInfo {
    pub key: String,
    pub live: bool,
    pub publisher: Option<Protocol>,
    pub video: Option<crate::codecs::VideoInfo>,
    pub audio: Option<crate::codecs::AudioInfo>,
    pub fps: f64,
    pub bitrate_in: f64,
    pub bitrate_out: f64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub viewers: std::collections::BTreeMap<&'static str, usize>,
    pub uptime_s: f64,
}

impl Stream {
    pub(super) fn new(
        key: String,
        config: HubConfig,
        metrics: Arc<Metrics>,
        hub: Weak<Hub>,
    ) -> Arc<Self> {
        let (tx, _) = broadcast::channel(config.ring_packets.max(16));
        metrics.streams.fetch_add(1, Ordering::Relaxed);
        Arc::new(Stream {
            key,
            created: Instant::now(),
            config,
            metrics,
            hub,
            state: Mutex::new(State {
                tx: Some(tx),
                pending: Vec::new(),
                pending_bytes: 0,
                publisher: None,
                generation: 0,
                parser: Parser::new(),
                unusable: 0,
                metadata: None,
                video_config: None,
                audio_config: None,
                gop: Vec::new(),
                gop_bytes: 0,
                gop_full: false,
                ts_offset: 0,
                ts_rebase_pending: false,
                last_out_ts: None,
                rate: RateWindow::default(),
                published_at: None,
            }),
            newest_ts: AtomicU64::new(0),
            viewers: Default::default(),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
        })
    }

    pub(super) fn attach_publisher(
        self: &Arc<Self>,
        session: u64,
        protocol: Protocol,
    ) -> Result<Publisher, HubError> {
        let mut st = lock(&self.state);
        if st.publisher.is_some() || st.tx.is_none() {
            return Err(HubError::AlreadyPublishing(self.key.clone()));
        }
        st.publisher = Some((session, protocol));
        st.generation += 1;
        // A returning publisher restarts its clock; shift it to continue where viewers are.
        st.ts_rebase_pending = st.last_out_ts.is_some();
        st.published_at.get_or_insert_with(Instant::now);
        // The old GOP belongs to the previous session: a new viewer must start at a new keyframe.
        st.gop.clear();
        st.gop_bytes = 0;
        st.gop_full = false;
        Ok(Publisher {
            stream: self.clone(),
            session,
            ended: false,
        })
    }

    /// Pushes one packet from publisher `session`. Returns false when the stream has ended
    /// (closed by the API or replaced), so the publisher should stop.
    fn push(&self, session: u64, kind: MediaKind, timestamp: u32, body: Bytes) -> bool {
        let size = body.len();
        let mut st = lock(&self.state);
        if st.publisher.map(|p| p.0) != Some(session) {
            return false;
        }
        if st.ts_rebase_pending {
            // Continue 1 ms after the last timestamp viewers saw.
            let last = st.last_out_ts.unwrap_or(0);
            st.ts_offset = last.wrapping_add(1).wrapping_sub(timestamp);
            st.ts_rebase_pending = false;
        }
        let ts = timestamp.wrapping_add(st.ts_offset);
        let unit = match st.parser.parse(kind, ts, &body) {
            Ok(unit) => unit,
            Err(e) => {
                st.unusable += 1;
                let n = st.unusable;
                drop(st);
                self.unusable(kind, n, &e);
                return true;
            }
        };
        // Script data goes on without an RTMP `@setDataFrame` wrapper (a slice, no copy).
        let body = match &unit {
            Unit::Script(script) => script.body.clone(),
            _ => body,
        };
        let packet = Arc::new(Packet::new(kind, ts, body, unit));
        let out = self.bytes_out.load(Ordering::Relaxed);
        st.rate
            .add(Instant::now(), size, packet.is_video_frame(), out);
        if kind != MediaKind::Script {
            st.last_out_ts = Some(ts);
            self.newest_ts.store(u64::from(ts), Ordering::Relaxed);
        }
        if packet.is_video_config() {
            st.video_config = Some(packet.clone());
        } else if packet.is_audio_config() {
            st.audio_config = Some(packet.clone());
        } else if kind == MediaKind::Script {
            if packet.is_metadata() {
                st.metadata = Some(packet.clone());
            }
        } else {
            self.cache_gop(&mut st, &packet);
        }
        let flush = match st.pending.first() {
            _ if kind != MediaKind::Audio || packet.is_config() || st.video_config.is_none() => {
                true
            }
            Some(first) => {
                // Media time alone cannot bound it: a frozen or backwards clock never
                // reaches the span, so packets and bytes do.
                ts.wrapping_sub(first.timestamp) as i32 >= MAX_BATCH_SPAN_MS
                    || st.pending.len() + 1 >= MAX_BATCH_PACKETS
                    || st.pending_bytes + packet.body.len() >= MAX_BATCH_BYTES
            }
            None => false,
        };
        st.pending_bytes += packet.body.len();
        st.pending.push(packet);
        if flush {
            flush_pending(&mut st);
        }
        drop(st);
        self.bytes_in.fetch_add(size as u64, Ordering::Relaxed);
        self.metrics
            .bytes_in
            .fetch_add(size as u64, Ordering::Relaxed);
        true
    }

    /// A packet ingest cannot use is dropped alone: the stream and its viewers go on. The
    /// log says why for the first one and then every thousandth, so a publisher sending
    /// garbage cannot flood it.
    fn unusable(&self, kind: MediaKind, count: u64, error: &MediaError) {
        self.metrics
            .unusable_packets
            .fetch_add(1, Ordering::Relaxed);
        if count == 1 || count.is_multiple_of(1000) {
            tracing::warn!(stream = %self.key, ?kind, dropped = count, "dropping an unusable packet: {error}");
        }
    }

    fn cache_gop(&self, st: &mut State, packet: &Arc<Packet>) {
        if st.video_config.is_none() {
            // Audio-only: every frame is a starting point; keep about a second of it.
            st.gop_bytes += packet.body.len();
            st.gop.push(packet.clone());
            while st.gop.len() > AUDIO_ONLY_CACHE
                || (st.gop.len() > 1 && st.gop_bytes > self.config.gop_max_bytes)
            {
                let old = st.gop.remove(0);
                st.gop_bytes -= old.body.len();
            }
            return;
        }
        if packet.keyframe() {
            st.gop.clear();
            st.gop_bytes = 0;
            st.gop_full = false;
        } else if st.gop.is_empty() || st.gop_full {
            // Nothing a viewer could start on yet, or the GOP outgrew its caps.
            return;
        }
        if st.gop.len() >= self.config.gop_max_packets
            || st.gop_bytes + packet.body.len() > self.config.gop_max_bytes
        {
            st.gop_full = true;
            return;
        }
        st.gop_bytes += packet.body.len();
        st.gop.push(packet.clone());
    }

    /// The publisher went away: wait for it to come back, then end.
    fn detach_publisher(self: &Arc<Self>, session: u64, deliberate: bool) {
        let mut st = lock(&self.state);
        if st.publisher.map(|p| p.0) != Some(session) {
            return;
        }
        st.publisher = None;
        st.generation += 1;
        let generation = st.generation;
        drop(st);
        if deliberate || self.config.republish_grace.is_zero() {
            self.end_and_forget();
            return;
        }
        let stream = self.clone();
        let grace = self.config.republish_grace;
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            let expired = {
                let st = lock(&stream.state);
                st.generation == generation && st.publisher.is_none()
            };
            if expired {
                tracing::info!(stream = %stream.key, "publisher did not return within {grace:?}; stream ended");
                stream.end_and_forget();
            }
        });
    }

    fn end_and_forget(self: &Arc<Self>) {
        self.end();
        if let Some(hub) = self.hub.upgrade() {
            hub.remove_if_same(self);
        }
    }

    /// Ends the stream: every subscriber drains what it has, then sees the end.
    pub(super) fn end(&self) {
        let mut st = lock(&self.state);
        flush_pending(&mut st);
        if st.tx.take().is_some() {
            self.metrics.streams.fetch_sub(1, Ordering::Relaxed);
        }
        st.publisher = None;
        st.generation += 1;
    }

    pub(super) fn subscribe(self: &Arc<Self>, protocol: Protocol) -> Option<Subscriber> {
        let mut st = lock(&self.state);
        // What is pending is already in the GOP cache: send it first so that the new
        // viewer, which starts from the cache, does not get it twice.
        flush_pending(&mut st);
        let rx = st.tx.as_ref()?.subscribe();
        let mut start: Vec<Arc<Packet>> = Vec::with_capacity(st.gop.len() + 3);
        start.extend(st.metadata.iter().cloned());
        start.extend(st.video_config.iter().cloned());
        start.extend(st.audio_config.iter().cloned());
        start.extend(st.gop.iter().cloned());
        let has_video = st.video_config.is_some();
        let has_audio = st.audio_config.is_some();
        drop(st);
        Some(Subscriber::new(
            self.clone(),
            protocol,
            start,
            rx,
            has_audio,
            has_video,
        ))
    }

    pub(super) fn viewer_joined(&self, protocol: Protocol) {
        if !protocol.is_viewer() {
            return;
        }
        self.viewers[protocol.index()].fetch_add(1, Ordering::Relaxed);
        self.metrics.viewers.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn viewer_left(&self, protocol: Protocol) {
        if !protocol.is_viewer() {
            return;
        }
        self.viewers[protocol.index()].fetch_sub(1, Ordering::Relaxed);
        self.metrics.viewers.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn config(&self) -> &HubConfig {
        &self.config
    }

    pub fn viewer_count(&self) -> usize {
        self.viewers.iter().map(|v| v.load(Ordering::Relaxed)).sum()
    }

    pub fn info(&self) -> StreamInfo {
        let st = lock(&self.state);
        StreamInfo {
            key: self.key.clone(),
            live: st.publisher.is_some(),
            publisher: st.publisher.map(|p| p.1),
            video: st
                .video_config
                .as_ref()
                .and_then(|p| p.config())
                .map(|c| crate::codecs::video_info(c)),
            audio: st
                .audio_config
                .as_ref()
                .and_then(|p| p.config())
                .map(|c| crate::codecs::audio_info(c)),
            fps: (st.rate.fps * 10.0).round() / 10.0,
            bitrate_in: st.rate.bitrate.round(),
            bitrate_out: st.rate.bitrate_out.round(),
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
            viewers: Protocol::ALL
                .iter()
                .map(|p| (p.name(), self.viewers[p.index()].load(Ordering::Relaxed)))
                .collect(),
            uptime_s: st
                .published_at
                .map(|t| t.elapsed().as_secs_f64().round())
                .unwrap_or(0.0),
        }
    }
}

/// Packets broadcast together. A video stream's audio frames ride with the next video
/// frame (as SRS's merged writes do, with a much shorter window), so a viewer wakes and
/// writes once per video frame instead of once per packet: about 30 times a second
/// instead of 77 for 30 fps video with 48 kHz AAC.
pub type Batch = Arc<[Arc<Packet>]>;

/// Audio is never held longer than this (media time), even if video stalls.
const MAX_BATCH_SPAN_MS: i32 = 40;
/// Nor are more packets or bytes than these held, whatever the timestamps say.
const MAX_BATCH_PACKETS: usize = 64;
const MAX_BATCH_BYTES: usize = 512 << 10;

fn flush_pending(st: &mut State) {
    if st.pending.is_empty() {
        return;
    }
    st.pending_bytes = 0;
    let batch: Batch = std::mem::take(&mut st.pending).into();
    if let Some(tx) = &st.tx {
        // No receivers is fine: nobody is watching yet.
        let _ = tx.send(batch);
    }
}

/// The publishing side of a stream. Dropping it without [`Publisher::finish`] starts the
/// republish grace period.
pub struct Publisher {
    pub stream: Arc<Stream>,
    session: u64,
    ended: bool,
}

impl Publisher {
    /// Pushes one message; false means the stream is gone and the publisher should close.
    pub fn push(&mut self, kind: MediaKind, timestamp: u32, body: Bytes) -> bool {
        self.stream.push(self.session, kind, timestamp, body)
    }

    /// A deliberate end (RTMP unpublish): viewers get the end now, not after the grace.
    pub fn finish(mut self) {
        self.ended = true;
        self.stream.detach_publisher(self.session, true);
    }

    pub fn session(&self) -> u64 {
        self.session
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        if !self.ended {
            self.stream.detach_publisher(self.session, false);
        }
    }
}
