//! The running broadcast. One [`Engine`] owns all of its state (encoders, socket, clocks,
//! counters) and runs as one task draining its mailbox of [`Event`]s: the owner's tick and
//! stop, and what capture (with canvas and recorder below it) and the uplink report. Those
//! modules hold no reference to the engine, only a [`Report`] that enqueues, so nothing
//! here is shared or borrowed, no handler runs inside another, and no callback is dropped
//! from inside itself.
//!
//! Once stopped, the engine closes its mailbox: what is still queued is dropped unhandled
//! (frames closed), later reports return `false`, and the task ends, dropping the engine.

use std::rc::Rc;

use futures::StreamExt;
use futures::channel::mpsc;
use yew::Callback;

use super::capture::{self, Capture, Pipeline};
use super::control::{Control, Verdict};
use super::flv::{self, AudioKind, Stamps, TrackClock};
use super::js::{
    self, AudioData, EncodedAudioChunk, EncodedVideoChunk, VideoEncoder, VideoFrame, obj,
};
use super::model::{LinkState, Settings, Stats, StudioError, StudioEvent};
use super::publish;
use super::recorder::Recorded;
use super::report::{self, Report};
use super::uplink::{SocketEvent, Uplink};

/// How often a frame carries an `onFI` stamp (also on every keyframe).
const STAMP_EVERY_MS: f64 = 500.0;
/// Audio encoders queue more than this only when the page is starved; drop rather than pile up.
const MAX_AUDIO_QUEUE: u32 = 20;

/// What the engine handles, in order of arrival.
pub enum Event {
    /// The owner's once-a-second stats refresh.
    Tick,
    /// The owner dropped the studio.
    Stop,
    Capture(Capture),
    Socket(SocketEvent),
}

/// Starts a broadcast with `settings`; progress goes to `on_event`. The returned report is
/// how the owner reaches the engine ([`Event::Tick`], [`Event::Stop`]).
pub fn spawn(settings: Settings, on_event: Callback<StudioEvent>) -> Report<Event> {
    let (tx, mut mailbox) = mpsc::unbounded();
    let report: Report<Event> = Rc::new(move |event| tx.unbounded_send(event).is_ok());
    let mut engine = Engine::new(settings, on_event, report.clone());
    let capture = report::map(&report, Event::Capture);
    capture::spawn(engine.settings.clone(), engine.t0, capture);
    wasm_bindgen_futures::spawn_local(async move {
        while let Some(event) = mailbox.next().await {
            engine.handle(event);
            if engine.stopped {
                mailbox.close();
            }
        }
        // The engine is dropped here, with whatever it still holds.
    });
    report
}

pub struct Engine {
    settings: Settings,
    on_event: Callback<StudioEvent>,
    /// The engine's own mailbox, for the reports it hands out (the uplink's).
    report: Report<Event>,
    stopped: bool,
    stream: Option<web_sys::MediaStream>,
    /// Encoders / recorder / canvas, once capture has set them up.
    pipeline: Option<Pipeline>,
    audio_kind: Option<AudioKind>,
    /// `(sample rate, channels)` the audio encoder was configured with.
    audio_format: Option<(u32, u32)>,
    control: Control,
    vclock: TrackClock,
    aclock: TrackClock,
    stamps: Stamps,
    last_stamp_ms: f64,
    avcc: Option<Vec<u8>>,
    audio_config: Option<Vec<u8>>,
    uplink: Uplink,
    /// After a (re)connect, delta frames are held back until a keyframe starts the socket.
    awaiting_key: bool,
    /// `performance.now()` when the broadcast started; FLV time 0.
    t0: f64,
    stats: Stats,
    live_since: Option<f64>,
    last_tick: (f64, f64, u64),
}

impl Engine {
    fn new(settings: Settings, on_event: Callback<StudioEvent>, report: Report<Event>) -> Self {
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
            report,
            stopped: false,
            stream: None,
            pipeline: None,
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
        }
    }

    fn handle(&mut self, event: Event) {
        if self.stopped {
            return;
        }
        match event {
            Event::Tick => self.tick(),
            Event::Stop => self.shutdown(),
            Event::Capture(event) => self.on_capture(event),
            Event::Socket(event) => self.on_socket(event),
        }
    }

    fn on_capture(&mut self, event: Capture) {
        match event {
            Capture::Stream { stream, recorder } => {
                self.stream = Some(stream.clone());
                self.stats.recorder = recorder;
                self.emit(StudioEvent::Preview(stream));
            }
            Capture::Ready(pipeline) => {
                if let Some(codec) = &pipeline.video_codec {
                    self.stats.video_codec = codec.clone();
                }
                if let Some(size) = pipeline.size {
                    (self.stats.width, self.stats.height) = size;
                }
                if let Some((_, kind)) = &pipeline.audio {
                    self.audio_kind = Some(*kind);
                    self.stats.audio_codec = kind.name().into();
                }
                self.pipeline = Some(pipeline);
                self.connect();
            }
            // The frame / samples are closed when dropped, after this.
            Capture::VideoFrame(frame) => self.on_video_frame(&frame.0),
            Capture::AudioData(samples) => self.on_audio_data(&samples.0),
            Capture::VideoChunk(chunk, config) => self.on_video_chunk(&chunk, config),
            Capture::AudioChunk(chunk, config) => self.on_audio_chunk(&chunk, config),
            Capture::Recorded(recorded) => self.on_recorded(recorded),
            Capture::TrackEnded => self.fail(StudioError::Capture {
                what: "video",
                detail: "the video track ended (screen sharing stopped, or the camera went away)"
                    .into(),
            }),
            Capture::Failed(error) => self.fail(error),
        }
    }

    fn on_socket(&mut self, event: SocketEvent) {
        match event {
            SocketEvent::Opened => {
                self.uplink.opened();
                self.on_open();
            }
            SocketEvent::Acked(acked) => self.uplink.acked(acked),
            SocketEvent::Closed { code, reason } => {
                let report = self.socket_report();
                match self.uplink.closed(code, reason, &report) {
                    Ok(state) => self.emit(StudioEvent::State(state)),
                    Err(error) => self.fail(error),
                }
            }
            SocketEvent::Retry => self.connect(),
        }
    }

    /// Opens a (new) push socket.
    fn connect(&mut self) {
        let report = self.socket_report();
        match self.uplink.connect(&self.settings.push_url, &report) {
            Ok(state) => self.emit(StudioEvent::State(state)),
            Err(error) => self.fail(error),
        }
    }

    fn socket_report(&self) -> Report<SocketEvent> {
        report::map(&self.report, Event::Socket)
    }

    fn venc(&self) -> Option<&VideoEncoder> {
        self.pipeline.as_ref()?.video.as_ref()
    }

    /// Tells the owner. The engine is not borrowed from anywhere, so a re-render that drops
    /// the studio (which only sends [`Event::Stop`]) cannot reach into it.
    fn emit(&self, event: StudioEvent) {
        self.on_event.emit(event);
    }

    /// Stops for good and tells the owner why.
    fn fail(&mut self, error: StudioError) {
        if self.stopped {
            return;
        }
        crate::services::warn(&format!("studio: {error}"));
        self.emit(StudioEvent::Failed(error));
        self.shutdown();
    }

    /// Releases every browser object; idempotent.
    fn shutdown(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        if let Some(stream) = self.stream.take() {
            capture::stop_tracks(&stream);
        }
        // Closes the encoders, stops the recorder and the canvas.
        self.pipeline = None;
        self.uplink.close();
        publish::window_state(LinkState::Stopped.name());
        self.emit(StudioEvent::State(LinkState::Stopped));
    }

    /// One captured frame: drop it or encode it.
    fn on_video_frame(&mut self, frame: &VideoFrame) {
        let wallclock = js::wallclock_ms();
        let now = js::perf_now();
        let sample_us = frame.timestamp();
        let now_us = self.now_us();
        self.vclock.anchor(sample_us, now_us);
        let (buffered, in_flight) = (self.uplink.buffered(), self.uplink.in_flight());
        self.note_buffered(buffered, in_flight);
        let queued = buffered.max(in_flight);
        let queue = self.venc().map_or(0, |v| v.encode_queue_size());
        let open = self.uplink.is_open();
        let (verdict, rate) = self.control.on_frame(now, open, queued, queue);
        if let (Some(rate), Some(venc)) = (rate, self.venc()) {
            let size = (self.stats.width, self.stats.height);
            let codec = capture::avc_codec_string(size.0, size.1);
            let config = capture::video_config(codec, size, self.settings.fps, rate);
            if let Err(err) = venc.configure(&config) {
                crate::services::warn(&format!(
                    "studio: bitrate change refused: {}",
                    js::error_text(&err)
                ));
            }
        }
        match verdict {
            Verdict::Encode { keyframe } => {
                self.want_stamp(sample_us, keyframe, wallclock, now);
                let options = obj(&[("keyFrame", keyframe.into())]);
                let result = self.venc().map(|v| v.encode(frame, &options));
                if let Some(Err(err)) = result {
                    self.fail(StudioError::Encoder(js::error_text(&err)));
                }
            }
            v => {
                debug_assert!(v.dropped());
                // Frames before the first socket opens are not "dropped" by congestion.
                if v != Verdict::DropOffline
                    || self.uplink.reconnects() > 0
                    || self.stats.frames_encoded > 0
                {
                    self.stats.dropped_frames += 1;
                }
            }
        }
    }

    /// Captured audio: configure the encoder on the first samples, then encode.
    fn on_audio_data(&mut self, data: &AudioData) {
        let now_us = self.now_us();
        self.aclock.anchor(data.timestamp(), now_us);
        let Some((aenc, kind)) = self.pipeline.as_ref().and_then(|p| p.audio.clone()) else {
            return;
        };
        if self.audio_format.is_none() {
            let rate = data.sample_rate() as u32;
            let channels = data.number_of_channels();
            let (codec, bitrate) = match kind {
                AudioKind::Aac => ("mp4a.40.2", 128_000),
                AudioKind::Opus => ("opus", 96_000),
            };
            let config = obj(&[
                ("codec", codec.into()),
                ("sampleRate", rate.into()),
                ("numberOfChannels", channels.into()),
                ("bitrate", bitrate.into()),
            ]);
            if let Err(err) = aenc.configure(&config) {
                return self.fail(StudioError::Unsupported(format!(
                    "{} audio: {}",
                    kind.name(),
                    js::error_text(&err)
                )));
            }
            self.audio_format = Some((rate, channels));
        }
        let queued = self.uplink.queued();
        if self.control.audio_ok(self.uplink.is_open(), queued)
            && aenc.encode_queue_size() <= MAX_AUDIO_QUEUE
            && let Err(err) = aenc.encode(data)
        {
            self.fail(StudioError::Encoder(js::error_text(&err)));
        }
    }

    /// What the MediaRecorder path demuxed: already encoded, so only sending is decided.
    fn on_recorded(&mut self, recorded: Recorded) {
        match recorded {
            Recorded::Tracks { size, opus } => {
                if let Some(size) = size {
                    (self.stats.width, self.stats.height) = size;
                }
                if opus {
                    self.audio_kind = Some(AudioKind::Opus);
                    self.stats.audio_codec = AudioKind::Opus.name().into();
                }
            }
            Recorded::Video {
                data,
                keyframe,
                ms,
                config,
                wallclock,
            } => {
                let now = js::perf_now();
                let open = self.uplink.is_open();
                // Already encoded: dropping one breaks the frames after it, so the socket
                // then waits for the next keyframe.
                let (verdict, _) = self.control.on_frame(now, open, self.uplink.queued(), 0);
                if verdict.dropped() {
                    self.awaiting_key = true;
                    if open {
                        self.stats.dropped_frames += 1;
                    }
                }
                if !self.video_wanted(config, keyframe, ms) || verdict.dropped() {
                    return;
                }
                let stamp = self.stamp_due(keyframe, now).then_some(wallclock);
                self.video_out(data, keyframe, ms, stamp);
            }
            Recorded::Audio { head, data, ms } => {
                if self
                    .control
                    .audio_ok(self.uplink.is_open(), self.uplink.queued())
                {
                    self.audio_out(AudioKind::Opus, head, data, ms);
                }
            }
            Recorded::Failed(error) => self.fail(error),
        }
    }

    /// Microseconds since the broadcast started, for anchoring a track's clock.
    fn now_us(&self) -> f64 {
        (js::perf_now() - self.t0) * 1000.0
    }

    /// Whether this frame gets an `onFI` stamp: every keyframe, and every 500 ms.
    fn stamp_due(&mut self, keyframe: bool, now: f64) -> bool {
        let due = keyframe || now - self.last_stamp_ms >= STAMP_EVERY_MS;
        if due {
            self.last_stamp_ms = now;
        }
        due
    }

    /// Notes that a frame reached us from the capture track: stamp it if one is due.
    fn want_stamp(&mut self, sample_us: f64, keyframe: bool, wallclock: f64, now: f64) {
        if self.stamp_due(keyframe, now) {
            self.stamps.add(sample_us, wallclock);
        }
    }

    /// The socket opened: the FLV header, the codec configs we know, then a keyframe.
    fn on_open(&mut self) {
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
    fn on_video_chunk(&mut self, chunk: &EncodedVideoChunk, description: Option<Vec<u8>>) {
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
    fn video_wanted(&mut self, config: Option<Vec<u8>>, keyframe: bool, ms: u32) -> bool {
        if let Some(avcc) = config
            && self.avcc.as_ref() != Some(&avcc)
        {
            let first = self.avcc.is_none();
            self.avcc = Some(avcc.clone());
            if self.uplink.is_open() {
                self.send_tag(flv::avc_config(avcc, ms));
                // Audio held back until now (see `audio_out`) starts with its config.
                if let (true, Some(kind), Some(config)) =
                    (first, self.audio_kind, self.audio_config.clone())
                {
                    self.send_tag(flv::audio_config(kind, config, ms));
                }
            }
        }
        self.uplink.is_open() && (keyframe || !self.awaiting_key)
    }

    /// Sends one video frame (AVCC), after its `onFI` stamp if it has one.
    fn video_out(&mut self, data: Vec<u8>, keyframe: bool, ms: u32, stamp: Option<f64>) {
        self.awaiting_key = false;
        if let Some(wallclock) = stamp {
            self.send_tag(flv::stamp(wallclock, ms));
        }
        self.send_tag(flv::avc_frame(data, keyframe, ms));
        self.stats.frames_encoded += 1;
    }

    /// One encoded audio packet from WebCodecs (and, with a new config, its description).
    fn on_audio_chunk(&mut self, chunk: &EncodedAudioChunk, description: Option<Vec<u8>>) {
        let (Some(kind), Some((rate, channels))) = (self.audio_kind, self.audio_format) else {
            return;
        };
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
    fn audio_out(&mut self, kind: AudioKind, config: Vec<u8>, data: Vec<u8>, ms: u32) {
        // Audio waits for the video config: a packager that saw audio first would start an
        // audio-only rendition (the HLS one does, then cuts a discontinuity for the video).
        let ready = self.uplink.is_open() && self.avcc.is_some();
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
        self.stats.encoder_queue = self.venc().map_or(0, |v| v.encode_queue_size());
        self.stats.target_kbps = self.control.current_bps / 1000;
        self.stats.congested = self.control.congested();
        self.stats.reconnects = self.uplink.reconnects();
        self.stats.elapsed_s = self.live_since.map_or(0.0, |t| (now - t) / 1000.0);
        publish::window_stats(self.uplink.state().name(), &self.stats);
        self.emit(StudioEvent::Stats(self.stats.clone()));
    }

    fn note_buffered(&mut self, buffered: u32, in_flight: u32) {
        self.stats.max_buffered_amount = self.stats.max_buffered_amount.max(buffered);
        self.stats.max_in_flight = self.stats.max_in_flight.max(in_flight);
    }
}
