//! The player's lifecycle, the same for every transport: the state the page shows, the
//! live check, connecting, reconnecting with backoff, and the 250 ms tick that does
//! everything time-based (stall detection, latency control, stats), so there is one timer
//! and no timer juggling.
//!
//! Everything lives in one [`Inner`] behind an `Rc<RefCell>` that only [`super::Player`]
//! holds strongly. Browser callbacks hold a `Weak` and go through [`with`], so dropping
//! the player releases everything, and a callback firing inside another is dropped rather
//! than panicking on a double borrow.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use wasm_bindgen::prelude::*;
use web_sys::HtmlVideoElement;

use super::flv::Flv;
use super::hls_mse::HlsMse;
use super::native_hls::{self, NativeHls};
use super::playback::Playback;
use super::stats::{self, Meter, Stats};
use super::transport::{Connection, Media, Msg, Protocol, Report, Transport};
use super::{Options, PlayState, Status};
use crate::services::{api, warn};

/// No bytes for this long while playing: show "reconnecting" (the publisher may be back
/// within the server's republish grace, on the same connection).
const STALL_MS: f64 = 3_000.0;
/// No bytes for this long: drop the connection and start over.
const DEAD_MS: f64 = 15_000.0;
/// How often an offline or ended stream is checked for going live.
const OFFLINE_POLL_MS: f64 = 2_000.0;
pub const TICK_MS: u32 = 250;

/// Runs `f` on the player if it still exists and is not busy (re-entrant browser events
/// are dropped rather than panicking on a double borrow).
pub fn with(weak: &Weak<RefCell<Inner>>, f: impl FnOnce(&mut Inner)) {
    if let Some(inner) = weak.upgrade()
        && let Ok(mut inner) = inner.try_borrow_mut()
    {
        f(&mut inner);
    }
}

fn now() -> f64 {
    js_sys::Date::now()
}

pub struct Inner {
    weak: Weak<RefCell<Inner>>,
    options: Options,
    on_status: Rc<dyn Fn(Status)>,
    state: PlayState,
    muted: bool,
    playback: Playback,
    /// How the stream comes in: chosen once, as neither the protocol nor the browser changes.
    transport: Box<dyn Transport>,
    connection: Option<Box<dyn Connection>>,
    /// Connections closed from inside their own callbacks, dropped on the next tick.
    parked: Vec<Box<dyn Connection>>,
    /// A stream has played since the page opened (so "not live" means "ended").
    had_stream: bool,
    checking: bool,
    next_attempt: f64,
    attempt: u32,
    last_data: f64,
    stats: Stats,
    meter: Meter,
    /// Bytes and video frames received on this connection, for the meter.
    received: u64,
    frames: u64,
    ticks: u64,
}

impl Inner {
    /// A player on `video`, reporting to `on_status`; it connects on its first tick.
    pub fn new(
        video: HtmlVideoElement,
        options: Options,
        on_status: Rc<dyn Fn(Status)>,
    ) -> Rc<RefCell<Self>> {
        Rc::new_cyclic(|weak: &Weak<RefCell<Inner>>| {
            let on_open = {
                let weak = weak.clone();
                Closure::<dyn FnMut()>::new(move || with(&weak, Inner::source_open))
            };
            let on_update_end = {
                let weak = weak.clone();
                Closure::<dyn FnMut()>::new(move || with(&weak, Inner::update_end))
            };
            let on_muted: Rc<dyn Fn()> = {
                let weak = weak.clone();
                Rc::new(move || with(&weak, Inner::autoplay_refused))
            };
            // HLS parts arrive every ~⅓ s: keep a little more buffer than with FLV.
            let target = match options.protocol {
                Protocol::Hls | Protocol::HlsMse => options.target_latency.max(1.5),
                _ => options.target_latency,
            };
            let transport: Box<dyn Transport> = match options.protocol {
                Protocol::WsFlv => Box::new(Flv::WebSocket),
                Protocol::HttpFlv => Box::new(Flv::Http),
                Protocol::Hls if native_hls::available(&video) => Box::new(NativeHls),
                Protocol::Hls | Protocol::HlsMse => Box::new(HlsMse),
            };
            RefCell::new(Inner {
                weak: weak.clone(),
                transport,
                playback: Playback::new(video, target, on_open, on_update_end, on_muted),
                options,
                on_status,
                state: PlayState::Connecting,
                muted: false,
                connection: None,
                parked: Vec::new(),
                had_stream: false,
                checking: false,
                next_attempt: 0.0,
                attempt: 0,
                last_data: 0.0,
                stats: Stats::default(),
                meter: Meter::default(),
                received: 0,
                frames: 0,
                ticks: 0,
            })
        })
    }

    /// Turns the sound on.
    pub fn unmute(&mut self) {
        self.playback.video.set_muted(false);
        self.muted = false;
        self.report();
    }

    /// Closes the connection and releases the `MediaSource` (the player is going away).
    pub fn stop(&mut self) {
        self.connection = None;
        self.parked.clear();
        self.playback.detach();
        stats::clear();
    }

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
        if let Some(c) = self.connection.take() {
            self.parked.push(c);
        }
        self.attempt += 1;
        let backoff = (500.0 * 2f64.powi(self.attempt.min(4) as i32)).min(5_000.0);
        self.next_attempt = now() + backoff;
        self.stats.reconnects += 1;
        self.set_state(state);
    }

    pub fn tick(&mut self) {
        self.ticks += 1;
        self.parked.clear();
        let t = now();
        if self.connection.is_none() && !self.checking && t >= self.next_attempt {
            self.check_live();
        }
        if self.connection.is_some()
            && self.state == PlayState::Playing
            && t - self.last_data > STALL_MS
        {
            self.set_state(PlayState::Reconnecting);
        }
        if self.connection.is_some() && self.last_data > 0.0 && t - self.last_data > DEAD_MS {
            self.retry(PlayState::Reconnecting);
        }
        if self.transport.playing_by_itself(&self.playback.video) {
            self.last_data = t;
            self.media_arrived();
        }
        self.playback.control();
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
        let options = self.options.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let live = stream_live(&options).await;
            with(&weak, |inner| {
                inner.checking = false;
                match live {
                    Ok(Live::Yes(mime)) => inner.connect(mime),
                    Ok(Live::Denied(why)) => {
                        // Polling again would only log more refusals: a new link is needed.
                        inner.connection = None;
                        inner.next_attempt = f64::INFINITY;
                        inner.set_state(PlayState::Denied(why));
                    }
                    Ok(Live::No) => {
                        inner.next_attempt = now() + OFFLINE_POLL_MS;
                        let state = if inner.had_stream {
                            inner.playback.end();
                            PlayState::Ended
                        } else {
                            PlayState::Offline
                        };
                        inner.set_state(state);
                    }
                    Err(e) => {
                        warn(&format!("player: {e}"));
                        inner.retry(PlayState::Reconnecting);
                    }
                }
            });
        });
    }

    /// Opens a connection over the chosen transport; `mime` is the stream's fMP4 type.
    fn connect(&mut self, mime: String) {
        self.playback.reset();
        (self.received, self.frames) = (0, 0);
        if self.transport.plays_listed_codecs() && !mime.is_empty() {
            self.stats.codecs = mime.clone();
        }
        let uses_mse = self.transport.uses_mse();
        if uses_mse && let Err(e) = self.playback.attach() {
            return self.retry(PlayState::Error(e));
        }
        let report = self.reporter();
        let video = &self.playback.video;
        let query = api::token_query(self.options.token.as_deref());
        match (self.transport).open(&self.options.room, &query, &mime, video, report) {
            Ok(connection) => {
                self.connection = Some(connection);
                self.last_data = now();
                if !uses_mse {
                    // The browser fetches by itself: nothing of ours will start playback
                    // once media is buffered, so ask now.
                    self.playback.play();
                }
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

    /// Where the transport sends its messages: this player, while it exists.
    fn reporter(&self) -> Report {
        let weak = self.weak.clone();
        Rc::new(move |msg| with(&weak, |inner| inner.on_msg(msg)))
    }

    fn on_msg(&mut self, msg: Msg) {
        match msg {
            Msg::Media {
                received,
                media,
                failure,
            } => self.on_media(received, media, failure),
            Msg::Ended(failure) => self.ended(failure),
        }
    }

    fn on_media(&mut self, received: usize, media: Vec<Media>, failure: Option<String>) {
        self.last_data = now();
        self.received += received as u64;
        for piece in media {
            let segment = match &piece {
                Media::Init { mime, .. } => {
                    self.stats.codecs = mime.clone();
                    false
                }
                Media::Segment { video_frames, .. } => {
                    self.frames += u64::from(*video_frames);
                    true
                }
                Media::Clock(_) => false,
            };
            if let Err(e) = self.playback.apply(piece) {
                return self.fail(e);
            }
            if segment {
                self.media_arrived();
            }
        }
        if let Some(e) = failure {
            return self.fail(e);
        }
        if let Err(e) = self.playback.pump() {
            self.retry(PlayState::Error(e));
        }
    }

    /// The stream cannot be played as it comes: say so, and start over after a backoff.
    fn fail(&mut self, error: String) {
        warn(&format!("player: {error}"));
        self.retry(PlayState::Error(error));
    }

    /// Media is flowing: the stream plays, and the next failure retries from scratch.
    fn media_arrived(&mut self) {
        self.had_stream = true;
        self.attempt = 0;
        self.set_state(PlayState::Playing);
    }

    fn ended(&mut self, failure: Option<String>) {
        if let Some(c) = self.connection.take() {
            self.parked.push(c);
        }
        match failure {
            // The server closed normally: the stream ended (or was replaced). Check again
            // soon; meanwhile what is buffered plays out.
            None => self.next_attempt = now() + 1_000.0,
            Some(reason) => {
                warn(&format!("player: {reason}"));
                self.retry(PlayState::Reconnecting);
            }
        }
    }

    fn source_open(&mut self) {
        if let Err(e) = self.playback.source_open() {
            self.retry(PlayState::Error(e));
        }
    }

    fn update_end(&mut self) {
        if let Err(e) = self.playback.update_end() {
            self.retry(PlayState::Error(e));
        }
    }

    fn autoplay_refused(&mut self) {
        self.playback.play_muted();
        self.muted = true;
        self.report();
    }

    fn update_stats(&mut self) {
        self.meter.sample(now(), self.received, self.frames);
        self.stats.protocol = self.transport.label().into();
        self.stats.bitrate_kbps = self.meter.bitrate_kbps();
        self.stats.fps = self.meter.fps();
        self.playback.fill_stats(&mut self.stats);
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
        PlayState::Denied(_) => "denied",
    }
}

/// What the live check found.
enum Live {
    /// Live; the fMP4 MIME type when the stream list gave it ("" otherwise: HLS reads it
    /// from the init segment).
    Yes(String),
    No,
    /// A private room refused us: why, for the page.
    Denied(String),
}

/// Whether the stream is being published: a room's state from `GET /api/rooms/ID` (with the
/// token), a stream pushed by name from the stream list (an admin view, so a visitor on a
/// server with private metrics just sees it offline).
async fn stream_live(options: &Options) -> Result<Live, String> {
    if options.is_room {
        return match api::room(&options.room, options.token.as_deref()).await {
            Ok(room) if room.live => Ok(Live::Yes(String::new())),
            Ok(_) => Ok(Live::No),
            Err(e) if e.unauthorized() || e.forbidden() => {
                Ok(Live::Denied(denied_reason(options.token.is_some(), &e)))
            }
            // Closed since the page opened.
            Err(e) if e.not_found() => Ok(Live::No),
            Err(e) => Err(e.to_string()),
        };
    }
    let stream = match api::stream(&options.room).await {
        Ok(stream) => stream,
        Err(e) if e.unauthorized() || e.forbidden() => return Ok(Live::No),
        Err(e) => return Err(e.to_string()),
    };
    let Some(stream) = stream.filter(|s| s.live) else {
        return Ok(Live::No);
    };
    let codec =
        |track: &Option<api::StreamTrack>| track.as_ref().and_then(|t| t.codec_string.clone());
    let codecs: Vec<String> = [codec(&stream.video), codec(&stream.audio)]
        .into_iter()
        .flatten()
        .collect();
    let kind = if codec(&stream.video).is_some() {
        "video"
    } else {
        "audio"
    };
    Ok(Live::Yes(format!(
        "{kind}/mp4; codecs=\"{}\"",
        codecs.join(",")
    )))
}

/// What a viewer is told when a private room refuses them.
pub fn denied_reason(had_token: bool, error: &api::ApiError) -> String {
    if had_token && error.unauthorized() {
        "This link has expired: ask the streamer for a new one".into()
    } else if had_token {
        "This link is not valid for this room: ask its streamer for a link".into()
    } else {
        "This room is private: ask its streamer for a link".into()
    }
}
