//! Password hashing: argon2id with the crate's default (OWASP-recommended) cost, a random
//! salt per password, stored as a PHC string (`$argon2id$v=19$m=…`).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::secret::{RandomError, random_bytes};

/// Shortest and longest passwords accepted (the cap bounds the hashing work per request).
pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error(transparent)]
    Random(#[from] RandomError),
    #[error("password hashing failed: {0}")]
    Argon2(String),
}

pub fn hash(password: &str) -> Result<String, HashError> {
    let salt = SaltString::encode_b64(&random_bytes::<16>()?)
        .map_err(|e| HashError::Argon2(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError::Argon2(e.to_string()))
}

/// Checks `password` against a stored PHC string; an unreadable hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// `None` if the password is acceptable, else why not.
pub fn weakness(password: &str) -> Option<String> {
    let n = password.chars().count();
    if n < MIN_LEN {
        Some(format!(
            "the password must have at least {MIN_LEN} characters"
        ))
    } else if password.len() > MAX_LEN {
        Some(format!("the password must have at most {MAX_LEN} bytes"))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let h = hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify("correct horse", &h));
        assert!(!verify("correct horsE", &h));
        assert!(!verify("correct horse", "not a hash"));
        assert_ne!(h, hash("correct horse").unwrap(), "salted");
        assert!(weakness("short").is_some());
        assert!(weakness(&"x".repeat(257)).is_some());
        assert!(weakness("long enough").is_none());
    }
}
