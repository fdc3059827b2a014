//! Signed play tokens for private rooms: `EXPIRES.VIEWER.SIGNATURE`, where EXPIRES is Unix
//! seconds, VIEWER an optional base64url viewer id, and SIGNATURE the base64url
//! HMAC-SHA256 of room, expiry and viewer under the server's secret. Sans-IO: the secret
//! and the time are passed in. Nothing is stored per token; rotating the secret (deleting
//! it from the database) revokes every token.

use crate::secret::{base64url, base64url_decode, hmac_sha256, same};

/// Longest accepted token (the signature alone is 43 characters).
pub const MAX_TOKEN_LEN: usize = 256;
/// Longest viewer id.
pub const MAX_VIEWER_LEN: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("this room is private: add the token you were given (?token=…)")]
    Missing,
    #[error("this link has expired: ask the streamer for a new one")]
    Expired,
    #[error("this token is not valid for this room")]
    Invalid,
}

fn signature(secret: &[u8], room: &str, expires: u64, viewer: &str) -> [u8; 32] {
    hmac_sha256(
        secret,
        &[
            b"onair-play-v1\0",
            room.as_bytes(),
            b"\0",
            expires.to_string().as_bytes(),
            b"\0",
            viewer.as_bytes(),
        ],
    )
}

pub fn sign(secret: &[u8], room: &str, expires: u64, viewer: Option<&str>) -> String {
    let viewer = viewer.unwrap_or("");
    format!(
        "{expires}.{}.{}",
        base64url(viewer.as_bytes()),
        base64url(&signature(secret, room, expires, viewer))
    )
}

/// Checks `token` for `room` at `now` (Unix seconds); returns the viewer id it names.
pub fn verify(
    secret: &[u8],
    room: &str,
    token: &str,
    now: u64,
) -> Result<Option<String>, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Invalid);
    }
    let mut parts = token.split('.');
    let (Some(expires), Some(viewer), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Invalid);
    };
    let expires: u64 = expires.parse().map_err(|_| TokenError::Invalid)?;
    let viewer = base64url_decode(viewer)
        .and_then(|v| String::from_utf8(v).ok())
        .ok_or(TokenError::Invalid)?;
    let sig = base64url_decode(sig).ok_or(TokenError::Invalid)?;
    if !same(&sig, &signature(secret, room, expires, &viewer)) {
        return Err(TokenError::Invalid);
    }
    // Checked after the signature, so "expired" is only said of a genuine token.
    if now >= expires {
        return Err(TokenError::Expired);
    }
    Ok((!viewer.is_empty()).then_some(viewer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_expire_forge() {
        let secret = [7u8; 32];
        let t = sign(&secret, "room1", 1_000, Some("ann"));
        assert_eq!(verify(&secret, "room1", &t, 999), Ok(Some("ann".into())));
        assert_eq!(
            verify(&secret, "room1", &t, 1_000),
            Err(TokenError::Expired)
        );
        assert_eq!(
            verify(&secret, "room2", &t, 10),
            Err(TokenError::Invalid),
            "other room"
        );
        assert_eq!(
            verify(&[8u8; 32], "room1", &t, 10),
            Err(TokenError::Invalid),
            "other secret"
        );
        // A later expiry with the old signature is a forgery.
        let forged = t.replacen("1000", "9000", 1);
        assert_eq!(
            verify(&secret, "room1", &forged, 10),
            Err(TokenError::Invalid)
        );
        let anon = sign(&secret, "room1", 50, None);
        assert_eq!(verify(&secret, "room1", &anon, 10), Ok(None));
        for bad in ["", "1.2", "x.y.z", "1..", "1.a.b.c", &"9".repeat(300)] {
            assert_eq!(
                verify(&secret, "room1", bad, 10),
                Err(TokenError::Invalid),
                "{bad}"
            );
        }
        assert!(
            t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
            "URL-safe: {t}"
        );
    }
}
