//! The rooms database: SQLite in the data directory, migrated by `PRAGMA user_version`.
//!
//! Stream keys are never stored, only their SHA-256; comments keep the last
//! [`KEEP_COMMENTS`] per room so a restart still shows recent chat.

use std::path::{Path, PathBuf};

use onair_shared::chat::Comment;
use rusqlite::{Connection, OptionalExtension, params};

use crate::secret::{self, RandomError};

/// File name of the database inside `--data`.
pub const DB_FILE: &str = "onair.sqlite3";
/// Comments kept per room (older ones are deleted as new ones arrive).
pub const KEEP_COMMENTS: i64 = 200;

/// Schema steps; `user_version` is the number already applied. Only ever append.
const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE rooms (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        status TEXT NOT NULL DEFAULT 'idle' CHECK (status IN ('idle', 'live', 'closed')),
        key_hash BLOB NOT NULL,
        likes INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE comments (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        room_id TEXT NOT NULL REFERENCES rooms(id),
        author TEXT NOT NULL,
        text TEXT NOT NULL,
        at_ms INTEGER NOT NULL
    );
    CREATE INDEX comments_by_room ON comments(room_id, id);
",
    "
    CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        role TEXT NOT NULL CHECK (role IN ('admin', 'streamer', 'moderator')),
        password TEXT,
        created_ms INTEGER NOT NULL
    );
    CREATE TABLE sessions (
        token_hash BLOB PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_ms INTEGER NOT NULL,
        expires_ms INTEGER NOT NULL
    );
    CREATE INDEX sessions_by_user ON sessions(user_id, created_ms);
    CREATE TABLE signin_links (
        token_hash BLOB PRIMARY KEY,
        expires_ms INTEGER NOT NULL
    );
    CREATE TABLE secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL);
    ALTER TABLE rooms ADD COLUMN owner_id INTEGER REFERENCES users(id) ON DELETE SET NULL;
    ALTER TABLE rooms ADD COLUMN visibility TEXT NOT NULL DEFAULT 'public'
        CHECK (visibility IN ('public', 'unlisted', 'private'));
    CREATE TABLE moderators (
        room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        PRIMARY KEY (room_id, user_id)
    );
",
];

/// Why a database operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("rooms database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("rooms database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error(transparent)]
    Random(#[from] RandomError),
    #[error("could not find a free room id")]
    IdsExhausted,
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
}

/// Room status as stored; whether a stream is live right now comes from the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Idle,
    Live,
    Closed,
}

impl Status {
    fn parse(s: &str) -> Self {
        match s {
            "live" => Status::Live,
            "closed" => Status::Closed,
            _ => Status::Idle,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Idle => "idle",
            Status::Live => "live",
            Status::Closed => "closed",
        }
    }
}

/// Who may find and watch a room: listed in the lobby, only by its link, or only with a
/// signed token (or as its owner, a moderator or an admin).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    #[default]
    Public,
    Unlisted,
    Private,
}

impl Visibility {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "public" => Some(Visibility::Public),
            "unlisted" => Some(Visibility::Unlisted),
            "private" => Some(Visibility::Private),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Unlisted => "unlisted",
            Visibility::Private => "private",
        }
    }
}

/// A room row without its key hash.
#[derive(Debug, Clone)]
pub struct Room {
    pub id: String,
    pub title: String,
    pub created_ms: u64,
    pub status: Status,
    pub likes: u64,
    pub owner_id: Option<i64>,
    pub owner: Option<String>,
    pub visibility: Visibility,
}

/// What a publisher's key check found.
#[derive(Debug, PartialEq, Eq)]
pub enum KeyCheck {
    Ok,
    Wrong,
    Closed,
    NoSuchRoom,
}

/// What the server keeps in memory per room to notice changes other processes (the CLI)
/// make: a closed room or a new key ends its stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomState {
    pub closed: bool,
    pub visibility: Visibility,
    pub key_hash: Vec<u8>,
}

const ROOM_COLUMNS: &str =
    "r.id, r.title, r.created_ms, r.status, r.likes, r.owner_id, u.name, r.visibility
     FROM rooms r LEFT JOIN users u ON u.id = r.owner_id";

/// One connection to the rooms database.
pub struct Db {
    pub(crate) conn: Connection,
}

impl Db {
    /// Opens (creating if needed) the database in `data_dir` and applies pending migrations.
    pub fn open(data_dir: &Path) -> Result<Self, DbError> {
        let path = data_dir.join(DB_FILE);
        let open_err = |source| DbError::Open {
            path: path.clone(),
            source,
        };
        let conn = Connection::open(&path).map_err(open_err)?;
        Self::init(conn).map_err(open_err)
    }

    /// A private in-memory database (used when the file cannot be opened, and in unit tests).
    pub fn memory() -> Result<Self, DbError> {
        Ok(Self::init(Connection::open_in_memory()?)?)
    }

    fn init(conn: Connection) -> Result<Self, rusqlite::Error> {
        // WAL lets the server, its publish check and `onair room create` share the file.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let mut db = Self { conn };
        db.migrate()?;
        Ok(db)
    }

    fn migrate(&mut self) -> Result<(), rusqlite::Error> {
        let applied: usize = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        for (i, step) in MIGRATIONS.iter().enumerate().skip(applied) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(step)?;
            tx.pragma_update(None, "user_version", i + 1)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Changes when another connection (another process, e.g. the CLI) commits.
    pub fn data_version(&self) -> Result<i64, DbError> {
        Ok(self
            .conn
            .pragma_query_value(None, "data_version", |r| r.get(0))?)
    }

    /// Creates a room; returns its id and the stream key (the only time the key exists).
    pub fn create_room(
        &self,
        title: &str,
        now_ms: u64,
        owner: Option<i64>,
        visibility: Visibility,
    ) -> Result<(String, String), DbError> {
        let key = secret::random_token()?;
        let hash = hash_key(&key);
        for _ in 0..16 {
            let id = random_id()?;
            let inserted = self.conn.execute(
                "INSERT OR IGNORE INTO rooms (id, title, created_ms, key_hash, owner_id, visibility)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, title, now_ms as i64, hash.as_slice(), owner, visibility.as_str()],
            )?;
            if inserted == 1 {
                return Ok((id, key));
            }
        }
        Err(DbError::IdsExhausted)
    }

    /// A new stream key for the room; the old one stops working. `None`: no such room.
    pub fn rotate_key(&self, id: &str) -> Result<Option<String>, DbError> {
        let key = secret::random_token()?;
        let n = self.conn.execute(
            "UPDATE rooms SET key_hash = ?2 WHERE id = ?1",
            params![id, hash_key(&key).as_slice()],
        )?;
        Ok((n == 1).then_some(key))
    }

    pub fn room(&self, id: &str) -> Result<Option<Room>, DbError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {ROOM_COLUMNS} WHERE r.id = ?1"),
                [id],
                row_to_room,
            )
            .optional()?)
    }

    /// Every room that is not closed, oldest first.
    pub fn open_rooms(&self) -> Result<Vec<Room>, DbError> {
        self.rooms_where("r.status != 'closed'", params![])
    }

    /// Every room, closed ones too (the CLI's `room list`).
    pub fn all_rooms(&self) -> Result<Vec<Room>, DbError> {
        self.rooms_where("1", params![])
    }

    /// The open rooms a user owns.
    pub fn rooms_of(&self, owner: i64) -> Result<Vec<Room>, DbError> {
        self.rooms_where("r.status != 'closed' AND r.owner_id = ?1", params![owner])
    }

    fn rooms_where(&self, filter: &str, p: &[&dyn rusqlite::ToSql]) -> Result<Vec<Room>, DbError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {ROOM_COLUMNS} WHERE {filter} ORDER BY r.created_ms, r.id"
        ))?;
        let rows = stmt.query_map(p, row_to_room)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// What the server watches for changes made by other processes, per room.
    pub fn room_states(&self) -> Result<Vec<(String, RoomState)>, DbError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, status, visibility, key_hash FROM rooms")?;
        let rows = stmt.query_map([], row_to_state)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One room's watched state (after this process changed the room).
    pub fn room_state(&self, id: &str) -> Result<Option<RoomState>, DbError> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, status, visibility, key_hash FROM rooms WHERE id = ?1",
                [id],
                row_to_state,
            )
            .optional()?
            .map(|(_, state)| state))
    }

    pub fn set_title(&self, id: &str, title: &str) -> Result<(), DbError> {
        self.conn.execute(
            "UPDATE rooms SET title = ?2 WHERE id = ?1",
            params![id, title],
        )?;
        Ok(())
    }

    pub fn set_visibility(&self, id: &str, v: Visibility) -> Result<(), DbError> {
        self.conn.execute(
            "UPDATE rooms SET visibility = ?2 WHERE id = ?1",
            params![id, v.as_str()],
        )?;
        Ok(())
    }

    /// Names of the room's moderators, sorted.
    pub fn moderators(&self, room: &str) -> Result<Vec<String>, DbError> {
        let mut stmt = self.conn.prepare(
            "SELECT u.name FROM moderators m JOIN users u ON u.id = m.user_id
             WHERE m.room_id = ?1 ORDER BY u.name",
        )?;
        let rows = stmt.query_map([room], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn is_moderator(&self, room: &str, user: i64) -> Result<bool, DbError> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM moderators WHERE room_id = ?1 AND user_id = ?2",
                params![room, user],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    pub fn set_moderator(&self, room: &str, user: i64, on: bool) -> Result<(), DbError> {
        let sql = if on {
            "INSERT OR IGNORE INTO moderators (room_id, user_id) VALUES (?1, ?2)"
        } else {
            "DELETE FROM moderators WHERE room_id = ?1 AND user_id = ?2"
        };
        self.conn.execute(sql, params![room, user])?;
        Ok(())
    }

    /// A named server secret (e.g. the play-token HMAC key), made on first use.
    pub fn secret(&self, name: &str) -> Result<Vec<u8>, DbError> {
        let fresh = secret::random_bytes::<32>()?;
        self.conn.execute(
            "INSERT OR IGNORE INTO secrets (name, value) VALUES (?1, ?2)",
            params![name, fresh.as_slice()],
        )?;
        Ok(self
            .conn
            .query_row("SELECT value FROM secrets WHERE name = ?1", [name], |r| {
                r.get(0)
            })?)
    }

    /// Compares `key` with the room's stored hash in constant time.
    pub fn check_key(&self, id: &str, key: &str) -> Result<KeyCheck, DbError> {
        let row: Option<(Vec<u8>, String)> = self
            .conn
            .query_row(
                "SELECT key_hash, status FROM rooms WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((stored, status)) = row else {
            return Ok(KeyCheck::NoSuchRoom);
        };
        let matches = secret::same(&hash_key(key), &stored);
        Ok(match (matches, Status::parse(&status)) {
            (false, _) => KeyCheck::Wrong,
            (true, Status::Closed) => KeyCheck::Closed,
            (true, _) => KeyCheck::Ok,
        })
    }
    pub fn set_status(&self, id: &str, status: Status) -> Result<(), DbError> {
        self.conn.execute(
            "UPDATE rooms SET status = ?2 WHERE id = ?1 AND status != 'closed'",
            params![id, status.as_str()],
        )?;
        if status == Status::Closed {
            self.conn
                .execute("UPDATE rooms SET status = 'closed' WHERE id = ?1", [id])?;
        }
        Ok(())
    }

    /// After a restart nothing is live yet; the hub says when it is again.
    pub fn reset_live(&self) -> Result<(), DbError> {
        self.conn
            .execute("UPDATE rooms SET status = 'idle' WHERE status = 'live'", [])?;
        Ok(())
    }

    /// Adds `delta` likes and returns the new total.
    pub fn add_likes(&self, id: &str, delta: u64) -> Result<u64, DbError> {
        let total: i64 = self.conn.query_row(
            "UPDATE rooms SET likes = likes + ?2 WHERE id = ?1 RETURNING likes",
            params![id, delta as i64],
            |r| r.get(0),
        )?;
        Ok(total.max(0) as u64)
    }

    /// Stores a comment (pruning old ones) and returns it with its id.
    pub fn add_comment(
        &self,
        room: &str,
        from: &str,
        text: &str,
        at_ms: u64,
    ) -> Result<Comment, DbError> {
        let id: i64 = self.conn.query_row(
            "INSERT INTO comments (room_id, author, text, at_ms) VALUES (?1, ?2, ?3, ?4) RETURNING id",
            params![room, from, text, at_ms as i64],
            |r| r.get(0),
        )?;
        // Indexed by (room_id, id), so this touches only the room's newest rows.
        self.conn.execute(
            "DELETE FROM comments WHERE room_id = ?1 AND id NOT IN
               (SELECT id FROM comments WHERE room_id = ?1 ORDER BY id DESC LIMIT ?2)",
            params![room, KEEP_COMMENTS],
        )?;
        Ok(Comment {
            id: id as u64,
            from: from.to_string(),
            text: text.to_string(),
            at: at_ms,
        })
    }

    /// The last `n` comments of a room, oldest first.
    pub fn recent_comments(&self, room: &str, n: usize) -> Result<Vec<Comment>, DbError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, author, text, at_ms FROM comments WHERE room_id = ?1
             ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![room, n as i64], |r| {
            Ok(Comment {
                id: r.get::<_, i64>(0)? as u64,
                from: r.get(1)?,
                text: r.get(2)?,
                at: r.get::<_, i64>(3)?.max(0) as u64,
            })
        })?;
        let mut comments: Vec<Comment> = rows.collect::<Result<_, _>>()?;
        comments.reverse();
        Ok(comments)
    }
}

fn row_to_state(r: &rusqlite::Row<'_>) -> Result<(String, RoomState), rusqlite::Error> {
    Ok((
        r.get(0)?,
        RoomState {
            closed: r.get::<_, String>(1)? == "closed",
            visibility: Visibility::parse(&r.get::<_, String>(2)?).unwrap_or_default(),
            key_hash: r.get(3)?,
        },
    ))
}

fn row_to_room(r: &rusqlite::Row<'_>) -> Result<Room, rusqlite::Error> {
    Ok(Room {
        id: r.get(0)?,
        title: r.get(1)?,
        created_ms: r.get::<_, i64>(2)?.max(0) as u64,
        status: Status::parse(&r.get::<_, String>(3)?),
        likes: r.get::<_, i64>(4)?.max(0) as u64,
        owner_id: r.get(5)?,
        owner: r.get(6)?,
        visibility: Visibility::parse(&r.get::<_, String>(7)?).unwrap_or_default(),
    })
}

pub fn hash_key(key: &str) -> [u8; 32] {
    secret::sha256(key.as_bytes())
}

/// Ten characters of `[a-z0-9]` (≈ 51 bits) from the OS RNG: short, URL- and file-safe.
fn random_id() -> Result<String, DbError> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let bytes = secret::random_bytes::<10>()?;
    // 256 % 36 = 4: a negligible bias for an identifier that is not a secret.
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_keys_comments() {
        let db = Db::memory().unwrap();
        let (id, key) = db
            .create_room("hello", 5, None, Visibility::Public)
            .unwrap();
        assert_eq!(id.len(), 10);
        assert!(crate::auth::valid_name(&id));
        assert_eq!(key.len(), 32);
        assert!(
            key.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(db.check_key(&id, &key).unwrap(), KeyCheck::Ok);
        assert_eq!(db.check_key(&id, "nope").unwrap(), KeyCheck::Wrong);
        assert_eq!(db.check_key("zz", &key).unwrap(), KeyCheck::NoSuchRoom);
        assert_eq!(db.add_likes(&id, 3).unwrap(), 3);
        assert_eq!(db.add_likes(&id, 2).unwrap(), 5);
        for i in 0..(KEEP_COMMENTS + 5) {
            db.add_comment(&id, "a", &format!("c{i}"), 1).unwrap();
        }
        let recent = db.recent_comments(&id, 50).unwrap();
        assert_eq!(recent.len(), 50);
        assert_eq!(
            recent.last().unwrap().text,
            format!("c{}", KEEP_COMMENTS + 4)
        );
        assert!(recent.windows(2).all(|w| w[0].id < w[1].id));
        let kept: i64 = db
            .conn
            .query_row("SELECT COUNT(*) FROM comments", [], |r| r.get(0))
            .unwrap();
        assert_eq!(kept, KEEP_COMMENTS);
        db.set_status(&id, Status::Closed).unwrap();
        db.set_status(&id, Status::Live).unwrap();
        assert_eq!(db.room(&id).unwrap().unwrap().status, Status::Closed);
        assert_eq!(db.check_key(&id, &key).unwrap(), KeyCheck::Closed);
        assert!(db.open_rooms().unwrap().is_empty());
    }
}
