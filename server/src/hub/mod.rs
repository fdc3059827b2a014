//! The stream hub: one [`Stream`] per `app/name`, publishers in, subscribers out.
//!
//! A publisher pushes [`Packet`]s; the stream keeps codec configs, metadata and the GOP from
//! the last keyframe, and broadcasts each packet through one bounded ring shared by every
//! subscriber (`tokio::sync::broadcast`), so a viewer costs a cursor, not a queue. A viewer
//! that falls off the ring, or lags too far in media time, skips to the next keyframe; one
//! that keeps doing so is disconnected (see [`subscriber`]).

mod stream;
mod subscriber;

pub use stream::{Publisher, Stream, StreamInfo};
pub use subscriber::{SubscribeEnd, Subscriber};

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

pub use crate::media::{MediaKind, Packet};
use crate::metrics::Metrics;

/// The protocols a viewer or publisher can use; stats are kept per protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    Rtmp,
    HttpFlv,
    WsFlv,
    /// A server-side consumer (the HLS packager): never counted as a viewer.
    Internal,
}

impl Protocol {
    pub const ALL: [Protocol; 3] = [Protocol::Rtmp, Protocol::HttpFlv, Protocol::WsFlv];
    pub fn index(self) -> usize {
        self as usize
    }
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Rtmp => "rtmp",
            Protocol::HttpFlv => "http-flv",
            Protocol::WsFlv => "ws-flv",
            Protocol::Internal => "internal",
        }
    }

    /// Whether subscribers of this kind count in the viewer stats.
    pub fn is_viewer(self) -> bool {
        self != Protocol::Internal
    }
}

/// Called with an internal subscription to every newly created stream (see [`Hub::on_new_stream`]).
type NewStreamHook = Arc<dyn Fn(Subscriber) + Send + Sync>;

/// Tunables of the hub; the defaults suit a 2 Mbit/s, 30 fps stream.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// Packets in the shared ring; a viewer further behind than this skips to a keyframe.
    pub ring_packets: usize,
    /// Caps on the cached GOP (a stream with no keyframes for a long time stops caching).
    pub gop_max_packets: usize,
    pub gop_max_bytes: usize,
    /// A viewer this far behind the newest packet (media time) skips to the next keyframe.
    pub max_viewer_lag: Duration,
    /// A viewer that had to skip this many times within `skip_window` is disconnected.
    pub max_skips: u32,
    pub skip_window: Duration,
    /// How long a stream waits for its publisher to come back before it ends.
    pub republish_grace: Duration,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            ring_packets: 1024,
            gop_max_packets: 4096,
            gop_max_bytes: 32 << 20,
            max_viewer_lag: Duration::from_secs(5),
            max_skips: 3,
            skip_window: Duration::from_secs(60),
            republish_grace: Duration::from_secs(10),
        }
    }
}

/// Why the hub refused a publisher or a viewer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HubError {
    #[error("stream {0} is already being published")]
    AlreadyPublishing(String),
    #[error("stream {0} is not live")]
    NotFound(String),
    #[error("the server is shutting down")]
    ShuttingDown,
}

pub struct Hub {
    streams: Mutex<HashMap<String, Arc<Stream>>>,
    pub config: HubConfig,
    pub metrics: Arc<Metrics>,
    next_id: AtomicU64,
    me: Weak<Hub>,
    new_stream_hooks: Mutex<Vec<NewStreamHook>>,
    /// Set by [`Hub::end_all`]: no stream starts after the shutdown ended them all.
    closed: AtomicBool,
}

impl Hub {
    pub fn new(config: HubConfig, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new_cyclic(|me| Hub {
            streams: Mutex::new(HashMap::new()),
            config,
            metrics,
            next_id: AtomicU64::new(1),
            me: me.clone(),
            new_stream_hooks: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
        })
    }

    /// Session ids come from a counter, never from time or randomness: no collisions.
    pub fn next_session_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Starts (or resumes, within the grace period) publishing `key` (`app/name`).
    pub fn publish(&self, key: &str, protocol: Protocol) -> Result<Publisher, HubError> {
        let mut streams = lock(&self.streams);
        // Checked under the streams lock, so no stream slips in after `end_all` took them.
        if self.closed.load(Ordering::SeqCst) {
            return Err(HubError::ShuttingDown);
        }
        let mut created = false;
        let stream = streams
            .entry(key.to_string())
            .or_insert_with(|| {
                created = true;
                Stream::new(
                    key.to_string(),
                    self.config.clone(),
                    self.metrics.clone(),
                    self.me.clone(),
                )
            })
            .clone();
        drop(streams);
        if created {
            // Subscribed before the first packet, so a hook sees the stream from its start.
            let hooks = lock(&self.new_stream_hooks).clone();
            for hook in hooks {
                if let Some(sub) = stream.subscribe(Protocol::Internal) {
                    hook(sub);
                }
            }
        }
        // A refusal is counted by `crate::publish`, the one publish flow.
        stream.attach_publisher(self.next_session_id(), protocol)
    }

    /// A new viewer of `key`: it first gets metadata, configs and the cached GOP.
    pub fn subscribe(&self, key: &str, protocol: Protocol) -> Result<Subscriber, HubError> {
        let stream = lock(&self.streams)
            .get(key)
            .cloned()
            .ok_or_else(|| HubError::NotFound(key.to_string()))?;
        stream
            .subscribe(protocol)
            .ok_or_else(|| HubError::NotFound(key.to_string()))
    }

    /// Registers `hook` to get an internal (non-viewer) subscription to every stream
    /// created from now on, e.g. to start a packager per stream.
    pub fn on_new_stream(&self, hook: impl Fn(Subscriber) + Send + Sync + 'static) {
        lock(&self.new_stream_hooks).push(Arc::new(hook));
    }

    pub fn get(&self, key: &str) -> Option<Arc<Stream>> {
        lock(&self.streams).get(key).cloned()
    }

    pub fn streams(&self) -> Vec<Arc<Stream>> {
        let mut all: Vec<_> = lock(&self.streams).values().cloned().collect();
        all.sort_by(|a, b| a.key.cmp(&b.key));
        all
    }

    /// Ends a stream now (its publisher, if any, is told by its next push) and forgets it.
    pub fn end(&self, key: &str) {
        let removed = lock(&self.streams).remove(key);
        if let Some(stream) = removed {
            stream.end();
        }
    }

    /// Server shutdown: ends every stream now (viewers drain what they have and see the
    /// end; packagers and recorders finish) and refuses new publishers from now on.
    /// Returns the keys of the streams it ended.
    pub fn end_all(&self) -> Vec<String> {
        let streams: Vec<Arc<Stream>> = {
            let mut streams = lock(&self.streams);
            self.closed.store(true, Ordering::SeqCst);
            streams.drain().map(|(_, s)| s).collect()
        };
        let mut keys = Vec::with_capacity(streams.len());
        for stream in streams {
            stream.end();
            keys.push(stream.key.clone());
        }
        keys.sort();
        keys
    }

    /// Called by a stream whose grace period ran out.
    fn remove_if_same(&self, stream: &Arc<Stream>) {
        let mut streams = lock(&self.streams);
        if streams
            .get(&stream.key)
            .is_some_and(|s| Arc::ptr_eq(s, stream))
        {
            streams.remove(&stream.key);
        }
    }
}

/// A poisoned lock only means another task panicked mid-update; the hub's state stays usable.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
