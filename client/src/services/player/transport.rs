//! Where the FLV bytes come from: a WebSocket (WS-FLV, one tag per message) or a streaming
//! `fetch` of HTTP-FLV. Dropping a [`Transport`] closes it and silences its callbacks.

use std::cell::Cell;
use std::rc::Rc;

use js_sys::Uint8Array;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, BinaryType, CloseEvent, MessageEvent, WebSocket};

/// How the player fetches the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `ws://HOST/live/ROOM.flv`.
    WsFlv,
    /// `GET /live/ROOM.flv` read as a stream.
    HttpFlv,
    /// The CMAF LL-HLS playlist: native HLS where the browser has it, else MSE.
    Hls,
    /// The CMAF LL-HLS playlist through MSE even where native HLS exists.
    HlsMse,
}

/// Bytes arrived.
pub type OnData = Box<dyn FnMut(&[u8])>;
/// The transport ended; `Some(reason)` when it failed rather than ended normally.
pub type OnEnd = Box<dyn FnMut(Option<String>)>;

/// An open transport.
pub enum Transport {
    Ws {
        socket: WebSocket,
        _on_message: Closure<dyn FnMut(MessageEvent)>,
        _on_close: Closure<dyn FnMut(CloseEvent)>,
    },
    Fetch {
        abort: AbortController,
        alive: Rc<Cell<bool>>,
    },
    /// The HLS part loop (stops at its next step once `alive` is cleared).
    Hls { alive: Rc<Cell<bool>> },
}

impl Transport {
    /// Opens `path` (e.g. `/live/ROOM.flv`) over `protocol`.
    pub fn open(
        protocol: Protocol,
        path: &str,
        on_data: OnData,
        on_end: OnEnd,
    ) -> Result<Self, String> {
        match protocol {
            Protocol::WsFlv => open_ws(path, on_data, on_end),
            Protocol::HttpFlv => open_fetch(path, on_data, on_end),
            Protocol::Hls | Protocol::HlsMse => {
                Err("HLS is opened with Transport::open_hls".into())
            }
        }
    }

    /// Runs the HLS part loop for `room`, handing init and media segments to `on_chunk`.
    pub fn open_hls(
        room: &str,
        on_chunk: Box<dyn FnMut(super::hls::Chunk)>,
        mut on_end: OnEnd,
    ) -> Self {
        let alive = Rc::new(Cell::new(true));
        let still = alive.clone();
        let base = format!("/hls/live/{room}");
        wasm_bindgen_futures::spawn_local(async move {
            let result = super::hls::run(base, still.clone(), on_chunk).await;
            if still.get() {
                on_end(result.err());
            }
        });
        Transport::Hls { alive }
    }
}

impl Drop for Transport {
    fn drop(&mut self) {
        match self {
            Transport::Ws { socket, .. } => {
                socket.set_onmessage(None);
                socket.set_onclose(None);
                let _ = socket.close();
            }
            Transport::Fetch { abort, alive } => {
                alive.set(false);
                abort.abort();
            }
            Transport::Hls { alive } => alive.set(false),
        }
    }
}

fn open_ws(path: &str, mut on_data: OnData, mut on_end: OnEnd) -> Result<Transport, String> {
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
    Ok(Transport::Ws {
        socket,
        _on_message: on_message,
        _on_close: on_close,
    })
}

fn open_fetch(path: &str, mut on_data: OnData, mut on_end: OnEnd) -> Result<Transport, String> {
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
    Ok(Transport::Fetch { abort, alive })
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
