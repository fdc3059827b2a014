//! The RTMP handshake, server side: C0+C1 → S0+S1+S2, then C2.
//!
//! Two forms exist in the wild. The plain one (spec) has a zero "version" field in C1 and
//! the server echoes C1 as S2. The digest ("complex") form, used by Flash Player, FMS-style
//! clients and ffmpeg, hides an HMAC-SHA256 digest in C1 at an offset derived from four
//! bytes of the packet; the server answers with its own digest in S1 and signs S2 with a key
//! derived from the client's digest. ffmpeg (when playing) checks both and aborts with
//! "Server response validating failed" / "Signature mismatch" if they are wrong, so this
//! follows ffmpeg's `rtmpproto.c` and nginx-rtmp's `ngx_rtmp_handshake.c` exactly.
//!
//! We do not validate C2: clients differ in what they put there and nothing depends on it.

use bytes::{Buf, BufMut, BytesMut};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::RtmpError;

/// Size of C1, C2, S1 and S2.
pub const HANDSHAKE_SIZE: usize = 1536;
/// Number of caller-provided random bytes that fill S1 (everything after time and version).
pub const HANDSHAKE_RANDOM_LEN: usize = HANDSHAKE_SIZE - 8;
/// The only RTMP version we speak (C0/S0). RTMPE (6) and others are rejected.
pub const RTMP_VERSION: u8 = 3;

/// The 32 bytes shared by the tails of both keys.
const KEY_TAIL: [u8; 32] = [
    0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0, 0xD1, 0x02, 0x9E, 0x7E, 0x57,
    0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80, 0x6F, 0xAB, 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE,
];
/// "Genuine Adobe Flash Player 001": keys the client's digest in C1 (and C2).
pub const CLIENT_KEY_TEXT: &[u8; 30] = b"Genuine Adobe Flash Player 001";
/// "Genuine Adobe Flash Media Server 001": keys the server's digest in S1.
pub const SERVER_KEY_TEXT: &[u8; 36] = b"Genuine Adobe Flash Media Server 001";
/// Version field we put in a digest-form S1. Its first byte must be ≥ 3 for clients to
/// expect (and check) a digest; these are nginx-rtmp's bytes.
const SERVER_VERSION: [u8; 4] = [0x0D, 0x0E, 0x0A, 0x0D];

/// The server key with its 32-byte tail (68 bytes), which keys the S2 signature key.
pub fn server_full_key() -> [u8; 68] {
    let mut key = [0u8; 68];
    key[..36].copy_from_slice(SERVER_KEY_TEXT);
    key[36..].copy_from_slice(&KEY_TAIL);
    key
}

/// The client key with its 32-byte tail (62 bytes), which keys a client's C2 signature.
pub fn client_full_key() -> [u8; 62] {
    let mut key = [0u8; 62];
    key[..30].copy_from_slice(CLIENT_KEY_TEXT);
    key[30..].copy_from_slice(&KEY_TAIL);
    key
}

/// Where the digest sits in a 1536-byte C1/S1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestSchema {
    /// Digest offset computed from bytes 772..776 (key block first, then digest block).
    Schema0,
    /// Digest offset computed from bytes 8..12 (digest block first); what ffmpeg sends.
    Schema1,
}

impl DigestSchema {
    /// Offset of the 32-byte digest within `packet` (1536 bytes) for this schema.
    /// Always ≤ 1504, so the digest fits.
    pub fn digest_offset(self, packet: &[u8]) -> Option<usize> {
        let base = match self {
            Self::Schema0 => 772,
            Self::Schema1 => 8,
        };
        let bytes = packet.get(base..base + 4)?;
        let sum: usize = bytes.iter().map(|&b| usize::from(b)).sum();
        Some(sum % 728 + base + 4)
    }
}

/// HMAC-SHA256 of the concatenation of `parts`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this never fails.
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => return [0; 32],
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// The digest of a 1536-byte packet: HMAC over everything except the 32 bytes at `offset`.
pub fn packet_digest(packet: &[u8], offset: usize, key: &[u8]) -> Option<[u8; 32]> {
    let before = packet.get(..offset)?;
    let after = packet.get(offset.checked_add(32)?..)?;
    Some(hmac_sha256(key, &[before, after]))
}

/// Looks for a valid client digest in C1 (schema 1 first, as ffmpeg and Flash send it,
/// then schema 0). Returns the schema and the digest.
pub fn find_client_digest(c1: &[u8]) -> Option<(DigestSchema, [u8; 32])> {
    [DigestSchema::Schema1, DigestSchema::Schema0]
        .into_iter()
        .find_map(|schema| {
            let offset = schema.digest_offset(c1)?;
            let expected = packet_digest(c1, offset, CLIENT_KEY_TEXT)?;
            let found = c1.get(offset..offset + 32)?;
            (found == expected.as_slice()).then_some((schema, expected))
        })
}

/// Writes S0, S1 and S2 answering `c1` (1536 bytes) into `out`. Returns whether the digest
/// form was used. `random` fills S1.
pub fn write_server_response(
    c1: &[u8],
    random: &[u8; HANDSHAKE_RANDOM_LEN],
    out: &mut BytesMut,
) -> bool {
    out.reserve(1 + 2 * HANDSHAKE_SIZE);
    out.put_u8(RTMP_VERSION);
    let client_version = c1.get(4..8).unwrap_or(&[0; 4]);
    let digest = if client_version == [0; 4] {
        None
    } else {
        find_client_digest(c1)
    };
    let Some((schema, client_digest)) = digest else {
        // Plain form: S1 = time 0, zero version, random; S2 = echo of C1.
        out.put_u32(0);
        out.put_u32(0);
        out.put_slice(random);
        out.put_slice(c1);
        return false;
    };

    // S1: time 0, our version, random, with our digest placed by the client's schema.
    let mut s1 = [0u8; HANDSHAKE_SIZE];
    s1[4..8].copy_from_slice(&SERVER_VERSION);
    s1[8..].copy_from_slice(random);
    if let Some(offset) = schema.digest_offset(&s1)
        && let Some(d) = packet_digest(&s1, offset, SERVER_KEY_TEXT)
    {
        s1[offset..offset + 32].copy_from_slice(&d);
    }
    out.put_slice(&s1);

    // S2: any 1504 bytes (we reuse C1's) signed with a key derived from the client digest.
    let key = hmac_sha256(&server_full_key(), &[&client_digest]);
    let body = c1.get(..HANDSHAKE_SIZE - 32).unwrap_or(&[]);
    let signature = hmac_sha256(&key, &[body]);
    out.put_slice(body);
    out.put_slice(&signature);
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for C0 and C1.
    C0C1,
    /// S0/S1/S2 sent; waiting for C2.
    C2,
    /// Handshake complete.
    Done,
}

/// Server handshake state machine. Feed it the connection's input buffer; it consumes C0,
/// C1 and C2 and leaves whatever follows (usually the `connect` chunk) in the buffer.
#[derive(Debug)]
pub struct Handshake {
    state: State,
    /// S1's random bytes; released once S1 is written.
    random: Option<Box<[u8; HANDSHAKE_RANDOM_LEN]>>,
    digest: bool,
}

impl Handshake {
    /// A new handshake whose S1 carries `random` (the caller's randomness: this crate has none).
    pub fn new(random: &[u8; HANDSHAKE_RANDOM_LEN]) -> Self {
        Self {
            state: State::C0C1,
            random: Some(Box::new(*random)),
            digest: false,
        }
    }

    /// Advances the handshake with what `input` holds, writing S0+S1+S2 into `out` once C1 is
    /// complete. Returns `Ok(true)` once C2 has been consumed; `Ok(false)` means "need more".
    pub fn process(&mut self, input: &mut BytesMut, out: &mut BytesMut) -> Result<bool, RtmpError> {
        if self.state == State::C0C1 {
            // Check C0 as soon as it arrives so garbage is rejected early.
            let Some(&version) = input.first() else {
                return Ok(false);
            };
            if version != RTMP_VERSION {
                return Err(RtmpError::BadHandshakeVersion(version));
            }
            if input.len() < 1 + HANDSHAKE_SIZE {
                return Ok(false);
            }
            input.advance(1);
            let c1 = input.split_to(HANDSHAKE_SIZE);
            let random = self
                .random
                .take()
                .unwrap_or_else(|| Box::new([0; HANDSHAKE_RANDOM_LEN]));
            self.digest = write_server_response(&c1, &random, out);
            self.state = State::C2;
        }
        if self.state == State::C2 {
            if input.len() < HANDSHAKE_SIZE {
                return Ok(false);
            }
            input.advance(HANDSHAKE_SIZE);
            self.state = State::Done;
        }
        Ok(true)
    }

    /// True once C2 has been received.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// True if the client used the digest form (and we answered with one).
    pub fn used_digest(&self) -> bool {
        self.digest
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn pattern(seed: u8) -> [u8; HANDSHAKE_RANDOM_LEN] {
        let mut r = [0u8; HANDSHAKE_RANDOM_LEN];
        for (i, b) in r.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(31).wrapping_add(seed);
        }
        r
    }

    /// A digest-form C1 the way ffmpeg builds it (schema 1, version 9.0.124.2).
    fn client_c1(schema: DigestSchema) -> [u8; HANDSHAKE_SIZE] {
        let mut c1 = [0u8; HANDSHAKE_SIZE];
        c1[4..8].copy_from_slice(&[9, 0, 124, 2]);
        c1[8..].copy_from_slice(&pattern(7));
        let offset = schema.digest_offset(&c1).unwrap();
        let d = packet_digest(&c1, offset, CLIENT_KEY_TEXT).unwrap();
        c1[offset..offset + 32].copy_from_slice(&d);
        c1
    }

    /// Verifies S1 and S2 as ffmpeg's client does (`rtmp_handshake` with `is_input`).
    fn ffmpeg_verify(c1: &[u8], s1: &[u8], s2: &[u8]) -> bool {
        assert!(s1[4] >= 3, "ffmpeg only checks digests when S1 version ≥ 3");
        let server_ok = [DigestSchema::Schema0, DigestSchema::Schema1]
            .into_iter()
            .any(|schema| {
                let off = schema.digest_offset(s1).unwrap();
                packet_digest(s1, off, SERVER_KEY_TEXT).unwrap()[..] == s1[off..off + 32]
            });
        let (_, client_digest) = find_client_digest(c1).unwrap();
        let key = hmac_sha256(&server_full_key(), &[&client_digest]);
        let signature = hmac_sha256(&key, &[&s2[..HANDSHAKE_SIZE - 32]]);
        server_ok && signature[..] == s2[HANDSHAKE_SIZE - 32..]
    }

    fn run(c0c1: &[u8]) -> (Handshake, BytesMut) {
        let mut hs = Handshake::new(&pattern(1));
        let mut input = BytesMut::from(c0c1);
        let mut out = BytesMut::new();
        assert!(!hs.process(&mut input, &mut out).unwrap());
        (hs, out)
    }

    #[test]
    fn plain_form_echoes_c1() {
        let mut c0c1 = vec![3u8];
        c0c1.extend_from_slice(&[0, 0, 0, 5, 0, 0, 0, 0]);
        c0c1.extend(std::iter::repeat_n(0xAB, HANDSHAKE_SIZE - 8));
        let (hs, out) = run(&c0c1);
        assert!(!hs.used_digest());
        assert_eq!(out.len(), 1 + 2 * HANDSHAKE_SIZE);
        assert_eq!(out[0], 3);
        assert_eq!(&out[5..9], &[0, 0, 0, 0]);
        assert_eq!(&out[9..1 + HANDSHAKE_SIZE], &pattern(1)[..]);
        assert_eq!(&out[1 + HANDSHAKE_SIZE..], &c0c1[1..]);
    }

    #[test]
    fn digest_form_both_schemas_pass_ffmpeg_checks() {
        for schema in [DigestSchema::Schema0, DigestSchema::Schema1] {
            let c1 = client_c1(schema);
            assert_eq!(find_client_digest(&c1).unwrap().0, schema);
            let mut c0c1 = vec![3u8];
            c0c1.extend_from_slice(&c1);
            let (hs, out) = run(&c0c1);
            assert!(hs.used_digest());
            let s1 = &out[1..1 + HANDSHAKE_SIZE];
            let s2 = &out[1 + HANDSHAKE_SIZE..];
            assert!(ffmpeg_verify(&c1, s1, s2), "{schema:?}");
        }
    }

    #[test]
    fn nonzero_version_without_digest_falls_back_to_plain() {
        let mut c1 = client_c1(DigestSchema::Schema1);
        c1[100] ^= 0xFF; // corrupt: the digest no longer matches
        c1[1000] ^= 0xFF;
        let mut c0c1 = vec![3u8];
        c0c1.extend_from_slice(&c1);
        let (hs, out) = run(&c0c1);
        assert!(!hs.used_digest());
        assert_eq!(&out[1 + HANDSHAKE_SIZE..], &c1[..]);
    }

    #[test]
    fn garbage_c0_is_an_error_at_once() {
        let mut hs = Handshake::new(&pattern(0));
        let mut out = BytesMut::new();
        let err = hs.process(&mut BytesMut::from(&b"GET / HTTP/1.1\r\n"[..]), &mut out);
        assert!(matches!(err, Err(RtmpError::BadHandshakeVersion(b'G'))));
        assert!(out.is_empty());
    }

    #[test]
    fn byte_by_byte_then_c2_leaves_leftovers() {
        let mut hs = Handshake::new(&pattern(0));
        let mut input = BytesMut::new();
        let mut out = BytesMut::new();
        let mut all = vec![3u8];
        all.extend(std::iter::repeat_n(1u8, HANDSHAKE_SIZE * 2));
        all.extend_from_slice(b"rest");
        for (i, b) in all.iter().enumerate() {
            input.put_u8(*b);
            let done = hs.process(&mut input, &mut out).unwrap();
            assert_eq!(done, i >= HANDSHAKE_SIZE * 2, "at byte {i}");
            if done {
                break;
            }
        }
        assert!(hs.is_done());
        assert!(input.is_empty());
        assert_eq!(out.len(), 1 + 2 * HANDSHAKE_SIZE);
        input.put_slice(b"rest");
        assert!(hs.process(&mut input, &mut out).unwrap());
        assert_eq!(&input[..], b"rest");
    }
}
