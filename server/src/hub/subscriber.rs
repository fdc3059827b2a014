//! A viewer's read side of a stream: the start-up burst (metadata, configs, GOP), then the
//! live ring, with the slow-viewer policy applied.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use tokio::sync::broadcast::{self, error::RecvError};

use super::stream::Batch;
use super::{Protocol, Stream};
use crate::media::{MediaKind, Packet};

/// Why a subscription stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SubscribeEnd {
    #[error("the stream ended")]
    Ended,
    #[error("the viewer stayed too far behind and was disconnected")]
    TooSlow,
}

pub struct Subscriber {
    pub stream: Arc<Stream>,
    pub protocol: Protocol,
    pub has_audio: bool,
    pub has_video: bool,
    start: VecDeque<Arc<Packet>>,
    rx: broadcast::Receiver<Batch>,
    /// The batch being handed out, and the next index in it.
    batch: Option<(Batch, usize)>,
    /// Dropping everything but configs until the next video keyframe.
    waiting_keyframe: bool,
    skips: VecDeque<Instant>,
    unflushed_out: u64,
}

impl Subscriber {
    pub(super) fn new(
        stream: Arc<Stream>,
        protocol: Protocol,
        start: Vec<Arc<Packet>>,
        rx: broadcast::Receiver<Batch>,
        has_audio: bool,
        has_video: bool,
    ) -> Self {
        stream.viewer_joined(protocol);
        Self {
            stream,
            protocol,
            has_audio,
            has_video,
            start: start.into(),
            rx,
            waiting_keyframe: false,
            skips: VecDeque::new(),
            unflushed_out: 0,
            batch: None,
        }
    }

    /// The next packet to send, in order; the start-up burst first.
    pub async fn next(&mut self) -> Result<Arc<Packet>, SubscribeEnd> {
        if let Some(p) = self.take_start() {
            return Ok(p);
        }
        loop {
            while let Some(packet) = self.take_from_batch() {
                if let Some(p) = self.filter(packet)? {
                    return Ok(p);
                }
            }
            match self.rx.recv().await {
                Ok(batch) => self.batch = Some((batch, 0)),
                Err(RecvError::Closed) => return Err(SubscribeEnd::Ended),
                Err(RecvError::Lagged(n)) => self.lagged(n)?,
            }
        }
    }

    /// Like [`Subscriber::next`] without waiting: `None` when nothing is ready.
    pub fn try_next(&mut self) -> Option<Result<Arc<Packet>, SubscribeEnd>> {
        if let Some(p) = self.take_start() {
            return Some(Ok(p));
        }
        loop {
            while let Some(packet) = self.take_from_batch() {
                match self.filter(packet) {
                    Ok(Some(p)) => return Some(Ok(p)),
                    Ok(None) => {}
                    Err(e) => return Some(Err(e)),
                }
            }
            match self.rx.try_recv() {
                Ok(batch) => self.batch = Some((batch, 0)),
                Err(broadcast::error::TryRecvError::Empty) => return None,
                Err(broadcast::error::TryRecvError::Closed) => {
                    return Some(Err(SubscribeEnd::Ended));
                }
                Err(broadcast::error::TryRecvError::Lagged(n)) => {
                    if let Err(e) = self.lagged(n) {
                        return Some(Err(e));
                    }
                }
            }
        }
    }

    /// The next packet of the start-up burst. The burst's buffer (a whole GOP of entries)
    /// is freed once drained: a thousand viewers would otherwise each keep it for good.
    fn take_start(&mut self) -> Option<Arc<Packet>> {
        let packet = self.start.pop_front();
        if packet.is_none() && self.start.capacity() > 0 {
            self.start = VecDeque::new();
        }
        packet
    }

    /// The next packet of the batch being handed out.
    fn take_from_batch(&mut self) -> Option<Arc<Packet>> {
        let (batch, i) = self.batch.as_mut()?;
        let packet = batch.get(*i).cloned();
        *i += 1;
        if packet.is_none() {
            self.batch = None;
        }
        packet
    }

    /// The viewer fell off the ring: `n` batches are gone.
    fn lagged(&mut self, n: u64) -> Result<(), SubscribeEnd> {
        self.stream
            .metrics()
            .skipped_frames
            .fetch_add(n, Ordering::Relaxed);
        self.batch = None;
        self.skip()
    }

    /// Applies the lag policy to a live packet: `None` drops it.
    fn filter(&mut self, packet: Arc<Packet>) -> Result<Option<Arc<Packet>>, SubscribeEnd> {
        if packet.is_config() || packet.kind == MediaKind::Script {
            self.has_video |= packet.is_video_config();
            self.has_audio |= packet.is_audio_config();
            return Ok(Some(packet));
        }
        let newest = self.stream.newest_ts.load(Ordering::Relaxed) as u32;
        let behind_ms = newest.wrapping_sub(packet.timestamp) as i32;
        let max_lag = self.stream.config().max_viewer_lag.as_millis() as i32;
        if !self.waiting_keyframe && behind_ms > max_lag && self.has_video {
            self.stream
                .metrics()
                .skipped_frames
                .fetch_add(1, Ordering::Relaxed);
            self.skip()?;
        }
        if self.waiting_keyframe {
            if packet.keyframe() && newest.wrapping_sub(packet.timestamp) as i32 <= max_lag {
                self.waiting_keyframe = false;
            } else {
                self.stream
                    .metrics()
                    .skipped_frames
                    .fetch_add(1, Ordering::Relaxed);
                return Ok(None);
            }
        }
        Ok(Some(packet))
    }

    /// Records one skip-to-keyframe; too many within the window disconnects the viewer.
    fn skip(&mut self) -> Result<(), SubscribeEnd> {
        let now = Instant::now();
        let window = self.stream.config().skip_window;
        while self
            .skips
            .front()
            .is_some_and(|t| now.duration_since(*t) > window)
        {
            self.skips.pop_front();
        }
        self.skips.push_back(now);
        if self.skips.len() as u32 > self.stream.config().max_skips {
            return Err(SubscribeEnd::TooSlow);
        }
        // Audio-only streams can resume anywhere.
        self.waiting_keyframe = self.has_video;
        Ok(())
    }

    /// Counts bytes sent. They reach the shared counters in batches: a thousand viewers
    /// adding to one atomic per packet would bounce its cache line between the cores.
    pub fn count_out(&mut self, bytes: u64) {
        self.unflushed_out += bytes;
        if self.unflushed_out >= COUNT_BATCH {
            self.flush_count();
        }
    }

    fn flush_count(&mut self) {
        let bytes = std::mem::take(&mut self.unflushed_out);
        self.stream.bytes_out.fetch_add(bytes, Ordering::Relaxed);
        self.stream
            .metrics()
            .bytes_out
            .fetch_add(bytes, Ordering::Relaxed);
    }
}

/// About a quarter of a second of a 2 Mbit/s stream.
const COUNT_BATCH: u64 = 64 * 1024;

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.flush_count();
        self.stream.viewer_left(self.protocol);
    }
}
