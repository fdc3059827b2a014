//! A client-side RTMP chunk scanner that does not copy media.
//!
//! `onair_shared::rtmp::ChunkReader` reassembles every message (one copy per multi-chunk
//! message, plus an allocation): right for a server, too heavy for a thousand viewers
//! sharing two cores with the server they measure. This scanner follows the same header
//! rules (ffmpeg's for type-3 timestamps, SRS's for the repeated extended timestamp) but
//! only reassembles control and command messages; audio/video payloads are skipped, keeping
//! their header, length and first two bytes (enough to tell a key frame).

use crate::media::{AUDIO, VIDEO};
use onair_shared::rtmp::message::msg_type;

const EXTENDED: u32 = 0xFF_FFFF;
const MAX_CHUNK_STREAMS: usize = 64;
const MAX_CHUNK_SIZE: u32 = 1 << 24;

/// A message the scanner finished.
#[derive(Debug, Clone, PartialEq)]
pub enum Raw {
    /// A reassembled non-media message.
    Message {
        /// Message type id.
        type_id: u8,
        /// Message stream id.
        stream_id: u32,
        /// Timestamp, ms.
        timestamp: u32,
        /// The payload.
        payload: Vec<u8>,
    },
    /// An audio or video message whose payload was skipped.
    Media {
        /// 8 audio, 9 video.
        type_id: u8,
        /// Timestamp, ms.
        timestamp: u32,
        /// Payload length.
        len: u32,
        /// First two payload bytes (zeros where the payload is shorter).
        first: [u8; 2],
    },
}

/// Chunk-level protocol violations by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanError {
    /// A compressed header on a chunk stream that never had a full one.
    MissingPreviousHeader(u32),
    /// More chunk streams than any server uses.
    TooManyChunkStreams,
    /// Set Chunk Size of 0 or absurdly large.
    BadChunkSize(u32),
}

impl std::fmt::Display for ScanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::MissingPreviousHeader(csid) => {
                write!(
                    f,
                    "RTMP: compressed chunk header on new chunk stream {csid}"
                )
            }
            Self::TooManyChunkStreams => {
                write!(f, "RTMP: more than {MAX_CHUNK_STREAMS} chunk streams")
            }
            Self::BadChunkSize(size) => write!(f, "RTMP: server set chunk size {size}"),
        }
    }
}

impl std::error::Error for ScanError {}

#[derive(Debug, Default)]
struct ChunkStream {
    csid: u32,
    timestamp: u32,
    ts_field: u32,
    extended: bool,
    len: u32,
    type_id: u8,
    stream_id: u32,
    /// Bytes of the current message still to come (0: between messages).
    left: u32,
    skipping: bool,
    body: Vec<u8>,
    first: [u8; 2],
    peeked: usize,
}

/// See the module docs.
#[derive(Debug)]
pub struct ChunkScanner {
    chunk_size: u32,
    streams: Vec<ChunkStream>,
    /// Inside a chunk's payload: (stream index, payload bytes left in this chunk).
    current: Option<(usize, u32)>,
    skip_media: bool,
}

fn be24(b: &[u8]) -> u32 {
    b.iter()
        .take(3)
        .fold(0, |acc, &x| (acc << 8) | u32::from(x))
}

fn be32(b: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(..4)?.try_into().ok()?))
}

impl ChunkScanner {
    /// A scanner at chunk size 128; `skip_media` skips audio/video payloads.
    pub fn new(skip_media: bool) -> Self {
        Self {
            chunk_size: 128,
            streams: Vec::new(),
            current: None,
            skip_media,
        }
    }

    /// Scans `data`, appending finished messages to `out`; returns how many bytes were
    /// consumed (the rest is an incomplete chunk header: pass it again with more bytes).
    pub fn scan(&mut self, data: &[u8], out: &mut Vec<Raw>) -> Result<usize, ScanError> {
        let mut pos = 0;
        loop {
            if let Some((index, left)) = self.current {
                let rest = data.get(pos..).unwrap_or_default();
                if rest.is_empty() {
                    return Ok(pos);
                }
                let n = (left as usize).min(rest.len());
                self.current = (n < left as usize).then_some((index, left - n as u32));
                self.payload(index, rest.get(..n).unwrap_or_default(), out)?;
                pos += n;
                continue;
            }
            match self.header(data.get(pos..).unwrap_or_default())? {
                None => return Ok(pos),
                Some((header_len, index, payload_len)) => {
                    pos += header_len;
                    if payload_len == 0 {
                        self.finish(index, out)?;
                    } else {
                        self.current = Some((index, payload_len));
                    }
                }
            }
        }
    }

    /// Parses one chunk header; `Some((header length, stream index, payload length))`.
    fn header(&mut self, input: &[u8]) -> Result<Option<(usize, usize, u32)>, ScanError> {
        let Some(&b0) = input.first() else {
            return Ok(None);
        };
        let fmt = b0 >> 6;
        let (csid, mut pos) = match b0 & 0x3F {
            0 => match input.get(1) {
                Some(&b1) => (64 + u32::from(b1), 2),
                None => return Ok(None),
            },
            1 => match input.get(1..3) {
                Some(&[b1, b2]) => (64 + u32::from(b1) + (u32::from(b2) << 8), 3),
                _ => return Ok(None),
            },
            n => (u32::from(n), 1),
        };
        let header_len = [11, 7, 3, 0][usize::from(fmt & 3)];
        let Some(h) = input.get(pos..pos + header_len) else {
            return Ok(None);
        };
        pos += header_len;
        let index = match self.streams.iter().position(|s| s.csid == csid) {
            Some(i) => i,
            None if fmt != 0 => return Err(ScanError::MissingPreviousHeader(csid)),
            None if self.streams.len() >= MAX_CHUNK_STREAMS => {
                return Err(ScanError::TooManyChunkStreams);
            }
            None => {
                self.streams.push(ChunkStream {
                    csid,
                    ..Default::default()
                });
                self.streams.len() - 1
            }
        };
        let chunk_size = self.chunk_size;
        let Some(s) = self.streams.get_mut(index) else {
            return Ok(None);
        };
        if fmt == 3 && s.left > 0 {
            // Continuation: the extended timestamp is repeated by some senders only.
            if s.extended {
                let Some(ext) = be32(input.get(pos..).unwrap_or_default()) else {
                    return Ok(None);
                };
                if ext == s.ts_field {
                    pos += 4;
                }
            }
            return Ok(Some((pos, index, s.left.min(chunk_size))));
        }
        // A new message: decode into locals first, so "need more" changes nothing.
        let mut ts_field = s.ts_field;
        let mut extended = s.extended;
        if fmt <= 2 {
            ts_field = be24(h);
            extended = ts_field == EXTENDED;
        }
        if extended {
            let Some(ext) = be32(input.get(pos..).unwrap_or_default()) else {
                return Ok(None);
            };
            ts_field = ext;
            pos += 4;
        }
        if fmt <= 1 {
            s.len = be24(h.get(3..).unwrap_or_default());
            s.type_id = h.get(6).copied().unwrap_or(0);
        }
        if fmt == 0 {
            let id = h.get(7..11).and_then(|b| b.try_into().ok());
            s.stream_id = id.map_or(0, u32::from_le_bytes);
            s.timestamp = ts_field;
        } else {
            s.timestamp = s.timestamp.wrapping_add(ts_field);
        }
        s.ts_field = ts_field;
        s.extended = extended;
        s.left = s.len;
        s.skipping = self.skip_media && matches!(s.type_id, AUDIO | VIDEO);
        s.body.clear();
        if !s.skipping {
            s.body.reserve((s.len as usize).min(64 << 10));
        }
        s.first = [0; 2];
        s.peeked = 0;
        Ok(Some((pos, index, s.len.min(chunk_size))))
    }

    fn payload(&mut self, index: usize, bytes: &[u8], out: &mut Vec<Raw>) -> Result<(), ScanError> {
        let Some(s) = self.streams.get_mut(index) else {
            return Ok(());
        };
        if s.skipping {
            for &b in bytes.iter().take(2 - s.peeked.min(2)) {
                if let Some(slot) = s.first.get_mut(s.peeked) {
                    *slot = b;
                }
                s.peeked += 1;
            }
        } else {
            s.body.extend_from_slice(bytes);
        }
        s.left = s.left.saturating_sub(bytes.len() as u32);
        if s.left == 0 {
            self.finish(index, out)?;
        }
        Ok(())
    }

    /// A message is complete: apply chunk-level control, hand it out.
    fn finish(&mut self, index: usize, out: &mut Vec<Raw>) -> Result<(), ScanError> {
        let Some(s) = self.streams.get_mut(index) else {
            return Ok(());
        };
        s.left = 0;
        if s.skipping {
            out.push(Raw::Media {
                type_id: s.type_id,
                timestamp: s.timestamp,
                len: s.len,
                first: s.first,
            });
            return Ok(());
        }
        let payload = std::mem::take(&mut s.body);
        let word = be32(&payload);
        match s.type_id {
            msg_type::SET_CHUNK_SIZE => {
                let size = word.unwrap_or(0) & 0x7FFF_FFFF;
                if size == 0 || size > MAX_CHUNK_SIZE {
                    return Err(ScanError::BadChunkSize(size));
                }
                self.chunk_size = size;
            }
            msg_type::ABORT => {
                let csid = word.unwrap_or(0);
                if let Some(other) = self.streams.iter_mut().find(|o| o.csid == csid) {
                    other.left = 0;
                    other.body.clear();
                }
            }
            _ => {}
        }
        let Some(s) = self.streams.get(index) else {
            return Ok(());
        };
        out.push(Raw::Message {
            type_id: s.type_id,
            stream_id: s.stream_id,
            timestamp: s.timestamp,
            payload,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use onair_shared::rtmp::writer::{MessageHeader, write_message};

    fn msg(out: &mut BytesMut, csid: u32, type_id: u8, timestamp: u32, payload: &[u8], chunk: u32) {
        let header = MessageHeader {
            csid,
            timestamp,
            type_id,
            stream_id: 1,
        };
        write_message(out, &header, payload, chunk);
    }

    #[test]
    fn skips_media_and_reassembles_the_rest_whatever_the_split() {
        let mut wire = BytesMut::new();
        msg(
            &mut wire,
            2,
            msg_type::SET_CHUNK_SIZE,
            0,
            &4096u32.to_be_bytes(),
            128,
        );
        let video: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        msg(&mut wire, 6, VIDEO, 40, &video, 4096);
        let command = vec![7u8; 300];
        msg(&mut wire, 3, msg_type::COMMAND_AMF0, 0, &command, 4096);
        msg(&mut wire, 4, AUDIO, 0x0100_0000, &[0xAF, 1, 2], 4096);
        // A type-3 header starting a new message on csid 7 (delta = previous field, 40).
        msg(&mut wire, 7, VIDEO, 40, &[0x27, 1], 4096);
        wire.extend_from_slice(&[0xC7, 0x27, 0x01]);
        let mut all = None;
        for piece in [1, 2, 3, 7, 100, 5000, wire.len()] {
            let mut scanner = ChunkScanner::new(true);
            let (mut out, mut pending) = (Vec::new(), Vec::new());
            for chunk in wire.chunks(piece) {
                pending.extend_from_slice(chunk);
                let used = scanner.scan(&pending, &mut out).unwrap();
                pending.drain(..used);
            }
            assert!(pending.is_empty());
            match &all {
                None => all = Some(out),
                Some(first) => assert_eq!(&out, first, "piece {piece}"),
            }
        }
        let out = all.unwrap();
        assert_eq!(out.len(), 6, "{out:?}");
        assert!(matches!(&out[0], Raw::Message { type_id: 1, .. }));
        assert_eq!(
            out[1],
            Raw::Media {
                type_id: VIDEO,
                timestamp: 40,
                len: 10_000,
                first: [0, 1]
            }
        );
        assert!(matches!(&out[2], Raw::Message { payload, .. } if payload == &command));
        assert_eq!(
            out[3],
            Raw::Media {
                type_id: AUDIO,
                timestamp: 0x0100_0000,
                len: 3,
                first: [0xAF, 1]
            }
        );
        assert!(matches!(
            out[5],
            Raw::Media {
                timestamp: 80,
                len: 2,
                first: [0x27, 1],
                ..
            }
        ));
    }

    #[test]
    fn compressed_header_on_a_new_stream_is_an_error() {
        let mut scanner = ChunkScanner::new(true);
        assert_eq!(
            scanner.scan(&[0x45, 0, 0, 0, 0, 0, 1, 9], &mut Vec::new()),
            Err(ScanError::MissingPreviousHeader(5))
        );
    }
}
