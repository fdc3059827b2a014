//! The chunk writer: message → chunks, appended into a caller's `BytesMut`.
//!
//! [`write_message`] keeps no state: the first chunk carries a full (type-0) header and the
//! rest are type-3 continuations, so the bytes are valid whatever was sent before on that
//! chunk stream. That is what lets the server chunk a media message once per chunk size and
//! hand the same `Bytes` to every viewer. We never compress headers (types 1/2): a few bytes
//! per message is not worth per-connection state that shared bytes could desynchronize.

use bytes::{BufMut, BytesMut};

use super::message::{CSID_PROTOCOL_CONTROL, msg_type};

/// The chunk size both sides start with.
pub const DEFAULT_CHUNK_SIZE: u32 = 128;
/// Largest message length a chunk header can express (24 bits).
pub const MAX_MESSAGE_LEN: usize = 0xFF_FFFF;
/// Timestamps at or above this value go into the 4-byte extended timestamp field.
const EXTENDED: u32 = 0xFF_FFFF;
/// Largest chunk stream id (3-byte basic header).
pub const MAX_CSID: u32 = 65_599;

/// The header fields of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageHeader {
    /// Chunk stream id, 2..=65599 (values outside are clamped).
    pub csid: u32,
    /// Absolute timestamp in ms.
    pub timestamp: u32,
    /// Message type id.
    pub type_id: u8,
    /// Message stream id.
    pub stream_id: u32,
}

fn put_basic_header(out: &mut BytesMut, fmt: u8, csid: u32) {
    let csid = csid.clamp(2, MAX_CSID);
    let fmt = fmt << 6;
    if csid < 64 {
        out.put_u8(fmt | csid as u8);
    } else if csid < 320 {
        out.put_u8(fmt);
        out.put_u8((csid - 64) as u8);
    } else {
        let rest = csid - 64;
        out.put_u8(fmt | 1);
        out.put_u8((rest & 0xFF) as u8);
        out.put_u8((rest >> 8) as u8);
    }
}

/// Number of bytes [`write_message`] appends for a payload of `len` bytes.
pub fn chunked_len(header: &MessageHeader, len: usize, chunk_size: u32) -> usize {
    let chunk_size = chunk_size.max(1) as usize;
    let basic = match header.csid.clamp(2, MAX_CSID) {
        2..=63 => 1,
        64..=319 => 2,
        _ => 3,
    };
    let ext = if header.timestamp >= EXTENDED { 4 } else { 0 };
    let chunks = len.div_ceil(chunk_size).max(1);
    basic + 11 + ext + (chunks - 1) * (basic + ext) + len
}

/// Appends `payload` as a self-contained chunked message: a type-0 header, then type-3
/// continuation chunks every `chunk_size` bytes, repeating the extended timestamp on each
/// continuation when the timestamp is ≥ 0xFFFFFF (as ffmpeg and OBS expect).
///
/// A payload longer than 16 MiB − 1 cannot be expressed in RTMP and is not written; the
/// reader's message limit keeps real messages far below that.
pub fn write_message(out: &mut BytesMut, header: &MessageHeader, payload: &[u8], chunk_size: u32) {
    if payload.len() > MAX_MESSAGE_LEN {
        return;
    }
    let chunk_size = chunk_size.max(1) as usize;
    out.reserve(chunked_len(header, payload.len(), chunk_size as u32));
    let extended = header.timestamp >= EXTENDED;
    put_basic_header(out, 0, header.csid);
    let ts_field = header.timestamp.min(EXTENDED);
    out.put_uint(u64::from(ts_field), 3);
    out.put_uint(payload.len() as u64, 3);
    out.put_u8(header.type_id);
    out.put_u32_le(header.stream_id);
    if extended {
        out.put_u32(header.timestamp);
    }
    let mut chunks = payload.chunks(chunk_size);
    if let Some(first) = chunks.next() {
        out.put_slice(first);
    }
    for chunk in chunks {
        put_basic_header(out, 3, header.csid);
        if extended {
            out.put_u32(header.timestamp);
        }
        out.put_slice(chunk);
    }
}

/// Per-connection writer: remembers the chunk size we announced to the peer.
#[derive(Debug, Clone)]
pub struct ChunkWriter {
    chunk_size: u32,
}

impl Default for ChunkWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkWriter {
    /// A writer using the initial chunk size of 128.
    pub fn new() -> Self {
        Self {
            chunk_size: DEFAULT_CHUNK_SIZE,
        }
    }

    /// The chunk size outgoing messages are split at.
    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    /// Appends one message, chunked at the current chunk size.
    pub fn write(&self, out: &mut BytesMut, header: &MessageHeader, payload: &[u8]) {
        write_message(out, header, payload, self.chunk_size);
    }

    /// Sends Set Chunk Size (clamped to 1..=0x7FFFFFFF) and uses it from now on.
    pub fn set_chunk_size(&mut self, out: &mut BytesMut, size: u32) {
        let size = size.clamp(1, 0x7FFF_FFFF);
        self.control(out, msg_type::SET_CHUNK_SIZE, &size.to_be_bytes());
        self.chunk_size = size;
    }

    /// Appends a protocol control message (chunk stream 2, message stream 0, timestamp 0).
    pub fn control(&self, out: &mut BytesMut, type_id: u8, payload: &[u8]) {
        let header = MessageHeader {
            csid: CSID_PROTOCOL_CONTROL,
            timestamp: 0,
            type_id,
            stream_id: 0,
        };
        self.write(out, &header, payload);
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn header(csid: u32, timestamp: u32) -> MessageHeader {
        MessageHeader {
            csid,
            timestamp,
            type_id: 9,
            stream_id: 1,
        }
    }

    #[test]
    fn single_chunk_type0_header() {
        let mut out = BytesMut::new();
        write_message(&mut out, &header(6, 0x01_0203), b"abc", 128);
        assert_eq!(
            &out[..],
            &[6, 1, 2, 3, 0, 0, 3, 9, 1, 0, 0, 0, b'a', b'b', b'c']
        );
    }

    #[test]
    fn continuation_chunks_and_extended_timestamp() {
        let mut out = BytesMut::new();
        let h = header(4, 0x0100_0000);
        write_message(&mut out, &h, b"abcde", 2);
        assert_eq!(out.len(), chunked_len(&h, 5, 2));
        let mut expected = vec![4, 0xFF, 0xFF, 0xFF, 0, 0, 5, 9, 1, 0, 0, 0, 1, 0, 0, 0];
        expected.extend_from_slice(b"ab");
        expected.extend_from_slice(&[0xC4, 1, 0, 0, 0, b'c', b'd']);
        expected.extend_from_slice(&[0xC4, 1, 0, 0, 0, b'e']);
        assert_eq!(&out[..], &expected[..]);
    }

    #[test]
    fn two_and_three_byte_basic_headers() {
        let mut out = BytesMut::new();
        write_message(&mut out, &header(64 + 200, 0), b"", 128);
        assert_eq!(&out[..2], &[0, 200]);
        assert_eq!(out.len(), chunked_len(&header(264, 0), 0, 128));
        out.clear();
        write_message(&mut out, &header(64 + 0x1234, 0), b"x", 128);
        assert_eq!(&out[..3], &[1, 0x34, 0x12]);
    }

    #[test]
    fn writer_switches_chunk_size_after_announcing_it() {
        let mut w = ChunkWriter::new();
        let mut out = BytesMut::new();
        w.set_chunk_size(&mut out, 4096);
        assert_eq!(&out[..], &[2, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0, 16, 0]);
        assert_eq!(w.chunk_size(), 4096);
    }
}
