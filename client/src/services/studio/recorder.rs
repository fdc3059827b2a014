//! The MediaRecorder fallback, for browsers without WebCodecs (or forced with `?recorder=1`):
//! record `video/webm;codecs=h264,opus` in 100 ms slices, demux the WebM in wasm
//! (`onair_shared::webm`), and push the same FLV as the WebCodecs path.
//!
//! What it cannot do: the recorder encodes before we see a frame, so on a slow link encoded
//! video is dropped and sending resumes at the next keyframe (the recorder's own interval;
//! `videoKeyFrameIntervalDuration` asks for 2 s where supported); its bitrate cannot be
//! changed while recording; and the `onFI` wallclock is the recording's start plus the
//! frame's WebM time, not the moment the frame left the camera.

use std::cell::RefCell;
use std::rc::Rc;

use futures::StreamExt;
use futures::channel::mpsc;
use js_sys::Uint8Array;
use onair_shared::webm::{AvcConverter, Demuxer, Limits, WebmEvent, opus_head};
use wasm_bindgen::prelude::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, MediaStream};

use super::StudioError;
use super::engine::Engine;
use super::flv::AudioKind;
use super::js::{self, MediaRecorder, obj};

/// What the studio records; Chromium supports it (DESIGN.md §5).
pub const MIME: &str = "video/webm;codecs=h264,opus";
/// Slice length: each slice becomes one `dataavailable` event.
const TIMESLICE_MS: u32 = 100;

/// Whether this browser can record what the fallback needs.
pub fn supported() -> bool {
    js::has_global("MediaRecorder") && MediaRecorder::is_type_supported(MIME)
}

/// Audio only, for browsers whose WebCodecs path has no `MediaStreamTrackProcessor` to read
/// audio with (the video then comes through a canvas, see `canvas`).
pub const AUDIO_MIME: &str = "audio/webm;codecs=opus";

/// Whether this browser can record the audio-only WebM.
pub fn audio_supported() -> bool {
    js::has_global("MediaRecorder") && MediaRecorder::is_type_supported(AUDIO_MIME)
}

/// Starts recording `stream` as `mime` ([`MIME`] or [`AUDIO_MIME`]) and pushing what comes
/// out.
pub fn start(
    engine: &Rc<RefCell<Engine>>,
    stream: &MediaStream,
    mime: &str,
) -> Result<(), StudioError> {
    if !js::has_global("MediaRecorder") || !MediaRecorder::is_type_supported(mime) {
        return Err(StudioError::Unsupported(format!(
            "MediaRecorder cannot record {mime} here"
        )));
    }
    let bitrate = engine.borrow().settings.bitrate;
    let options = obj(&[
        ("mimeType", mime.into()),
        ("videoBitsPerSecond", bitrate.into()),
        ("audioBitsPerSecond", 96_000.into()),
        ("videoKeyFrameIntervalDuration", 2_000.into()),
    ]);
    let recorder = MediaRecorder::new(stream, &options)
        .map_err(|e| StudioError::Unsupported(format!("MediaRecorder: {}", js::error_text(&e))))?;
    let (tx, rx) = mpsc::unbounded::<Blob>();
    let on_data = Closure::<dyn FnMut(JsValue, JsValue)>::new(move |event: JsValue, _| {
        if let Ok(blob) = js::get(&event, "data").dyn_into::<Blob>()
            && blob.size() > 0.0
        {
            // Fails only once the reading task has ended (stopped): nothing to do then.
            let _ = tx.unbounded_send(blob);
        }
    });
    let on_error = {
        let weak = Rc::downgrade(engine);
        Closure::<dyn FnMut(JsValue, JsValue)>::new(move |event: JsValue, _| {
            if let Some(engine) = weak.upgrade() {
                let detail = js::error_text(&js::get(&event, "error"));
                engine
                    .borrow_mut()
                    .fail(StudioError::Encoder(format!("MediaRecorder: {detail}")));
            }
        })
    };
    recorder.set_ondataavailable(Some(on_data.as_ref().unchecked_ref()));
    recorder.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    recorder
        .start(TIMESLICE_MS)
        .map_err(|e| StudioError::Encoder(format!("MediaRecorder: {}", js::error_text(&e))))?;
    {
        let mut e = engine.borrow_mut();
        e.recorder = Some(recorder);
        e.callbacks.push(on_data);
        e.callbacks.push(on_error);
        if mime == MIME {
            e.stats.video_codec = "H.264 (MediaRecorder)".into();
        }
    }
    wasm_bindgen_futures::spawn_local(read(engine.clone(), rx));
    Ok(())
}

/// The tracks of the recording, once its Tracks element arrived.
#[derive(Default)]
struct Tracks {
    video: Option<(u64, AvcConverter)>,
    /// Track number and OpusHead.
    audio: Option<(u64, Vec<u8>)>,
}

async fn read(engine: Rc<RefCell<Engine>>, mut slices: mpsc::UnboundedReceiver<Blob>) {
    let mut demux = Demuxer::new(Limits::default());
    let mut tracks = Tracks::default();
    // WebM time 0 is now: map it onto the broadcast's FLV time and the wall clock.
    let (base_ms, wall0) = {
        let e = engine.borrow();
        (js::perf_now() - e.t0, js::wallclock_ms())
    };
    while let Some(blob) = slices.next().await {
        let bytes = match JsFuture::from(blob.array_buffer()).await {
            Ok(buffer) => Uint8Array::new(&buffer).to_vec(),
            Err(e) => {
                crate::services::warn(&format!("studio: unreadable slice: {}", js::error_text(&e)));
                continue;
            }
        };
        if engine.borrow().stopped {
            return;
        }
        demux.push(&bytes);
        loop {
            match demux.next_event() {
                Ok(Some(event)) => on_event(&engine, &mut tracks, event, base_ms, wall0),
                Ok(None) => break,
                Err(err) => {
                    engine.borrow_mut().fail(StudioError::Encoder(format!(
                        "the recording is unreadable: {err}"
                    )));
                    return;
                }
            }
        }
    }
}

fn on_event(
    engine: &Rc<RefCell<Engine>>,
    tracks: &mut Tracks,
    event: WebmEvent,
    base_ms: f64,
    wall0: f64,
) {
    let mut e = engine.borrow_mut();
    match event {
        WebmEvent::Tracks(list) => {
            for t in &list {
                if t.is_avc() {
                    match AvcConverter::new(t) {
                        Ok(conv) => tracks.video = Some((t.number, conv)),
                        Err(err) => return e.fail(StudioError::Unsupported(err.to_string())),
                    }
                    if let Some(v) = t.video {
                        e.stats.width = u32::try_from(v.pixel_width).unwrap_or(0);
                        e.stats.height = u32::try_from(v.pixel_height).unwrap_or(0);
                    }
                } else if t.is_opus() {
                    let head = opus_head(t).and_then(|h| Ok(h.to_bytes()?.to_vec()));
                    if let Ok(head) = head {
                        tracks.audio = Some((t.number, head));
                        e.audio_kind = Some(AudioKind::Opus);
                        e.stats.audio_codec = AudioKind::Opus.name().into();
                    }
                }
            }
        }
        WebmEvent::Frame {
            track,
            timestamp_ms,
            keyframe,
            data,
        } => {
            let ms = (base_ms + timestamp_ms as f64).max(0.0) as u32;
            let now = js::perf_now();
            let open = e.uplink.open;
            let queued = e.uplink.queued();
            if let Some((number, conv)) = tracks.video.as_mut()
                && *number == track
            {
                let sample = match conv.convert(&data) {
                    Ok(Some(sample)) => sample,
                    Ok(None) => return,
                    Err(err) => {
                        crate::services::warn(&format!("studio: bad recorded frame: {err}"));
                        return;
                    }
                };
                let config = sample
                    .new_config
                    .and_then(|c| c.to_bytes().ok())
                    .map(|b| b.to_vec());
                // Already encoded: dropping one breaks the frames after it, so the socket
                // then waits for the next keyframe.
                let (verdict, _) = e.control.on_frame(now, open, queued, 0);
                if verdict.dropped() {
                    e.awaiting_key = true;
                    if open {
                        e.stats.dropped_frames += 1;
                    }
                }
                if !e.video_wanted(config, keyframe, ms) || verdict.dropped() {
                    return;
                }
                let stamp = e
                    .stamp_due(keyframe, now)
                    .then_some(wall0 + timestamp_ms as f64);
                e.video_out(sample.data.to_vec(), keyframe, ms, stamp);
            } else if let Some((number, head)) = &tracks.audio
                && *number == track
                && e.control.audio_ok(open, queued)
            {
                let head = head.clone();
                e.audio_out(AudioKind::Opus, head, data.to_vec(), ms);
            }
        }
    }
}
