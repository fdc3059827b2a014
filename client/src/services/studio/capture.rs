//! Getting the tracks (camera + mic, or screen + optional mic), setting up what turns them
//! into encoded media (the [`Pipeline`]: WebCodecs encoders, or the MediaRecorder, or a
//! canvas), and the loops that read frames from the tracks.
//!
//! Frames are read with `MediaStreamTrackProcessor` (where it is missing, `canvas` draws
//! them and the audio goes through `recorder`; without WebCodecs, or with `?recorder=1`,
//! everything does). Everything here reports to the engine as a [`Capture`] event: the
//! frames themselves go to the engine, which takes the back-pressure verdict
//! ([`super::control`]) per frame *before* encoding, so a slow link costs no encoder time.

use js_sys::{Object, Uint8Array};
use wasm_bindgen::prelude::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{MediaStream, MediaStreamTrack, ReadableStreamDefaultReader};

use super::canvas::CanvasPump;
use super::flv::AudioKind;
use super::js::{
    self, AudioEncoder, EncodedAudioChunk, EncodedVideoChunk, MediaDevices,
    MediaStreamTrackProcessor, VideoEncoder, obj,
};
use super::model::{Settings, Source, StudioError};
use super::recorder::{self, Recorded, Recording};
use super::report::{self, Frame, Report, Samples};

/// What capture tells the engine.
pub enum Capture {
    /// The capture stream exists (for the preview, and to be stopped with the broadcast);
    /// `recorder`: it is pushed through the MediaRecorder path.
    Stream {
        stream: MediaStream,
        recorder: bool,
    },
    /// Everything that encodes is set up: time to connect.
    Ready(Pipeline),
    /// A frame read from the video track (or drawn from the canvas).
    VideoFrame(Frame),
    /// Samples read from the audio track.
    AudioData(Samples),
    /// WebCodecs output, with the new decoder config when there is one.
    VideoChunk(EncodedVideoChunk, Option<Vec<u8>>),
    AudioChunk(EncodedAudioChunk, Option<Vec<u8>>),
    /// What the MediaRecorder path demuxed.
    Recorded(Recorded),
    /// The video track ended by itself (screen sharing stopped, camera gone).
    TrackEnded,
    /// Setting up or encoding failed: the broadcast stops.
    Failed(StudioError),
}

/// A browser callback with the two arguments WebCodecs and the media events give.
type Callback = Closure<dyn FnMut(JsValue, JsValue)>;

/// What turns the capture into encoded media, owned by the engine once [`Capture::Ready`].
/// Dropping it closes the encoders and stops the recorder and the canvas.
#[derive(Default)]
pub struct Pipeline {
    pub video: Option<VideoEncoder>,
    pub audio: Option<(AudioEncoder, AudioKind)>,
    /// Shown in the status panel.
    pub video_codec: Option<String>,
    /// The picture size the video encoder was configured with.
    pub size: Option<(u32, u32)>,
    recordings: Vec<Recording>,
    canvas: Option<CanvasPump>,
    /// The encoders' and the track's callbacks; dropped last (fields drop in order), after
    /// whatever could call them is closed.
    callbacks: Vec<Callback>,
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        if let Some(venc) = self.video.take()
            && venc.state() != "closed"
        {
            let _ = venc.close();
        }
        if let Some((aenc, _)) = self.audio.take() {
            let _ = aenc.close();
        }
    }
}

/// Whether this browser has what the WebCodecs path needs.
fn has_webcodecs() -> bool {
    js::has_global("VideoEncoder") && js::has_global("AudioEncoder")
}

/// `track.getSettings()` (its dictionary type needs more web-sys features than it is worth).
fn track_settings(track: &MediaStreamTrack) -> JsValue {
    js::get(track, "getSettings")
        .dyn_into::<js_sys::Function>()
        .and_then(|f| f.call0(track))
        .unwrap_or(JsValue::UNDEFINED)
}

/// Starts capturing for a broadcast with `settings` whose FLV time 0 is `t0`; everything
/// that happens is reported.
pub fn spawn(settings: Settings, t0: f64, report: Report<Capture>) {
    wasm_bindgen_futures::spawn_local(async move {
        if let Err(error) = start(&settings, t0, &report).await {
            report(Capture::Failed(error));
        }
    });
}

async fn start(settings: &Settings, t0: f64, report: &Report<Capture>) -> Result<(), StudioError> {
    // Without WebCodecs, MediaRecorder is the way (or when `?recorder=1` asks for it).
    let use_recorder = settings.recorder || !has_webcodecs();
    if use_recorder && !recorder::supported() {
        return Err(StudioError::Unsupported(
            "neither WebCodecs (VideoEncoder) nor MediaRecorder with H.264 WebM is available"
                .into(),
        ));
    }
    let stream = capture(settings.source, settings).await?;
    let captured = Capture::Stream {
        stream: stream.clone(),
        recorder: use_recorder,
    };
    if !report(captured) {
        // Stopped while the browser was asking: nobody else will release the tracks.
        stop_tracks(&stream);
        return Ok(());
    }
    let recorded = report::map(report, Capture::Recorded);
    let mut pipe = Pipeline::default();
    if use_recorder {
        let recording = recorder::start(&stream, recorder::MIME, settings.bitrate, t0, recorded)?;
        pipe.recordings.push(recording);
        pipe.video_codec = Some("H.264 (MediaRecorder)".into());
        report(Capture::Ready(pipe));
        return Ok(());
    }
    let video = stream
        .get_video_tracks()
        .get(0)
        .dyn_into::<MediaStreamTrack>()
        .ok();
    let audio = stream
        .get_audio_tracks()
        .get(0)
        .dyn_into::<MediaStreamTrack>()
        .ok();
    let Some(video) = video else {
        return Err(StudioError::NoDevice("video track"));
    };
    pipe.callbacks.push(watch_end(&video, report));
    let size = track_size(&video).unwrap_or((settings.width, settings.height));
    let (encoder, callbacks) = new_encoder(
        VideoEncoder::new,
        "VideoEncoder",
        report,
        Capture::VideoChunk,
    )?;
    pipe.callbacks.extend(callbacks);
    let codec = avc_codec_string(size.0, size.1);
    let config = video_config(codec, size, settings.fps, settings.bitrate);
    let configured = encoder.configure(&config);
    pipe.video = Some(encoder);
    configured.map_err(|err| {
        StudioError::Unsupported(format!("H.264 {codec}: {}", js::error_text(&err)))
    })?;
    pipe.video_codec = Some(format!("H.264 ({codec})"));
    pipe.size = Some(size);
    if !js::has_global("MediaStreamTrackProcessor") {
        // No track processor (Firefox, Safari): frames are drawn from a <video> into a
        // canvas, and the audio is recorded as Opus WebM and demuxed.
        let frames = report::map(report, Capture::VideoFrame);
        pipe.canvas = Some(super::canvas::start(&stream, size, settings.fps, frames)?);
        if let Some(audio) = audio {
            if recorder::audio_supported() {
                let only_audio =
                    MediaStream::new().map_err(|e| StudioError::Unsupported(js::error_text(&e)))?;
                only_audio.add_track(&audio);
                let recording = recorder::start(
                    &only_audio,
                    recorder::AUDIO_MIME,
                    settings.bitrate,
                    t0,
                    recorded,
                )?;
                pipe.recordings.push(recording);
            } else {
                crate::services::warn("studio: no way to read the microphone here; video only");
            }
        }
        report(Capture::Ready(pipe));
        return Ok(());
    }
    if let Some(track) = &audio {
        let kind = choose_audio(track).await;
        let (encoder, callbacks) = new_encoder(
            AudioEncoder::new,
            "AudioEncoder",
            report,
            Capture::AudioChunk,
        )?;
        pipe.callbacks.extend(callbacks);
        pipe.audio = Some((encoder, kind));
    }
    let video_reader = reader(&video)?;
    let audio_reader = audio.as_ref().map(reader).transpose()?;
    if !report(Capture::Ready(pipe)) {
        return Ok(());
    }
    read_video(video_reader, report.clone());
    if let Some(audio_reader) = audio_reader {
        read_audio(audio_reader, report.clone());
    }
    Ok(())
}

fn media_devices() -> Result<MediaDevices, StudioError> {
    let navigator = web_sys::window()
        .map(|w| JsValue::from(w.navigator()))
        .unwrap_or(JsValue::UNDEFINED);
    let devices = js::get(&navigator, "mediaDevices");
    if devices.is_undefined() {
        // Only secure contexts (https or localhost) have media devices.
        return Err(StudioError::Unsupported(
            "no camera access here (the page must be opened over https or on localhost)".into(),
        ));
    }
    Ok(devices.unchecked_into())
}

fn video_constraints(s: &Settings) -> Object {
    obj(&[
        ("width", obj(&[("ideal", s.width.into())]).into()),
        ("height", obj(&[("ideal", s.height.into())]).into()),
        ("frameRate", obj(&[("ideal", s.fps.into())]).into()),
    ])
}

fn capture_error(what: &'static str, e: &JsValue) -> StudioError {
    match js::error_name(e).as_str() {
        "NotAllowedError" | "SecurityError" => StudioError::Denied(what),
        "NotFoundError" | "OverconstrainedError" => StudioError::NoDevice(what),
        _ => StudioError::Capture {
            what,
            detail: js::error_text(e),
        },
    }
}

async fn capture(source: Source, s: &Settings) -> Result<MediaStream, StudioError> {
    let devices = media_devices()?;
    match source {
        Source::Camera => {
            let constraints = obj(&[
                ("video", video_constraints(s).into()),
                ("audio", true.into()),
            ]);
            let what = "camera and microphone";
            let promise = devices
                .get_user_media(&constraints)
                .map_err(|e| capture_error(what, &e))?;
            let stream = JsFuture::from(promise)
                .await
                .map_err(|e| capture_error(what, &e))?;
            Ok(stream.unchecked_into())
        }
        Source::Screen { mic } => {
            let options = obj(&[
                ("video", video_constraints(s).into()),
                ("audio", false.into()),
            ]);
            let what = "screen";
            let promise = devices
                .get_display_media(&options)
                .map_err(|e| capture_error(what, &e))?;
            let screen: MediaStream = JsFuture::from(promise)
                .await
                .map_err(|e| capture_error(what, &e))?
                .unchecked_into();
            if mic {
                let what = "microphone";
                let constraints = obj(&[("audio", true.into())]);
                let voice = match devices.get_user_media(&constraints) {
                    Ok(p) => JsFuture::from(p).await,
                    Err(e) => Err(e),
                };
                match voice {
                    Ok(voice) => {
                        let voice: MediaStream = voice.unchecked_into();
                        for track in voice.get_audio_tracks().iter() {
                            if let Ok(track) = track.dyn_into::<MediaStreamTrack>() {
                                screen.add_track(&track);
                            }
                        }
                    }
                    Err(e) => {
                        stop_tracks(&screen);
                        return Err(capture_error(what, &e));
                    }
                }
            }
            Ok(screen)
        }
    }
}

/// Stops every track of `stream` (and unhooks `watch_end`, whose callback goes with the
/// pipeline).
pub fn stop_tracks(stream: &MediaStream) {
    for track in stream.get_tracks().iter() {
        if let Ok(track) = track.dyn_into::<MediaStreamTrack>() {
            track.set_onended(None);
            track.stop();
        }
    }
}

fn track_size(track: &MediaStreamTrack) -> Option<(u32, u32)> {
    let settings = track_settings(track);
    let w = js::get(&settings, "width").as_f64()?;
    let h = js::get(&settings, "height").as_f64()?;
    // H.264 4:2:0 needs even dimensions.
    Some(((w as u32) & !1, (h as u32) & !1))
}

/// An H.264 Constrained Baseline codec string whose level fits the picture size at 30 fps.
pub fn avc_codec_string(width: u32, height: u32) -> &'static str {
    match width * height {
        0..=414_720 => "avc1.42e01e",         // level 3.0: up to 720x576
        414_721..=921_600 => "avc1.42e01f",   // level 3.1: 1280x720
        921_601..=2_088_960 => "avc1.42e028", // level 4.0: 1920x1080
        _ => "avc1.42e033",                   // level 5.1
    }
}

pub fn video_config(codec: &str, (w, h): (u32, u32), fps: u32, bitrate: u32) -> Object {
    obj(&[
        ("codec", codec.into()),
        ("width", w.into()),
        ("height", h.into()),
        ("bitrate", bitrate.into()),
        ("framerate", fps.into()),
        ("latencyMode", "realtime".into()),
        ("avc", obj(&[("format", "avc".into())]).into()),
    ])
}

/// `metadata.decoderConfig.description` as bytes, when the encoder gave one.
fn description(metadata: &JsValue) -> Option<Vec<u8>> {
    let d = js::get(&js::get(metadata, "decoderConfig"), "description");
    if d.is_undefined() || d.is_null() {
        return None;
    }
    if let Some(buffer) = d.dyn_ref::<js_sys::ArrayBuffer>() {
        return Some(Uint8Array::new(buffer).to_vec());
    }
    // An ArrayBufferView: read its bytes, whatever its element type.
    let buffer = js::get(&d, "buffer")
        .dyn_into::<js_sys::ArrayBuffer>()
        .ok()?;
    let offset = js::get(&d, "byteOffset").as_f64()? as u32;
    let len = js::get(&d, "byteLength").as_f64()? as u32;
    Some(Uint8Array::new_with_byte_offset_and_length(&buffer, offset, len).to_vec())
}

/// A WebCodecs encoder (`new` is `VideoEncoder::new` or `AudioEncoder::new`) whose
/// output chunks are reported as `on_chunk(chunk, new decoder config)`, and whose errors
/// stop the broadcast. The callbacks must live as long as the encoder.
fn new_encoder<E, C: JsCast + 'static>(
    new: fn(&Object) -> Result<E, JsValue>,
    what: &str,
    report: &Report<Capture>,
    on_chunk: fn(C, Option<Vec<u8>>) -> Capture,
) -> Result<(E, [Callback; 2]), StudioError> {
    let output = {
        let report = report.clone();
        Callback::new(move |chunk: JsValue, meta: JsValue| {
            report(on_chunk(chunk.unchecked_into(), description(&meta)));
        })
    };
    let error = {
        let report = report.clone();
        Callback::new(move |e: JsValue, _: JsValue| {
            report(Capture::Failed(StudioError::Encoder(js::error_text(&e))));
        })
    };
    let init = obj(&[
        ("output", output.as_ref().clone()),
        ("error", error.as_ref().clone()),
    ]);
    let encoder = new(&init)
        .map_err(|e| StudioError::Unsupported(format!("{what}: {}", js::error_text(&e))))?;
    Ok((encoder, [output, error]))
}

/// AAC where the browser can encode it, else Opus.
async fn choose_audio(track: &MediaStreamTrack) -> AudioKind {
    let settings = track_settings(track);
    let channels = js::get(&settings, "channelCount").as_f64().unwrap_or(1.0);
    let rate = js::get(&settings, "sampleRate")
        .as_f64()
        .unwrap_or(48_000.0);
    let config = obj(&[
        ("codec", "mp4a.40.2".into()),
        ("sampleRate", rate.into()),
        ("numberOfChannels", channels.into()),
        ("bitrate", 128_000.into()),
    ]);
    let supported = match AudioEncoder::is_config_supported(&config) {
        Ok(p) => JsFuture::from(p)
            .await
            .map(|r| js::get(&r, "supported").as_bool() == Some(true))
            .unwrap_or(false),
        Err(_) => false,
    };
    if supported {
        AudioKind::Aac
    } else {
        AudioKind::Opus
    }
}

fn reader(track: &MediaStreamTrack) -> Result<ReadableStreamDefaultReader, StudioError> {
    let processor =
        MediaStreamTrackProcessor::new(&obj(&[("track", track.into())])).map_err(|e| {
            StudioError::Unsupported(format!("MediaStreamTrackProcessor: {}", js::error_text(&e)))
        })?;
    processor
        .readable()
        .get_reader()
        .dyn_into::<ReadableStreamDefaultReader>()
        .map_err(|_| StudioError::Unsupported("no reader for the capture track".into()))
}

/// The next frame / audio buffer from a track reader, or `None` when the track ended.
async fn next(reader: &ReadableStreamDefaultReader) -> Option<JsValue> {
    let result = JsFuture::from(reader.read()).await.ok()?;
    if js::get(&result, "done").as_bool() == Some(true) {
        return None;
    }
    Some(js::get(&result, "value"))
}

fn read_video(reader: ReadableStreamDefaultReader, report: Report<Capture>) {
    wasm_bindgen_futures::spawn_local(async move {
        while let Some(value) = next(&reader).await {
            // Closed once the engine has handled it (or at once if it has stopped).
            if !report(Capture::VideoFrame(Frame(value.unchecked_into()))) {
                break;
            }
        }
        let _ = reader.cancel();
        // Also when the engine has stopped (nobody hears it then): otherwise the video
        // track ended by itself, and the broadcast stops and says why.
        report(Capture::TrackEnded);
    });
}

/// Stops the broadcast when the browser ends the video track (an `ended` event, which
/// `stop()` from our own code does not fire).
fn watch_end(track: &MediaStreamTrack, report: &Report<Capture>) -> Callback {
    let report = report.clone();
    let on_ended = Callback::new(move |_: JsValue, _: JsValue| {
        report(Capture::TrackEnded);
    });
    track.set_onended(Some(on_ended.as_ref().unchecked_ref()));
    on_ended
}

fn read_audio(reader: ReadableStreamDefaultReader, report: Report<Capture>) {
    wasm_bindgen_futures::spawn_local(async move {
        while let Some(value) = next(&reader).await {
            if !report(Capture::AudioData(Samples(value.unchecked_into()))) {
                break;
            }
        }
        let _ = reader.cancel();
    });
}
