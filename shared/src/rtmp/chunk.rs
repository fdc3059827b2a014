//! The chunk stream reader: chunks in, reassembled messages out.
//!
//! Each chunk is parsed from a peek of the input and only consumed once it is complete, so
//! "need more" leaves both the buffer and the per-chunk-stream state untouched. Limits are
//! checked on the header, before any payload is buffered. A message that arrives in a
//! single chunk is handed out as a slice of the input buffer (no copy); longer ones are
//! copied once into a reassembly buffer.
//!
//! Set Chunk Size and Abort are applied here, because they change how the very next chunk
//! is read; they are still returned so the caller can see them.

use bytes::{Buf, BytesMut};

use super::RtmpError;
use super::message::{RtmpMessage, msg_type, read_u32};
use super::writer::DEFAULT_CHUNK_SIZE;

const EXTENDED: u32 = 0xFF_FFFF;

/// Limits that keep a hostile peer from making us allocate or loop without bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReaderLimits {
    /// Largest chunk size the peer may set (Set Chunk Size above it is an error).
    pub max_chunk_size: u32,
    /// Largest message length a header may announce.
    pub max_message_len: u32,
    /// Most chunk streams the peer may use.
    pub max_chunk_streams: usize,
    /// Most bytes held across all partially received messages.
    pub max_pending_bytes: usize,
}

impl Default for ReaderLimits {
    fn default() -> Self {
        Self {
            max_chunk_size: 65_536,
            max_message_len: 8 << 20,
            max_chunk_streams: 64,
            max_pending_bytes: 16 << 20,
        }
    }
}

/// What we remember about one chunk stream between chunks.
#[derive(Debug)]
struct ChunkStream {
    csid: u32,
    /// Timestamp of the last message started on this chunk stream.
    timestamp: u32,
    /// Timestamp field of the last type 0/1/2 header (absolute or delta), after extension:
    /// a type-3 header that starts a new message adds it again (as ffmpeg and librtmp do).
    ts_field: u32,
    /// Whether that header used the extended timestamp.
    extended: bool,
    len: u32,
    type_id: u8,
    stream_id: u32,
    /// The message being reassembled, if a chunk of it has arrived.
    partial: Option<BytesMut>,
}

/// The result of parsing one chunk header from a peek of the input.
struct Parsed {
    /// Index into `streams`, or `None` if the chunk opens a new chunk stream.
    index: Option<usize>,
    csid: u32,
    header_len: usize,
    payload_len: usize,
    /// Header values to store when this chunk starts a message.
    start: Option<Start>,
}

struct Start {
    timestamp: u32,
    ts_field: u32,
    extended: bool,
    len: u32,
    type_id: u8,
    stream_id: u32,
}

/// Reads RTMP chunks and reassembles messages. See the module docs.
#[derive(Debug)]
pub struct ChunkReader {
    limits: ReaderLimits,
    chunk_size: u32,
    streams: Vec<ChunkStream>,
    pending_bytes: usize,
}

fn be24(b: &[u8]) -> u32 {
    b.iter()
        .take(3)
        .fold(0, |acc, &x| (acc << 8) | u32::from(x))
}

fn be32(b: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(..4)?.try_into().ok()?))
}

impl ChunkReader {
    /// New limits from the next chunk on (raised when a publisher is let in). What is
    /// already buffered stays; a lower `max_pending_bytes` applies to new chunks.
    pub fn set_limits(&mut self, limits: ReaderLimits) {
        self.limits = limits;
    }

    /// A reader with the initial chunk size of 128 and the given limits.
    pub fn new(limits: ReaderLimits) -> Self {
        Self {
            limits,
            chunk_size: DEFAULT_CHUNK_SIZE,
            streams: Vec::new(),
            pending_bytes: 0,
        }
    }

    /// The peer's current chunk size.
    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    /// Applies a chunk size from Set Chunk Size. The top bit is reserved and 0 is
    /// meaningless; anything above the configured limit is refused rather than obeyed.
    pub fn set_chunk_size(&mut self, size: u32) -> Result<(), RtmpError> {
        if size == 0 || size > self.limits.max_chunk_size || size & 0x8000_0000 != 0 {
            return Err(RtmpError::ChunkSizeOutOfRange {
                size,
                max: self.limits.max_chunk_size,
            });
        }
        self.chunk_size = size;
        Ok(())
    }

    /// Drops the partially received message on `csid` (Abort Message).
    pub fn abort(&mut self, csid: u32) {
        if let Some(s) = self.streams.iter_mut().find(|s| s.csid == csid)
            && let Some(partial) = s.partial.take()
        {
            self.pending_bytes = self.pending_bytes.saturating_sub(partial.len());
        }
    }

    /// Reads chunks from `input` until a message is complete. `Ok(None)` means more input is
    /// needed; everything not yet consumed stays in `input`.
    pub fn read_message(&mut self, input: &mut BytesMut) -> Result<Option<RtmpMessage>, RtmpError> {
        loop {
            let Some(parsed) = self.parse_chunk(input)? else {
                return Ok(None);
            };
            if input.len() < parsed.header_len + parsed.payload_len {
                return Ok(None);
            }
            if let Some(message) = self.consume_chunk(parsed, input)? {
                self.apply_control(&message)?;
                return Ok(Some(message));
            }
        }
    }

    fn apply_control(&mut self, message: &RtmpMessage) -> Result<(), RtmpError> {
        match message.type_id {
            msg_type::SET_CHUNK_SIZE => {
                self.set_chunk_size(read_u32("Set Chunk Size", &message.payload)?)
            }
            msg_type::ABORT => {
                self.abort(read_u32("Abort", &message.payload)?);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Parses the next chunk's headers without consuming anything. `Ok(None)`: need more.
    fn parse_chunk(&self, input: &[u8]) -> Result<Option<Parsed>, RtmpError> {
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
        let index = self.streams.iter().position(|s| s.csid == csid);
        let Some(prev) = index.and_then(|i| self.streams.get(i)) else {
            // First chunk on this chunk stream: only a full header makes sense.
            if fmt != 0 {
                return Err(RtmpError::MissingPreviousHeader { csid, fmt });
            }
            if self.streams.len() >= self.limits.max_chunk_streams {
                return Err(RtmpError::TooManyChunkStreams {
                    max: self.limits.max_chunk_streams,
                });
            }
            return self.parse_rest(input, None, None, csid, fmt, pos);
        };
        let Some(partial) = &prev.partial else {
            return self.parse_rest(input, index, Some(prev), csid, fmt, pos);
        };
        if fmt != 3 {
            return Err(RtmpError::InterruptedMessage {
                csid,
                remaining: prev.len.saturating_sub(partial.len() as u32),
            });
        }
        // Continuation chunk. Clients disagree on whether it repeats the extended timestamp
        // (ffmpeg and OBS do, some Flash-era encoders don't), so like SRS we take the 4
        // bytes as the timestamp only if they equal it.
        if prev.extended {
            let Some(ext) = be32(input.get(pos..).unwrap_or(&[])) else {
                return Ok(None);
            };
            if ext == prev.ts_field {
                pos += 4;
            }
        }
        let remaining = (prev.len as usize).saturating_sub(partial.len());
        Ok(Some(Parsed {
            index,
            csid,
            header_len: pos,
            payload_len: remaining.min(self.chunk_size as usize),
            start: None,
        }))
    }

    /// Parses the message header of a chunk that starts a new message.
    fn parse_rest(
        &self,
        input: &[u8],
        index: Option<usize>,
        prev: Option<&ChunkStream>,
        csid: u32,
        fmt: u8,
        mut pos: usize,
    ) -> Result<Option<Parsed>, RtmpError> {
        let header_len = [11, 7, 3, 0][usize::from(fmt & 3)];
        let Some(h) = input.get(pos..pos + header_len) else {
            return Ok(None);
        };
        pos += header_len;
        let mut start = match prev {
            Some(p) => Start {
                timestamp: p.timestamp,
                ts_field: p.ts_field,
                extended: p.extended,
                len: p.len,
                type_id: p.type_id,
                stream_id: p.stream_id,
            },
            None => Start {
                timestamp: 0,
                ts_field: 0,
                extended: false,
                len: 0,
                type_id: 0,
                stream_id: 0,
            },
        };
        if fmt <= 2 {
            start.ts_field = be24(h);
            start.extended = start.ts_field == EXTENDED;
        }
        if fmt <= 1 {
            start.len = be24(h.get(3..).unwrap_or(&[]));
            start.type_id = h.get(6).copied().unwrap_or(0);
        }
        if fmt == 0 {
            let id = h.get(7..11).and_then(|s| s.try_into().ok());
            start.stream_id = id.map_or(0, u32::from_le_bytes);
        }
        if start.extended {
            let Some(ext) = be32(input.get(pos..).unwrap_or(&[])) else {
                return Ok(None);
            };
            start.ts_field = ext;
            pos += 4;
        }
        start.timestamp = if fmt == 0 {
            start.ts_field
        } else {
            start.timestamp.wrapping_add(start.ts_field)
        };
        if start.len > self.limits.max_message_len {
            return Err(RtmpError::MessageTooLarge {
                csid,
                len: start.len,
                max: self.limits.max_message_len,
            });
        }
        Ok(Some(Parsed {
            index,
            csid,
            header_len: pos,
            payload_len: (start.len as usize).min(self.chunk_size as usize),
            start: Some(start),
        }))
    }

    /// Consumes a parsed chunk, all of which is in `input`; returns the message it completes.
    fn consume_chunk(
        &mut self,
        parsed: Parsed,
        input: &mut BytesMut,
    ) -> Result<Option<RtmpMessage>, RtmpError> {
        let index = match parsed.index {
            Some(i) => i,
            None => {
                self.streams.push(ChunkStream {
                    csid: parsed.csid,
                    timestamp: 0,
                    ts_field: 0,
                    extended: false,
                    len: 0,
                    type_id: 0,
                    stream_id: 0,
                    partial: None,
                });
                self.streams.len() - 1
            }
        };
        let Some(stream) = self.streams.get_mut(index) else {
            return Ok(None);
        };
        input.advance(parsed.header_len);
        if let Some(s) = parsed.start {
            stream.timestamp = s.timestamp;
            stream.ts_field = s.ts_field;
            stream.extended = s.extended;
            stream.len = s.len;
            stream.type_id = s.type_id;
            stream.stream_id = s.stream_id;
            if parsed.payload_len == s.len as usize {
                // The whole message is in this chunk: hand out the input bytes themselves.
                let payload = input.split_to(parsed.payload_len).freeze();
                return Ok(Some(message(stream, payload)));
            }
            let reserve = (s.len as usize).min(64 << 10);
            stream.partial = Some(BytesMut::with_capacity(reserve));
        }
        let Some(partial) = stream.partial.as_mut() else {
            return Ok(None);
        };
        partial.extend_from_slice(input.get(..parsed.payload_len).unwrap_or(&[]));
        input.advance(parsed.payload_len);
        self.pending_bytes += parsed.payload_len;
        if partial.len() >= stream.len as usize {
            let payload = stream.partial.take().unwrap_or_default().freeze();
            self.pending_bytes = self.pending_bytes.saturating_sub(payload.len());
            return Ok(Some(message(stream, payload)));
        }
        if self.pending_bytes > self.limits.max_pending_bytes {
            return Err(RtmpError::ReassemblyBudget {
                max: self.limits.max_pending_bytes,
            });
        }
        Ok(None)
    }
}

fn message(stream: &ChunkStream, payload: bytes::Bytes) -> RtmpMessage {
    RtmpMessage {
        csid: stream.csid,
        type_id: stream.type_id,
        stream_id: stream.stream_id,
        timestamp: stream.timestamp,
        payload,
    }
}

#[cfg(test)]
mod tests;
