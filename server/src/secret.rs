//! Secrets from the OS RNG and what is done with them: URL-safe encoding, SHA-256 for
//! stored tokens (only hashes are kept), HMAC-SHA256 for signed play tokens.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The OS random number generator failed (no entropy source): nothing secret can be made.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the OS random number generator failed: {0}")]
pub struct RandomError(pub String);

pub fn random_bytes<const N: usize>() -> Result<[u8; N], RandomError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| RandomError(e.to_string()))?;
    Ok(bytes)
}

/// 192 bits as 32 URL-safe base64 characters: stream keys, session and link tokens.
pub fn random_token() -> Result<String, RandomError> {
    Ok(base64url(&random_bytes::<24>()?))
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Compares two byte strings without leaking where they differ.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const B64_STD: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Base64url without padding (RFC 4648 §5).
pub fn base64url(bytes: &[u8]) -> String {
    encode(bytes, B64)
}

/// Standard base64 with padding (RFC 4648 §4), as CSP hash sources are written.
pub fn base64(bytes: &[u8]) -> String {
    let mut out = encode(bytes, B64_STD);
    while !out.len().is_multiple_of(4) {
        out.push('=');
    }
    out
}

fn encode(bytes: &[u8], alphabet: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..chunk.len() + 1 {
            out.push(alphabet[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// Decodes unpadded base64url; `None` for any other character or an impossible length.
pub fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for chunk in text.as_bytes().chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            let v = B64.iter().position(|b| b == c)? as u32;
            n |= v << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_matches_rfc4648() {
        assert_eq!(base64url(b"foob"), "Zm9vYg");
        assert_eq!(base64url(b"\xfb\xff"), "-_8");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"\xfb\xff"), "+/8=");
        for s in [
            &b""[..],
            b"f",
            b"fo",
            b"foo",
            b"foob",
            b"fooba",
            b"foobar",
            b"\xfb\xff",
        ] {
            assert_eq!(base64url_decode(&base64url(s)).as_deref(), Some(s));
        }
        assert_eq!(base64url_decode("Zm9v!g"), None);
        assert_eq!(base64url_decode("Z"), None);
    }

    #[test]
    fn hmac_rfc4231_case_2() {
        let mac = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            mac[..4],
            [0x5b, 0xdc, 0xc1, 0x46],
            "RFC 4231 test case 2 starts 5bdcc146"
        );
        assert!(same(
            &mac,
            &hmac_sha256(b"Jefe", &[b"what do ya want for nothing?"])
        ));
        assert!(!same(&mac, &sha256(b"x")));
    }
}
