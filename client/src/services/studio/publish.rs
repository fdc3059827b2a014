//! `window.onairStudio`: the status panel's numbers as a plain JS object, replaced about
//! once a second, so tests and curious broadcasters can read them from the console.

use wasm_bindgen::JsValue;

use super::js::obj;
use super::model::Stats;

/// Replaces `window.onairStudio` with the current numbers.
pub fn window_stats(state: &str, stats: &Stats) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let mode = if stats.recorder {
        "recorder"
    } else {
        "webcodecs"
    };
    let value = obj(&[
        ("state", state.into()),
        ("sentBytes", stats.sent_bytes.into()),
        ("bitrateKbps", stats.bitrate_kbps.into()),
        ("targetKbps", stats.target_kbps.into()),
        ("fps", stats.fps.into()),
        ("framesEncoded", (stats.frames_encoded as f64).into()),
        ("droppedFrames", (stats.dropped_frames as f64).into()),
        ("encoderQueue", stats.encoder_queue.into()),
        ("bufferedAmount", stats.buffered_amount.into()),
        ("maxBufferedAmount", stats.max_buffered_amount.into()),
        ("inFlight", stats.in_flight.into()),
        ("maxInFlight", stats.max_in_flight.into()),
        ("congested", stats.congested.into()),
        ("reconnects", stats.reconnects.into()),
        ("videoCodec", stats.video_codec.as_str().into()),
        ("audioCodec", stats.audio_codec.as_str().into()),
        ("width", stats.width.into()),
        ("height", stats.height.into()),
        ("elapsed", stats.elapsed_s.into()),
        ("mode", mode.into()),
    ]);
    let _ = js_sys::Reflect::set(&window, &JsValue::from_str("onairStudio"), &value);
}

/// Marks the studio as stopped in `window.onairStudio` (the last numbers stay readable).
pub fn window_state(state: &str) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let current = super::js::get(&window, "onairStudio");
    if current.is_object() {
        let _ = js_sys::Reflect::set(&current, &JsValue::from_str("state"), &state.into());
    }
}
