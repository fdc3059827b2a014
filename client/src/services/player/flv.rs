//! FLV over MSE: the stream comes as FLV over a WebSocket (WS-FLV, one tag per message) or a
//! streaming `fetch` (HTTP-FLV), and `shared`'s remuxer turns it into fMP4 in wasm.

use std::cell::Cell;
use std::rc::Rc;

use js_sys::Uint8Array;
use onair_shared::remux::{RemuxEvent, Remuxer};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, BinaryType, CloseEvent, HtmlVideoElement, MessageEvent, WebSocket};

use super::mse;
use super::transport::{Connection, Media, Msg, Report, Transport};

/// Largest FLV tag accepted (the server's own limit).
const MAX_TAG: usize = 8 << 20;

/// Bytes arrived.
type OnData = Box<dyn FnMut(&[u8])>;
/// The connection ended; `Some(reason)` when it failed rather than ended normally.
type OnEnd = Box<dyn FnMut(Option<String>)>;

/// `/live/ROOM.flv` over a WebSocket or HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flv {
    WebSocket,
    Http,
}

impl Transport for Flv {
    fn label(&self) -> &'static str {
        match self {
            Flv::WebSocket => "ws-flv",
            Flv::Http => "http-flv",
        }
    }

    fn open(
        &self,
        room: &str,
        query: &str,
        _mime: &str,
        _video: &HtmlVideoElement,
        report: Report,
    ) -> Result<Box<dyn Connection>, String> {
        let path = format!("/live/{room}.flv{query}");
        let on_data = remux_into(report.clone());
        let on_end: OnEnd = Box::new(move |failure| report(Msg::Ended(failure)));
        Ok(match self {
            Flv::WebSocket => Box::new(open_ws(&path, on_data, on_end)?),
            Flv::Http => Box::new(open_fetch(&path, on_data, on_end)?),
        })
    }
}

/// FLV bytes → one remuxer (owned by the connection's callback, so one per connection) →
/// [`Msg::Media`].
fn remux_into(report: Report) -> OnData {
    let mut remuxer = Remuxer::new(MAX_TAG);
    Box::new(move |bytes: &[u8]| {
        let mut media = Vec::new();
        let failure = remux(&mut remuxer, bytes, &mut media).err();
        report(Msg::Media {
            received: bytes.len(),
            media,
            failure,
        });
    })
}

/// Pushes `bytes` and collects what comes out, up to the first failure.
fn remux(remuxer: &mut Remuxer, bytes: &[u8], out: &mut Vec<Media>) -> Result<(), String> {
    remuxer.push(bytes).map_err(|e| e.to_string())?;
    while let Some(event) = remuxer.next_event() {
        out.push(match event {
            RemuxEvent::Init(init) => {
                if !mse::supported(&init.mime) {
                    return Err(format!("this browser cannot play {}", init.mime));
                }
                Media::Init {
                    mime: init.mime,
                    data: init.data,
                    new_source: init.tracks_changed,
                }
            }
            RemuxEvent::Media(media) => Media::Segment {
                data: media.data,
                video_frames: media.video_frames,
            },
            RemuxEvent::Clock(stamp) => Media::Clock(stamp),
        });
    }
    Ok(())
}

/// A WS-FLV socket; dropping it closes it.
struct Socket {
    socket: WebSocket,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl Connection for Socket {}

impl Drop for Socket {
    fn drop(&mut self) {
        self.socket.set_onmessage(None);
        self.socket.set_onclose(None);
        let _ = self.socket.close();
    }
}

/// An HTTP-FLV response being read; dropping it aborts the fetch.
struct Fetch {
    abort: AbortController,
    alive: Rc<Cell<bool>>,
}

impl Connection for Fetch {}

impl Drop for Fetch {
    fn drop(&mut self) {
        self.alive.set(false);
        self.abort.abort();
    }
}

fn open_ws(path: &str, mut on_data: OnData, mut on_end: OnEnd) -> Result<Socket, String> {
    let url = super::super::ws_url(path).ok_or("no page location")?;
    let socket = WebSocket::new(&url).map_err(|e| format!("cannot open {url}: {e:?}"))?;
    socket.set_binary_type(BinaryType::Arraybuffer);
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
        if let Ok(buf) = e.data().dyn_into::<js_sys::ArrayBuffer>() {
            // One copy into wasm memory, which the demuxer then slices without copying.
            on_data(&Uint8Array::new(&buf).to_vec());
        }
    });
    let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |e: CloseEvent| {
        // 1000/1005: the server ended the stream; anything else is a failure to retry.
        let failed = !matches!(e.code(), 1000 | 1005);
        let reason = if e.reason().is_empty() {
            format!("connection closed ({})", e.code())
        } else {
            e.reason()
        };
        on_end(failed.then_some(reason));
    });
    socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    Ok(Socket {
        socket,
        _on_message: on_message,
        _on_close: on_close,
    })
}

fn open_fetch(path: &str, mut on_data: OnData, mut on_end: OnEnd) -> Result<Fetch, String> {
    let abort = AbortController::new().map_err(|e| format!("{e:?}"))?;
    let alive = Rc::new(Cell::new(true));
    let signal = abort.signal();
    let path = path.to_string();
    let still = alive.clone();
    wasm_bindgen_futures::spawn_local(async move {
        let result = read_stream(&path, &signal, &still, &mut on_data).await;
        if still.get() {
            on_end(result.err());
        }
    });
    Ok(Fetch { abort, alive })
}

async fn read_stream(
    path: &str,
    signal: &web_sys::AbortSignal,
    alive: &Cell<bool>,
    on_data: &mut OnData,
) -> Result<(), String> {
    let window = web_sys::window().ok_or("no window")?;
    let init = web_sys::RequestInit::new();
    init.set_signal(Some(signal));
    let response: web_sys::Response = JsFuture::from(window.fetch_with_str_and_init(path, &init))
        .await
        .map_err(|e| format!("fetch failed: {e:?}"))?
        .unchecked_into();
    if !response.ok() {
        return Err(format!("HTTP {}", response.status()));
    }
    let body = response.body().ok_or("no response body")?;
    let reader: web_sys::ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    while alive.get() {
        let chunk = JsFuture::from(reader.read())
            .await
            .map_err(|e| format!("read failed: {e:?}"))?;
        let done = js_sys::Reflect::get(&chunk, &"done".into())
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(true);
        if done {
            return Ok(());
        }
        if let Ok(value) = js_sys::Reflect::get(&chunk, &"value".into())
            && let Ok(bytes) = value.dyn_into::<Uint8Array>()
            && alive.get()
        {
            on_data(&bytes.to_vec());
        }
    }
    Ok(())
}
