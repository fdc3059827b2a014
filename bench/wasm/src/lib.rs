//! # Layout
//! One file: [`Remux`], the player's demux + remux path (`onair_shared::remux`) exported to
//! JavaScript, so `run.mjs` can time it in Node's V8 the way the browser runs it: one call
//! per WS-FLV message, the bytes copied into wasm memory as the player copies them.

use onair_shared::remux::{RemuxEvent, Remuxer};
use wasm_bindgen::prelude::*;

/// A remuxer that counts what it produces.
#[wasm_bindgen]
pub struct Remux {
    inner: Remuxer,
    bytes_out: f64,
    fragments: u32,
    error: Option<String>,
}

impl Default for Remux {
    fn default() -> Self {
        Self::new()
    }
}

#[wasm_bindgen]
impl Remux {
    #[wasm_bindgen(constructor)]
    pub fn new() -> Remux {
        Remux {
            inner: Remuxer::new(8 << 20),
            bytes_out: 0.0,
            fragments: 0,
            error: None,
        }
    }

    /// Feeds one message; the output segments are counted (and dropped).
    pub fn push(&mut self, bytes: &[u8]) {
        if let Err(e) = self.inner.push(bytes) {
            self.error.get_or_insert(e.to_string());
        }
        while let Some(event) = self.inner.next_event() {
            match event {
                RemuxEvent::Init(i) => self.bytes_out += i.data.len() as f64,
                RemuxEvent::Media(m) => {
                    self.bytes_out += m.data.len() as f64;
                    self.fragments += 1;
                }
                RemuxEvent::Clock(_) => {}
            }
        }
    }

    /// fMP4 bytes produced.
    pub fn bytes_out(&self) -> f64 {
        self.bytes_out
    }

    /// Media fragments produced.
    pub fn fragments(&self) -> u32 {
        self.fragments
    }

    /// Video frames remuxed.
    pub fn video_frames(&self) -> f64 {
        self.inner.stats().video_frames as f64
    }

    /// The first error, if the stream could not be remuxed.
    pub fn error(&self) -> Option<String> {
        self.error.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_fragments_of_the_golden_file() {
        let mut r = Remux::new();
        let flv = include_bytes!("../../../shared/tests/data/video_only.flv");
        for chunk in flv.chunks(1000) {
            r.push(chunk);
        }
        assert_eq!(r.error(), None);
        assert_eq!(r.video_frames(), f64::from(r.fragments()));
        assert!(r.fragments() >= 14 && r.bytes_out() > 10_000.0);
    }
}
