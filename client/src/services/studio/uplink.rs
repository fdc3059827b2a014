//! The push socket: `ws(s)://HOST/live/ROOM.flv?key=KEY`, binary messages of FLV bytes.
//!
//! The server refuses with close codes in the 4xxx range and a reason (4401 no key, 4403
//! wrong key, 4409 name already live, 4400 bad FLV, 4410 stream closed, 4408 idle). A refusal
//! stops the broadcast with that reason; any other drop is retried with a short backoff, well
//! inside the server's 10 s republish grace, so viewers stay on the stream. Each new socket
//! starts again with the FLV header, the codec configs and a keyframe (see
//! `Engine::on_open`).
//!
//! The uplink owns the socket and its retry policy; the engine owns the uplink. Socket
//! events and the retry timer only report a [`SocketEvent`], which the engine hands back
//! to the uplink's methods.
//!
//! The server acknowledges what it has read (`{"acked": N}` text messages, like RTMP's
//! window acknowledgements); `sent − acked` is how the studio sees a slow uplink that the
//! browser's `bufferedAmount` hides while the OS socket buffers fill.

use gloo_timers::callback::Timeout;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use web_sys::{BinaryType, CloseEvent, Event, MessageEvent, WebSocket};

use super::js;
use super::model::{LinkState, StudioError};
use super::report::Report;

/// Retry delays in ms; the last repeats. Their sum over the first attempts stays well under
/// the server's republish grace (10 s).
const BACKOFF_MS: [u32; 5] = [250, 500, 1_000, 2_000, 2_000];
/// Attempts before giving up on a socket that had been open.
const MAX_ATTEMPTS: u32 = 15;
/// Attempts before giving up on a server that never answered.
const MAX_FIRST_ATTEMPTS: u32 = 3;

/// What the socket (and the retry timer) tell the engine.
pub enum SocketEvent {
    Opened,
    /// The server's `{"acked": N}`.
    Acked(u64),
    Closed {
        code: u16,
        reason: String,
    },
    /// The backoff after a drop has passed: time for [`Uplink::connect`].
    Retry,
}

type Handlers = (
    Closure<dyn FnMut(Event)>,
    Closure<dyn FnMut(CloseEvent)>,
    Closure<dyn FnMut(MessageEvent)>,
);

#[derive(Default)]
pub struct Uplink {
    ws: Option<WebSocket>,
    open: bool,
    ever_open: bool,
    /// Failed attempts since the last open socket.
    attempts: u32,
    reconnects: u32,
    /// Bytes handed to this socket, and the server's last `{"acked": N}` for it.
    sent: u64,
    acked: u64,
    /// Whether the server has acknowledged data from us: it accepted this broadcast once.
    accepted: bool,
    /// "Name taken" refusals since the last ack (see [`Uplink::closed`]).
    taken: u32,
    handlers: Option<Handlers>,
    retry: Option<Timeout>,
}

impl Uplink {
    /// Whether the socket is open (frames are wanted).
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Sockets opened again after a drop.
    pub fn reconnects(&self) -> u32 {
        self.reconnects
    }

    /// Sends one binary message; returns its size if it was handed to the socket.
    pub fn send(&mut self, bytes: &[u8]) -> Option<usize> {
        let ws = self.ws.as_ref().filter(|_| self.open)?;
        match ws.send_with_u8_array(bytes) {
            Ok(()) => {
                self.sent += bytes.len() as u64;
                Some(bytes.len())
            }
            Err(e) => {
                crate::services::warn(&format!("studio: send failed: {}", js::error_text(&e)));
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

    /// Where the link stands while the broadcast runs (stopping is the engine's to say).
    pub fn state(&self) -> LinkState {
        if self.open {
            LinkState::Live
        } else if self.ever_open {
            LinkState::Reconnecting(self.attempts)
        } else {
            LinkState::Connecting
        }
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

    /// Opens a new socket to `url`; its events go to `report`. Returns the state to show.
    pub fn connect(
        &mut self,
        url: &str,
        report: &Report<SocketEvent>,
    ) -> Result<LinkState, StudioError> {
        let ws = WebSocket::new(url).map_err(|err| {
            StudioError::Refused(format!("bad push URL: {}", js::error_text(&err)))
        })?;
        ws.set_binary_type(BinaryType::Arraybuffer);
        let on_open = {
            let report = report.clone();
            Closure::<dyn FnMut(Event)>::new(move |_| {
                report(SocketEvent::Opened);
            })
        };
        let on_message = {
            let report = report.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
                if let Some(acked) = ev.data().as_string().as_deref().and_then(parse_ack) {
                    report(SocketEvent::Acked(acked));
                }
            })
        };
        let on_close = {
            let report = report.clone();
            Closure::<dyn FnMut(CloseEvent)>::new(move |ev: CloseEvent| {
                report(SocketEvent::Closed {
                    code: ev.code(),
                    reason: ev.reason(),
                });
            })
        };
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        self.sent = 0;
        self.acked = 0;
        self.ws = Some(ws);
        self.handlers = Some((on_open, on_close, on_message));
        Ok(self.state())
    }

    /// The socket opened (the engine then sends the FLV header and configs).
    pub fn opened(&mut self) {
        if self.ever_open {
            self.reconnects += 1;
        }
        self.open = true;
        self.ever_open = true;
        self.attempts = 0;
    }

    /// The server has read `acked` bytes of this socket.
    pub fn acked(&mut self, acked: u64) {
        self.acked = acked;
        self.accepted = true;
        self.taken = 0;
    }

    /// The socket closed: a refusal ends the broadcast (`Err`); anything else is retried
    /// after a backoff (a [`SocketEvent::Retry`] follows) and returns the state to show.
    pub fn closed(
        &mut self,
        code: u16,
        reason: String,
        report: &Report<SocketEvent>,
    ) -> Result<LinkState, StudioError> {
        let was_open = self.open;
        self.open = false;
        // Handled on the engine's task, not inside the socket's handlers: they can go now.
        if let Some(ws) = self.ws.take() {
            ws.set_onopen(None);
            ws.set_onclose(None);
            ws.set_onmessage(None);
        }
        self.handlers = None;
        crate::services::warn(&format!("studio: push socket closed ({code}) {reason}"));
        let reason = if reason.is_empty() {
            format!("close code {code}")
        } else {
            reason
        };
        match code {
            4401 | 4403 => return Err(StudioError::KeyRefused(reason)),
            // The server accepts the upgrade and then refuses with a close code, so "taken" is
            // final unless the server had accepted this broadcast before: then it may be our
            // own dropped socket that it has not noticed yet, which a few retries outlast.
            4409 => {
                self.taken += 1;
                if !self.accepted || self.taken > 3 {
                    return Err(StudioError::NameTaken(reason));
                }
            }
            4400 | 4410 => return Err(StudioError::Refused(reason)),
            _ => {}
        }
        if !was_open {
            self.attempts += 1;
        }
        let limit = if self.ever_open {
            MAX_ATTEMPTS
        } else {
            MAX_FIRST_ATTEMPTS
        };
        if self.attempts >= limit {
            return Err(StudioError::Unreachable);
        }
        let delay = BACKOFF_MS[(self.attempts as usize).min(BACKOFF_MS.len() - 1)];
        let report = report.clone();
        self.retry = Some(Timeout::new(delay, move || {
            report(SocketEvent::Retry);
        }));
        Ok(self.state())
    }
}

/// The server's `{"acked": N}` (bytes of this socket it has read).
fn parse_ack(text: &str) -> Option<u64> {
    #[derive(serde::Deserialize)]
    struct Ack {
        acked: u64,
    }
    serde_json::from_str::<Ack>(text).ok().map(|a| a.acked)
}
