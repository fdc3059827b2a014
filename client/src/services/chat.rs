//! One room's chat connection: a WebSocket speaking [`onair_shared::chat`] JSON, joined on
//! every (re)connect, reconnecting with exponential backoff when it drops.
//!
//! [`ChatConnection`] is owned by the `use_chat` hook; dropping it (unmount, room or name
//! change) stops the task, which closes the socket and cancels any pending retry.

use futures::channel::{mpsc, oneshot};
use futures::{FutureExt, SinkExt, StreamExt};
use gloo_net::websocket::futures::WebSocket;
use gloo_net::websocket::{Message, State};
use gloo_timers::future::TimeoutFuture;
use onair_shared::chat::{ClientMessage, ServerMessage};
use yew::Callback;

/// First retry delay; doubled per failed attempt up to [`MAX_BACKOFF_MS`].
const FIRST_BACKOFF_MS: u32 = 500;
const MAX_BACKOFF_MS: u32 = 15_000;

/// What the connection reports to its owner.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatEvent {
    /// Opening a socket (first time or after a drop).
    Connecting,
    Message(ServerMessage),
    /// The socket dropped; the next attempt starts in this many milliseconds.
    Dropped {
        retry_in_ms: u32,
    },
    /// The room was closed (or the socket could not be built at all); no more retries.
    Ended,
}

/// A running chat connection. Dropping it disconnects.
pub struct ChatConnection {
    outgoing: mpsc::UnboundedSender<ClientMessage>,
    // Dropping the sender resolves the task's receiver, which ends the task.
    _stop: oneshot::Sender<()>,
}

impl ChatConnection {
    /// Connects to `/api/rooms/ROOM/chat` (with a private room's `token`) and joins as `name`.
    pub fn open(
        room: &str,
        token: Option<&str>,
        name: String,
        on_event: Callback<ChatEvent>,
    ) -> Self {
        let (outgoing, outgoing_rx) = mpsc::unbounded();
        let (stop, stop_rx) = oneshot::channel();
        let query = super::api::token_query(token);
        let url = super::ws_url(&format!("/api/rooms/{room}/chat{query}"));
        wasm_bindgen_futures::spawn_local(async move {
            match url {
                Some(url) => run(url, name, on_event, outgoing_rx, stop_rx).await,
                None => {
                    super::warn("chat: no window location to build the WebSocket URL from");
                    on_event.emit(ChatEvent::Ended);
                }
            }
        });
        Self {
            outgoing,
            _stop: stop,
        }
    }

    /// Sends a message if the connection is joined; otherwise it is dropped with a warning
    /// (the UI disables sending while not connected).
    pub fn send(&self, message: ClientMessage) {
        // Fails only if the task has ended (room closed); then there is nobody to send to.
        let _ = self.outgoing.unbounded_send(message);
    }
}

fn backoff_ms(attempt: u32) -> u32 {
    FIRST_BACKOFF_MS
        .saturating_mul(1 << attempt.min(8))
        .min(MAX_BACKOFF_MS)
}

fn encode(message: &ClientMessage) -> Message {
    // These plain structs always serialize.
    Message::Text(serde_json::to_string(message).unwrap_or_default())
}

/// Why one socket's session ended.
enum End {
    /// Dropped or refused: try again.
    Retry,
    /// The room was closed: stop for good.
    Closed,
    /// The owner went away: stop silently.
    Stopped,
}

async fn run(
    url: String,
    name: String,
    on_event: Callback<ChatEvent>,
    mut outgoing: mpsc::UnboundedReceiver<ClientMessage>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut attempt = 0;
    loop {
        on_event.emit(ChatEvent::Connecting);
        let end = match WebSocket::open(&url) {
            Ok(socket) => {
                session(
                    socket,
                    &name,
                    &on_event,
                    &mut outgoing,
                    &mut stop,
                    &mut attempt,
                )
                .await
            }
            Err(e) => {
                super::warn(&format!("chat: cannot open {url}: {e}"));
                End::Retry
            }
        };
        match end {
            End::Retry => {}
            End::Closed => {
                on_event.emit(ChatEvent::Ended);
                return;
            }
            End::Stopped => return,
        }
        let delay = backoff_ms(attempt);
        attempt = attempt.saturating_add(1);
        on_event.emit(ChatEvent::Dropped { retry_in_ms: delay });
        futures::select! {
            _ = TimeoutFuture::new(delay).fuse() => {}
            _ = stop => return,
        }
    }
}

/// One socket from open to drop. `attempt` is reset once the server welcomes us.
async fn session(
    socket: WebSocket,
    name: &str,
    on_event: &Callback<ChatEvent>,
    outgoing: &mut mpsc::UnboundedReceiver<ClientMessage>,
    mut stop: &mut oneshot::Receiver<()>,
    attempt: &mut u32,
) -> End {
    // Wait for the handshake to settle; sending on a socket that failed to connect would only
    // make the browser log a second error.
    let mut socket = socket;
    if let Err(e) = futures::future::poll_fn(|cx| socket.poll_ready_unpin(cx)).await {
        super::warn(&format!("chat: socket not ready: {e}"));
        return End::Retry;
    }
    if !matches!(socket.state(), State::Open) {
        super::warn("chat: could not connect");
        return End::Retry;
    }
    let (mut tx, mut rx) = socket.split();
    let join = ClientMessage::Join {
        name: name.to_string(),
    };
    if let Err(e) = tx.send(encode(&join)).await {
        super::warn(&format!("chat: join not sent: {e}"));
        return End::Retry;
    }
    let mut joined = false;
    loop {
        futures::select! {
            incoming = rx.next().fuse() => match incoming {
                Some(Ok(Message::Text(text))) => match serde_json::from_str::<ServerMessage>(&text) {
                    Ok(message) => {
                        let closed = message == ServerMessage::Closed;
                        if matches!(message, ServerMessage::Welcome { .. }) {
                            *attempt = 0;
                            joined = true;
                        }
                        on_event.emit(ChatEvent::Message(message));
                        if closed {
                            return End::Closed;
                        }
                    }
                    // A newer server may send kinds this client does not know yet.
                    Err(e) => super::warn(&format!("chat: ignoring message: {e}")),
                },
                Some(Ok(Message::Bytes(_))) => {}
                Some(Err(e)) => {
                    super::warn(&format!("chat: connection lost: {e}"));
                    return End::Retry;
                }
                None => return End::Retry,
            },
            // Held back until joined: the server refuses anything before `join` is accepted.
            message = outgoing.next().fuse() => match message {
                Some(message) if joined => {
                    if let Err(e) = tx.send(encode(&message)).await {
                        super::warn(&format!("chat: send failed: {e}"));
                        return End::Retry;
                    }
                }
                Some(_) => super::warn("chat: not connected yet; message dropped"),
                None => return End::Stopped,
            },
            _ = stop => return End::Stopped,
        }
    }
}
