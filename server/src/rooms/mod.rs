//! Rooms: a live channel with a title, a secret stream key (stored hashed), chat and likes.
//!
//! - [`db`]: the SQLite store in `--data` (rooms, key hashes, owners, visibility,
//!   moderators, recent comments, like totals).
//! - [`api`]: `/api/rooms…` (create, list, manage, tokens). [`owner`]: what the owner (or an
//!   admin) may do to a room.
//! - [`access`]: who may watch a private room (signed [`token`]s or a session), checked in
//!   front of every media route.
//! - [`chat`]: `ws://HOST/api/rooms/ID/chat`: comments, coalesced likes, gifts, viewers.
//! - [`cli`]: `onair room create|list|close|rotate-key|token`.
//! - [`RoomAuth`]: the publish check ingest asks when `--open-publish` is off.
//!
//! Whether a room is live, and how many watch it, always comes from the hub's `live/ID`
//! stream; the database only remembers what must survive a restart.

pub mod access;
pub mod api;
pub mod chat;
pub mod cli;
pub mod db;
pub mod owner;
pub mod token;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::accounts::AccountError;
use crate::auth::{AuthError, PublishAuth};
use crate::error::ApiError;
use crate::hub::Hub;
use crate::shutdown::Shutdown;
use db::{Db, DbError, KeyCheck, Room, RoomState, Status, Visibility};

pub use api::routes;

/// The only app rooms publish to.
pub const APP: &str = "live";

/// Why a rooms request failed; turned into an HTTP response in one place ([`From`] below).
#[derive(Debug, thiserror::Error)]
pub enum RoomError {
    #[error("no such room: {0}")]
    NotFound(String),
    #[error("title must be 1-100 characters")]
    BadTitle,
    #[error("invalid request body: {0}")]
    BadBody(String),
    #[error("invalid Host header")]
    BadHost,
    #[error("send the room's stream key as `Authorization: Bearer STREAM_KEY`")]
    MissingBearer,
    #[error("wrong stream key for room {0}")]
    WrongKey(String),
    #[error("cannot create the data directory: {0}")]
    DataDir(String),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("the rooms database is unavailable (see the server log)")]
    NoDatabase,
    #[error("only the room's owner or an admin may {0}")]
    NotOwner(&'static str),
    #[error("visibility must be public, unlisted or private")]
    BadVisibility,
    #[error("viewer ids are at most {} bytes", token::MAX_VIEWER_LEN)]
    BadViewer,
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error(transparent)]
    Token(#[from] token::TokenError),
}

impl From<RoomError> for ApiError {
    fn from(e: RoomError) -> Self {
        let msg = e.to_string();
        match e {
            RoomError::NotFound(_) => ApiError::NotFound(msg),
            RoomError::BadTitle
            | RoomError::BadBody(_)
            | RoomError::BadHost
            | RoomError::BadVisibility
            | RoomError::BadViewer => ApiError::BadRequest(msg),
            RoomError::MissingBearer => ApiError::Unauthorized(msg),
            RoomError::WrongKey(_) | RoomError::NotOwner(_) => ApiError::Forbidden(msg),
            RoomError::Account(e) => e.into(),
            RoomError::Token(e @ (token::TokenError::Missing | token::TokenError::Expired)) => {
                ApiError::Unauthorized(e.to_string())
            }
            RoomError::Token(e @ token::TokenError::Invalid) => ApiError::Forbidden(e.to_string()),
            RoomError::Db(_) | RoomError::NoDatabase | RoomError::DataDir(_) => {
                ApiError::Internal(msg)
            }
        }
    }
}

/// A room as the API shows it: never the key.
#[derive(Debug, Clone, Serialize)]
pub struct RoomView {
    pub id: String,
    pub title: String,
    /// `idle`, `live` or `closed`.
    pub status: &'static str,
    pub live: bool,
    pub viewers: usize,
    pub likes: u64,
    /// Unix time in milliseconds when the current stream started; `null` when not live.
    pub started_at: Option<u64>,
    /// The streamer's name; `null` for rooms made before accounts (or whose owner left).
    pub owner: Option<String>,
    pub visibility: Visibility,
    /// Shown to the owner and admins only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moderators: Option<Vec<String>>,
}

/// How often the server looks for changes other processes (the CLI) made to the database.
const WATCH_EVERY: Duration = Duration::from_secs(2);

/// The server's room store: the database plus the live chat rooms.
pub struct Rooms {
    /// `None` only if not even an in-memory database could be opened.
    db: Mutex<Option<Db>>,
    hub: Arc<Hub>,
    pub chats: chat::Chats,
    /// The HMAC key of play tokens (kept in the database so the CLI can sign too).
    secret: Vec<u8>,
    /// Per room: closed, visibility, key hash. Media routes read visibility from here, so
    /// a public room costs no database query per request.
    states: RwLock<HashMap<String, RoomState>>,
    /// The key hash each room's current publisher was let in with (by [`RoomAuth`]).
    publishing: Publishing,
}

/// Room → hash of the key its publisher used; shared by [`RoomAuth`] (which writes it) and
/// [`Rooms`] (which ends a stream whose key was replaced).
pub type Publishing = Arc<Mutex<HashMap<String, Vec<u8>>>>;

impl Rooms {
    /// Opens the database under `data`. A failure is logged and an empty in-memory store is
    /// used instead, so the media server still runs; `run` checks the file first with
    /// [`preflight`], so this fallback only covers a database that breaks in between.
    pub fn open(data: &Path, hub: Arc<Hub>, publishing: Publishing) -> Arc<Self> {
        let db = Db::open(data)
            .or_else(|e| {
                tracing::error!("{e}; rooms are kept in memory only");
                Db::memory()
            })
            .inspect_err(|e| tracing::error!("no rooms database at all: {e}"))
            .ok();
        if let Some(Err(e)) = db.as_ref().map(Db::reset_live) {
            tracing::warn!("{e}");
        }
        let secret = match db.as_ref().map(|db| db.secret("play_token")) {
            Some(Ok(secret)) => secret,
            Some(Err(e)) => {
                tracing::error!("no play-token secret ({e}); private rooms use a temporary one");
                crate::secret::random_bytes::<32>().map_or_else(|_| Vec::new(), |b| b.to_vec())
            }
            None => Vec::new(),
        };
        let states = match db.as_ref().map(Db::room_states) {
            Some(Ok(states)) => states.into_iter().collect(),
            Some(Err(e)) => {
                tracing::error!("{e}");
                HashMap::new()
            }
            None => HashMap::new(),
        };
        Arc::new(Self {
            db: Mutex::new(db),
            hub,
            chats: chat::Chats::default(),
            secret,
            states: RwLock::new(states),
            publishing,
        })
    }

    /// Every [`WATCH_EVERY`], if another process changed the database: a room closed there
    /// (`onair room close`) or given a new key (`onair room rotate-key`) ends its stream,
    /// and visibility changes take effect.
    pub fn watch(self: &Arc<Self>, shutdown: &Arc<Shutdown>) {
        let rooms = Arc::downgrade(self);
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let mut version = None;
            loop {
                tokio::select! {
                    _ = stop.triggered() => return,
                    _ = tokio::time::sleep(WATCH_EVERY) => {}
                }
                let Some(rooms) = rooms.upgrade() else { return };
                let now = rooms.with_db(Db::data_version).ok();
                if now != version {
                    version = now;
                    rooms.reload_states();
                }
            }
        });
    }

    /// Reads every room's state again and acts on what changed.
    fn reload_states(&self) {
        let fresh: HashMap<String, RoomState> = match self.with_db(Db::room_states) {
            Ok(states) => states.into_iter().collect(),
            Err(e) => {
                tracing::warn!("cannot reload rooms: {e}");
                return;
            }
        };
        let old = std::mem::replace(
            &mut *self.states.write().unwrap_or_else(|p| p.into_inner()),
            fresh.clone(),
        );
        for (id, new) in &fresh {
            let was_open = old.get(id).is_none_or(|before| !before.closed);
            let published_with = self.lock_publishing().get(id).cloned();
            if new.closed && was_open && (old.contains_key(id) || published_with.is_some()) {
                tracing::info!(room = %id, "room closed elsewhere: ending its stream");
                self.end_room(id, true);
            } else if published_with.is_some_and(|used| used != new.key_hash) {
                tracing::info!(room = %id, "stream key changed elsewhere: ending the stream");
                self.end_room(id, false);
            }
        }
    }

    fn lock_publishing(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<u8>>> {
        self.publishing.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Ends the room's stream (the publisher is disconnected); `closed` also ends its chat.
    pub(crate) fn end_room(&self, id: &str, closed: bool) {
        self.lock_publishing().remove(id);
        self.hub.end(&format!("{APP}/{id}"));
        if closed {
            self.chats.close(id);
        }
    }

    /// Updates the in-memory state of one room after this process changed it.
    fn refresh_state(&self, id: &str) {
        if let Ok(fresh) = self.with_db(|db| db.room_state(id)) {
            let mut states = self.states.write().unwrap_or_else(|p| p.into_inner());
            match fresh {
                Some(state) => states.insert(id.to_string(), state),
                None => states.remove(id),
            };
        }
    }

    pub fn visibility(&self, id: &str) -> Option<Visibility> {
        self.states
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .map(|s| s.visibility)
    }

    /// Runs `f` on the database (one connection, held only for the call).
    pub(crate) fn with_db<T>(
        &self,
        f: impl FnOnce(&Db) -> Result<T, DbError>,
    ) -> Result<T, RoomError> {
        let guard = self.db.lock().unwrap_or_else(|p| p.into_inner());
        let db = guard.as_ref().ok_or(RoomError::NoDatabase)?;
        Ok(f(db)?)
    }

    /// A room owned by `owner` (`None`: made by the CLI without `--owner`).
    pub fn create(
        &self,
        title: &str,
        owner: Option<i64>,
        visibility: Visibility,
    ) -> Result<(String, String), RoomError> {
        let title = check_title(title)?;
        let created = self.with_db(|db| db.create_room(title, now_ms(), owner, visibility))?;
        self.refresh_state(&created.0);
        Ok(created)
    }

    fn view(&self, room: Room) -> RoomView {
        let stream = self.hub.get(&format!("{APP}/{}", room.id));
        let info = stream.as_ref().map(|s| s.info());
        let live = room.status != Status::Closed && info.as_ref().is_some_and(|i| i.live);
        let status = match room.status {
            Status::Closed => "closed",
            _ if live => "live",
            _ => "idle",
        };
        RoomView {
            live,
            status,
            viewers: stream.map_or(0, |s| s.viewer_count()),
            likes: room.likes,
            started_at: info
                .filter(|_| live)
                .map(|i| now_ms().saturating_sub((i.uptime_s * 1000.0) as u64)),
            id: room.id,
            title: room.title,
            owner: room.owner,
            visibility: room.visibility,
            moderators: None,
        }
    }

    /// Open public rooms, live ones first (then by most viewers, then oldest).
    pub fn list(&self) -> Result<Vec<RoomView>, RoomError> {
        let mut rooms = self.with_db(Db::open_rooms)?;
        rooms.retain(|r| r.visibility == Visibility::Public);
        Ok(self.sorted_views(rooms))
    }

    /// The open rooms `owner` owns, of every visibility, with their moderators.
    pub fn list_of(&self, owner: i64) -> Result<Vec<RoomView>, RoomError> {
        let rooms = self.with_db(|db| db.rooms_of(owner))?;
        let mut views = Vec::with_capacity(rooms.len());
        for room in rooms {
            views.push(self.view_managed(room)?);
        }
        views.sort_by(|a, b| b.live.cmp(&a.live).then(b.viewers.cmp(&a.viewers)));
        Ok(views)
    }

    fn sorted_views(&self, rooms: Vec<Room>) -> Vec<RoomView> {
        let mut views: Vec<RoomView> = rooms.into_iter().map(|r| self.view(r)).collect();
        // A stable sort keeps creation order among equals.
        views.sort_by(|a, b| b.live.cmp(&a.live).then(b.viewers.cmp(&a.viewers)));
        views
    }

    pub fn room(&self, id: &str) -> Result<Room, RoomError> {
        self.with_db(|db| db.room(id))?
            .ok_or_else(|| RoomError::NotFound(id.to_string()))
    }

    pub fn get(&self, id: &str) -> Result<RoomView, RoomError> {
        Ok(self.view(self.room(id)?))
    }
}

/// The trimmed title, 1–100 characters.
fn check_title(title: &str) -> Result<&str, RoomError> {
    let title = title.trim();
    if (1..=100).contains(&title.chars().count()) && !title.chars().any(char::is_control) {
        Ok(title)
    } else {
        Err(RoomError::BadTitle)
    }
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Opens and migrates the database once at start-up, so a broken data directory stops the
/// server with a clear error instead of running without rooms.
pub fn preflight(data: &Path) -> Result<(), DbError> {
    Db::open(data).map(drop)
}

/// Publish authorization backed by the rooms database: `live/ROOM?key=KEY` where ROOM is an
/// open room and KEY hashes to its stored hash.
pub struct RoomAuth {
    db: Result<Mutex<Db>, String>,
    publishing: Publishing,
}

impl RoomAuth {
    /// Its own connection: opened before the rest of the state, and SQLite (WAL) lets
    /// several connections share the file.
    pub fn open(data: &Path, publishing: Publishing) -> Self {
        Self {
            db: Db::open(data).map(Mutex::new).map_err(|e| e.to_string()),
            publishing,
        }
    }
}

impl PublishAuth for RoomAuth {
    fn authorize(&self, app: &str, name: &str, key: Option<&str>) -> Result<(), AuthError> {
        if app != APP {
            // Rooms exist only under `live`; say so rather than "bad name".
            return Err(AuthError::NoRoom(format!("{app}/{name}")));
        }
        let db = match &self.db {
            Ok(db) => db.lock().unwrap_or_else(|p| p.into_inner()),
            Err(e) => {
                tracing::error!("publish check impossible: {e}");
                return Err(AuthError::Closed);
            }
        };
        let check = db.check_key(name, key.unwrap_or("")).map_err(|e| {
            tracing::error!("publish check failed: {e}");
            AuthError::Closed
        })?;
        match (check, key) {
            (KeyCheck::NoSuchRoom | KeyCheck::Closed, _) => Err(AuthError::NoRoom(name.into())),
            (_, None) => Err(AuthError::MissingKey),
            (KeyCheck::Wrong, Some(_)) => Err(AuthError::WrongKey(name.into())),
            (KeyCheck::Ok, Some(key)) => {
                if let Err(e) = db.set_status(name, Status::Live) {
                    tracing::warn!("{e}");
                }
                self.publishing
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(name.to_string(), db::hash_key(key).to_vec());
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles() {
        assert_eq!(check_title("  hi ").ok(), Some("hi"));
        assert!(check_title(" ").is_err());
        assert!(check_title(&"x".repeat(100)).is_ok());
        assert!(check_title(&"x".repeat(101)).is_err());
    }
}
