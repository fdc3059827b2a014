//! Media Source Extensions: one `MediaSource` on the `<video>`, one `SourceBuffer` fed by one
//! queue of appends and removes (a `SourceBuffer` takes one operation at a time).

use std::collections::VecDeque;

use bytes::Bytes;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{HtmlVideoElement, MediaSource, MediaSourceReadyState, SourceBuffer, Url};

/// A queue this large means MSE is not keeping up (or is stuck): the player restarts.
pub const MAX_QUEUED_BYTES: usize = 16 << 20;

enum Op {
    Append(Bytes),
    Remove(f64, f64),
    /// `changeType` is synchronous (no `updateend`), so the queue goes on right after it.
    ChangeType(String),
}

/// The `MediaSource` attached to a video element and its one `SourceBuffer`.
pub struct Mse {
    source: MediaSource,
    url: String,
    buffer: Option<SourceBuffer>,
    mime: Option<String>,
    queue: VecDeque<Op>,
    queued: usize,
}

/// The page's global `name` (a constructor such as `MediaSource`), if the browser has it.
fn global(name: &str) -> Option<JsValue> {
    let window = web_sys::window()?;
    js_sys::Reflect::get(&window, &name.into())
        .ok()
        .filter(|v| !v.is_undefined())
}

/// Whether this browser has MSE at all (`MediaSource`, or Safari's `ManagedMediaSource`).
pub fn supported(mime: &str) -> bool {
    if global("MediaSource").is_some() {
        MediaSource::is_type_supported(mime)
    } else {
        global("ManagedMediaSource").is_some()
    }
}

impl Mse {
    /// A new `MediaSource` (or `ManagedMediaSource` where only that exists) on `video`;
    /// `on_open` runs when it can take a `SourceBuffer`.
    pub fn attach(video: &HtmlVideoElement, on_open: &js_sys::Function) -> Result<Self, String> {
        let source = if global("MediaSource").is_some() {
            MediaSource::new().map_err(|e| format!("MediaSource: {e:?}"))?
        } else {
            // Safari on iPhone: same interface, another constructor.
            let ctor: js_sys::Function = global("ManagedMediaSource")
                .and_then(|c| c.dyn_into().ok())
                .ok_or("this browser has no Media Source Extensions")?;
            let _ = js_sys::Reflect::set(video, &"disableRemotePlayback".into(), &true.into());
            js_sys::Reflect::construct(&ctor, &js_sys::Array::new())
                .map_err(|e| format!("ManagedMediaSource: {e:?}"))?
                .unchecked_into()
        };
        source.set_onsourceopen(Some(on_open));
        let url = Url::create_object_url_with_source(&source).map_err(|e| format!("{e:?}"))?;
        video.set_src(&url);
        Ok(Self {
            source,
            url,
            buffer: None,
            mime: None,
            queue: VecDeque::new(),
            queued: 0,
        })
    }

    /// Sets up (or re-types) the `SourceBuffer` for `mime` and queues the init segment.
    /// Before `sourceopen` the buffer is created later, by [`Self::open`].
    pub fn init(
        &mut self,
        mime: &str,
        data: Bytes,
        on_update_end: &js_sys::Function,
    ) -> Result<(), String> {
        if self.buffer.is_some() && self.mime.as_deref() != Some(mime) {
            // Same tracks, another codec string (e.g. a new H.264 level): re-type in place,
            // after what is queued in the old type.
            self.queue.push_back(Op::ChangeType(mime.to_string()));
        }
        self.mime = Some(mime.to_string());
        self.append(data);
        self.open(on_update_end)
    }

    /// Creates the `SourceBuffer` once the source is open and the type known.
    pub fn open(&mut self, on_update_end: &js_sys::Function) -> Result<(), String> {
        if self.buffer.is_some() || self.source.ready_state() != MediaSourceReadyState::Open {
            return Ok(());
        }
        let Some(mime) = &self.mime else {
            return Ok(());
        };
        let buffer = self
            .source
            .add_source_buffer(mime)
            .map_err(|e| format!("this browser cannot play {mime}: {e:?}"))?;
        buffer.set_onupdateend(Some(on_update_end));
        self.buffer = Some(buffer);
        self.pump()
    }

    /// Queues a media segment.
    pub fn append(&mut self, data: Bytes) {
        self.queued += data.len();
        self.queue.push_back(Op::Append(data));
    }

    /// Queues removing `[start, end)`.
    pub fn remove(&mut self, start: f64, end: f64) {
        if end > start {
            self.queue.push_back(Op::Remove(start, end));
        }
    }

    /// Starts the next queued operation if the buffer is idle.
    pub fn pump(&mut self) -> Result<(), String> {
        let Some(buffer) = &self.buffer else {
            return Ok(());
        };
        if buffer.updating() || self.source.ready_state() != MediaSourceReadyState::Open {
            return Ok(());
        }
        match self.queue.pop_front() {
            None => Ok(()),
            Some(Op::ChangeType(mime)) => {
                buffer
                    .change_type(&mime)
                    .map_err(|e| format!("changeType({mime}): {e:?}"))?;
                self.pump()
            }
            Some(Op::Append(data)) => {
                self.queued -= data.len();
                // appendBuffer copies out of wasm memory; the copy is the browser's.
                let mut owned = data.to_vec();
                buffer
                    .append_buffer_with_u8_array(&mut owned)
                    .map_err(|e| format!("appendBuffer: {e:?}"))
            }
            Some(Op::Remove(start, end)) => buffer
                .remove(start, end)
                .map_err(|e| format!("remove: {e:?}")),
        }
    }

    /// Bytes waiting to be appended.
    pub fn queued_bytes(&self) -> usize {
        self.queued
    }

    /// Marks the end of the stream, so the element plays out what it has and ends.
    pub fn end(&self) {
        if self.source.ready_state() == MediaSourceReadyState::Open
            && self.buffer.as_ref().is_some_and(|b| !b.updating())
        {
            let _ = self.source.end_of_stream();
        }
    }

    /// Detaches from `video` and releases the object URL.
    pub fn detach(self, video: &HtmlVideoElement) {
        self.source.set_onsourceopen(None);
        if let Some(buffer) = &self.buffer {
            buffer.set_onupdateend(None);
        }
        let _ = video.remove_attribute("src");
        video.load();
        let _ = Url::revoke_object_url(&self.url);
    }
}

/// `(start of first range, end of the range holding `current` or of the last range)`.
pub fn buffered(video: &HtmlVideoElement) -> Option<(f64, f64)> {
    let ranges = video.buffered();
    let n = ranges.length();
    if n == 0 {
        return None;
    }
    let start = ranges.start(0).ok()?;
    let current = video.current_time();
    let mut end = ranges.end(n - 1).ok()?;
    for i in 0..n {
        let (s, e) = (ranges.start(i).ok()?, ranges.end(i).ok()?);
        if current >= s - 0.05 && current <= e {
            end = e;
            break;
        }
    }
    Some((start, end))
}

/// Where to jump when the play head sits in a hole between buffered ranges (a frame lost
/// at a reconnect, a stream restart): the start of the next range. `None` when the play
/// head is inside a range or nothing follows it.
pub fn gap_target(video: &HtmlVideoElement) -> Option<f64> {
    let ranges = video.buffered();
    let current = video.current_time();
    let mut next = None;
    for i in 0..ranges.length() {
        let (s, e) = (ranges.start(i).ok()?, ranges.end(i).ok()?);
        if current >= s - 0.05 && current < e - 0.05 {
            return None;
        }
        if s > current && next.is_none() {
            next = Some(s);
        }
    }
    next
}
