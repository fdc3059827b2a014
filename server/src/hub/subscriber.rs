//! A viewer's read side of a stream: the start-up burst (metadata, configs, GOP), then the
//! live ring, with the slow-viewer policy applied.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use tokio::sync::broadcast::{self, error::RecvError};

use super::{Protocol, Stream};
use crate::media::{Packet, PacketKind};

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
    rx: broadcast::Receiver<Arc<Packet>>,
    /// Dropping everything but configs until the next video keyframe.
    waiting_keyframe: bool,
    skips: VecDeque<Instant>,
}

impl Subscriber {
    pub(super) fn new(
        stream: Arc<Stream>,
        protocol: Protocol,
        start: Vec<Arc<Packet>>,
        rx: broadcast::Receiver<Arc<Packet>>,
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
        }
    }

    /// The next packet to send, in order; the start-up burst first.
    pub async fn next(&mut self) -> Result<Arc<Packet>, SubscribeEnd> {
        if let Some(p) = self.start.pop_front() {
            return Ok(p);
        }
        loop {
            let packet = match self.rx.recv().await {
                Ok(p) => p,
                Err(RecvError::Closed) => return Err(SubscribeEnd::Ended),
                Err(RecvError::Lagged(n)) => {
                    self.stream
                        .metrics()
                        .skipped_frames
                        .fetch_add(n, Ordering::Relaxed);
                    self.skip()?;
                    continue;
                }
            };
            if let Some(p) = self.filter(packet)? {
                return Ok(p);
            }
        }
    }

    /// Like [`Subscriber::next`] without waiting: `None` when nothing is ready.
    pub fn try_next(&mut self) -> Option<Result<Arc<Packet>, SubscribeEnd>> {
        if let Some(p) = self.start.pop_front() {
            return Some(Ok(p));
        }
        loop {
            let packet = match self.rx.try_recv() {
                Ok(p) => p,
                Err(broadcast::error::TryRecvError::Empty) => return None,
                Err(broadcast::error::TryRecvError::Closed) => {
                    return Some(Err(SubscribeEnd::Ended));
                }
                Err(broadcast::error::TryRecvError::Lagged(n)) => {
                    self.stream
                        .metrics()
                        .skipped_frames
                        .fetch_add(n, Ordering::Relaxed);
                    if let Err(e) = self.skip() {
                        return Some(Err(e));
                    }
                    continue;
                }
            };
            match self.filter(packet) {
                Ok(Some(p)) => return Some(Ok(p)),
                Ok(None) => continue,
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// Applies the lag policy to a live packet: `None` drops it.
    fn filter(&mut self, packet: Arc<Packet>) -> Result<Option<Arc<Packet>>, SubscribeEnd> {
        if packet.config || packet.kind == PacketKind::Script {
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
            if packet.keyframe && newest.wrapping_sub(packet.timestamp) as i32 <= max_lag {
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

    /// Adds bytes sent to this stream's and the server's counters.
    pub fn count_out(&self, bytes: u64) {
        self.stream.bytes_out.fetch_add(bytes, Ordering::Relaxed);
        self.stream
            .metrics()
            .bytes_out
            .fetch_add(bytes, Ordering::Relaxed);
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.stream.viewer_left(self.protocol);
    }
}
