//! Rooms: a live channel with a title, a secret stream key (stored hashed), chat and likes.
//!
//! - [`db`]: the SQLite store in `--data` (rooms, key hashes, recent comments, like totals).
//! - [`api`]: `GET/POST /api/rooms`, `GET/DELETE /api/rooms/ID`.
//! - [`chat`]: `ws://HOST/api/rooms/ID/chat`: comments, coalesced likes, gifts, viewers.
//! - [`cli`]: `onair room create "TITLE"`.
//! - [`RoomAuth`]: the publish check ingest asks when `--open-publish` is off.
//!
//! Whether a room is live, and how many watch it, always comes from the hub's `live/ID`
//! stream; the database only remembers what must survive a restart.

pub mod api;
pub mod chat;
pub mod cli;
pub mod db;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::auth::{AuthError, PublishAuth};
use crate::error::ApiError;
use crate::hub::Hub;
use db::{Db, DbError, KeyCheck, Room, Status};

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
}

impl From<RoomError> for ApiError {
    fn from(e: RoomError) -> Self {
        let msg = e.to_string();
        match e {
            RoomError::NotFound(_) => ApiError::NotFound(msg),
            RoomError::BadTitle | RoomError::BadBody(_) | RoomError::BadHost => {
                ApiError::BadRequest(msg)
            }
            RoomError::MissingBearer => ApiError::Unauthorized(msg),
            RoomError::WrongKey(_) => ApiError::Forbidden(msg),
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
}

/// The server's room store: the database plus the live chat rooms.
pub struct Rooms {
    /// `None` only if not even an in-memory database could be opened.
    db: Mutex<Option<Db>>,
    hub: Arc<Hub>,
    pub chats: chat::Chats,
}

impl Rooms {
    /// Opens the database under `data`. A failure is logged and an empty in-memory store is
    /// used instead, so the media server still runs; `run` checks the file first with
    /// [`preflight`], so this fallback only covers a database that breaks in between.
    pub fn open(data: &Path, hub: Arc<Hub>) -> Arc<Self> {
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
        Arc::new(Self {
            db: Mutex::new(db),
            hub,
            chats: chat::Chats::default(),
        })
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

    pub fn create(&self, title: &str) -> Result<(String, String), RoomError> {
        let title = check_title(title)?;
        self.with_db(|db| db.create_room(title, now_ms()))
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
        }
    }

    /// Open rooms, live ones first (then by most viewers, then oldest).
    pub fn list(&self) -> Result<Vec<RoomView>, RoomError> {
        let rooms = self.with_db(Db::open_rooms)?;
        let mut views: Vec<RoomView> = rooms.into_iter().map(|r| self.view(r)).collect();
        // A stable sort keeps creation order among equals.
        views.sort_by(|a, b| b.live.cmp(&a.live).then(b.viewers.cmp(&a.viewers)));
        Ok(views)
    }

    pub fn get(&self, id: &str) -> Result<RoomView, RoomError> {
        let room = self
            .with_db(|db| db.room(id))?
            .ok_or_else(|| RoomError::NotFound(id.to_string()))?;
        Ok(self.view(room))
    }

    /// Closes a room for the holder of its key: ends the stream, tells the chat, keeps
    /// recordings. Closing twice is fine.
    pub fn close(&self, id: &str, bearer: Option<&str>) -> Result<(), RoomError> {
        if self.with_db(|db| db.room(id))?.is_none() {
            return Err(RoomError::NotFound(id.to_string()));
        }
        let key = bearer.ok_or(RoomError::MissingBearer)?;
        let check = self.with_db(|db| {
            let check = db.check_key(id, key)?;
            if check == KeyCheck::Ok {
                db.set_status(id, Status::Closed)?;
            }
            Ok(check)
        })?;
        match check {
            KeyCheck::Ok | KeyCheck::Closed => {}
            KeyCheck::Wrong => return Err(RoomError::WrongKey(id.to_string())),
            KeyCheck::NoSuchRoom => return Err(RoomError::NotFound(id.to_string())),
        }
        self.hub.end(&format!("{APP}/{id}"));
        self.chats.close(id);
        tracing::info!(room = id, "room closed");
        Ok(())
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
}

impl RoomAuth {
    /// Its own connection: opened before the rest of the state, and SQLite (WAL) lets
    /// several connections share the file.
    pub fn open(data: &Path) -> Self {
        Self {
            db: Db::open(data).map(Mutex::new).map_err(|e| e.to_string()),
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
            (KeyCheck::Ok, Some(_)) => {
                if let Err(e) = db.set_status(name, Status::Live) {
                    tracing::warn!("{e}");
                }
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
