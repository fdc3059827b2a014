//! Native HLS: where the browser plays HLS itself (Safari, and `?protocol=hls` there), the
//! `<video>` gets the playlist URL and nothing passes through wasm.

use web_sys::HtmlVideoElement;

use super::transport::{Connection, Report, Transport};

/// The playlist as the `<video>`'s source.
pub struct NativeHls;

/// Nothing of ours to close: the browser does the fetching.
struct BrowserFetches;

impl Connection for BrowserFetches {}

/// Whether this browser plays HLS in a `<video>` by itself.
pub fn available(video: &HtmlVideoElement) -> bool {
    !video
        .can_play_type("application/vnd.apple.mpegurl")
        .is_empty()
}

impl Transport for NativeHls {
    fn label(&self) -> &'static str {
        "hls (native)"
    }

    fn plays_listed_codecs(&self) -> bool {
        true
    }

    fn uses_mse(&self) -> bool {
        false
    }

    fn open(
        &self,
        room: &str,
        query: &str,
        _mime: &str,
        video: &HtmlVideoElement,
        _report: Report,
    ) -> Result<Box<dyn Connection>, String> {
        video.set_src(&format!("/hls/live/{room}/index.m3u8{query}"));
        Ok(Box::new(BrowserFetches))
    }

    fn playing_by_itself(&self, video: &HtmlVideoElement) -> bool {
        !video.paused() && video.ready_state() >= 3
    }
}
