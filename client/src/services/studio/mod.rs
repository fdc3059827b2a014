//! The browser studio's engine: capture (camera + mic, or screen + optional mic) →
//! WebCodecs `VideoEncoder` (H.264, AVC format) and `AudioEncoder` (AAC where the browser has
//! it, else Opus) → FLV tags muxed by `onair_shared::flv` → WebSocket binary messages to
//! `/live/ROOM.flv?key=KEY`.
//!
//! # Layout
//! - [`js`]: hand-written bindings for WebCodecs, `MediaStreamTrackProcessor`, media devices.
//! - [`flv`]: pure tag building, capture-clock mapping and the `onFI` stamp (tested natively).
//! - [`control`]: back-pressure and keyframe decisions (pure, tested natively).
//! - `model`: the vocabulary the page uses (settings, link state, errors, stats, events).
//! - `engine`: the running broadcast: the one owner of its state, a task draining a mailbox.
//! - `capture`: getting the tracks, setting up the encoders, the loops reading the tracks.
//! - `canvas`: frames drawn from a `<video>` where there is no `MediaStreamTrackProcessor`.
//! - `recorder`: the MediaRecorder (WebM, demuxed by `onair_shared::webm`) fallback.
//! - `uplink`: the WebSocket, its refusals, and reconnecting within the server's grace.
//! - `report`: how the modules above report to the engine (they only enqueue).
//! - `publish`: `window.onairStudio`, the numbers for tests and the console.
//! - [`room`]: the saved room (localStorage), push URL, share link, viewer count.
//!
//! Each module uses only modules below it: `engine` → `capture` → `canvas`, `recorder`;
//! `engine` → `uplink`; and all of them → `report`, `model`, `publish`, `flv`, `control`,
//! `js`. None of them names this file's [`Studio`].
//!
//! [`Studio`] is owned by the `use_studio` hook; dropping it stops the tracks, closes the
//! encoders and the socket.

mod canvas;
mod capture;
pub mod control;
mod engine;
pub mod flv;
pub mod js;
mod model;
mod publish;
mod recorder;
mod report;
pub mod room;
mod uplink;

use yew::Callback;

use crate::services::Interval;
use engine::Event;
pub use model::{LinkState, Settings, Source, Stats, StudioError, StudioEvent};
use report::Report;

/// A running broadcast. Dropping it stops everything.
pub struct Studio {
    /// The engine's mailbox; the engine itself belongs to its own task.
    engine: Report<Event>,
    _tick: Interval,
}

impl Studio {
    /// Starts capturing and pushing; progress and failures come through `on_event`.
    pub fn start(settings: Settings, on_event: Callback<StudioEvent>) -> Self {
        let engine = engine::spawn(settings, on_event);
        let tick = {
            let engine = engine.clone();
            Interval::new(1_000, move || {
                engine(Event::Tick);
            })
        };
        Self {
            engine,
            _tick: tick,
        }
    }
}

impl Drop for Studio {
    fn drop(&mut self) {
        // Handled on the engine's task; if it has stopped already, there is nothing to do.
        (self.engine)(Event::Stop);
    }
}

/// Shows the capture in the preview `<video>` (muted: the broadcaster must not hear
/// themselves), or clears it.
pub fn attach_preview(node: &yew::NodeRef, stream: Option<&web_sys::MediaStream>) {
    let Some(video) = node.cast::<web_sys::HtmlVideoElement>() else {
        return;
    };
    video.set_muted(true);
    video.set_src_object(stream);
    if stream.is_some()
        && let Ok(playing) = video.play()
    {
        // A refused autoplay only leaves the preview still; the broadcast goes on.
        wasm_bindgen_futures::spawn_local(async move {
            let _ = wasm_bindgen_futures::JsFuture::from(playing).await;
        });
    }
}

/// The value of the `<select>` an event came from ("" for any other target).
pub fn select_value(event: &web_sys::Event) -> String {
    use wasm_bindgen::JsCast;
    event
        .target()
        .and_then(|t| t.dyn_into::<web_sys::HtmlSelectElement>().ok())
        .map(|select| select.value())
        .unwrap_or_default()
}
