//! What a room's owner (or an admin) may do: rename it, change who may watch it, rotate its
//! stream key, name moderators, issue play tokens for a private room, close it.

use std::time::Duration;

use super::db::{Db, KeyCheck, Room, Status, Visibility};
use super::{RoomError, RoomView, Rooms, check_title, now_ms, token};
use crate::accounts::{Caller, User};

/// Play tokens last a day unless asked otherwise, and at most 30 days.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(24 * 3600);
pub const MAX_TOKEN_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

impl Rooms {
    /// The room, if `caller` owns it or is an admin; `what` names the action in the error.
    pub fn managed(
        &self,
        id: &str,
        caller: &Caller,
        what: &'static str,
    ) -> Result<Room, RoomError> {
        let room = self.room(id)?;
        if caller.is_admin() {
            return Ok(room);
        }
        let user = caller.signed_in()?;
        if room.owner_id == Some(user.id) {
            Ok(room)
        } else {
            Err(RoomError::NotOwner(what))
        }
    }

    /// The room view with its moderators (for the owner and admins).
    pub fn view_managed(&self, room: Room) -> Result<RoomView, RoomError> {
        let moderators = self.with_db(|db| db.moderators(&room.id))?;
        let mut view = self.view(room);
        view.moderators = Some(moderators);
        Ok(view)
    }

    /// May `caller` see the room's moderators (owner or admin)?
    pub fn manages(&self, room: &Room, caller: &Caller) -> bool {
        caller.is_admin() || caller.user().is_some_and(|u| room.owner_id == Some(u.id))
    }

    /// Is `user` the owner, an admin, or a moderator of `room`?
    pub fn is_staff(&self, room: &str, user: &User) -> bool {
        use crate::accounts::Role;
        if user.role == Role::Admin {
            return true;
        }
        match self.with_db(|db| {
            Ok(db.room(room)?.and_then(|r| r.owner_id) == Some(user.id)
                || db.is_moderator(room, user.id)?)
        }) {
            Ok(yes) => yes,
            Err(e) => {
                tracing::warn!("{e}");
                false
            }
        }
    }

    pub fn update(
        &self,
        id: &str,
        caller: &Caller,
        title: Option<&str>,
        visibility: Option<Visibility>,
    ) -> Result<RoomView, RoomError> {
        self.managed(id, caller, "change it")?;
        if let Some(title) = title {
            let title = check_title(title)?;
            self.with_db(|db| db.set_title(id, title))?;
        }
        if let Some(v) = visibility {
            self.with_db(|db| db.set_visibility(id, v))?;
            tracing::info!(
                room = id,
                visibility = v.as_str(),
                "room visibility changed"
            );
        }
        self.refresh_state(id);
        self.view_managed(self.room(id)?)
    }

    /// A new stream key: the old one is refused from now on and whoever publishes with it
    /// is disconnected.
    pub fn rotate_key(&self, id: &str, caller: &Caller) -> Result<(Room, String), RoomError> {
        let room = self.managed(id, caller, "rotate its key")?;
        let key = self
            .with_db(|db| db.rotate_key(id))?
            .ok_or_else(|| RoomError::NotFound(id.to_string()))?;
        self.refresh_state(id);
        self.end_room(id, false);
        tracing::info!(
            room = id,
            "stream key rotated; the current publisher was disconnected"
        );
        Ok((room, key))
    }

    pub fn set_moderator(
        &self,
        id: &str,
        caller: &Caller,
        user: &User,
        on: bool,
    ) -> Result<(), RoomError> {
        self.managed(id, caller, "name moderators")?;
        self.with_db(|db| db.set_moderator(id, user.id, on))?;
        Ok(())
    }

    /// A play token for the room; returns it with its expiry (Unix ms).
    pub fn issue_token(
        &self,
        id: &str,
        caller: &Caller,
        ttl: Option<Duration>,
        viewer: Option<&str>,
    ) -> Result<(String, u64), RoomError> {
        self.managed(id, caller, "issue play links")?;
        if viewer.is_some_and(|v| v.len() > token::MAX_VIEWER_LEN) {
            return Err(RoomError::BadViewer);
        }
        let ttl = ttl.unwrap_or(DEFAULT_TOKEN_TTL).min(MAX_TOKEN_TTL);
        let expires = (now_ms() / 1000).saturating_add(ttl.as_secs().max(1));
        Ok((self.sign(id, expires, viewer), expires * 1000))
    }

    pub(crate) fn sign(&self, id: &str, expires_s: u64, viewer: Option<&str>) -> String {
        token::sign(&self.secret, id, expires_s, viewer)
    }

    /// Closes a room for its owner or an admin, or for the holder of its key (`bearer`):
    /// ends the stream, tells the chat, keeps recordings. Closing twice is fine.
    pub fn close(&self, id: &str, caller: &Caller, bearer: Option<&str>) -> Result<(), RoomError> {
        let room = self.room(id)?;
        let by_account =
            caller.is_admin() || caller.user().is_some_and(|u| room.owner_id == Some(u.id));
        if !by_account {
            let Some(key) = bearer else {
                // Signed in but not the owner: say so rather than asking for a key.
                if caller.user().is_some() {
                    return Err(RoomError::NotOwner("close it"));
                }
                return Err(RoomError::MissingBearer);
            };
            match self.with_db(|db| db.check_key(id, key))? {
                KeyCheck::Ok | KeyCheck::Closed => {}
                KeyCheck::Wrong => return Err(RoomError::WrongKey(id.to_string())),
                KeyCheck::NoSuchRoom => return Err(RoomError::NotFound(id.to_string())),
            }
        }
        self.with_db(|db: &Db| db.set_status(id, Status::Closed))?;
        self.refresh_state(id);
        self.end_room(id, true);
        tracing::info!(room = id, "room closed");
        Ok(())
    }
}
