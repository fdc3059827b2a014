//! Accounts: admins, streamers and moderators who sign in with a password (argon2id) and
//! get a session cookie; the one-time sign-in link for the first admin; the caller of a
//! request ([`Caller`]), which every API decides with.
//!
//! - [`store`]: users, sessions and sign-in links in the rooms database.
//! - [`password`]: argon2id hashing. [`limit`]: per-IP and per-account failure limits.
//! - [`api`]: `/api/session`, `/api/signup`, `/api/users`. [`cli`]: `onair user …`.

pub mod api;
pub mod caller;
pub mod cli;
pub mod limit;
pub mod password;
pub mod store;

use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::Semaphore;

use crate::error::ApiError;
use crate::rooms::db::{Db, DbError};
use crate::rooms::now_ms;
pub use caller::Caller;
use store::AddUser;

/// Sessions last this long (the cookie's `Max-Age`).
pub const SESSION_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// The first-admin sign-in link works this long (a new one is printed at every start).
pub const LINK_TTL: Duration = Duration::from_secs(24 * 3600);
/// Wrong passwords per account, and per IP address, per [`FAIL_WINDOW`].
pub const FAILS_PER_ACCOUNT: u32 = 5;
pub const FAILS_PER_IP: u32 = 20;
pub const FAIL_WINDOW: Duration = Duration::from_secs(300);
/// Sign-ups per IP address per hour when `open_signup` is on.
pub const SIGNUPS_PER_IP: u32 = 5;
/// Password hashes computed at once; argon2id is deliberately expensive, so a flood of
/// sign-ins queues here instead of taking every core.
const HASHERS: usize = 2;
/// A sign-in that cannot get a hasher in this time is told to retry.
const HASH_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Streamer,
    Moderator,
}

impl Role {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Role::Admin),
            "streamer" => Some(Role::Streamer),
            "moderator" => Some(Role::Moderator),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Streamer => "streamer",
            Role::Moderator => "moderator",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub has_password: bool,
}

/// A user as the API shows it.
#[derive(Debug, Serialize)]
pub struct UserView {
    pub name: String,
    pub role: Role,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self {
            name: u.name.clone(),
            role: u.role,
        }
    }
}

/// Why an account operation failed; mapped to a response in one place (below).
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("wrong name or password")]
    WrongCredentials,
    #[error("this sign-in link is invalid, used or expired; restart onair for a new one")]
    BadLink,
    #[error("sign in first")]
    NotSignedIn,
    #[error("your session expired or is invalid: sign in again")]
    StaleSession,
    #[error("this needs the {0} role")]
    Role(&'static str),
    #[error("too many attempts: try again in {}s", .0.as_secs().max(1))]
    TooMany(Duration),
    #[error("user names are 1-32 letters, digits, '-' or '_'")]
    BadName,
    #[error("{0}")]
    WeakPassword(String),
    #[error("the current password is wrong")]
    WrongCurrent,
    #[error("the name {0:?} is taken")]
    NameTaken(String),
    #[error("no such user: {0}")]
    NoSuchUser(String),
    #[error("sign-up is closed: ask an admin for an account")]
    SignupClosed,
    #[error("too many sign-ins at once: try again shortly")]
    Busy,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Hash(#[from] password::HashError),
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        let msg = e.to_string();
        match e {
            AccountError::WrongCredentials
            | AccountError::BadLink
            | AccountError::NotSignedIn
            | AccountError::StaleSession => ApiError::Unauthorized(msg),
            AccountError::Role(_) | AccountError::WrongCurrent | AccountError::SignupClosed => {
                ApiError::Forbidden(msg)
            }
            AccountError::TooMany(wait) => ApiError::TooManyRequests(msg, wait),
            AccountError::BadName | AccountError::WeakPassword(_) => ApiError::BadRequest(msg),
            AccountError::NameTaken(_) => ApiError::Conflict(msg),
            AccountError::NoSuchUser(_) => ApiError::NotFound(msg),
            AccountError::Busy => ApiError::Unavailable(msg),
            AccountError::Db(_) | AccountError::Hash(_) => ApiError::Internal(msg),
        }
    }
}

pub fn valid_user_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The accounts service: its own database connection, the limiters and the hashers.
pub struct Accounts {
    db: Mutex<Result<Db, String>>,
    by_account: limit::Limiter,
    by_ip: limit::Limiter,
    signups: limit::Limiter,
    hashers: Semaphore,
    /// A hash to verify against when the name does not exist, so a wrong name takes as
    /// long as a wrong password.
    dummy_hash: String,
}

impl Accounts {
    pub fn open(data: &Path) -> Arc<Self> {
        Arc::new(Self {
            db: Mutex::new(Db::open(data).map_err(|e| e.to_string())),
            by_account: limit::Limiter::new(FAILS_PER_ACCOUNT, FAIL_WINDOW, 10_000),
            by_ip: limit::Limiter::new(FAILS_PER_IP, FAIL_WINDOW, 10_000),
            signups: limit::Limiter::new(SIGNUPS_PER_IP, Duration::from_secs(3600), 10_000),
            hashers: Semaphore::new(HASHERS),
            dummy_hash: password::hash("not a password of anyone").unwrap_or_default(),
        })
    }

    pub(crate) fn with_db<T>(
        &self,
        f: impl FnOnce(&Db) -> Result<T, DbError>,
    ) -> Result<T, AccountError> {
        let guard = self.db.lock().unwrap_or_else(|p| p.into_inner());
        match &*guard {
            Ok(db) => Ok(f(db)?),
            Err(e) => Err(AccountError::Db(DbError::Unavailable(e.clone()))),
        }
    }

    /// Runs argon2 on the blocking pool, at most [`HASHERS`] at once.
    async fn hashing<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AccountError> {
        let _permit = tokio::time::timeout(HASH_WAIT, self.hashers.acquire())
            .await
            .map_err(|_| AccountError::Busy)?
            .map_err(|_| AccountError::Busy)?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|_| AccountError::Busy)
    }

    /// Checks a name and password; returns the user and a new session token.
    pub async fn sign_in(
        &self,
        name: &str,
        pass: &str,
        ip: IpAddr,
    ) -> Result<(User, String), AccountError> {
        let now = Instant::now();
        let account = name.to_ascii_lowercase();
        let ip_key = ip.to_string();
        let wait = [
            self.by_ip.check(&ip_key, now),
            self.by_account.check(&account, now),
        ];
        if let Some(wait) = wait.into_iter().filter_map(Result::err).max() {
            tracing::warn!(%ip, account = %name, "sign-in refused: rate limited");
            return Err(AccountError::TooMany(wait));
        }
        let found = if valid_user_name(name) && pass.len() <= password::MAX_LEN {
            self.with_db(|db| db.user_by_name(name))?
        } else {
            None
        };
        let stored = found
            .as_ref()
            .and_then(|(_, h)| h.clone())
            .unwrap_or_else(|| self.dummy_hash.clone());
        let pass_owned = pass.to_string();
        let ok = self
            .hashing(move || password::verify(&pass_owned, &stored))
            .await?;
        match found {
            Some((user, Some(_))) if ok => {
                self.by_account.clear(&account);
                let token = self.new_session(user.id)?;
                tracing::info!(%ip, user = %user.name, "signed in");
                Ok((user, token))
            }
            _ => {
                self.by_ip.hit(&ip_key, now);
                self.by_account.hit(&account, now);
                tracing::info!(%ip, account = %name, "sign-in failed: wrong name or password");
                Err(AccountError::WrongCredentials)
            }
        }
    }

    fn new_session(&self, user: i64) -> Result<String, AccountError> {
        let ttl = SESSION_TTL.as_millis() as u64;
        self.with_db(|db| db.create_session(user, now_ms(), ttl))
    }

    /// Uses the first-admin link: signs in as the admin (created now if needed, without a
    /// password until they set one).
    pub fn sign_in_by_link(&self, link: &str, ip: IpAddr) -> Result<(User, String), AccountError> {
        let now = Instant::now();
        let ip_key = ip.to_string();
        self.by_ip
            .check(&ip_key, now)
            .map_err(AccountError::TooMany)?;
        if !self.with_db(|db| db.take_signin_link(link, now_ms()))? {
            self.by_ip.hit(&ip_key, now);
            return Err(AccountError::BadLink);
        }
        let user = self.with_db(|db| {
            if let Some(admin) = db.first_admin()? {
                return Ok(Some(admin));
            }
            // The first admin is called `admin` unless a non-admin took the name.
            let name = match db.user_by_name("admin")? {
                None => "admin".to_string(),
                Some(_) => format!("admin-{}", now_ms() % 100_000),
            };
            db.add_user(&name, Role::Admin, None, now_ms())?;
            db.first_admin()
        })?;
        let user = user.ok_or(AccountError::NoSuchUser("admin".into()))?;
        let token = self.new_session(user.id)?;
        tracing::info!(%ip, user = %user.name, "signed in with the one-time link");
        Ok((user, token))
    }

    pub fn session_user(&self, token: &str) -> Result<Option<User>, AccountError> {
        self.with_db(|db| db.session_user(token, now_ms()))
    }

    pub fn sign_out(&self, token: &str) -> Result<(), AccountError> {
        self.with_db(|db| db.end_session(token))
    }

    /// Creates a user; the password is checked and hashed here.
    pub async fn add_user(&self, name: &str, role: Role, pass: &str) -> Result<User, AccountError> {
        if !valid_user_name(name) {
            return Err(AccountError::BadName);
        }
        if let Some(why) = password::weakness(pass) {
            return Err(AccountError::WeakPassword(why));
        }
        let pass = pass.to_string();
        let hash = self.hashing(move || password::hash(&pass)).await??;
        match self.with_db(|db| db.add_user(name, role, Some(&hash), now_ms()))? {
            AddUser::Added(id) => Ok(User {
                id,
                name: name.to_string(),
                role,
                has_password: true,
            }),
            AddUser::NameTaken => Err(AccountError::NameTaken(name.to_string())),
        }
    }

    /// `open_signup`: a new streamer, at most [`SIGNUPS_PER_IP`] per IP address per hour.
    pub async fn sign_up(
        &self,
        name: &str,
        pass: &str,
        ip: IpAddr,
    ) -> Result<(User, String), AccountError> {
        let now = Instant::now();
        let ip_key = ip.to_string();
        self.signups
            .check(&ip_key, now)
            .map_err(AccountError::TooMany)?;
        let user = self.add_user(name, Role::Streamer, pass).await?;
        self.signups.hit(&ip_key, now);
        let token = self.new_session(user.id)?;
        tracing::info!(%ip, user = %user.name, "signed up");
        Ok((user, token))
    }

    /// Sets a new password (checking `current` when the user already has one) and ends the
    /// user's other sessions; returns a fresh session token for this one.
    pub async fn change_password(
        &self,
        user: &User,
        current: Option<&str>,
        new: &str,
    ) -> Result<String, AccountError> {
        if let Some(why) = password::weakness(new) {
            return Err(AccountError::WeakPassword(why));
        }
        if user.has_password {
            let stored = self
                .with_db(|db| db.user_by_name(&user.name))?
                .and_then(|(_, h)| h)
                .unwrap_or_default();
            let current = current.unwrap_or_default().to_string();
            let ok = self
                .hashing(move || password::verify(&current, &stored))
                .await?;
            if !ok {
                return Err(AccountError::WrongCurrent);
            }
        }
        let new = new.to_string();
        let hash = self.hashing(move || password::hash(&new)).await??;
        let id = user.id;
        self.with_db(|db| {
            db.set_password(id, &hash)?;
            db.drop_sessions_of(id)
        })?;
        self.new_session(user.id)
    }

    pub fn users(&self) -> Result<Vec<User>, AccountError> {
        self.with_db(Db::users)
    }

    pub fn user(&self, name: &str) -> Result<Option<User>, AccountError> {
        Ok(self.with_db(|db| db.user_by_name(name))?.map(|(u, _)| u))
    }

    pub fn remove_user(&self, name: &str) -> Result<(), AccountError> {
        if self.with_db(|db| db.remove_user(name))? {
            tracing::info!(user = name, "user removed");
            Ok(())
        } else {
            Err(AccountError::NoSuchUser(name.to_string()))
        }
    }

    /// At start-up with no admin who can sign in: a new one-time sign-in link token.
    pub fn first_admin_link(&self) -> Result<Option<String>, AccountError> {
        if self.with_db(Db::has_admin_with_password)? {
            return Ok(None);
        }
        let ttl = LINK_TTL.as_millis() as u64;
        Ok(Some(self.with_db(|db| db.new_signin_link(now_ms(), ttl))?))
    }
}
