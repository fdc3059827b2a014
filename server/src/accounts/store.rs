//! Users, sessions and sign-in links in the rooms database (same file, same migrations).
//! Session and link tokens are stored as SHA-256 hashes only, like stream keys.

use rusqlite::{OptionalExtension, params};

use super::{Role, User};
use crate::rooms::db::{Db, DbError};
use crate::secret;

/// Sessions kept per user; signing in again past this drops the oldest.
pub const MAX_SESSIONS_PER_USER: i64 = 20;

/// Why adding a user failed in a way the caller can fix.
#[derive(Debug, PartialEq, Eq)]
pub enum AddUser {
    Added(i64),
    NameTaken,
}

fn row_to_user(r: &rusqlite::Row<'_>) -> Result<User, rusqlite::Error> {
    Ok(User {
        id: r.get(0)?,
        name: r.get(1)?,
        role: Role::parse(&r.get::<_, String>(2)?).unwrap_or(Role::Moderator),
        has_password: r.get::<_, Option<String>>(3)?.is_some(),
    })
}

const USER_COLUMNS: &str = "id, name, role, password FROM users";

impl Db {
    pub fn add_user(
        &self,
        name: &str,
        role: Role,
        password_hash: Option<&str>,
        now_ms: u64,
    ) -> Result<AddUser, DbError> {
        let inserted = self.conn.execute(
            "INSERT OR IGNORE INTO users (name, role, password, created_ms) VALUES (?1, ?2, ?3, ?4)",
            params![name, role.as_str(), password_hash, now_ms as i64],
        )?;
        Ok(if inserted == 1 {
            AddUser::Added(self.conn.last_insert_rowid())
        } else {
            AddUser::NameTaken
        })
    }

    /// The user and their stored password hash (PHC string), by name (case-insensitive).
    pub fn user_by_name(&self, name: &str) -> Result<Option<(User, Option<String>)>, DbError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {USER_COLUMNS} WHERE name = ?1"),
                [name],
                |r| Ok((row_to_user(r)?, r.get(3)?)),
            )
            .optional()?)
    }

    /// The oldest admin account, if any.
    pub fn first_admin(&self) -> Result<Option<User>, DbError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {USER_COLUMNS} WHERE role = 'admin' ORDER BY id LIMIT 1"),
                [],
                row_to_user,
            )
            .optional()?)
    }

    pub fn users(&self) -> Result<Vec<User>, DbError> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {USER_COLUMNS} ORDER BY name"))?;
        let rows = stmt.query_map([], row_to_user)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Removes a user (their sessions go with them; their rooms stay, without an owner).
    pub fn remove_user(&self, name: &str) -> Result<bool, DbError> {
        Ok(self
            .conn
            .execute("DELETE FROM users WHERE name = ?1", [name])?
            == 1)
    }

    /// Sets the password hash and signs the user out everywhere else.
    pub fn set_password(&self, user: i64, hash: &str) -> Result<(), DbError> {
        self.conn.execute(
            "UPDATE users SET password = ?2 WHERE id = ?1",
            params![user, hash],
        )?;
        Ok(())
    }

    pub fn drop_sessions_of(&self, user: i64) -> Result<(), DbError> {
        self.conn
            .execute("DELETE FROM sessions WHERE user_id = ?1", [user])?;
        Ok(())
    }

    /// Is there an admin who can sign in with a password?
    pub fn has_admin_with_password(&self) -> Result<bool, DbError> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM users WHERE role = 'admin' AND password IS NOT NULL LIMIT 1",
                [],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// A new session for `user`; returns its token (only its hash is stored).
    pub fn create_session(&self, user: i64, now_ms: u64, ttl_ms: u64) -> Result<String, DbError> {
        let token = secret::random_token()?;
        self.conn.execute(
            "INSERT INTO sessions (token_hash, user_id, created_ms, expires_ms) VALUES (?1, ?2, ?3, ?4)",
            params![
                secret::sha256(token.as_bytes()).as_slice(),
                user,
                now_ms as i64,
                now_ms.saturating_add(ttl_ms) as i64
            ],
        )?;
        self.conn.execute(
            "DELETE FROM sessions WHERE user_id = ?1 AND token_hash NOT IN
               (SELECT token_hash FROM sessions WHERE user_id = ?1
                ORDER BY created_ms DESC LIMIT ?2)",
            params![user, MAX_SESSIONS_PER_USER],
        )?;
        Ok(token)
    }

    /// The user a live session token belongs to; expired sessions are deleted on sight.
    pub fn session_user(&self, token: &str, now_ms: u64) -> Result<Option<User>, DbError> {
        let hash = secret::sha256(token.as_bytes());
        let found: Option<(User, i64)> = self
            .conn
            .query_row(
                "SELECT u.id, u.name, u.role, u.password, s.expires_ms
                 FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?1",
                [hash.as_slice()],
                |r| Ok((row_to_user(r)?, r.get(4)?)),
            )
            .optional()?;
        match found {
            Some((user, expires)) if expires > now_ms as i64 => Ok(Some(user)),
            Some(_) => {
                self.end_session(token)?;
                Ok(None)
            }
            None => Ok(None),
        }
    }

    pub fn end_session(&self, token: &str) -> Result<(), DbError> {
        let hash = secret::sha256(token.as_bytes());
        self.conn.execute(
            "DELETE FROM sessions WHERE token_hash = ?1",
            [hash.as_slice()],
        )?;
        Ok(())
    }

    /// Replaces every sign-in link with a new one; returns its token.
    pub fn new_signin_link(&self, now_ms: u64, ttl_ms: u64) -> Result<String, DbError> {
        let token = secret::random_token()?;
        self.conn.execute("DELETE FROM signin_links", [])?;
        self.conn.execute(
            "INSERT INTO signin_links (token_hash, expires_ms) VALUES (?1, ?2)",
            params![
                secret::sha256(token.as_bytes()).as_slice(),
                now_ms.saturating_add(ttl_ms) as i64
            ],
        )?;
        Ok(token)
    }

    /// Uses up a sign-in link: true if it existed and had not expired.
    pub fn take_signin_link(&self, token: &str, now_ms: u64) -> Result<bool, DbError> {
        let hash = secret::sha256(token.as_bytes());
        let expires: Option<i64> = self
            .conn
            .query_row(
                "DELETE FROM signin_links WHERE token_hash = ?1 RETURNING expires_ms",
                [hash.as_slice()],
                |r| r.get(0),
            )
            .optional()?;
        Ok(expires.is_some_and(|e| e > now_ms as i64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_sessions_links() {
        let db = Db::memory().unwrap();
        let AddUser::Added(id) = db.add_user("Ann", Role::Streamer, Some("h"), 1).unwrap() else {
            panic!("not added");
        };
        assert_eq!(
            db.add_user("ann", Role::Admin, None, 1).unwrap(),
            AddUser::NameTaken,
            "names are case-insensitive"
        );
        let (user, hash) = db.user_by_name("ANN").unwrap().unwrap();
        assert_eq!(
            (user.id, user.role, hash.as_deref()),
            (id, Role::Streamer, Some("h"))
        );
        assert!(!db.has_admin_with_password().unwrap());

        let token = db.create_session(id, 1_000, 500).unwrap();
        assert_eq!(db.session_user(&token, 1_200).unwrap().unwrap().name, "Ann");
        assert!(db.session_user("forged", 1_200).unwrap().is_none());
        assert!(db.session_user(&token, 1_500).unwrap().is_none(), "expired");
        assert!(db.session_user(&token, 1_200).unwrap().is_none(), "deleted");

        let tokens: Vec<_> = (0..MAX_SESSIONS_PER_USER + 3)
            .map(|i| db.create_session(id, 2_000 + i as u64, 10_000).unwrap())
            .collect();
        assert!(
            db.session_user(&tokens[0], 3_000).unwrap().is_none(),
            "oldest dropped"
        );
        assert!(
            db.session_user(tokens.last().unwrap(), 3_000)
                .unwrap()
                .is_some()
        );

        let link = db.new_signin_link(0, 100).unwrap();
        let newer = db.new_signin_link(0, 100).unwrap();
        assert!(!db.take_signin_link(&link, 10).unwrap(), "replaced");
        assert!(db.take_signin_link(&newer, 10).unwrap());
        assert!(!db.take_signin_link(&newer, 10).unwrap(), "one time");
        let old = db.new_signin_link(0, 100).unwrap();
        assert!(!db.take_signin_link(&old, 100).unwrap(), "expired");

        assert!(db.remove_user("ann").unwrap());
        assert!(
            db.session_user(tokens.last().unwrap(), 3_000)
                .unwrap()
                .is_none()
        );
    }
}
