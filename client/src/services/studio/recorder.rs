//! The MediaRecorder fallback, for browsers without WebCodecs (or forced with `?recorder=1`):
//! record `video/webm;codecs=h264,opus` in 100 ms slices, demux the WebM in wasm
//! (`onair_shared::webm`), and push the same FLV as the WebCodecs path.
//!
//! What it cannot do: the recorder encodes before we see a frame, so on a slow link encoded
//! video is dropped and sending resumes at the next keyframe (the recorder's own interval;
//! `videoKeyFrameIntervalDuration` asks for 2 s where supported); its bitrate cannot be
//! changed while recording; and the `onFI` wallclock is the recording's start plus the
//! frame's WebM time, not the moment the frame left the camera.

use futures::StreamExt;
use futures::channel::mpsc;
use js_sys::Uint8Array;
use onair_shared::webm::{AvcConverter, Demuxer, Limits, WebmEvent, opus_head};
use wasm_bindgen::prelude::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, MediaStream};

use super::js::{self, MediaRecorder, obj};
use super::model::StudioError;
use super::report::Report;

/// What the recording became, for the engine (which decides what is sent).
pub enum Recorded {
    /// The recording's tracks: the video size (if it has video), and whether it has Opus.
    Tracks {
        size: Option<(u32, u32)>,
        opus: bool,
    },
    /// An encoded H.264 frame (AVCC) at FLV time `ms`; `config` when it is new;
    /// `wallclock` is when it was recorded (for the `onFI` stamp).
    Video {
        data: Vec<u8>,
        keyframe: bool,
        ms: u32,
        config: Option<Vec<u8>>,
        wallclock: f64,
    },
    /// An Opus packet and the OpusHead it goes with.
    Audio {
        head: Vec<u8>,
        data: Vec<u8>,
        ms: u32,
    },
    /// The recorder failed or its output cannot be read: the broadcast stops.
    Failed(StudioError),
}

/// A running MediaRecorder; dropping it stops it and silences its callbacks.
pub struct Recording {
    recorder: MediaRecorder,
    _on_data: Closure<dyn FnMut(JsValue, JsValue)>,
    _on_error: Closure<dyn FnMut(JsValue, JsValue)>,
}

impl Drop for Recording {
    fn drop(&mut self) {
        // Its callbacks are about to be dropped: it must not call them any more.
        self.recorder.set_ondataavailable(None);
        self.recorder.set_onerror(None);
        if self.recorder.state() != "inactive" {
            let _ = self.recorder.stop();
        }
    }
}

/// What the studio records; Chromium supports it.
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

/// Starts recording `stream` as `mime` ([`MIME`] or [`AUDIO_MIME`]) at `bitrate`. What
/// comes out goes to `report`, timed from `t0` (the broadcast's `performance.now()` start).
pub fn start(
    stream: &MediaStream,
    mime: &str,
    bitrate: u32,
    t0: f64,
    report: Report<Recorded>,
) -> Result<Recording, StudioError> {
    if !js::has_global("MediaRecorder") || !MediaRecorder::is_type_supported(mime) {
        return Err(StudioError::Unsupported(format!(
            "MediaRecorder cannot record {mime} here"
        )));
    }
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
        let report = report.clone();
        Closure::<dyn FnMut(JsValue, JsValue)>::new(move |event: JsValue, _| {
            let detail = js::error_text(&js::get(&event, "error"));
            report(Recorded::Failed(StudioError::Encoder(format!(
                "MediaRecorder: {detail}"
            ))));
        })
    };
    recorder.set_ondataavailable(Some(on_data.as_ref().unchecked_ref()));
    recorder.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    // Made before `start`, so a failure to start drops it and unsets the handlers.
    let recording = Recording {
        recorder,
        _on_data: on_data,
        _on_error: on_error,
    };
    recording
        .recorder
        .start(TIMESLICE_MS)
        .map_err(|e| StudioError::Encoder(format!("MediaRecorder: {}", js::error_text(&e))))?;
    wasm_bindgen_futures::spawn_local(read(rx, t0, report));
    Ok(recording)
}

/// The tracks of the recording, once its Tracks element arrived.
#[derive(Default)]
struct Tracks {
    video: Option<(u64, AvcConverter)>,
    /// Track number and OpusHead.
    audio: Option<(u64, Vec<u8>)>,
}

async fn read(mut slices: mpsc::UnboundedReceiver<Blob>, t0: f64, report: Report<Recorded>) {
    let mut demux = Demuxer::new(Limits::default());
    let mut tracks = Tracks::default();
    // WebM time 0 is now: map it onto the broadcast's FLV time and the wall clock.
    let (base_ms, wall0) = (js::perf_now() - t0, js::wallclock_ms());
    while let Some(blob) = slices.next().await {
        let bytes = match JsFuture::from(blob.array_buffer()).await {
            Ok(buffer) => Uint8Array::new(&buffer).to_vec(),
            Err(e) => {
                crate::services::warn(&format!("studio: unreadable slice: {}", js::error_text(&e)));
                continue;
            }
        };
        demux.push(&bytes);
        loop {
            let out = match demux.next_event() {
                Ok(Some(event)) => on_event(&mut tracks, event, base_ms, wall0),
                Ok(None) => break,
                Err(err) => Some(Recorded::Failed(StudioError::Encoder(format!(
                    "the recording is unreadable: {err}"
                )))),
            };
            let failed = matches!(out, Some(Recorded::Failed(_)));
            // The engine has stopped (or is stopping with this failure): read no further.
            if let Some(out) = out
                && (!report(out) || failed)
            {
                return;
            }
        }
    }
}

/// What one WebM event means for the broadcast, if anything.
fn on_event(tracks: &mut Tracks, event: WebmEvent, base_ms: f64, wall0: f64) -> Option<Recorded> {
    match event {
        WebmEvent::Tracks(list) => {
            let mut size = None;
            for t in &list {
                if t.is_avc() {
                    match AvcConverter::new(t) {
                        Ok(conv) => tracks.video = Some((t.number, conv)),
                        Err(err) => {
                            return Some(Recorded::Failed(StudioError::Unsupported(
                                err.to_string(),
                            )));
                        }
                    }
                    if let Some(v) = t.video {
                        size = Some((
                            u32::try_from(v.pixel_width).unwrap_or(0),
                            u32::try_from(v.pixel_height).unwrap_or(0),
                        ));
                    }
                } else if t.is_opus() {
                    let head = opus_head(t).and_then(|h| Ok(h.to_bytes()?.to_vec()));
                    if let Ok(head) = head {
                        tracks.audio = Some((t.number, head));
                    }
                }
            }
            let opus = tracks.audio.is_some();
            Some(Recorded::Tracks { size, opus })
        }
        WebmEvent::Frame {
            track,
            timestamp_ms,
            keyframe,
            data,
        } => {
            let ms = (base_ms + timestamp_ms as f64).max(0.0) as u32;
            if let Some((number, conv)) = tracks.video.as_mut()
                && *number == track
            {
                let sample = match conv.convert(&data) {
                    Ok(Some(sample)) => sample,
                    Ok(None) => return None,
                    Err(err) => {
                        crate::services::warn(&format!("studio: bad recorded frame: {err}"));
                        return None;
                    }
                };
                let config = sample
                    .new_config
                    .and_then(|c| c.to_bytes().ok())
                    .map(|b| b.to_vec());
                Some(Recorded::Video {
                    data: sample.data.to_vec(),
                    keyframe,
                    ms,
                    config,
                    wallclock: wall0 + timestamp_ms as f64,
                })
            } else if let Some((number, head)) = &tracks.audio
                && *number == track
            {
                Some(Recorded::Audio {
                    head: head.clone(),
                    data: data.to_vec(),
                    ms,
                })
            } else {
                None
            }
        }
    }
}
