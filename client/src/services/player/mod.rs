//! The live player: FLV (WS-FLV or HTTP-FLV) → `shared`'s remuxer in wasm → fMP4 → MSE,
//! with live-latency control, reconnects and stats.
//!
//! # Layout
//! - this file: [`Player`], the state machine that ties them together. A 250 ms tick does
//!   everything time-based (connecting, stall detection, latency control, stats), so there
//!   is one timer and no timer juggling.
//! - [`transport`]: WebSocket / streaming fetch; [`hls`]: the LL-HLS part loop (HLS mode);
//!   [`mse`]: `MediaSource` and the one append queue; [`latency`]: the pure latency controller; [`stats`]: `window.onairStats`.
//!
//! Callbacks from the browser hold a `Weak` to the player, so dropping the [`Player`] (the
//! component unmounting) releases everything. A transport is never dropped inside its own
//! callback: it is parked and dropped on the next tick.

pub mod hls;
pub mod latency;
pub mod mse;
pub mod stats;
pub mod transport;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use onair_shared::remux::{ClockStamp, RemuxEvent, Remuxer};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::HtmlVideoElement;

use latency::{Action, Controller, Position};
use mse::Mse;
pub use stats::Stats;
pub use transport::Protocol;
use transport::Transport;

/// Largest FLV tag accepted (the server's own limit).
const MAX_TAG: usize = 8 << 20;
/// No bytes for this long while playing: show "reconnecting" (the publisher may be back
/// within the server's republish grace, on the same connection).
const STALL_MS: f64 = 3_000.0;
/// No bytes for this long: drop the connection and start over.
const DEAD_MS: f64 = 15_000.0;
/// How often an offline or ended stream is checked for going live.
const OFFLINE_POLL_MS: f64 = 2_000.0;
const TICK_MS: u32 = 250;

/// What the player is doing, for the page.
#[derive(Debug, Clone, PartialEq)]
pub enum PlayState {
    Connecting,
    /// The stream is not live (yet); playback starts by itself when it is.
    Offline,
    Playing,
    /// The connection dropped or the data stopped; trying again.
    Reconnecting,
    /// The stream ended; it starts again by itself if the streamer comes back.
    Ended,
    /// Something this browser cannot do (codec, MSE); retried with backoff.
    Error(String),
}

/// Player settings from the page (URL query).
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub room: String,
    pub protocol: Protocol,
    /// Target latency, seconds.
    pub target_latency: f64,
}

/// Everything the page shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub state: PlayState,
    /// Playing muted because the browser refused autoplay with sound.
    pub muted: bool,
    pub stats: Stats,
}

/// A running player; dropping it stops it and releases the browser objects.
pub struct Player {
    inner: Rc<RefCell<Inner>>,
    _tick: super::Interval,
}

impl Player {
    /// [`Player::start`] on the `<video>` behind `node`; `None` if it is not mounted.
    pub fn start_on(
        node: &yew::NodeRef,
        options: Options,
        on_status: Rc<dyn Fn(Status)>,
    ) -> Option<Self> {
        Some(Self::start(
            node.cast::<HtmlVideoElement>()?,
            options,
            on_status,
        ))
    }

    /// Starts playing `options.room` into `video`; `on_status` hears of every change.
    pub fn start(video: HtmlVideoElement, options: Options, on_status: Rc<dyn Fn(Status)>) -> Self {
        let inner = Rc::new_cyclic(|weak: &Weak<RefCell<Inner>>| {
            let on_open = {
                let weak = weak.clone();
                Closure::<dyn FnMut()>::new(move || with(&weak, Inner::source_open))
            };
            let on_update_end = {
                let weak = weak.clone();
                Closure::<dyn FnMut()>::new(move || with(&weak, Inner::update_end))
            };
            RefCell::new(Inner {
                weak: weak.clone(),
                video,
                // HLS parts arrive every ~⅓ s: keep a little more buffer than with FLV.
                controller: Controller::new(match options.protocol {
                    Protocol::Hls | Protocol::HlsMse => options.target_latency.max(1.5),
                    _ => options.target_latency,
                }),
                options,
                on_status,
                state: PlayState::Connecting,
                muted: false,
                remux: None,
                mse: None,
                transport: None,
                parked: Vec::new(),
                on_open,
                on_update_end,
                clocks: VecDeque::new(),
                started: false,
                had_stream: false,
                checking: false,
                next_attempt: 0.0,
                attempt: 0,
                last_data: 0.0,
                stats: Stats::default(),
                meter: stats::Meter::default(),
                ticks: 0,
                hls_mime: String::new(),
                native_hls: false,
                meter_bytes: 0,
            })
        });
        let weak = Rc::downgrade(&inner);
        let tick = super::Interval::new(TICK_MS, move || with(&weak, Inner::tick));
        with(&Rc::downgrade(&inner), Inner::tick);
        Self { inner, _tick: tick }
    }

    /// Turns the sound on (a click on **Unmute** is the gesture browsers want).
    pub fn unmute(&self) {
        let mut inner = self.inner.borrow_mut();
        inner.video.set_muted(false);
        inner.muted = false;
        inner.report();
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        if let Ok(mut inner) = self.inner.try_borrow_mut() {
            inner.transport = None;
            inner.parked.clear();
            if let Some(mse) = inner.mse.take() {
                mse.detach(&inner.video);
            }
            stats::clear();
        }
    }
}

/// Runs `f` on the player if it still exists and is not busy (re-entrant browser events
/// are dropped rather than panicking on a double borrow).
fn with(weak: &Weak<RefCell<Inner>>, f: impl FnOnce(&mut Inner)) {
    if let Some(inner) = weak.upgrade()
        && let Ok(mut inner) = inner.try_borrow_mut()
    {
        f(&mut inner);
    }
}

fn now() -> f64 {
    js_sys::Date::now()
}

struct Inner {
    weak: Weak<RefCell<Inner>>,
    video: HtmlVideoElement,
    options: Options,
    controller: Controller,
    on_status: Rc<dyn Fn(Status)>,
    state: PlayState,
    muted: bool,
    remux: Option<Remuxer>,
    mse: Option<Mse>,
    transport: Option<Transport>,
    /// Transports closed from inside their own callbacks, dropped on the next tick.
    parked: Vec<Transport>,
    on_open: Closure<dyn FnMut()>,
    on_update_end: Closure<dyn FnMut()>,
    /// Recent capture stamps, oldest first.
    clocks: VecDeque<ClockStamp>,
    /// Playback was started on this `MediaSource`.
    started: bool,
    /// A stream has played since the page opened (so "not live" means "ended").
    had_stream: bool,
    checking: bool,
    next_attempt: f64,
    attempt: u32,
    last_data: f64,
    stats: Stats,
    meter: stats::Meter,
    ticks: u64,
    /// HLS mode: the fMP4 MIME type (from the stream's codecs).
    hls_mime: String,
    /// HLS mode in a browser that plays HLS itself (no MSE).
    native_hls: bool,
    /// HLS mode: fMP4 bytes received (for the bitrate).
    meter_bytes: u64,
}

impl Inner {
    fn set_state(&mut self, state: PlayState) {
        if self.state != state {
            self.state = state;
            self.report();
        }
    }

    fn report(&mut self) {
        self.stats.state = state_name(&self.state).to_string();
        self.stats.muted = self.muted;
        stats::publish(&self.stats);
        (self.on_status)(Status {
            state: self.state.clone(),
            muted: self.muted,
            stats: self.stats.clone(),
        });
    }

    /// Stops the connection and retries after a backoff.
    fn retry(&mut self, state: PlayState) {
        if let Some(t) = self.transport.take() {
            self.parked.push(t);
        }
        self.attempt += 1;
        let backoff = (500.0 * 2f64.powi(self.attempt.min(4) as i32)).min(5_000.0);
        self.next_attempt = now() + backoff;
        self.stats.reconnects += 1;
        self.set_state(state);
    }

    fn tick(&mut self) {
        self.ticks += 1;
        self.parked.clear();
        let t = now();
        if self.transport.is_none() && !self.checking && t >= self.next_attempt {
            self.check_live();
        }
        if self.transport.is_some()
            && self.state == PlayState::Playing
            && t - self.last_data > STALL_MS
        {
            self.set_state(PlayState::Reconnecting);
        }
        if self.transport.is_some() && self.last_data > 0.0 && t - self.last_data > DEAD_MS {
            self.retry(PlayState::Reconnecting);
        }
        if self.native_hls && !self.video.paused() && self.video.ready_state() >= 3 {
            self.last_data = t;
            self.media_arrived();
        }
        self.control();
        if self.ticks.is_multiple_of(2) {
            self.update_stats();
            self.report();
        }
    }

    /// Asks the server whether the stream is live before connecting: a WebSocket to a
    /// stream that does not exist fails without saying why.
    fn check_live(&mut self) {
        self.checking = true;
        let weak = self.weak.clone();
        let room = self.options.room.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let live = stream_live(&room).await;
            with(&weak, |inner| {
                inner.checking = false;
                match live {
                    Ok(Some(mime)) => {
                        inner.hls_mime = mime;
                        inner.connect();
                    }
                    Ok(None) => {
                        inner.next_attempt = now() + OFFLINE_POLL_MS;
                        let state = if inner.had_stream {
                            PlayState::Ended
                        } else {
                            PlayState::Offline
                        };
                        if inner.had_stream
                            && let Some(mse) = &inner.mse
                        {
                            mse.end();
                        }
                        inner.set_state(state);
                    }
                    Err(e) => {
                        super::warn(&format!("player: {e}"));
                        inner.retry(PlayState::Reconnecting);
                    }
                }
            });
        });
    }

    fn connect(&mut self) {
        if let Some(old) = self.mse.take() {
            old.detach(&self.video);
        }
        self.started = false;
        self.clocks.clear();
        self.remux = Some(Remuxer::new(MAX_TAG));
        if matches!(self.options.protocol, Protocol::Hls | Protocol::HlsMse) {
            return self.connect_hls();
        }
        match Mse::attach(&self.video, self.on_open.as_ref().unchecked_ref()) {
            Ok(mse) => self.mse = Some(mse),
            Err(e) => return self.retry(PlayState::Error(e)),
        }
        let path = format!("/live/{}.flv", self.options.room);
        let on_data = {
            let weak = self.weak.clone();
            Box::new(move |bytes: &[u8]| with(&weak, |inner| inner.data(bytes)))
        };
        let on_end = {
            let weak = self.weak.clone();
            Box::new(move |failure: Option<String>| with(&weak, |inner| inner.ended(failure)))
        };
        match Transport::open(self.options.protocol, &path, on_data, on_end) {
            Ok(t) => {
                self.transport = Some(t);
                self.last_data = now();
                let state = if self.had_stream {
                    PlayState::Reconnecting
                } else {
                    PlayState::Connecting
                };
                self.set_state(state);
            }
            Err(e) => self.retry(PlayState::Error(e)),
        }
    }

    /// HLS mode: native playback where the browser has it, else the part loop into MSE.
    fn connect_hls(&mut self) {
        let url = format!("/hls/live/{}/index.m3u8", self.options.room);
        self.native_hls = self.options.protocol == Protocol::Hls
            && !self
                .video
                .can_play_type("application/vnd.apple.mpegurl")
                .is_empty();
        self.stats.codecs = self.hls_mime.clone();
        if self.native_hls {
            // The browser fetches; the tick watches the play head for progress.
            self.video.set_src(&url);
            self.transport = Some(Transport::Hls {
                alive: Rc::new(std::cell::Cell::new(true)),
            });
            self.last_data = now();
            self.play();
            return self.set_state(PlayState::Connecting);
        }
        match Mse::attach(&self.video, self.on_open.as_ref().unchecked_ref()) {
            Ok(mse) => self.mse = Some(mse),
            Err(e) => return self.retry(PlayState::Error(e)),
        }
        let on_chunk = {
            let weak = self.weak.clone();
            Box::new(move |chunk: hls::Chunk| with(&weak, |inner| inner.hls_chunk(chunk)))
        };
        let on_end = {
            let weak = self.weak.clone();
            Box::new(move |failure: Option<String>| with(&weak, |inner| inner.ended(failure)))
        };
        self.transport = Some(Transport::open_hls(&self.options.room, on_chunk, on_end));
        self.last_data = now();
        self.set_state(PlayState::Connecting);
    }

    fn hls_chunk(&mut self, chunk: hls::Chunk) {
        self.last_data = now();
        let on_update_end = self.on_update_end.as_ref().unchecked_ref();
        let Some(mse) = &mut self.mse else {
            return;
        };
        let result = match chunk {
            hls::Chunk::Init(data) => mse.init(&self.hls_mime, data.into(), on_update_end),
            hls::Chunk::Media(data) => {
                self.meter_bytes += data.len() as u64;
                mse.append(data.into());
                mse.pump()
            }
        };
        if let Err(e) = result {
            return self.retry(PlayState::Error(e));
        }
        self.media_arrived();
    }

    /// Media is flowing: the stream plays, and the next failure retries from scratch.
    fn media_arrived(&mut self) {
        self.had_stream = true;
        self.attempt = 0;
        self.set_state(PlayState::Playing);
    }

    fn ended(&mut self, failure: Option<String>) {
        if let Some(t) = self.transport.take() {
            self.parked.push(t);
        }
        match failure {
            // The server closed normally: the stream ended (or was replaced). Check again
            // soon; meanwhile what is buffered plays out.
            None => self.next_attempt = now() + 1_000.0,
            Some(reason) => {
                super::warn(&format!("player: {reason}"));
                self.retry(PlayState::Reconnecting);
            }
        }
    }

    fn data(&mut self, bytes: &[u8]) {
        self.last_data = now();
        let Some(remux) = &mut self.remux else {
            return;
        };
        if let Err(e) = remux.push(bytes) {
            super::warn(&format!("player: {e}"));
            return self.retry(PlayState::Error(e.to_string()));
        }
        while let Some(event) = self.remux.as_mut().and_then(Remuxer::next_event) {
            if let Err(e) = self.event(event) {
                super::warn(&format!("player: {e}"));
                return self.retry(PlayState::Error(e));
            }
        }
        if let Some(mse) = &mut self.mse {
            if let Err(e) = mse.pump() {
                return self.retry(PlayState::Error(e));
            }
            if mse.queued_bytes() > mse::MAX_QUEUED_BYTES {
                self.retry(PlayState::Error(
                    "the browser is not keeping up with the stream".into(),
                ))
            }
        }
    }

    fn event(&mut self, event: RemuxEvent) -> Result<(), String> {
        match event {
            RemuxEvent::Init(init) => {
                if init.tracks_changed {
                    // A SourceBuffer cannot gain or lose a track: start a new MediaSource.
                    if let Some(old) = self.mse.take() {
                        old.detach(&self.video);
                    }
                    self.started = false;
                    self.mse = Some(Mse::attach(
                        &self.video,
                        self.on_open.as_ref().unchecked_ref(),
                    )?);
                }
                if !mse::supported(&init.mime) {
                    return Err(format!("this browser cannot play {}", init.mime));
                }
                self.stats.codecs = init.mime.clone();
                let on_update_end = self.on_update_end.as_ref().unchecked_ref();
                if let Some(mse) = &mut self.mse {
                    mse.init(&init.mime, init.data, on_update_end)?;
                }
            }
            RemuxEvent::Media(media) => {
                if let Some(mse) = &mut self.mse {
                    mse.append(media.data);
                }
                self.media_arrived();
            }
            RemuxEvent::Clock(stamp) => {
                if self.clocks.len() >= 64 {
                    self.clocks.pop_front();
                }
                self.clocks.push_back(stamp);
            }
        }
        Ok(())
    }

    fn source_open(&mut self) {
        let on_update_end = self.on_update_end.as_ref().unchecked_ref();
        if let Some(mse) = &mut self.mse
            && let Err(e) = mse.open(on_update_end)
        {
            self.retry(PlayState::Error(e));
        }
    }

    fn update_end(&mut self) {
        if let Some(mse) = &mut self.mse
            && let Err(e) = mse.pump()
        {
            return self.retry(PlayState::Error(e));
        }
        if !self.started {
            self.control();
        }
    }

    /// Starts playback once there is media, then keeps latency near the target.
    fn control(&mut self) {
        let Some((start, end)) = mse::buffered(&self.video) else {
            return;
        };
        let position = Position {
            current: self.video.current_time(),
            buffered_start: start,
            buffered_end: end,
            glass_to_glass: self.glass_to_glass().map(|ms| ms / 1000.0),
        };
        if !self.started {
            self.started = true;
            // Start on the keyframe the buffer begins with and catch up by rate: seeking
            // into the GOP makes the browser decode and drop the frames before the target.
            let goal = self.controller.buffer_goal(&position);
            let at = if end - start > goal + latency::JUMP_AFTER {
                end - goal
            } else {
                start
            };
            self.video.set_current_time(at);
            self.play();
            return;
        }
        if self.video.paused() && !self.video.ended() {
            self.play();
        }
        if let Some(next) = mse::gap_target(&self.video) {
            // Stalled in a hole: the decoder would wait there forever.
            self.video.set_current_time(next + 0.01);
            return;
        }
        match self.controller.decide(&position) {
            Action::Rate(rate) => {
                if (self.video.playback_rate() - rate).abs() > 0.01 {
                    self.video.set_playback_rate(rate);
                }
            }
            Action::Seek(to) => self.video.set_current_time(to),
        }
        if let Some((from, to)) = self.controller.trim(&position)
            && let Some(mse) = &mut self.mse
        {
            mse.remove(from, to);
            let _ = mse.pump();
        }
    }

    /// `play()`, falling back to muted playback when the browser demands a gesture first.
    fn play(&mut self) {
        let Ok(promise) = self.video.play() else {
            return;
        };
        let weak = self.weak.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let Err(e) = JsFuture::from(promise).await else {
                return;
            };
            let name = js_sys::Reflect::get(&e, &"name".into())
                .ok()
                .and_then(|n| n.as_string());
            if name.as_deref() == Some("NotAllowedError") {
                with(&weak, |inner| {
                    inner.video.set_muted(true);
                    inner.muted = true;
                    inner.report();
                    if let Ok(p) = inner.video.play() {
                        wasm_bindgen_futures::spawn_local(async move {
                            let _ = JsFuture::from(p).await;
                        });
                    }
                });
            }
        });
    }

    /// Capture-to-display latency (ms) of the frame on screen, from the newest stamp at
    /// or before the play head.
    fn glass_to_glass(&self) -> Option<f64> {
        let current = self.video.current_time();
        let stamp = self
            .clocks
            .iter()
            .rev()
            .find(|c| c.media_time <= current + 0.001)?;
        let since = current - stamp.media_time;
        (since < 10.0).then(|| now() - (stamp.wallclock_ms + since * 1000.0))
    }

    fn update_stats(&mut self) {
        let remux = self.remux.as_ref().map(Remuxer::stats).unwrap_or_default();
        let bytes = remux.bytes_in + self.meter_bytes;
        self.meter.sample(now(), bytes, remux.video_frames);
        let quality = self.video.get_video_playback_quality();
        let current = self.video.current_time();
        let buffer = mse::buffered(&self.video).map_or(0.0, |(_, end)| (end - current).max(0.0));
        let g2g = self.glass_to_glass();
        let s = &mut self.stats;
        s.protocol = match self.options.protocol {
            Protocol::WsFlv => "ws-flv",
            Protocol::HttpFlv => "http-flv",
            Protocol::Hls if self.native_hls => "hls (native)",
            Protocol::Hls | Protocol::HlsMse => "hls (mse)",
        }
        .into();
        s.buffer = buffer;
        s.latency = buffer;
        s.g2g_ms = g2g;
        s.bitrate_kbps = self.meter.bitrate_kbps();
        s.fps = self.meter.fps();
        s.width = self.video.video_width();
        s.height = self.video.video_height();
        s.total_frames = quality.total_video_frames();
        s.dropped_frames = quality.dropped_video_frames();
        s.current_time = current;
        s.rate = self.video.playback_rate();
        s.target = self.controller.target;
        s.queued_bytes = self.mse.as_ref().map_or(0, Mse::queued_bytes) as u32;
    }
}

fn state_name(state: &PlayState) -> &'static str {
    match state {
        PlayState::Connecting => "connecting",
        PlayState::Offline => "offline",
        PlayState::Playing => "playing",
        PlayState::Reconnecting => "reconnecting",
        PlayState::Ended => "ended",
        PlayState::Error(_) => "error",
    }
}

/// Whether `live/ROOM` is being published, from `GET /api/streams`, and if so the MIME
/// type of its fMP4 (what HLS mode gives MSE).
async fn stream_live(room: &str) -> Result<Option<String>, String> {
    let Some(stream) = super::api::stream(room).await?.filter(|s| s.live) else {
        return Ok(None);
    };
    let codec = |track: &Option<super::api::StreamTrack>| {
        track.as_ref().and_then(|t| t.codec_string.clone())
    };
    let codecs: Vec<String> = [codec(&stream.video), codec(&stream.audio)]
        .into_iter()
        .flatten()
        .collect();
    let kind = if codec(&stream.video).is_some() {
        "video"
    } else {
        "audio"
    };
    Ok(Some(format!("{kind}/mp4; codecs=\"{}\"", codecs.join(","))))
}
