//! HLS over MSE: the LL-HLS part loop ([`super::hls::run`]) hands fMP4 straight to the
//! `MediaSource`; no remuxing needed.

use std::cell::Cell;
use std::rc::Rc;

use onair_shared::fmp4::init_mime;
use web_sys::HtmlVideoElement;

use super::hls::{self, Chunk};
use super::transport::{Connection, Media, Msg, Report, Transport};

/// The part loop into MSE.
pub struct HlsMse;

/// The running part loop; dropping it stops the loop at its next step.
struct PartLoop {
    alive: Rc<Cell<bool>>,
}

impl Connection for PartLoop {}

impl Drop for PartLoop {
    fn drop(&mut self) {
        self.alive.set(false);
    }
}

impl Transport for HlsMse {
    fn label(&self) -> &'static str {
        "hls (mse)"
    }

    fn plays_listed_codecs(&self) -> bool {
        true
    }

    fn open(
        &self,
        room: &str,
        query: &str,
        mime: &str,
        _video: &HtmlVideoElement,
        report: Report,
    ) -> Result<Box<dyn Connection>, String> {
        let alive = Rc::new(Cell::new(true));
        let still = alive.clone();
        let base = format!("/hls/live/{room}");
        let query = query.to_string();
        let on_chunk = {
            let (mime, report) = (mime.to_string(), report.clone());
            move |chunk: Chunk| {
                let (received, media) = match chunk {
                    Chunk::Init(data) => (
                        0,
                        Media::Init {
                            // Without a stream description, the init segment says it.
                            mime: if mime.is_empty() {
                                init_mime(&data).unwrap_or_default()
                            } else {
                                mime.clone()
                            },
                            data: data.into(),
                            new_source: false,
                        },
                    ),
                    Chunk::Media(data) => (
                        data.len(),
                        Media::Segment {
                            data: data.into(),
                            video_frames: 0,
                        },
                    ),
                };
                report(Msg::Media {
                    received,
                    media: vec![media],
                    failure: None,
                });
            }
        };
        wasm_bindgen_futures::spawn_local(async move {
            let result = hls::run(base, query, still.clone(), on_chunk).await;
            if still.get() {
                report(Msg::Ended(result.err()));
            }
        });
        Ok(Box::new(PartLoop { alive }))
    }
}
