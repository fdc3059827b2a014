//! The running broadcast: encoders, socket, clocks and counters behind one `Rc<RefCell>`.
//!
//! Browser callbacks (encoder output, socket events, timers) run as separate tasks, never
//! inside one another, so each borrows the engine briefly. Events for the owner are emitted
//! from a fresh task, so a Yew re-render (which may drop the [`super::Studio`]) never runs
//! while the engine is borrowed. Closures hold a `Weak` engine: dropping the owner frees it.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::JsValue;
use wasm_bindgen::prelude::Closure;
use yew::Callback;

use super::control::Control;
use super::flv::{self, AudioKind, Stamps, TrackClock};
use super::js::{self, AudioEncoder, EncodedAudioChunk, EncodedVideoChunk, VideoEncoder};
use super::uplink::Uplink;
use super::{LinkState, Settings, Stats, StudioError, StudioEvent};

/// How often a frame carries an `onFI` stamp (also on every keyframe).
const STAMP_EVERY_MS: f64 = 500.0;

pub struct Engine {
    pub settings: Settings,
    on_event: Callback<StudioEvent>,
    pub stopped: bool,
    pub stream: Option<web_sys::MediaStream>,
    pub venc: Option<VideoEncoder>,
    pub aenc: Option<AudioEncoder>,
    /// The MediaRecorder of the fallback path.
    pub recorder: Option<js::MediaRecorder>,
    /// The canvas frame pump, where there is no track processor; dropping it stops it.
    pub canvas: Option<super::canvas::CanvasPump>,
    pub audio_kind: Option<AudioKind>,
    /// `(sample rate, channels)` the audio encoder was configured with.
    pub audio_format: Option<(u32, u32)>,
    pub control: Control,
    pub vclock: TrackClock,
    pub aclock: TrackClock,
    stamps: Stamps,
    last_stamp_ms: f64,
    avcc: Option<Vec<u8>>,
    audio_config: Option<Vec<u8>>,
    pub uplink: Uplink,
    /// After a (re)connect, delta frames are held back until a keyframe starts the socket.
    pub awaiting_key: bool,
    /// `performance.now()` when the broadcast started; FLV time 0.
    pub t0: f64,
    pub stats: Stats,
    live_since: Option<f64>,
    last_tick: (f64, f64, u64),
    /// Keeps the encoders' callbacks alive as long as the engine.
    pub callbacks: Vec<Closure<dyn FnMut(JsValue, JsValue)>>,
}

impl Engine {
    pub fn new(settings: Settings, on_event: Callback<StudioEvent>) -> Self {
        let now = js::perf_now();
        let stats = Stats {
            target_kbps: settings.bitrate / 1000,
            recorder: settings.recorder,
            ..Stats::default()
        };
        Self {
            control: Control::new(settings.bitrate),
            settings,
            on_event,
            stopped: false,
            stream: None,
            venc: None,
            aenc: None,
            recorder: None,
            canvas: None,
            audio_kind: None,
            audio_format: None,
            vclock: TrackClock::default(),
            aclock: TrackClock::default(),
            stamps: Stamps::default(),
            last_stamp_ms: f64::NEG_INFINITY,
            avcc: None,
            audio_config: None,
            uplink: Uplink::default(),
            awaiting_key: true,
            t0: now,
            stats,
            live_since: None,
            last_tick: (now, 0.0, 0),
            callbacks: Vec::new(),
        }
    }

    /// Reports to the owner from a new task (see the module notes).
    pub fn emit(&self, event: StudioEvent) {
        let on_event = self.on_event.clone();
        wasm_bindgen_futures::spawn_local(async move { on_event.emit(event) });
    }

    /// Stops for good and tells the owner why.
    pub fn fail(&mut self, error: StudioError) {
        if self.stopped {
            return;
        }
        crate::services::warn(&format!("studio: {error}"));
        self.emit(StudioEvent::Failed(error));
        self.shutdown();
    }

    /// Microseconds since the broadcast started, for anchoring a track's clock.
    pub fn now_us(&self) -> f64 {
        (js::perf_now() - self.t0) * 1000.0
    }

    /// Whether this frame gets an `onFI` stamp: every keyframe, and every 500 ms.
    pub fn stamp_due(&mut self, keyframe: bool, now: f64) -> bool {
        let due = keyframe || now - self.last_stamp_ms >= STAMP_EVERY_MS;
        if due {
            self.last_stamp_ms = now;
        }
        due
    }

    /// Notes that a frame reached us from the capture track: stamp it if one is due.
    pub fn want_stamp(&mut self, sample_us: f64, keyframe: bool, wallclock: f64, now: f64) {
        if self.stamp_due(keyframe, now) {
            self.stamps.add(sample_us, wallclock);
        }
    }

    /// The socket opened: the FLV header, the codec configs we know, then a keyframe.
    pub fn on_open(&mut self) {
        self.send(&flv::file_header());
        if let Some(avcc) = self.avcc.clone() {
            self.send_tag(flv::avc_config(avcc, self.vclock_now()));
        }
        if let (Some(kind), Some(config)) = (self.audio_kind, self.audio_config.clone()) {
            self.send_tag(flv::audio_config(kind, config, self.vclock_now()));
        }
        self.awaiting_key = true;
        self.control.request_keyframe();
        self.live_since.get_or_insert(js::perf_now());
        self.emit(StudioEvent::State(LinkState::Live));
    }

    /// The FLV time of "now" for config tags sent between frames.
    fn vclock_now(&self) -> u32 {
        ((js::perf_now() - self.t0).max(0.0)) as u32
    }

    fn send(&mut self, bytes: &[u8]) {
        if let Some(n) = self.uplink.send(bytes) {
            self.stats.sent_bytes += n as f64;
        }
    }

    fn send_tag(&mut self, tag: Result<Vec<u8>, onair_shared::flv::FlvError>) {
        match tag {
            Ok(bytes) => self.send(&bytes),
            Err(e) => crate::services::warn(&format!("studio: tag not muxed: {e}")),
        }
    }

    /// One encoded video frame from WebCodecs (and, with a new config, its description).
    pub fn on_video_chunk(&mut self, chunk: &EncodedVideoChunk, description: Option<Vec<u8>>) {
        if self.stopped {
            return;
        }
        let sample_us = chunk.timestamp();
        let Some(ms) = self.vclock.ms(sample_us) else {
            return;
        };
        let stamp = self.stamps.take(sample_us);
        let keyframe = chunk.kind() == "key";
        if !self.video_wanted(description, keyframe, ms) {
            return;
        }
        let mut data = vec![0; chunk.byte_length() as usize];
        if let Err(e) = chunk.copy_to(&mut data) {
            crate::services::warn(&format!(
                "studio: video chunk unreadable: {}",
                js::error_text(&e)
            ));
            return;
        }
        self.video_out(data, keyframe, ms, stamp);
    }

    /// Takes a new decoder config and says whether a frame should be sent: not while
    /// offline, and after a (re)connect or a drop not before a keyframe.
    pub fn video_wanted(&mut self, config: Option<Vec<u8>>, keyframe: bool, ms: u32) -> bool {
        if let Some(avcc) = config
            && self.avcc.as_ref() != Some(&avcc)
        {
            let first = self.avcc.is_none();
            self.avcc = Some(avcc.clone());
            if self.uplink.open {
                self.send_tag(flv::avc_config(avcc, ms));
                // Audio held back until now (see `audio_out`) starts with its config.
                if let (true, Some(kind), Some(config)) =
                    (first, self.audio_kind, self.audio_config.clone())
                {
                    self.send_tag(flv::audio_config(kind, config, ms));
                }
            }
        }
        self.uplink.open && (keyframe || !self.awaiting_key)
    }

    /// Sends one video frame (AVCC), after its `onFI` stamp if it has one.
    pub fn video_out(&mut self, data: Vec<u8>, keyframe: bool, ms: u32, stamp: Option<f64>) {
        self.awaiting_key = false;
        if let Some(wallclock) = stamp {
            self.send_tag(flv::stamp(wallclock, ms));
        }
        self.send_tag(flv::avc_frame(data, keyframe, ms));
        self.stats.frames_encoded += 1;
    }

    /// One encoded audio packet from WebCodecs (and, with a new config, its description).
    pub fn on_audio_chunk(&mut self, chunk: &EncodedAudioChunk, description: Option<Vec<u8>>) {
        let (Some(kind), Some((rate, channels))) = (self.audio_kind, self.audio_format) else {
            return;
        };
        if self.stopped {
            return;
        }
        let Some(ms) = self.aclock.ms(chunk.timestamp()) else {
            return;
        };
        let config = match (kind, description) {
            (AudioKind::Opus, Some(d)) if flv::is_opus_head(&d) => d,
            (AudioKind::Aac, Some(d)) => d,
            // Chromium's Opus encoder gives no description: build the OpusHead ourselves.
            (AudioKind::Opus, _) => flv::opus_head(channels.min(2) as u8, rate),
            (AudioKind::Aac, None) => match &self.audio_config {
                Some(c) => c.clone(),
                None => return,
            },
        };
        let mut data = vec![0; chunk.byte_length() as usize];
        if chunk.copy_to(&mut data).is_ok() {
            self.audio_out(kind, config, data, ms);
        }
    }

    /// Sends one audio packet, preceded by its config when that is new.
    pub fn audio_out(&mut self, kind: AudioKind, config: Vec<u8>, data: Vec<u8>, ms: u32) {
        // Audio waits for the video config: a packager that saw audio first would start an
        // audio-only rendition (the HLS one does, then cuts a discontinuity for the video).
        let ready = self.uplink.open && self.avcc.is_some();
        if self.audio_config.as_ref() != Some(&config) {
            self.audio_config = Some(config.clone());
            if ready {
                self.send_tag(flv::audio_config(kind, config, ms));
            }
        }
        if ready {
            self.send_tag(flv::audio_frame(kind, data, ms));
        }
    }

    /// Releases every browser object; idempotent.
    pub fn shutdown(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        if let Some(stream) = self.stream.take() {
            for track in stream.get_tracks().iter() {
                if let Ok(track) =
                    wasm_bindgen::JsCast::dyn_into::<web_sys::MediaStreamTrack>(track)
                {
                    track.stop();
                }
            }
        }
        if let Some(venc) = self.venc.take()
            && venc.state() != "closed"
        {
            let _ = venc.close();
        }
        if let Some(aenc) = self.aenc.take() {
            let _ = aenc.close();
        }
        if let Some(pump) = self.canvas.take() {
            // Shutdown may run inside the pump's own timer callback: drop it afterwards.
            wasm_bindgen_futures::spawn_local(async move { drop(pump) });
        }
        if let Some(recorder) = self.recorder.take() {
            // Its callbacks are about to be dropped: it must not call them any more.
            recorder.set_ondataavailable(None);
            recorder.set_onerror(None);
            if recorder.state() != "inactive" {
                let _ = recorder.stop();
            }
        }
        self.uplink.close();
        super::publish::window_state(LinkState::Stopped.name());
        self.emit(StudioEvent::State(LinkState::Stopped));
    }

    /// Refreshes the stats (about once a second) and publishes them.
    fn tick(&mut self) {
        let now = js::perf_now();
        let buffered = self.uplink.buffered();
        self.note_buffered(buffered, self.uplink.in_flight());
        let wire = self.stats.sent_bytes - f64::from(self.uplink.queued());
        let (last_now, last_wire, last_frames) = self.last_tick;
        let dt = ((now - last_now) / 1000.0).max(0.001);
        self.stats.bitrate_kbps = ((wire - last_wire) * 8.0 / 1000.0 / dt).max(0.0);
        self.stats.fps = (self.stats.frames_encoded - last_frames) as f64 / dt;
        self.last_tick = (now, wire, self.stats.frames_encoded);
        self.stats.buffered_amount = buffered;
        self.stats.in_flight = self.uplink.in_flight();
        self.stats.encoder_queue = self.venc.as_ref().map_or(0, |v| v.encode_queue_size());
        self.stats.target_kbps = self.control.current_bps / 1000;
        self.stats.congested = self.control.congested();
        self.stats.reconnects = self.uplink.reconnects;
        self.stats.elapsed_s = self.live_since.map_or(0.0, |t| (now - t) / 1000.0);
        let state = self.uplink.state_name(self.stopped);
        super::publish::window_stats(state, &self.stats);
        self.emit(StudioEvent::Stats(self.stats.clone()));
    }

    pub fn note_buffered(&mut self, buffered: u32, in_flight: u32) {
        self.stats.max_buffered_amount = self.stats.max_buffered_amount.max(buffered);
        self.stats.max_in_flight = self.stats.max_in_flight.max(in_flight);
    }
}

pub fn tick(engine: &Rc<RefCell<Engine>>) {
    if let Ok(mut e) = engine.try_borrow_mut()
        && !e.stopped
    {
        e.tick();
    }
}

pub fn stop(engine: &Rc<RefCell<Engine>>) {
    if let Ok(mut e) = engine.try_borrow_mut() {
        e.shutdown();
        e.callbacks.clear();
    }
}
