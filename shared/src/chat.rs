//! Chat wire types: JSON messages between a room's members and the server, internally tagged
//! as `{"type": "...", ...}`, plus the limits both sides check.
//!
//! Only types and pure checks live here; rate limiting, fan-out and storage are the server's.
//! Text is always carried (and must be rendered) as plain text, never as HTML.

use serde::{Deserialize, Serialize};

/// Bumped on any incompatible change to the messages below; sent in `welcome`.
pub const PROTOCOL_VERSION: u32 = 1;
/// Longest accepted client message, in bytes of JSON.
pub const MAX_MESSAGE_BYTES: usize = 4096;
/// Display names: 1–32 characters after trimming.
pub const MAX_NAME_CHARS: usize = 32;
/// Comments: 1–300 characters after trimming.
pub const MAX_COMMENT_CHARS: usize = 300;
/// How many recent comments a `welcome` carries.
pub const RECENT_COMMENTS: usize = 50;
/// The gift catalogue: any other `kind` is refused.
pub const GIFTS: &[&str] = &["rose", "heart", "star", "rocket"];
/// Most items one `like` or `gift` message may carry.
pub const MAX_COUNT: u32 = 99;

/// What a member sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    Join { name: String },
    Comment { text: String },
    Like { count: u32 },
    Gift { kind: String, count: u32 },
}

/// One stored comment, as broadcast and as replayed in `welcome`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    /// Increasing per server (a database counter), so clients can de-duplicate.
    pub id: u64,
    pub from: String,
    pub text: String,
    /// Unix time in milliseconds.
    pub at: u64,
}

/// What the server sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    Welcome {
        /// The display name the server accepted for this member.
        you: String,
        viewers: u32,
        /// The last [`RECENT_COMMENTS`] comments, oldest first.
        recent: Vec<Comment>,
        version: u32,
    },
    Comment(Comment),
    /// Likes coalesced over one server tick.
    Likes {
        delta: u64,
        total: u64,
    },
    Gift {
        from: String,
        kind: String,
        count: u32,
    },
    Viewers {
        count: u32,
    },
    /// The room was closed by its owner; the server closes the connection next.
    Closed,
    Error {
        code: ErrorCode,
        message: String,
    },
}

/// Machine-readable reason in an `error` message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON, or not one of the [`ClientMessage`] shapes.
    BadMessage,
    /// Larger than [`MAX_MESSAGE_BYTES`].
    TooLarge,
    /// Too many messages of this kind; slow down.
    RateLimited,
    BadName,
    BadComment,
    BadGift,
    /// `join` must come first (and only once).
    NotJoined,
    AlreadyJoined,
}

/// Why a name, comment or gift was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChatError {
    #[error("display names are 1-{MAX_NAME_CHARS} characters without control characters")]
    BadName,
    #[error("comments are 1-{MAX_COMMENT_CHARS} characters")]
    BadComment,
    #[error("unknown gift {0:?}; the catalogue is rose, heart, star, rocket")]
    UnknownGift(String),
    #[error("count must be 1-{MAX_COUNT}")]
    BadCount,
}

impl ChatError {
    pub fn code(&self) -> ErrorCode {
        match self {
            ChatError::BadName => ErrorCode::BadName,
            ChatError::BadComment => ErrorCode::BadComment,
            ChatError::UnknownGift(_) | ChatError::BadCount => ErrorCode::BadGift,
        }
    }
}

/// The trimmed display name, if acceptable.
pub fn check_name(name: &str) -> Result<&str, ChatError> {
    let name = name.trim();
    let chars = name.chars().count();
    if (1..=MAX_NAME_CHARS).contains(&chars) && !name.chars().any(char::is_control) {
        Ok(name)
    } else {
        Err(ChatError::BadName)
    }
}

/// The trimmed comment, if acceptable. Newlines and tabs are allowed; other controls are not.
pub fn check_comment(text: &str) -> Result<&str, ChatError> {
    let text = text.trim();
    let chars = text.chars().count();
    let bad_control = text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t');
    if (1..=MAX_COMMENT_CHARS).contains(&chars) && !bad_control {
        Ok(text)
    } else {
        Err(ChatError::BadComment)
    }
}

/// Checks a gift against the catalogue and the count limit.
pub fn check_gift(kind: &str, count: u32) -> Result<(), ChatError> {
    if !GIFTS.contains(&kind) {
        return Err(ChatError::UnknownGift(kind.chars().take(32).collect()));
    }
    if !(1..=MAX_COUNT).contains(&count) {
        return Err(ChatError::BadCount);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(json: &str) -> ClientMessage {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn client_messages_parse() {
        assert_eq!(
            client(r#"{"type":"join","name":"ann"}"#),
            ClientMessage::Join { name: "ann".into() }
        );
        assert_eq!(
            client(r#"{"type":"comment","text":"hi"}"#),
            ClientMessage::Comment { text: "hi".into() }
        );
        assert_eq!(
            client(r#"{"type":"like","count":3}"#),
            ClientMessage::Like { count: 3 }
        );
        assert_eq!(
            client(r#"{"count":2,"kind":"rose","type":"gift"}"#),
            ClientMessage::Gift {
                kind: "rose".into(),
                count: 2
            }
        );
        assert_eq!(
            serde_json::to_string(&ClientMessage::Like { count: 1 }).unwrap(),
            r#"{"type":"like","count":1}"#
        );
        for bad in [
            r#"{"type":"nope"}"#,
            r#"{"name":"x"}"#,
            r#"{"type":"like","count":-1}"#,
            r#"{"type":"comment"}"#,
            "[]",
        ] {
            assert!(serde_json::from_str::<ClientMessage>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn server_messages_serialize_exactly() {
        let c = Comment {
            id: 7,
            from: "ann".into(),
            text: "<b>hi</b>".into(),
            at: 1000,
        };
        let cases = [
            (
                ServerMessage::Welcome {
                    you: "bob".into(),
                    viewers: 2,
                    recent: vec![c.clone()],
                    version: PROTOCOL_VERSION,
                },
                r#"{"type":"welcome","you":"bob","viewers":2,"recent":[{"id":7,"from":"ann","text":"<b>hi</b>","at":1000}],"version":1}"#,
            ),
            (
                ServerMessage::Comment(c),
                r#"{"type":"comment","id":7,"from":"ann","text":"<b>hi</b>","at":1000}"#,
            ),
            (
                ServerMessage::Likes {
                    delta: 5,
                    total: 12,
                },
                r#"{"type":"likes","delta":5,"total":12}"#,
            ),
            (
                ServerMessage::Gift {
                    from: "ann".into(),
                    kind: "rocket".into(),
                    count: 1,
                },
                r#"{"type":"gift","from":"ann","kind":"rocket","count":1}"#,
            ),
            (
                ServerMessage::Viewers { count: 3 },
                r#"{"type":"viewers","count":3}"#,
            ),
            (ServerMessage::Closed, r#"{"type":"closed"}"#),
            (
                ServerMessage::Error {
                    code: ErrorCode::RateLimited,
                    message: "slow down".into(),
                },
                r#"{"type":"error","code":"rate_limited","message":"slow down"}"#,
            ),
        ];
        for (msg, json) in cases {
            assert_eq!(serde_json::to_string(&msg).unwrap(), json);
            assert_eq!(serde_json::from_str::<ServerMessage>(json).unwrap(), msg);
        }
    }

    #[test]
    fn limits() {
        assert_eq!(check_name("  ann "), Ok("ann"));
        assert_eq!(check_name(&"é".repeat(32)), Ok("é".repeat(32).as_str()));
        for bad in ["", "   ", "a\u{0}b", &"x".repeat(33)] {
            assert_eq!(check_name(bad), Err(ChatError::BadName), "{bad:?}");
        }
        assert_eq!(check_comment(" a\nb "), Ok("a\nb"));
        assert!(check_comment(&"x".repeat(300)).is_ok());
        assert_eq!(check_comment(&"x".repeat(301)), Err(ChatError::BadComment));
        assert_eq!(check_comment(" "), Err(ChatError::BadComment));
        assert_eq!(check_gift("rose", 1), Ok(()));
        assert_eq!(check_gift("rose", 0), Err(ChatError::BadCount));
        assert_eq!(
            check_gift("car", 1).map_err(|e| e.code()),
            Err(ErrorCode::BadGift)
        );
    }
}
