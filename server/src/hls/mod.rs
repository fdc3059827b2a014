//! HLS out of every live stream: CMAF (fMP4) with LL-HLS parts, and MPEG-TS for H.264+AAC.
//!
//! | URL (under `/hls/live/ROOM/`) | what |
//! | --- | --- |
//! | `index.m3u8` | CMAF media playlist (`_HLS_msn`/`_HLS_part` blocking reload) |
//! | `init.mp4`, `init-N.mp4` | init segments (a new one after a codec change) |
//! | `segN.m4s`, `partN.M.m4s` | segments and LL-HLS parts |
//! | `ts/index.m3u8`, `ts/segN.ts` | MPEG-TS playlist and segments |
//!
//! One packager task per stream, started by a hub hook when the stream is created and fed
//! by an internal (non-viewer) subscription; it writes into the stream's [`Window`] and
//! bumps a `watch` so blocked playlist requests wake up. Viewers cost only their HTTP
//! requests: every segment and part is built once and served as shared [`bytes::Bytes`].
//!
//! - [`packager`]: packets → parts/segments (cutting rules); [`bounds`]: byte and
//!   wall-clock bounds for bad clocks; [`cmaf`]: configs → tracks;
//!   [`ts`]: TS segments; [`window`]: the sliding window; [`playlist`]: m3u8 text;
//!   [`routes`]: the HTTP side.

pub mod bounds;
pub mod cmaf;
pub mod packager;
pub mod playlist;
mod routes;
pub mod ts;
pub mod window;

pub use routes::routes;
pub use window::Window;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::watch;
use tokio::time::Instant;

use crate::config::HlsConfig;
use crate::hub::{Hub, Protocol, SubscribeEnd, Subscriber, lock};
use crate::shutdown::{Shutdown, Tracked};
use packager::{Packager, Targets};

/// The HLS service: the packaged streams by key (`live/ROOM`).
pub struct Hls {
    pub config: HlsConfig,
    streams: Mutex<HashMap<String, Arc<HlsStream>>>,
    hub: Weak<Hub>,
    shutdown: Arc<Shutdown>,
}

/// One stream's packaged media and the signal its waiters wait on.
pub struct HlsStream {
    pub key: String,
    window: Mutex<Window>,
    /// Bumped whenever a part or segment is added or the stream ends.
    changed: watch::Sender<u64>,
}

impl Hls {
    /// Creates the service and hooks it into `hub`: every new stream gets a packager.
    /// A shutdown waits for each playlist to get its `EXT-X-ENDLIST` (not for the linger).
    pub fn start(hub: &Arc<Hub>, config: HlsConfig, shutdown: &Arc<Shutdown>) -> Arc<Self> {
        let hls = Arc::new(Self {
            config,
            streams: Mutex::new(HashMap::new()),
            hub: Arc::downgrade(hub),
            shutdown: shutdown.clone(),
        });
        let weak: Weak<Hls> = Arc::downgrade(&hls);
        hub.on_new_stream(move |sub| {
            if let Some(hls) = weak.upgrade() {
                hls.spawn(sub);
            }
        });
        hls
    }

    pub fn get(&self, key: &str) -> Option<Arc<HlsStream>> {
        lock(&self.streams).get(key).cloned()
    }

    fn spawn(self: &Arc<Self>, sub: Subscriber) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("HLS: no runtime to package {} on", sub.stream.key);
            return;
        };
        let mut window = Window::new(
            self.config.segment_target.as_secs_f64(),
            self.config.part_target.as_secs_f64(),
            self.config.window,
        );
        // Sequence numbers start at the Unix time in seconds: a later stream of the same
        // room (2 s segments, one number each) never reuses a name an HTTP cache holds.
        window.next_msn = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let stream = Arc::new(HlsStream {
            key: sub.stream.key.clone(),
            window: Mutex::new(window),
            changed: watch::Sender::new(0),
        });
        lock(&self.streams).insert(stream.key.clone(), stream.clone());
        let tracked = self.shutdown.track("playlist", stream.key.clone());
        runtime.spawn(package(self.clone(), stream, sub, tracked));
    }

    fn remove_if_same(&self, stream: &Arc<HlsStream>) {
        let mut streams = lock(&self.streams);
        if streams
            .get(&stream.key)
            .is_some_and(|s| Arc::ptr_eq(s, stream))
        {
            streams.remove(&stream.key);
        }
    }
}

/// The packager task: runs until the hub stream ends, then keeps the finished playlist
/// served for the linger time.
async fn package(hls: Arc<Hls>, stream: Arc<HlsStream>, mut sub: Subscriber, tracked: Tracked) {
    let targets = Targets {
        segment_ms: hls.config.segment_target.as_millis() as i64,
        part_ms: (hls.config.part_target.as_millis() as i64).max(1),
    };
    let mut packager = Packager::named(targets, stream.key.clone());
    loop {
        let packet = match sub.next().await {
            Ok(packet) => packet,
            Err(SubscribeEnd::Ended) => break,
            Err(SubscribeEnd::TooSlow) => {
                // Only under extreme load. Rejoin: the replayed configs make the packager
                // start a new segment after a discontinuity.
                tracing::warn!(stream = %stream.key, "HLS packager fell behind; rejoining");
                let again = hls.hub.upgrade().and_then(|hub| {
                    hub.get(&stream.key)
                        .filter(|s| Arc::ptr_eq(s, &sub.stream))
                        .and_then(|_| hub.subscribe(&stream.key, Protocol::Internal).ok())
                });
                match again {
                    Some(again) => {
                        sub = again;
                        continue;
                    }
                    None => break,
                }
            }
        };
        let changed = {
            let mut w = lock(&stream.window);
            let before = (w.next_part(), w.segments.len());
            packager.push(&packet, SystemTime::now(), &mut w);
            (w.next_part(), w.segments.len()) != before
        };
        if changed {
            stream.changed.send_modify(|v| *v += 1);
        }
    }
    // Let go of the hub stream before lingering.
    drop(sub);
    packager.finish(&mut lock(&stream.window));
    stream.changed.send_modify(|v| *v += 1);
    drop(tracked);
    tracing::debug!(stream = %stream.key, "HLS: stream ended; playlist kept for {:?}", hls.config.linger);
    tokio::time::sleep(hls.config.linger).await;
    hls.remove_if_same(&stream);
}

impl HlsStream {
    /// Runs `f` on the window now.
    pub fn with<T>(&self, f: impl FnOnce(&Window) -> T) -> T {
        f(&lock(&self.window))
    }

    /// Waits (no polling: woken by the packager) until `ready` holds or `deadline`
    /// passes; returns whether it holds.
    pub async fn wait_until(&self, deadline: Instant, ready: impl Fn(&Window) -> bool) -> bool {
        // Subscribe before checking, so a change between the check and the wait wakes us.
        let mut rx = self.changed.subscribe();
        loop {
            if self.with(&ready) {
                return true;
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return self.with(&ready),
            }
        }
    }
}

#[cfg(test)]
mod bounds_tests;
#[cfg(test)]
mod tests;
