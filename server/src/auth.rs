//! Who may publish: one interface, [`PublishAuth`], that ingest asks for every RTMP, WS-FLV
//! and HTTP-FLV publisher. The rooms feature plugs its key check in here.

/// Why a publisher was refused; the message goes back to the client and into the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error(
        "publishing is closed: no stream key check is configured (start onair with --open-publish for development)"
    )]
    Closed,
    #[error("a stream key is required: publish to ROOM?key=STREAM_KEY")]
    MissingKey,
    #[error("wrong stream key for {0}")]
    WrongKey(String),
    #[error("invalid stream name {0:?}: use 1-64 letters, digits, '-' or '_'")]
    BadName(String),
    #[error(
        "no open room {0:?}: create one with POST /api/rooms or `onair room create` (or start onair with --open-publish for development)"
    )]
    NoRoom(String),
}

/// Decides whether `key` may publish `app/name`.
pub trait PublishAuth: Send + Sync + 'static {
    fn authorize(&self, app: &str, name: &str, key: Option<&str>) -> Result<(), AuthError>;
}

/// Development mode (`--open-publish`): any key, or none, may publish any valid name.
pub struct OpenPublish;

impl PublishAuth for OpenPublish {
    fn authorize(&self, _app: &str, _name: &str, _key: Option<&str>) -> Result<(), AuthError> {
        Ok(())
    }
}

/// The default until rooms exist: nobody may publish, and the error says how to change that.
pub struct ClosedPublish;

impl PublishAuth for ClosedPublish {
    fn authorize(&self, _app: &str, _name: &str, _key: Option<&str>) -> Result<(), AuthError> {
        Err(AuthError::Closed)
    }
}

/// Stream (room) and app names: URL- and file-safe, so they can name HLS and recording paths.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Splits an RTMP publish/play name `ROOM?key=KEY&…` into the room and the key.
pub fn split_stream_name(name: &str) -> (&str, Option<&str>) {
    let (room, query) = name.split_once('?').unwrap_or((name, ""));
    let key = query.split('&').find_map(|kv| kv.strip_prefix("key="));
    (room, key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_keys() {
        assert_eq!(split_stream_name("room1?key=abc"), ("room1", Some("abc")));
        assert_eq!(split_stream_name("room1?x=1&key=k2"), ("room1", Some("k2")));
        assert_eq!(split_stream_name("room1"), ("room1", None));
        assert!(valid_name("room_1-A"));
        for bad in ["", "a/b", "../x", "a b", &"x".repeat(65)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn closed_by_default_open_in_dev() {
        assert_eq!(
            ClosedPublish.authorize("live", "r", Some("k")),
            Err(AuthError::Closed)
        );
        assert_eq!(OpenPublish.authorize("live", "r", None), Ok(()));
    }
}
