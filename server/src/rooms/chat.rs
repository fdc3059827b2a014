//! Room chat over WebSocket (`/api/rooms/ID/chat`): JSON messages from
//! [`onair_shared::chat`], one `broadcast` channel per room carrying pre-serialized text.
//!
//! Every outgoing message is serialized once and shared by all members (`Utf8Bytes` is a
//! refcounted buffer). The channel is bounded: a member that falls a whole channel behind is
//! disconnected instead of slowing anyone else down. Likes are summed per room and sent
//! once per [`TICK`], so N members liking costs N sends per tick, not N².

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::{SinkExt, StreamExt};
use onair_shared::chat::{
    self, ClientMessage, ErrorCode, MAX_COUNT, MAX_MESSAGE_BYTES, RECENT_COMMENTS, ServerMessage,
};
use tokio::sync::broadcast;

use super::{Rooms, now_ms};
use crate::shutdown::Shutdown;

/// Likes are coalesced over this period.
pub const TICK: Duration = Duration::from_millis(200);
/// Batches a member may fall behind before it is dropped.
const CHANNEL: usize = 256;
/// A busy room's messages go out together at most this often: a member then wakes and
/// writes once per flush instead of once per message (2,000 members x 200 comments/s is
/// 400,000 frames/s, but only 40,000 wakeups and writes). A message to an idle room goes
/// out at once.
const FLUSH: Duration = Duration::from_millis(50);
/// Comments (and, separately, gifts) a connection may send per [`RATE_WINDOW`].
const RATE_LIMIT: usize = 5;
const RATE_WINDOW: Duration = Duration::from_secs(10);
/// Likes one connection may add per tick; the rest are ignored.
const LIKES_PER_TICK: u64 = 10;
/// Refused messages (invalid, oversized, rate-limited) per [`STRIKE_WINDOW`] before the
/// connection is closed.
const MAX_STRIKES: usize = 5;
const STRIKE_WINDOW: Duration = Duration::from_secs(60);
/// A client that does not `join` in this time is disconnected.
const JOIN_TIMEOUT: Duration = Duration::from_secs(10);
/// A send blocked this long means the member is stuck.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);
/// Frames beyond this are cut by the WebSocket layer itself; between
/// [`MAX_MESSAGE_BYTES`] and this, the client gets a `too_large` error.
pub const WS_MAX_MESSAGE: usize = 64 * 1024;

/// Close codes (private range mirrors HTTP statuses; 1008 is "policy violation").
const CLOSE_ABUSE: u16 = 1008;
const CLOSE_SLOW: u16 = 4408;
/// "Going away": the server is shutting down.
const CLOSE_SHUTDOWN: u16 = 1001;

/// One fan-out item: serialized messages, in order, and whether they end the room.
#[derive(Clone)]
struct Out {
    texts: Arc<[Utf8Bytes]>,
    last: bool,
}

/// Messages waiting for the next flush, and when the room last sent.
struct Pending {
    texts: Vec<Utf8Bytes>,
    last_sent: Instant,
}

/// The live state of one room's chat, alive while it has members.
pub struct ChatRoom {
    id: String,
    tx: broadcast::Sender<Out>,
    pending: Mutex<Pending>,
    members: AtomicU32,
    pending_likes: AtomicU64,
    closed: AtomicBool,
}

impl ChatRoom {
    /// Queues `msg` for every member: sent at once if the room has been quiet for a
    /// flush period (or the message ends the room), otherwise with the next flush.
    fn send(&self, msg: &ServerMessage, last: bool) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.texts.push(encode(msg));
        if last || pending.last_sent.elapsed() >= FLUSH {
            self.flush(&mut pending, last);
        }
    }

    fn flush(&self, pending: &mut Pending, last: bool) {
        if pending.texts.is_empty() && !last {
            return;
        }
        let texts: Arc<[Utf8Bytes]> = std::mem::take(&mut pending.texts).into();
        pending.last_sent = Instant::now();
        // No receivers is fine: nobody to tell.
        let _ = self.tx.send(Out { texts, last });
    }

    fn close(&self) {
        if !self.closed.swap(true, Ordering::SeqCst) {
            self.send(&ServerMessage::Closed, true);
        }
    }
}

/// Chat rooms by room id; entries die with their last member.
#[derive(Default)]
pub struct Chats {
    rooms: Mutex<HashMap<String, Weak<ChatRoom>>>,
}

impl Chats {
    fn get_or_create(&self, id: &str, rooms: &Arc<Rooms>) -> Arc<ChatRoom> {
        let mut map = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(room) = map.get(id).and_then(Weak::upgrade) {
            return room;
        }
        map.retain(|_, w| w.strong_count() > 0);
        let room = Arc::new(ChatRoom {
            id: id.to_string(),
            tx: broadcast::channel(CHANNEL).0,
            pending: Mutex::new(Pending {
                texts: Vec::new(),
                // Quiet so far: the first message goes out at once.
                last_sent: Instant::now()
                    .checked_sub(FLUSH)
                    .unwrap_or_else(Instant::now),
            }),
            members: AtomicU32::new(0),
            pending_likes: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        });
        map.insert(id.to_string(), Arc::downgrade(&room));
        tokio::spawn(like_ticker(Arc::downgrade(&room), Arc::downgrade(rooms)));
        tokio::spawn(flusher(Arc::downgrade(&room)));
        room
    }

    /// Tells every member the room is closed; they are disconnected after that message.
    pub fn close(&self, id: &str) {
        let room = self
            .rooms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .and_then(Weak::upgrade);
        if let Some(room) = room {
            room.close();
        }
    }
}

/// Once per tick: adds the likes gathered since the last tick to the stored total and sends
/// one `likes` message. Ends when the room has no members left (or is closed).
async fn like_ticker(room: Weak<ChatRoom>, rooms: Weak<Rooms>) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let (Some(room), Some(rooms)) = (room.upgrade(), rooms.upgrade()) else {
            return;
        };
        let delta = room.pending_likes.swap(0, Ordering::Relaxed);
        if delta == 0 {
            if room.closed.load(Ordering::SeqCst) {
                return;
            }
            continue;
        }
        match rooms.with_db(|db| db.add_likes(&room.id, delta)) {
            Ok(total) => room.send(&ServerMessage::Likes { delta, total }, false),
            Err(e) => tracing::warn!(room = %room.id, "likes not stored: {e}"),
        }
    }
}

/// Sends what a busy room gathered, once per [`FLUSH`]; ends with the room.
async fn flusher(room: Weak<ChatRoom>) {
    let mut tick = tokio::time::interval(FLUSH);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(room) = room.upgrade() else { return };
        if room.closed.load(Ordering::SeqCst) {
            return;
        }
        let mut pending = room.pending.lock().unwrap_or_else(|p| p.into_inner());
        room.flush(&mut pending, false);
    }
}

fn encode(msg: &ServerMessage) -> Utf8Bytes {
    // These types always serialize; an empty object would be ignored by clients anyway.
    serde_json::to_string(msg).unwrap_or_default().into()
}

fn error(code: ErrorCode, message: impl Into<String>) -> ServerMessage {
    ServerMessage::Error {
        code,
        message: message.into(),
    }
}

/// At most `limit` events per `window`, counted per connection.
struct Window {
    limit: usize,
    window: Duration,
    events: VecDeque<Instant>,
}

impl Window {
    fn new(limit: usize, window: Duration) -> Self {
        Self {
            limit,
            window,
            events: VecDeque::with_capacity(limit),
        }
    }

    /// Records an event now, unless the limit is reached.
    fn allow(&mut self, now: Instant) -> bool {
        while self
            .events
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            self.events.pop_front();
        }
        if self.events.len() >= self.limit {
            return false;
        }
        self.events.push_back(now);
        true
    }
}

/// Per-connection limits.
struct Limits {
    comments: Window,
    gifts: Window,
    strikes: Window,
    likes_tick: Instant,
    likes_in_tick: u64,
}

impl Limits {
    fn new() -> Self {
        Self {
            comments: Window::new(RATE_LIMIT, RATE_WINDOW),
            gifts: Window::new(RATE_LIMIT, RATE_WINDOW),
            strikes: Window::new(MAX_STRIKES - 1, STRIKE_WINDOW),
            likes_tick: Instant::now(),
            likes_in_tick: 0,
        }
    }

    /// How many of `count` likes are accepted in the current tick.
    fn likes(&mut self, count: u32, now: Instant) -> u64 {
        if now.duration_since(self.likes_tick) >= TICK {
            self.likes_tick = now;
            self.likes_in_tick = 0;
        }
        let accepted = u64::from(count).min(LIKES_PER_TICK - self.likes_in_tick);
        self.likes_in_tick += accepted;
        accepted
    }
}

/// What to do after handling one incoming message.
enum Next {
    Continue,
    /// Refused: tell the client and count a strike.
    Refuse(ServerMessage),
    Disconnect,
}

/// A joined member; leaving updates the count for everyone.
struct Membership(Arc<ChatRoom>);

impl Drop for Membership {
    fn drop(&mut self) {
        let left = self
            .0
            .members
            .fetch_sub(1, Ordering::SeqCst)
            .saturating_sub(1);
        if !self.0.closed.load(Ordering::SeqCst) {
            self.0.send(&ServerMessage::Viewers { count: left }, false);
        }
    }
}

/// One chat connection, from upgrade to close (or the server's shutdown, which closes it
/// with 1001 instead of letting it hold the shutdown open).
pub async fn session(
    rooms: Arc<Rooms>,
    id: String,
    closed: bool,
    socket: WebSocket,
    shutdown: Arc<Shutdown>,
) {
    let _tracked = shutdown.track("chat member", format!("room {id}"));
    let (mut tx, mut rx) = socket.split();
    if closed {
        let _ = tx.send(Message::Text(encode(&ServerMessage::Closed))).await;
        let _ = tx.send(close_frame(1000, "room closed")).await;
        return;
    }
    let chat = rooms.chats.get_or_create(&id, &rooms);
    let mut limits = Limits::new();

    // Until `join`, only `join` is accepted.
    let deadline = tokio::time::Instant::now() + JOIN_TIMEOUT;
    let name = loop {
        let next = tokio::select! {
            biased;
            _ = shutdown.triggered() => {
                let _ = tx.send(close_frame(CLOSE_SHUTDOWN, "server shutting down")).await;
                return;
            }
            next = tokio::time::timeout_at(deadline, rx.next()) => next,
        };
        let incoming = match next {
            Ok(Some(Ok(m))) => m,
            Ok(_) => return,
            Err(_) => {
                let _ = tx.send(close_frame(CLOSE_ABUSE, "join first")).await;
                return;
            }
        };
        let reply = match parse(&incoming) {
            Ok(None) => continue,
            Ok(Some(ClientMessage::Join { name })) => match chat::check_name(&name) {
                Ok(name) => break name.to_string(),
                Err(e) => error(e.code(), e.to_string()),
            },
            Ok(Some(_)) => error(ErrorCode::NotJoined, "send join {name} first"),
            Err(reply) => match reply {
                Next::Refuse(msg) => msg,
                _ => return,
            },
        };
        if !refuse(&mut tx, &mut limits, reply).await {
            return;
        }
    };

    // Subscribe before the welcome so nothing said in between is missed.
    let mut feed = chat.tx.subscribe();
    let viewers = chat.members.fetch_add(1, Ordering::SeqCst) + 1;
    let _member = Membership(chat.clone());
    let recent = rooms
        .with_db(|db| db.recent_comments(&id, RECENT_COMMENTS))
        .unwrap_or_else(|e| {
            tracing::warn!(room = %id, "recent comments unavailable: {e}");
            Vec::new()
        });
    let welcome = ServerMessage::Welcome {
        you: name.clone(),
        viewers,
        recent,
        version: chat::PROTOCOL_VERSION,
    };
    if !send(&mut tx, encode(&welcome)).await {
        return;
    }
    chat.send(&ServerMessage::Viewers { count: viewers }, false);

    loop {
        tokio::select! {
            _ = shutdown.triggered() => {
                let _ = tx.send(close_frame(CLOSE_SHUTDOWN, "server shutting down")).await;
                return;
            }
            out = feed.recv() => match out {
                Ok(out) => {
                    if !send_all(&mut tx, &out.texts).await {
                        return;
                    }
                    if out.last {
                        let _ = tx.send(close_frame(1000, "room closed")).await;
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::info!(room = %id, "chat member {n} messages behind; disconnecting");
                    let _ = tx.send(close_frame(CLOSE_SLOW, "too slow")).await;
                    return;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            incoming = rx.next() => {
                let Some(Ok(incoming)) = incoming else { return };
                let next = match parse(&incoming) {
                    Ok(None) => Next::Continue,
                    Ok(Some(msg)) => handle(&rooms, &chat, &name, &mut limits, msg),
                    Err(next) => next,
                };
                match next {
                    Next::Continue => {}
                    Next::Disconnect => return,
                    Next::Refuse(reply) => {
                        if !refuse(&mut tx, &mut limits, reply).await {
                            return;
                        }
                    }
                }
            }
        }
    }
}

type Tx = futures_util::stream::SplitSink<WebSocket, Message>;

/// Sends a batch of messages, one frame each, with one flush and one deadline; false when
/// the member is gone or stuck.
async fn send_all(tx: &mut Tx, texts: &[Utf8Bytes]) -> bool {
    let write = async {
        for text in texts {
            tx.feed(Message::Text(text.clone())).await?;
        }
        tx.flush().await
    };
    matches!(tokio::time::timeout(SEND_TIMEOUT, write).await, Ok(Ok(())))
}

/// Sends with a deadline; false when the member is gone or stuck.
async fn send(tx: &mut Tx, text: Utf8Bytes) -> bool {
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, tx.send(Message::Text(text))).await,
        Ok(Ok(()))
    )
}

/// Sends an `error` and counts a strike; false (after closing) when the client is out of
/// strikes or gone.
async fn refuse(tx: &mut Tx, limits: &mut Limits, reply: ServerMessage) -> bool {
    if !send(tx, encode(&reply)).await {
        return false;
    }
    if !limits.strikes.allow(Instant::now()) {
        let _ = tx
            .send(close_frame(
                CLOSE_ABUSE,
                "too many invalid or rate-limited messages",
            ))
            .await;
        return false;
    }
    true
}

fn close_frame(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// A client frame as a message: `Ok(None)` for frames to ignore (pings, pongs),
/// `Err` for a refusal or the end of the connection.
fn parse(incoming: &Message) -> Result<Option<ClientMessage>, Next> {
    let text = match incoming {
        Message::Text(t) => t.as_str(),
        Message::Binary(_) => {
            return Err(Next::Refuse(error(
                ErrorCode::BadMessage,
                "send JSON text messages",
            )));
        }
        Message::Close(_) => return Err(Next::Disconnect),
        Message::Ping(_) | Message::Pong(_) => return Ok(None),
    };
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(Next::Refuse(error(
            ErrorCode::TooLarge,
            format!("messages are limited to {MAX_MESSAGE_BYTES} bytes"),
        )));
    }
    serde_json::from_str(text).map(Some).map_err(|e| {
        Next::Refuse(error(
            ErrorCode::BadMessage,
            format!("not a chat message: {e}"),
        ))
    })
}

/// Acts on one message from a joined member.
fn handle(
    rooms: &Rooms,
    chat: &ChatRoom,
    name: &str,
    limits: &mut Limits,
    msg: ClientMessage,
) -> Next {
    let now = Instant::now();
    match msg {
        ClientMessage::Join { .. } => {
            Next::Refuse(error(ErrorCode::AlreadyJoined, "already joined"))
        }
        ClientMessage::Comment { text } => {
            let text = match chat::check_comment(&text) {
                Ok(t) => t,
                Err(e) => return Next::Refuse(error(e.code(), e.to_string())),
            };
            if !limits.comments.allow(now) {
                return Next::Refuse(error(
                    ErrorCode::RateLimited,
                    format!("at most {RATE_LIMIT} comments per {RATE_WINDOW:?}"),
                ));
            }
            match rooms.with_db(|db| db.add_comment(&chat.id, name, text, now_ms())) {
                Ok(comment) => chat.send(&ServerMessage::Comment(comment), false),
                Err(e) => tracing::warn!(room = %chat.id, "comment not stored: {e}"),
            }
            Next::Continue
        }
        ClientMessage::Like { count } => {
            if !(1..=MAX_COUNT).contains(&count) {
                return Next::Refuse(error(
                    ErrorCode::BadMessage,
                    format!("like count must be 1-{MAX_COUNT}"),
                ));
            }
            let accepted = limits.likes(count, now);
            chat.pending_likes.fetch_add(accepted, Ordering::Relaxed);
            Next::Continue
        }
        ClientMessage::Gift { kind, count } => {
            if let Err(e) = chat::check_gift(&kind, count) {
                return Next::Refuse(error(e.code(), e.to_string()));
            }
            if !limits.gifts.allow(now) {
                return Next::Refuse(error(
                    ErrorCode::RateLimited,
                    format!("at most {RATE_LIMIT} gifts per {RATE_WINDOW:?}"),
                ));
            }
            chat.send(
                &ServerMessage::Gift {
                    from: name.to_string(),
                    kind,
                    count,
                },
                false,
            );
            Next::Continue
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_and_like_caps() {
        let t0 = Instant::now();
        let mut w = Window::new(2, Duration::from_secs(10));
        assert!(w.allow(t0));
        assert!(w.allow(t0));
        assert!(!w.allow(t0 + Duration::from_secs(9)));
        assert!(w.allow(t0 + Duration::from_secs(10)));
        let mut limits = Limits::new();
        let now = limits.likes_tick;
        assert_eq!(limits.likes(7, now), 7);
        assert_eq!(limits.likes(7, now), 3);
        assert_eq!(limits.likes(1, now), 0);
        assert_eq!(limits.likes(4, now + TICK), 4);
    }
}
