//! The push socket: `ws(s)://HOST/live/ROOM.flv?key=KEY`, binary messages of FLV bytes.
//!
//! The server refuses with close codes in the 4xxx range and a reason (4401 no key, 4403
//! wrong key, 4409 name already live, 4400 bad FLV, 4410 stream closed, 4408 idle). A refusal
//! stops the broadcast with that reason; any other drop is retried with a short backoff, well
//! inside the server's 10 s republish grace, so viewers stay on the stream. Each new socket
//! starts again with the FLV header, the codec configs and a keyframe (see
//! [`Engine::on_open`]).
//!
//! The server acknowledges what it has read (`{"acked": N}` text messages, like RTMP's
//! window acknowledgements); `sent − acked` is how the studio sees a slow uplink that the
//! browser's `bufferedAmount` hides while the OS socket buffers fill.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use gloo_timers::callback::Timeout;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use web_sys::{BinaryType, CloseEvent, Event, MessageEvent, WebSocket};

use super::engine::Engine;
use super::{LinkState, StudioError, StudioEvent};

/// Retry delays in ms; the last repeats. Their sum over the first attempts stays well under
/// the server's republish grace (10 s).
const BACKOFF_MS: [u32; 5] = [250, 500, 1_000, 2_000, 2_000];
/// Attempts before giving up on a socket that had been open.
const MAX_ATTEMPTS: u32 = 15;
/// Attempts before giving up on a server that never answered.
const MAX_FIRST_ATTEMPTS: u32 = 3;

type Handlers = (
    Closure<dyn FnMut(Event)>,
    Closure<dyn FnMut(CloseEvent)>,
    Closure<dyn FnMut(MessageEvent)>,
);

#[derive(Default)]
pub struct Uplink {
    ws: Option<WebSocket>,
    pub open: bool,
    ever_open: bool,
    /// Failed attempts since the last open socket.
    attempts: u32,
    pub reconnects: u32,
    /// Bytes handed to this socket, and the server's last `{"acked": N}` for it.
    sent: u64,
    acked: u64,
    /// Whether the server has acknowledged data from us: it accepted this broadcast once.
    accepted: bool,
    /// "Name taken" refusals since the last ack (see [`closed`]).
    taken: u32,
    handlers: Option<Handlers>,
    retry: Option<Timeout>,
}

impl Uplink {
    /// Sends one binary message; returns its size if it was handed to the socket.
    pub fn send(&mut self, bytes: &[u8]) -> Option<usize> {
        let ws = self.ws.as_ref().filter(|_| self.open)?;
        match ws.send_with_u8_array(bytes) {
            Ok(()) => {
                self.sent += bytes.len() as u64;
                Some(bytes.len())
            }
            Err(e) => {
                crate::services::warn(&format!(
                    "studio: send failed: {}",
                    super::js::error_text(&e)
                ));
                None
            }
        }
    }

    /// Bytes queued in the browser's socket and not yet handed to the OS.
    pub fn buffered(&self) -> u32 {
        self.ws.as_ref().map_or(0, |ws| ws.buffered_amount())
    }

    /// Bytes sent on this socket that the server has not read yet (0 without acks). Unlike
    /// `bufferedAmount` this includes the OS socket buffers, megabytes on a fast machine.
    pub fn in_flight(&self) -> u32 {
        if self.ws.is_none() {
            return 0;
        }
        u32::try_from(self.sent.saturating_sub(self.acked)).unwrap_or(u32::MAX)
    }

    /// The queue the back-pressure decisions look at: the larger of both measures.
    pub fn queued(&self) -> u32 {
        self.buffered().max(self.in_flight())
    }

    pub fn state_name(&self, stopped: bool) -> &'static str {
        let state = if stopped {
            LinkState::Stopped
        } else if self.open {
            LinkState::Live
        } else if self.ever_open {
            LinkState::Reconnecting(self.attempts)
        } else {
            LinkState::Connecting
        };
        state.name()
    }

    /// Closes the socket (normal closure) without triggering a reconnect.
    pub fn close(&mut self) {
        self.retry = None;
        self.open = false;
        if let Some(ws) = self.ws.take() {
            ws.set_onopen(None);
            ws.set_onclose(None);
            ws.set_onmessage(None);
            let _ = ws.close_with_code_and_reason(1000, "studio stopped");
        }
        self.handlers = None;
    }
}

/// Opens a new socket for the engine.
pub fn connect(engine: &Rc<RefCell<Engine>>) {
    let weak = Rc::downgrade(engine);
    let mut e = engine.borrow_mut();
    if e.stopped {
        return;
    }
    let ws = match WebSocket::new(&e.settings.push_url) {
        Ok(ws) => ws,
        Err(err) => {
            let detail = super::js::error_text(&err);
            e.fail(StudioError::Refused(format!("bad push URL: {detail}")));
            return;
        }
    };
    ws.set_binary_type(BinaryType::Arraybuffer);
    let on_open = {
        let weak = weak.clone();
        Closure::<dyn FnMut(Event)>::new(move |_| {
            if let Some(engine) = weak.upgrade() {
                let mut e = engine.borrow_mut();
                if e.uplink.ever_open {
                    e.uplink.reconnects += 1;
                }
                e.uplink.open = true;
                e.uplink.ever_open = true;
                e.uplink.attempts = 0;
                e.on_open();
            }
        })
    };
    let on_message = {
        let weak = weak.clone();
        Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
            let Some(acked) = ev.data().as_string().as_deref().and_then(parse_ack) else {
                return;
            };
            if let Some(engine) = weak.upgrade() {
                let mut e = engine.borrow_mut();
                e.uplink.acked = acked;
                e.uplink.accepted = true;
                e.uplink.taken = 0;
            }
        })
    };
    let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |ev: CloseEvent| {
        if let Some(engine) = weak.upgrade() {
            closed(&engine, ev.code(), ev.reason());
        }
    });
    ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    e.uplink.sent = 0;
    e.uplink.acked = 0;
    e.uplink.ws = Some(ws);
    e.uplink.handlers = Some((on_open, on_close, on_message));
    e.emit(StudioEvent::State(if e.uplink.ever_open {
        LinkState::Reconnecting(e.uplink.attempts)
    } else {
        LinkState::Connecting
    }));
}

/// The server's `{"acked": N}` (bytes of this socket it has read).
fn parse_ack(text: &str) -> Option<u64> {
    #[derive(serde::Deserialize)]
    struct Ack {
        acked: u64,
    }
    serde_json::from_str::<Ack>(text).ok().map(|a| a.acked)
}

/// The socket closed: a refusal ends the broadcast, anything else is retried.
fn closed(engine: &Rc<RefCell<Engine>>, code: u16, reason: String) {
    let mut e = engine.borrow_mut();
    if e.stopped {
        return;
    }
    let was_open = e.uplink.open;
    e.uplink.open = false;
    e.uplink.ws = None;
    // The handlers are running now; drop them on a later task, not from inside themselves.
    if let Some(handlers) = e.uplink.handlers.take() {
        wasm_bindgen_futures::spawn_local(async move { drop(handlers) });
    }
    crate::services::warn(&format!("studio: push socket closed ({code}) {reason}"));
    let reason = if reason.is_empty() {
        format!("close code {code}")
    } else {
        reason
    };
    match code {
        4401 | 4403 => return e.fail(StudioError::KeyRefused(reason)),
        // The server accepts the upgrade and then refuses with a close code, so "taken" is
        // final unless the server had accepted this broadcast before: then it may be our own
        // dropped socket that it has not noticed yet, which a few retries outlast.
        4409 => {
            e.uplink.taken += 1;
            if !e.uplink.accepted || e.uplink.taken > 3 {
                return e.fail(StudioError::NameTaken(reason));
            }
        }
        4400 | 4410 => return e.fail(StudioError::Refused(reason)),
        _ => {}
    }
    if !was_open {
        e.uplink.attempts += 1;
    }
    let limit = if e.uplink.ever_open {
        MAX_ATTEMPTS
    } else {
        MAX_FIRST_ATTEMPTS
    };
    if e.uplink.attempts >= limit {
        return e.fail(StudioError::Unreachable);
    }
    let delay = BACKOFF_MS[(e.uplink.attempts as usize).min(BACKOFF_MS.len() - 1)];
    let weak: Weak<RefCell<Engine>> = Rc::downgrade(engine);
    e.uplink.retry = Some(Timeout::new(delay, move || {
        if let Some(engine) = weak.upgrade() {
            connect(&engine);
        }
    }));
    let attempts = e.uplink.attempts;
    e.emit(StudioEvent::State(if e.uplink.ever_open {
        LinkState::Reconnecting(attempts)
    } else {
        LinkState::Connecting
    }));
}
