//! Incremental FLV demuxer: push bytes split anywhere, pull [`DemuxEvent`]s.
//!
//! Sans-IO: the caller reads from a socket or file, calls [`Demuxer::push`], then
//! [`Demuxer::next_event`] until it returns `Ok(None)` ("need more"; the partial tag stays
//! buffered). Tag data is split off the internal `BytesMut` and frozen, so payloads are
//! never copied after `push`.
//!
//! Memory is bounded: a tag header announcing more than `max_tag_size` bytes is rejected
//! before its body is buffered, so after draining, at most `max_tag_size` bytes wait in the
//! buffer (see [`Demuxer::buffered_len`]).
//!
//! `PreviousTagSize` fields are checked but a wrong one is tolerated, because some muxers
//! write it wrong and nothing downstream depends on it; mismatches are counted and the
//! last one kept ([`Demuxer::previous_tag_size_mismatches`]) so callers can log them.
//! After an error the demuxer is finished: every later call returns the same error.

use bytes::{Buf, BytesMut};

use super::FlvError;
use super::header::{
    FLV_HEADER_SIZE, FlvHeader, PREVIOUS_TAG_SIZE_LEN, TAG_HEADER_SIZE, Tag, TagHeader,
    check_signature_prefix,
};

/// What the demuxer found next in the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DemuxEvent {
    /// The file header; always first, unless the demuxer was made with
    /// [`Demuxer::without_header`].
    Header(FlvHeader),
    /// A complete tag.
    Tag(Tag),
}

/// A `PreviousTagSize` field that did not hold 11 + the previous tag's data size
/// (or 0 for `PreviousTagSize0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreviousTagSizeMismatch {
    /// The value the field should hold.
    pub expected: u32,
    /// The value it held.
    pub found: u32,
}

#[derive(Debug, Clone, Copy)]
enum State {
    FileHeader,
    /// Discarding header bytes beyond the 9 we understand (data offset > 9).
    SkipHeaderExtra(usize),
    PreviousTagSize {
        expected: u32,
    },
    TagHeader,
    TagBody(TagHeader),
}

/// Incremental FLV demuxer; see the [module docs](self).
#[derive(Debug)]
pub struct Demuxer {
    buf: BytesMut,
    state: State,
    max_tag_size: usize,
    failed: Option<FlvError>,
    mismatches: u64,
    last_mismatch: Option<PreviousTagSizeMismatch>,
}

impl Demuxer {
    /// A demuxer for a stream that starts with the FLV file header (a file, HTTP-FLV,
    /// WS-FLV). Tags with more than `max_tag_size` data bytes are an error.
    pub fn new(max_tag_size: usize) -> Self {
        Self::with_state(State::FileHeader, max_tag_size)
    }

    /// A demuxer for a bare tag stream without file header or `PreviousTagSize0`:
    /// the first byte is a tag header, and each tag is followed by its `PreviousTagSize`.
    pub fn without_header(max_tag_size: usize) -> Self {
        Self::with_state(State::TagHeader, max_tag_size)
    }

    fn with_state(state: State, max_tag_size: usize) -> Self {
        Demuxer {
            buf: BytesMut::new(),
            state,
            max_tag_size,
            failed: None,
            mismatches: 0,
            last_mismatch: None,
        }
    }

    /// Appends input bytes (ignored after an error). Call [`next_event`](Self::next_event)
    /// until `Ok(None)` after each push so the buffer stays bounded.
    pub fn push(&mut self, bytes: &[u8]) {
        // After an error nothing is parsed any more, so nothing needs to be kept.
        if self.failed.is_none() {
            self.buf.extend_from_slice(bytes);
        }
    }

    /// The next header or tag, `Ok(None)` if more input is needed, or an error for a
    /// stream that is not valid FLV (then every later call returns the same error).
    pub fn next_event(&mut self) -> Result<Option<DemuxEvent>, FlvError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let result = self.step();
        if let Err(err) = &result {
            self.failed = Some(err.clone());
            // Nothing more will be parsed; release the memory now.
            self.buf = BytesMut::new();
        }
        result
    }

    /// Bytes pushed but not yet handed out or discarded.
    pub fn buffered_len(&self) -> usize {
        self.buf.len()
    }

    /// True when the stream so far ends cleanly between tags (after a `PreviousTagSize`),
    /// with nothing buffered: at end of input, false means the stream was cut short.
    pub fn at_tag_boundary(&self) -> bool {
        matches!(self.state, State::TagHeader) && self.buf.is_empty() && self.failed.is_none()
    }

    /// How many `PreviousTagSize` fields held a wrong value (tolerated, see module docs).
    pub fn previous_tag_size_mismatches(&self) -> u64 {
        self.mismatches
    }

    /// The most recent wrong `PreviousTagSize`, if any.
    pub fn last_previous_tag_size_mismatch(&self) -> Option<PreviousTagSizeMismatch> {
        self.last_mismatch
    }

    fn step(&mut self) -> Result<Option<DemuxEvent>, FlvError> {
        loop {
            match self.state {
                State::FileHeader => {
                    // Fail on the first wrong byte: a non-FLV upload is refused at once.
                    check_signature_prefix(&self.buf)?;
                    let Some(bytes) = self.take::<FLV_HEADER_SIZE>() else {
                        return Ok(None);
                    };
                    let (header, offset) = FlvHeader::parse(&bytes)?;
                    let extra = (offset as usize).saturating_sub(FLV_HEADER_SIZE);
                    // Extra header bytes are discarded, not buffered, but an absurd offset
                    // would silently swallow the stream, so it gets the tag-size limit.
                    if extra > self.max_tag_size {
                        return Err(FlvError::BadDataOffset(offset));
                    }
                    self.state = if extra > 0 {
                        State::SkipHeaderExtra(extra)
                    } else {
                        State::PreviousTagSize { expected: 0 }
                    };
                    return Ok(Some(DemuxEvent::Header(header)));
                }
                State::SkipHeaderExtra(left) => {
                    let n = left.min(self.buf.len());
                    self.buf.advance(n);
                    if n < left {
                        self.state = State::SkipHeaderExtra(left - n);
                        return Ok(None);
                    }
                    self.state = State::PreviousTagSize { expected: 0 };
                }
                State::PreviousTagSize { expected } => {
                    let Some(bytes) = self.take::<PREVIOUS_TAG_SIZE_LEN>() else {
                        return Ok(None);
                    };
                    let found = u32::from_be_bytes(bytes);
                    if found != expected {
                        self.mismatches += 1;
                        self.last_mismatch = Some(PreviousTagSizeMismatch { expected, found });
                    }
                    self.state = State::TagHeader;
                }
                State::TagHeader => {
                    let Some(bytes) = self.take::<TAG_HEADER_SIZE>() else {
                        return Ok(None);
                    };
                    let header = TagHeader::parse(&bytes)?;
                    if header.data_size > self.max_tag_size {
                        return Err(FlvError::TagTooLarge {
                            size: header.data_size,
                            max: self.max_tag_size,
                        });
                    }
                    // One allocation for the body instead of growth on every push.
                    self.buf
                        .reserve(header.data_size.saturating_sub(self.buf.len()));
                    self.state = State::TagBody(header);
                }
                State::TagBody(header) => {
                    if self.buf.len() < header.data_size {
                        return Ok(None);
                    }
                    let data = self.buf.split_to(header.data_size).freeze();
                    // ≤ 0xFF_FFFF + 11: the size came from a 24-bit field.
                    let expected = (TAG_HEADER_SIZE + header.data_size) as u32;
                    self.state = State::PreviousTagSize { expected };
                    return Ok(Some(DemuxEvent::Tag(Tag {
                        kind: header.kind,
                        timestamp: header.timestamp,
                        stream_id: header.stream_id,
                        data,
                    })));
                }
            }
        }
    }

    /// Removes and returns the first `N` buffered bytes, or `None` if fewer are buffered.
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let bytes = <[u8; N]>::try_from(self.buf.get(..N)?).ok()?;
        self.buf.advance(N);
        Some(bytes)
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use bytes::Bytes;

    use super::*;
    use crate::flv::{MediaKind, write_header, write_tag};

    fn tag(kind: MediaKind, timestamp: u32, data: &'static [u8]) -> Tag {
        Tag {
            kind,
            timestamp,
            stream_id: 0,
            data: Bytes::from_static(data),
        }
    }

    fn sample() -> (Vec<u8>, Vec<Tag>) {
        let tags = vec![
            tag(MediaKind::Script, 0, b"\x02\x00\x0aonMetaData\x05"),
            tag(MediaKind::Video, 0, b"\x17\x00\x00\x00\x00config"),
            tag(MediaKind::Audio, 0x1234_5678, b"\xaf\x01aac"),
            tag(MediaKind::Video, 40, b""),
        ];
        let mut out = BytesMut::new();
        write_header(&FlvHeader::new(true, true), &mut out);
        for t in &tags {
            assert_eq!(write_tag(t, &mut out), Ok(()));
        }
        (out.to_vec(), tags)
    }

    fn drain(d: &mut Demuxer) -> Vec<DemuxEvent> {
        let mut events = Vec::new();
        loop {
            match d.next_event() {
                Ok(Some(e)) => events.push(e),
                Ok(None) => return events,
                Err(e) => panic!("unexpected error {e}"),
            }
        }
    }

    #[test]
    fn whole_and_byte_by_byte() {
        let (bytes, tags) = sample();
        let mut want = vec![DemuxEvent::Header(FlvHeader::new(true, true))];
        want.extend(tags.into_iter().map(DemuxEvent::Tag));

        let mut d = Demuxer::new(1024);
        d.push(&bytes);
        assert_eq!(drain(&mut d), want);
        assert!(d.at_tag_boundary());

        let mut d = Demuxer::new(1024);
        let mut got = Vec::new();
        for b in &bytes {
            d.push(std::slice::from_ref(b));
            got.extend(drain(&mut d));
        }
        assert_eq!(got, want);
        assert_eq!(d.previous_tag_size_mismatches(), 0);
        assert!(d.at_tag_boundary());
    }

    #[test]
    fn truncated_is_need_more_and_keeps_leftovers() {
        let (bytes, _) = sample();
        let cut = bytes.len() - 6; // inside the last tag header + trailer region
        let mut d = Demuxer::new(1024);
        d.push(&bytes[..cut]);
        let events = drain(&mut d);
        assert_eq!(events.len(), 4); // header + 3 tags
        assert!(!d.at_tag_boundary());
        assert_eq!(d.next_event(), Ok(None));
        d.push(&bytes[cut..]);
        assert_eq!(drain(&mut d).len(), 1);
        assert!(d.at_tag_boundary());
    }

    #[test]
    fn bad_signature_fails_on_first_byte_and_stays_failed() {
        let mut d = Demuxer::new(1024);
        d.push(b"G");
        let err = Err(FlvError::BadSignature);
        assert_eq!(d.next_event(), err);
        d.push(b"ET / HTTP/1.1\r\n");
        assert_eq!(d.next_event(), err);
        assert_eq!(d.buffered_len(), 0);
    }

    #[test]
    fn oversize_tag_fails_before_body_is_buffered() {
        let mut d = Demuxer::new(100);
        d.push(b"FLV\x01\x01\x00\x00\x00\x09\x00\x00\x00\x00");
        d.push(&[9, 0x00, 0x00, 0x65, 0, 0, 0, 0, 0, 0, 0]); // 101 bytes
        assert!(matches!(d.next_event(), Ok(Some(DemuxEvent::Header(_)))));
        assert_eq!(
            d.next_event(),
            Err(FlvError::TagTooLarge {
                size: 101,
                max: 100
            })
        );
    }

    #[test]
    fn unknown_tag_type_is_an_error() {
        let mut d = Demuxer::without_header(100);
        d.push(&[0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(d.next_event(), Err(FlvError::UnknownTagType(0x0a)));
    }

    #[test]
    fn wrong_previous_tag_size_is_tolerated_and_counted() {
        let (mut bytes, tags) = sample();
        // PreviousTagSize0 := 7; the last trailer := 0.
        bytes[9..13].copy_from_slice(&7u32.to_be_bytes());
        let n = bytes.len();
        bytes[n - 4..].copy_from_slice(&[0, 0, 0, 0]);
        let mut d = Demuxer::new(1024);
        d.push(&bytes);
        assert_eq!(drain(&mut d).len(), 1 + tags.len());
        assert_eq!(d.previous_tag_size_mismatches(), 2);
        assert_eq!(
            d.last_previous_tag_size_mismatch(),
            Some(PreviousTagSizeMismatch {
                expected: 11,
                found: 0
            })
        );
    }

    #[test]
    fn larger_data_offset_is_skipped() {
        let mut d = Demuxer::new(1024);
        d.push(b"FLV\x01\x04\x00\x00\x00\x0cXYZ\x00\x00\x00\x00");
        d.push(&[8, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0xaf, 0, 0, 0, 12]);
        let mut got = Vec::new();
        got.extend(drain(&mut d));
        assert_eq!(got.len(), 2);
        assert_eq!(d.previous_tag_size_mismatches(), 0);

        let mut d = Demuxer::new(16);
        d.push(b"FLV\x01\x04\x00\x00\x01\x00");
        assert_eq!(d.next_event(), Err(FlvError::BadDataOffset(256)));
    }

    #[test]
    fn without_header_reads_bare_tags() {
        let (bytes, tags) = sample();
        let mut d = Demuxer::without_header(1024);
        d.push(&bytes[13..]);
        let want: Vec<_> = tags.into_iter().map(DemuxEvent::Tag).collect();
        assert_eq!(drain(&mut d), want);
    }

    #[test]
    fn payloads_are_not_copied() {
        let (bytes, _) = sample();
        let mut d = Demuxer::new(1024);
        d.push(&bytes);
        let events = drain(&mut d);
        // Consecutive tag bodies live in the one buffer they were pushed into.
        let ptrs: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                DemuxEvent::Tag(t) => Some(t.data.as_ptr() as usize),
                DemuxEvent::Header(_) => None,
            })
            .collect();
        // 14-byte script body, then its trailer (4) and the next tag header (11).
        assert_eq!(ptrs[1] - ptrs[0], 14 + 4 + 11);
    }

    #[test]
    fn buffer_stays_bounded() {
        let max = 64;
        let mut d = Demuxer::new(max);
        d.push(b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00");
        let body = [0u8; 64];
        for i in 0..50u32 {
            let t = Tag {
                kind: MediaKind::Audio,
                timestamp: i,
                stream_id: 0,
                data: Bytes::copy_from_slice(&body[..(i as usize * 7) % 65]),
            };
            let mut out = BytesMut::new();
            assert_eq!(write_tag(&t, &mut out), Ok(()));
            for chunk in out.chunks(5) {
                d.push(chunk);
                drain(&mut d);
                assert!(d.buffered_len() <= max + TAG_HEADER_SIZE + PREVIOUS_TAG_SIZE_LEN);
            }
        }
    }
}
