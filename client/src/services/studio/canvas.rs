//! Video frames without `MediaStreamTrackProcessor` (Firefox, Safari): the capture plays in a
//! detached `<video>`, a timer draws it into a canvas at the chosen frame rate, and each
//! drawing becomes a `VideoFrame` reported to the engine, which handles it like the track
//! processor's frames (back-pressure verdict, stamp, encode).

use wasm_bindgen::JsCast;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, HtmlVideoElement, MediaStream};

use super::js::{self, VideoFrame, obj};
use super::model::StudioError;
use super::report::{Frame, Report};
use crate::services::Interval;

/// The running pump; dropping it stops the timer and the detached `<video>`.
pub struct CanvasPump {
    video: HtmlVideoElement,
    _tick: Interval,
}

impl Drop for CanvasPump {
    fn drop(&mut self) {
        self.video.set_src_object(None);
    }
}

fn unsupported(what: &str) -> StudioError {
    StudioError::Unsupported(format!("no canvas to capture frames with ({what})"))
}

/// Draws `stream` at `fps` into a `width`×`height` canvas; each drawing goes to `frames`.
pub fn start(
    stream: &MediaStream,
    (width, height): (u32, u32),
    fps: u32,
    frames: Report<Frame>,
) -> Result<CanvasPump, StudioError> {
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| unsupported("no document"))?;
    let video: HtmlVideoElement = document
        .create_element("video")
        .ok()
        .and_then(|e| e.dyn_into().ok())
        .ok_or_else(|| unsupported("<video>"))?;
    video.set_muted(true);
    video.set_src_object(Some(stream));
    if let Ok(playing) = video.play() {
        wasm_bindgen_futures::spawn_local(async move {
            let _ = wasm_bindgen_futures::JsFuture::from(playing).await;
        });
    }
    let canvas: HtmlCanvasElement = document
        .create_element("canvas")
        .ok()
        .and_then(|e| e.dyn_into().ok())
        .ok_or_else(|| unsupported("<canvas>"))?;
    canvas.set_width(width);
    canvas.set_height(height);
    let context: CanvasRenderingContext2d = canvas
        .get_context("2d")
        .ok()
        .flatten()
        .and_then(|c| c.dyn_into().ok())
        .ok_or_else(|| unsupported("2d context"))?;
    let source = video.clone();
    let tick = Interval::new(1000 / fps.max(1), move || {
        // Nothing to draw until the first frame has arrived.
        if source.ready_state() < 2 {
            return;
        }
        let drawn = context.draw_image_with_html_video_element_and_dw_and_dh(
            &source,
            0.0,
            0.0,
            f64::from(width),
            f64::from(height),
        );
        if drawn.is_err() {
            return;
        }
        let init = obj(&[("timestamp", (js::perf_now() * 1000.0).into())]);
        match VideoFrame::from_source(&canvas, &init) {
            // Closed once handled (or dropped unhandled, if the engine has stopped).
            Ok(frame) => {
                frames(Frame(frame));
            }
            Err(e) => crate::services::warn(&format!(
                "studio: no frame from the canvas: {}",
                js::error_text(&e)
            )),
        }
    });
    Ok(CanvasPump { video, _tick: tick })
}
