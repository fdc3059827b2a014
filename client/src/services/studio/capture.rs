//! Getting the tracks (camera + mic, or screen + optional mic), setting up the WebCodecs
//! encoders, and the loops that read frames from the tracks and feed them to the encoders.
//!
//! Frames are read with `MediaStreamTrackProcessor` (where it is missing, `canvas` draws
//! them and the audio goes through `recorder`; without WebCodecs, or with `?recorder=1`,
//! everything does). The back-pressure verdict ([`super::control`]) is taken per frame
//! *before* encoding, so a slow link costs no encoder time.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Object, Uint8Array};
use wasm_bindgen::prelude::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{MediaStream, MediaStreamTrack, ReadableStreamDefaultReader};

use super::control::Verdict;
use super::engine::Engine;
use super::flv::AudioKind;
use super::js::{
    self, AudioData, AudioEncoder, EncodedAudioChunk, EncodedVideoChunk, MediaDevices,
    MediaStreamTrackProcessor, VideoEncoder, VideoFrame, obj,
};
use super::{Source, StudioError, StudioEvent};

/// `track.getSettings()` (its dictionary type needs more web-sys features than it is worth).
fn track_settings(track: &MediaStreamTrack) -> JsValue {
    js::get(track, "getSettings")
        .dyn_into::<js_sys::Function>()
        .and_then(|f| f.call0(track))
        .unwrap_or(JsValue::UNDEFINED)
}

/// Starts the broadcast: capture, encoders, socket, loops.
pub fn spawn(engine: Rc<RefCell<Engine>>) {
    wasm_bindgen_futures::spawn_local(async move {
        if let Err(error) = start(&engine).await {
            engine.borrow_mut().fail(error);
        }
    });
}

async fn start(engine: &Rc<RefCell<Engine>>) -> Result<(), StudioError> {
    let settings = engine.borrow().settings.clone();
    // Without WebCodecs, MediaRecorder is the way (or when `?recorder=1` asks for it).
    let use_recorder = settings.recorder || !super::has_webcodecs();
    if use_recorder && !super::recorder::supported() {
        return Err(StudioError::Unsupported(
            "neither WebCodecs (VideoEncoder) nor MediaRecorder with H.264 WebM is available"
                .into(),
        ));
    }
    let stream = capture(settings.source, &settings).await?;
    {
        let mut e = engine.borrow_mut();
        if e.stopped {
            stop_tracks(&stream);
            return Ok(());
        }
        e.stream = Some(stream.clone());
        e.stats.recorder = use_recorder;
        e.emit(StudioEvent::Preview(stream.clone()));
    }
    if use_recorder {
        super::recorder::start(engine, &stream, super::recorder::MIME)?;
        super::uplink::connect(engine);
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
    watch_end(engine, &video);
    let size = track_size(&video).unwrap_or((settings.width, settings.height));
    setup_video_encoder(engine, size)?;
    if !js::has_global("MediaStreamTrackProcessor") {
        // No track processor (Firefox, Safari): frames are drawn from a <video> into a
        // canvas, and the audio is recorded as Opus WebM and demuxed.
        super::canvas::start(engine, &stream, size)?;
        if let Some(audio) = audio {
            if super::recorder::audio_supported() {
                let only_audio =
                    MediaStream::new().map_err(|e| StudioError::Unsupported(js::error_text(&e)))?;
                only_audio.add_track(&audio);
                super::recorder::start(engine, &only_audio, super::recorder::AUDIO_MIME)?;
            } else {
                crate::services::warn("studio: no way to read the microphone here; video only");
            }
        }
        super::uplink::connect(engine);
        return Ok(());
    }
    if let Some(track) = &audio {
        let kind = choose_audio(track).await;
        setup_audio_encoder(engine, kind)?;
    }
    super::uplink::connect(engine);
    read_video(engine.clone(), &video)?;
    if let Some(audio) = audio {
        read_audio(engine.clone(), &audio)?;
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

fn video_constraints(s: &super::Settings) -> Object {
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

async fn capture(source: Source, s: &super::Settings) -> Result<MediaStream, StudioError> {
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

pub fn stop_tracks(stream: &MediaStream) {
    for track in stream.get_tracks().iter() {
        if let Ok(track) = track.dyn_into::<MediaStreamTrack>() {
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

fn error_callback(engine: &Rc<RefCell<Engine>>) -> Closure<dyn FnMut(JsValue, JsValue)> {
    let weak = Rc::downgrade(engine);
    Closure::new(move |e: JsValue, _: JsValue| {
        if let Some(engine) = weak.upgrade()
            && let Ok(mut engine) = engine.try_borrow_mut()
        {
            engine.fail(StudioError::Encoder(js::error_text(&e)));
        }
    })
}

fn setup_video_encoder(engine: &Rc<RefCell<Engine>>, size: (u32, u32)) -> Result<(), StudioError> {
    let weak = Rc::downgrade(engine);
    let output =
        Closure::<dyn FnMut(JsValue, JsValue)>::new(move |chunk: JsValue, meta: JsValue| {
            if let Some(engine) = weak.upgrade() {
                let chunk: EncodedVideoChunk = chunk.unchecked_into();
                engine
                    .borrow_mut()
                    .on_video_chunk(&chunk, description(&meta));
            }
        });
    let error = error_callback(engine);
    let init = obj(&[
        ("output", output.as_ref().clone()),
        ("error", error.as_ref().clone()),
    ]);
    let encoder = VideoEncoder::new(&init)
        .map_err(|e| StudioError::Unsupported(format!("VideoEncoder: {}", js::error_text(&e))))?;
    let mut e = engine.borrow_mut();
    let codec = avc_codec_string(size.0, size.1);
    let config = video_config(codec, size, e.settings.fps, e.control.current_bps);
    encoder.configure(&config).map_err(|err| {
        StudioError::Unsupported(format!("H.264 {codec}: {}", js::error_text(&err)))
    })?;
    e.venc = Some(encoder);
    e.callbacks.push(output);
    e.callbacks.push(error);
    e.stats.video_codec = format!("H.264 ({codec})");
    (e.stats.width, e.stats.height) = size;
    Ok(())
}

/// AAC where the browser can encode it, else Opus (DESIGN.md §5).
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

fn setup_audio_encoder(engine: &Rc<RefCell<Engine>>, kind: AudioKind) -> Result<(), StudioError> {
    let weak = Rc::downgrade(engine);
    let output =
        Closure::<dyn FnMut(JsValue, JsValue)>::new(move |chunk: JsValue, meta: JsValue| {
            if let Some(engine) = weak.upgrade() {
                let chunk: EncodedAudioChunk = chunk.unchecked_into();
                engine
                    .borrow_mut()
                    .on_audio_chunk(&chunk, description(&meta));
            }
        });
    let error = error_callback(engine);
    let init = obj(&[
        ("output", output.as_ref().clone()),
        ("error", error.as_ref().clone()),
    ]);
    let encoder = AudioEncoder::new(&init)
        .map_err(|e| StudioError::Unsupported(format!("AudioEncoder: {}", js::error_text(&e))))?;
    let mut e = engine.borrow_mut();
    e.aenc = Some(encoder);
    e.audio_kind = Some(kind);
    e.callbacks.push(output);
    e.callbacks.push(error);
    e.stats.audio_codec = kind.name().into();
    Ok(())
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

fn read_video(engine: Rc<RefCell<Engine>>, track: &MediaStreamTrack) -> Result<(), StudioError> {
    let reader = reader(track)?;
    wasm_bindgen_futures::spawn_local(async move {
        while let Some(value) = next(&reader).await {
            let frame: VideoFrame = value.unchecked_into();
            let go_on = on_video_frame(&engine, &frame);
            frame.close();
            if !go_on {
                break;
            }
        }
        let _ = reader.cancel();
        track_ended(&engine);
    });
    Ok(())
}

/// The video track ended by itself (the browser's "Stop sharing", a camera unplugged): the
/// broadcast stops and says why.
fn track_ended(engine: &Rc<RefCell<Engine>>) {
    if let Ok(mut e) = engine.try_borrow_mut()
        && !e.stopped
    {
        e.fail(StudioError::Capture {
            what: "video",
            detail: "the video track ended (screen sharing stopped, or the camera went away)"
                .into(),
        });
    }
}

/// Stops the broadcast when the browser ends the video track (an `ended` event, which
/// `stop()` from our own code does not fire).
fn watch_end(engine: &Rc<RefCell<Engine>>, track: &MediaStreamTrack) {
    let weak = Rc::downgrade(engine);
    let on_ended = Closure::<dyn FnMut(JsValue, JsValue)>::new(move |_: JsValue, _: JsValue| {
        if let Some(engine) = weak.upgrade() {
            track_ended(&engine);
        }
    });
    track.set_onended(Some(on_ended.as_ref().unchecked_ref()));
    engine.borrow_mut().callbacks.push(on_ended);
}

/// One captured frame: drop it or encode it. Returns false once the broadcast stopped.
pub fn on_video_frame(engine: &Rc<RefCell<Engine>>, frame: &VideoFrame) -> bool {
    let wallclock = js::wallclock_ms();
    let now = js::perf_now();
    let mut e = engine.borrow_mut();
    if e.stopped {
        return false;
    }
    let sample_us = frame.timestamp();
    let now_us = e.now_us();
    e.vclock.anchor(sample_us, now_us);
    let (buffered, in_flight) = (e.uplink.buffered(), e.uplink.in_flight());
    e.note_buffered(buffered, in_flight);
    let queued = buffered.max(in_flight);
    let queue = e.venc.as_ref().map_or(0, |v| v.encode_queue_size());
    let open = e.uplink.open;
    let (verdict, rate) = e.control.on_frame(now, open, queued, queue);
    if let (Some(rate), Some(venc)) = (rate, e.venc.as_ref()) {
        let size = (e.stats.width, e.stats.height);
        let config = video_config(avc_codec_string(size.0, size.1), size, e.settings.fps, rate);
        if let Err(err) = venc.configure(&config) {
            crate::services::warn(&format!(
                "studio: bitrate change refused: {}",
                js::error_text(&err)
            ));
        }
    }
    match verdict {
        Verdict::Encode { keyframe } => {
            e.want_stamp(sample_us, keyframe, wallclock, now);
            let options = obj(&[("keyFrame", keyframe.into())]);
            let result = e.venc.as_ref().map(|v| v.encode(frame, &options));
            if let Some(Err(err)) = result {
                e.fail(StudioError::Encoder(js::error_text(&err)));
                return false;
            }
        }
        v => {
            debug_assert!(v.dropped());
            // Frames before the first socket opens are not "dropped" by congestion.
            if v != Verdict::DropOffline || e.uplink.reconnects > 0 || e.stats.frames_encoded > 0 {
                e.stats.dropped_frames += 1;
            }
        }
    }
    true
}

fn read_audio(engine: Rc<RefCell<Engine>>, track: &MediaStreamTrack) -> Result<(), StudioError> {
    let reader = reader(track)?;
    wasm_bindgen_futures::spawn_local(async move {
        while let Some(value) = next(&reader).await {
            let data: AudioData = value.unchecked_into();
            let go_on = on_audio_data(&engine, &data);
            data.close();
            if !go_on {
                break;
            }
        }
        let _ = reader.cancel();
    });
    Ok(())
}

/// Audio encoders queue more than this only when the page is starved; drop rather than pile up.
const MAX_AUDIO_QUEUE: u32 = 20;

fn on_audio_data(engine: &Rc<RefCell<Engine>>, data: &AudioData) -> bool {
    let mut e = engine.borrow_mut();
    if e.stopped {
        return false;
    }
    let now_us = e.now_us();
    e.aclock.anchor(data.timestamp(), now_us);
    let (Some(aenc), Some(kind)) = (e.aenc.clone(), e.audio_kind) else {
        return true;
    };
    if e.audio_format.is_none() {
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
            e.fail(StudioError::Unsupported(format!(
                "{} audio: {}",
                kind.name(),
                js::error_text(&err)
            )));
            return false;
        }
        e.audio_format = Some((rate, channels));
    }
    let queued = e.uplink.queued();
    if e.control.audio_ok(e.uplink.open, queued)
        && aenc.encode_queue_size() <= MAX_AUDIO_QUEUE
        && let Err(err) = aenc.encode(data)
    {
        e.fail(StudioError::Encoder(js::error_text(&err)));
        return false;
    }
    true
}
