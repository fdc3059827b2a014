//! The rooms database: SQLite in the data directory, migrated by `PRAGMA user_version`.
//!
//! Stream keys are never stored, only their SHA-256; comments keep the last
//! [`KEEP_COMMENTS`] per room so a restart still shows recent chat.

use std::path::{Path, PathBuf};

use onair_shared::chat::Comment;
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// File name of the database inside `--data`.
pub const DB_FILE: &str = "onair.sqlite3";
/// Comments kept per room (older ones are deleted as new ones arrive).
pub const KEEP_COMMENTS: i64 = 200;

/// Schema steps; `user_version` is the number already applied. Only ever append.
const MIGRATIONS: &[&str] = &["
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
"];

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
    #[error("the OS random number generator failed: {0}")]
    Random(String),
    #[error("could not find a free room id")]
    IdsExhausted,
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

/// A room row without its key hash.
#[derive(Debug, Clone)]
pub struct Room {
    pub id: String,
    pub title: String,
    pub created_ms: u64,
    pub status: Status,
    pub likes: u64,
}

/// What a publisher's key check found.
#[derive(Debug, PartialEq, Eq)]
pub enum KeyCheck {
    Ok,
    Wrong,
    Closed,
    NoSuchRoom,
}

/// One connection to the rooms database.
pub struct Db {
    conn: Connection,
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

    /// Creates a room; returns its id and the stream key (the only time the key exists).
    pub fn create_room(&self, title: &str, now_ms: u64) -> Result<(String, String), DbError> {
        let key = random_key()?;
        let hash = hash_key(&key);
        for _ in 0..16 {
            let id = random_id()?;
            let inserted = self.conn.execute(
                "INSERT OR IGNORE INTO rooms (id, title, created_ms, key_hash) VALUES (?1, ?2, ?3, ?4)",
                params![id, title, now_ms as i64, hash.as_slice()],
            )?;
            if inserted == 1 {
                return Ok((id, key));
            }
        }
        Err(DbError::IdsExhausted)
    }

    pub fn room(&self, id: &str) -> Result<Option<Room>, DbError> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, title, created_ms, status, likes FROM rooms WHERE id = ?1",
                [id],
                row_to_room,
            )
            .optional()?)
    }

    /// Every room that is not closed, oldest first.
    pub fn open_rooms(&self) -> Result<Vec<Room>, DbError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, title, created_ms, status, likes FROM rooms
             WHERE status != 'closed' ORDER BY created_ms, id",
        )?;
        let rows = stmt.query_map([], row_to_room)?;
        Ok(rows.collect::<Result<_, _>>()?)
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
        let matches: bool = hash_key(key).as_slice().ct_eq(&stored).into();
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

fn row_to_room(r: &rusqlite::Row<'_>) -> Result<Room, rusqlite::Error> {
    Ok(Room {
        id: r.get(0)?,
        title: r.get(1)?,
        created_ms: r.get::<_, i64>(2)?.max(0) as u64,
        status: Status::parse(&r.get::<_, String>(3)?),
        likes: r.get::<_, i64>(4)?.max(0) as u64,
    })
}

pub fn hash_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// 192 bits from the OS RNG, as 32 URL-safe base64 characters.
fn random_key() -> Result<String, DbError> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| DbError::Random(e.to_string()))?;
    Ok(base64url(&bytes))
}

/// Ten characters of `[a-z0-9]` (≈ 51 bits) from the OS RNG: short, URL- and file-safe.
fn random_id() -> Result<String, DbError> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 10];
    getrandom::fill(&mut bytes).map_err(|e| DbError::Random(e.to_string()))?;
    // 256 % 36 = 4: a negligible bias for an identifier that is not a secret.
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect())
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_keys_comments() {
        let db = Db::memory().unwrap();
        let (id, key) = db.create_room("hello", 5).unwrap();
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

    #[test]
    fn base64url_matches_rfc4648() {
        assert_eq!(base64url(b"foob"), "Zm9vYg");
        assert_eq!(base64url(b"\xfb\xff"), "-_8");
    }
}
