//! Hand-written bindings for the browser media APIs the studio uses.
//!
//! WebCodecs and `MediaStreamTrackProcessor` are behind `web_sys_unstable_apis` in web-sys;
//! rather than a global `--cfg` for the whole build, the studio binds just the members it
//! calls. Options are passed as plain JS objects built with [`obj`].

use js_sys::{Object, Promise, Reflect};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// `navigator.mediaDevices`.
    pub type MediaDevices;
    #[wasm_bindgen(method, catch, js_name = getUserMedia)]
    pub fn get_user_media(this: &MediaDevices, constraints: &Object) -> Result<Promise, JsValue>;
    #[wasm_bindgen(method, catch, js_name = getDisplayMedia)]
    pub fn get_display_media(this: &MediaDevices, options: &Object) -> Result<Promise, JsValue>;

    pub type MediaStreamTrackProcessor;
    #[wasm_bindgen(constructor, catch)]
    pub fn new(init: &Object) -> Result<MediaStreamTrackProcessor, JsValue>;
    #[wasm_bindgen(method, getter)]
    pub fn readable(this: &MediaStreamTrackProcessor) -> web_sys::ReadableStream;

    pub type VideoFrame;
    /// `new VideoFrame(canvas, {timestamp})`: the fallback where there is no track processor.
    #[wasm_bindgen(constructor, catch)]
    pub fn from_source(source: &JsValue, init: &Object) -> Result<VideoFrame, JsValue>;
    /// Capture time in µs.
    #[wasm_bindgen(method, getter)]
    pub fn timestamp(this: &VideoFrame) -> f64;
    #[wasm_bindgen(method)]
    pub fn close(this: &VideoFrame);

    pub type VideoEncoder;
    #[wasm_bindgen(constructor, catch)]
    pub fn new(init: &Object) -> Result<VideoEncoder, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn configure(this: &VideoEncoder, config: &Object) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn encode(this: &VideoEncoder, frame: &VideoFrame, options: &Object)
    -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn close(this: &VideoEncoder) -> Result<(), JsValue>;
    #[wasm_bindgen(method, getter, js_name = encodeQueueSize)]
    pub fn encode_queue_size(this: &VideoEncoder) -> u32;
    #[wasm_bindgen(method, getter)]
    pub fn state(this: &VideoEncoder) -> String;

    pub type EncodedVideoChunk;
    #[wasm_bindgen(method, getter = type)]
    pub fn kind(this: &EncodedVideoChunk) -> String;
    #[wasm_bindgen(method, getter)]
    pub fn timestamp(this: &EncodedVideoChunk) -> f64;
    #[wasm_bindgen(method, getter, js_name = byteLength)]
    pub fn byte_length(this: &EncodedVideoChunk) -> u32;
    #[wasm_bindgen(method, catch, js_name = copyTo)]
    pub fn copy_to(this: &EncodedVideoChunk, dest: &mut [u8]) -> Result<(), JsValue>;

    pub type AudioData;
    #[wasm_bindgen(method, getter)]
    pub fn timestamp(this: &AudioData) -> f64;
    #[wasm_bindgen(method, getter, js_name = sampleRate)]
    pub fn sample_rate(this: &AudioData) -> f64;
    #[wasm_bindgen(method, getter, js_name = numberOfChannels)]
    pub fn number_of_channels(this: &AudioData) -> u32;
    #[wasm_bindgen(method)]
    pub fn close(this: &AudioData);

    #[derive(Clone)]
    pub type AudioEncoder;
    #[wasm_bindgen(constructor, catch)]
    pub fn new(init: &Object) -> Result<AudioEncoder, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn configure(this: &AudioEncoder, config: &Object) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn encode(this: &AudioEncoder, data: &AudioData) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn close(this: &AudioEncoder) -> Result<(), JsValue>;
    #[wasm_bindgen(static_method_of = AudioEncoder, js_name = isConfigSupported, catch)]
    pub fn is_config_supported(config: &Object) -> Result<Promise, JsValue>;
    #[wasm_bindgen(method, getter, js_name = encodeQueueSize)]
    pub fn encode_queue_size(this: &AudioEncoder) -> u32;

    pub type EncodedAudioChunk;
    #[wasm_bindgen(method, getter)]
    pub fn timestamp(this: &EncodedAudioChunk) -> f64;
    #[wasm_bindgen(method, getter, js_name = byteLength)]
    pub fn byte_length(this: &EncodedAudioChunk) -> u32;
    #[wasm_bindgen(method, catch, js_name = copyTo)]
    pub fn copy_to(this: &EncodedAudioChunk, dest: &mut [u8]) -> Result<(), JsValue>;

    pub type MediaRecorder;
    #[wasm_bindgen(constructor, catch)]
    pub fn new(stream: &web_sys::MediaStream, options: &Object) -> Result<MediaRecorder, JsValue>;
    #[wasm_bindgen(static_method_of = MediaRecorder, js_name = isTypeSupported)]
    pub fn is_type_supported(mime: &str) -> bool;
    #[wasm_bindgen(method, catch)]
    pub fn start(this: &MediaRecorder, timeslice_ms: u32) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn stop(this: &MediaRecorder) -> Result<(), JsValue>;
    #[wasm_bindgen(method, getter)]
    pub fn state(this: &MediaRecorder) -> String;
    #[wasm_bindgen(method, setter)]
    pub fn set_ondataavailable(this: &MediaRecorder, handler: Option<&js_sys::Function>);
    #[wasm_bindgen(method, setter)]
    pub fn set_onerror(this: &MediaRecorder, handler: Option<&js_sys::Function>);

    /// `performance.timeOrigin` (not in web-sys's stable `Performance`).
    #[wasm_bindgen(js_namespace = performance, js_name = timeOrigin, thread_local_v2)]
    pub static TIME_ORIGIN: f64;
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    pub fn perf_now() -> f64;
}

/// A plain JS object from key/value pairs.
pub fn obj(pairs: &[(&str, JsValue)]) -> Object {
    let o = Object::new();
    for (k, v) in pairs {
        // Setting a property on a fresh plain object cannot fail.
        let _ = Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o
}

/// `obj[key]`, or `undefined`.
pub fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// Whether a global constructor (`VideoEncoder`, `MediaRecorder`…) exists.
pub fn has_global(name: &str) -> bool {
    Reflect::has(&js_sys::global(), &JsValue::from_str(name)).unwrap_or(false)
}

/// ms since the Unix epoch, on the page's monotonic clock.
pub fn wallclock_ms() -> f64 {
    TIME_ORIGIN.with(|origin| *origin) + perf_now()
}

/// The `name` of a DOMException (`NotAllowedError`…), or "".
pub fn error_name(e: &JsValue) -> String {
    get(e, "name").as_string().unwrap_or_default()
}

/// A short text for a thrown JS value.
pub fn error_text(e: &JsValue) -> String {
    get(e, "message")
        .as_string()
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}
