//! Incremental WebM/Matroska demuxer: push bytes split anywhere, pull [`WebmEvent`]s.
//!
//! Sans-IO like [`crate::flv::Demuxer`]: the caller pushes each MediaRecorder chunk with
//! [`Demuxer::push`] and calls [`Demuxer::next_event`] until `Ok(None)` ("need more"; the
//! partial element stays buffered).
//!
//! Only two masters are *entered* (their children parsed as they arrive): Segment and
//! Cluster, the two that live streams write with an unknown size. An unknown-size Cluster
//! ends where a level-1 element (another Cluster, Cues, Tags, …) or a level-0 one begins;
//! an unknown-size Segment ends at a level-0 element (a chained stream's EBML header).
//! The EBML header, Info, Tracks, the Cluster Timestamp, SimpleBlocks and BlockGroups are
//! buffered whole (each against a [`Limits`] bound checked before any of it is buffered)
//! and then parsed; every other element (Void, Cues, Tags, SeekHead, …) is skipped as it
//! streams past, whatever its size, without being buffered.
//!
//! Frame data is split off the internal `BytesMut` and frozen, so payloads are never copied
//! after `push`. After an error the demuxer is finished: every later call returns it again.

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};

use super::block::{Block, parse_block_group, parse_simple_block};
use super::ebml::{
    self, ElementHeader, ID_BLOCK_GROUP, ID_CLUSTER, ID_CLUSTER_TIMECODE, ID_EBML, ID_INFO,
    ID_SEGMENT, ID_SIMPLE_BLOCK, ID_TRACKS, is_level0, is_level1,
};
use super::tracks::{
    DEFAULT_TIMECODE_SCALE, TrackInfo, parse_ebml_header, parse_info, parse_tracks,
};
use super::{Limits, WebmError};

/// What the demuxer found next in the stream.
#[derive(Debug, Clone, PartialEq)]
pub enum WebmEvent {
    /// The Tracks element, once complete (again if a chained stream sends new Tracks).
    Tracks(Vec<TrackInfo>),
    /// One frame of a SimpleBlock or BlockGroup (each laced frame separately).
    Frame {
        /// The track number ([`TrackInfo::number`]).
        track: u64,
        /// Cluster timestamp + block relative timestamp, scaled by `TimestampScale`, in ms
        /// (rounded down). Laced frames after the first add the track's `DefaultDuration`
        /// per frame when it is known, and share the block's time otherwise.
        timestamp_ms: i64,
        /// SimpleBlock keyframe flag, or a BlockGroup without ReferenceBlock.
        keyframe: bool,
        /// The frame, a zero-copy slice of the pushed bytes.
        data: Bytes,
    },
}

/// The four bytes every EBML stream starts with (the EBML header ID).
const EBML_MAGIC: [u8; 4] = ID_EBML.to_be_bytes();

/// An entered master element: Segment or Cluster.
#[derive(Debug, Clone, Copy)]
struct Master {
    /// Stream offset just past its data, or `None` for an unknown size.
    end: Option<u64>,
}

/// Elements whose data is buffered whole, then parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Whole {
    EbmlHeader,
    Info,
    Tracks,
    ClusterTimecode,
    SimpleBlock,
    BlockGroup,
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// At offset 0: the first bytes must be the EBML header ID.
    Magic,
    /// Before an element header.
    Header,
    /// Discarding the rest of an element's data.
    Skip(u64),
    /// Waiting for `size` bytes of an element's data.
    Body { kind: Whole, size: usize },
}

/// Incremental WebM demuxer; see the [module docs](self).
#[derive(Debug)]
pub struct Demuxer {
    buf: BytesMut,
    /// Stream offset of `buf[0]`.
    pos: u64,
    state: State,
    limits: Limits,
    segment: Option<Master>,
    cluster: Option<Master>,
    cluster_timecode: Option<u64>,
    timecode_scale: u64,
    doc_type: Option<String>,
    /// `(track number, DefaultDuration ns)` for spreading laced frames.
    default_durations: Vec<(u64, u64)>,
    /// Frames of a laced block not handed out yet.
    pending: VecDeque<WebmEvent>,
    failed: Option<WebmError>,
}

impl Demuxer {
    /// A demuxer for a stream that starts with the EBML header (a MediaRecorder recording
    /// from its first chunk, or a file).
    pub fn new(limits: Limits) -> Self {
        Demuxer {
            buf: BytesMut::new(),
            pos: 0,
            state: State::Magic,
            limits,
            segment: None,
            cluster: None,
            cluster_timecode: None,
            timecode_scale: DEFAULT_TIMECODE_SCALE,
            doc_type: None,
            default_durations: Vec::new(),
            pending: VecDeque::new(),
            failed: None,
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

    /// The next event, `Ok(None)` if more input is needed, or an error for a stream that is
    /// not valid WebM (then every later call returns the same error).
    pub fn next_event(&mut self) -> Result<Option<WebmEvent>, WebmError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        if let Some(event) = self.pending.pop_front() {
            return Ok(Some(event));
        }
        let result = self.step();
        if let Err(err) = &result {
            self.failed = Some(err.clone());
            // Nothing more will be parsed; release the memory now.
            self.buf = BytesMut::new();
            self.pending.clear();
        }
        result
    }

    /// Bytes pushed but not yet handed out or skipped.
    pub fn buffered_len(&self) -> usize {
        self.buf.len()
    }

    /// Stream offset of the next byte to parse (bytes handed out or skipped so far).
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// The EBML `DocType` (`"webm"` or `"matroska"`; Chromium writes `"matroska"` for
    /// H.264), once the EBML header was parsed.
    pub fn doc_type(&self) -> Option<&str> {
        self.doc_type.as_deref()
    }

    /// The Info `TimestampScale` in ns per tick (1,000,000 until Info says otherwise).
    pub fn timecode_scale(&self) -> u64 {
        self.timecode_scale
    }

    fn step(&mut self) -> Result<Option<WebmEvent>, WebmError> {
        loop {
            match self.state {
                State::Magic => {
                    // Fail on the first wrong byte: a non-WebM upload is refused at once.
                    let n = self.buf.len().min(EBML_MAGIC.len());
                    if self.buf.get(..n) != EBML_MAGIC.get(..n) {
                        return Err(WebmError::NotEbml);
                    }
                    if n < EBML_MAGIC.len() {
                        return Ok(None);
                    }
                    self.state = State::Header;
                }
                State::Header => {
                    self.close_finished_masters();
                    let Some(h) = ebml::read_header(&self.buf, self.pos)? else {
                        return Ok(None);
                    };
                    self.start_element(h)?;
                }
                State::Skip(left) => {
                    let n = usize::try_from(left)
                        .unwrap_or(usize::MAX)
                        .min(self.buf.len());
                    self.advance(n);
                    let left = left - n as u64;
                    if left > 0 {
                        self.state = State::Skip(left);
                        return Ok(None);
                    }
                    self.state = State::Header;
                }
                State::Body { kind, size } => {
                    if self.buf.len() < size {
                        return Ok(None);
                    }
                    let offset = self.pos;
                    let data = self.buf.split_to(size).freeze();
                    self.pos += size as u64;
                    self.state = State::Header;
                    if let Some(event) = self.finish_element(kind, data, offset)? {
                        return Ok(Some(event));
                    }
                }
            }
        }
    }

    /// Leaves the known-size masters whose data ends here.
    fn close_finished_masters(&mut self) {
        let pos = self.pos;
        if self.segment.is_some_and(|s| s.end == Some(pos)) {
            self.segment = None;
            // An unknown-size Cluster ends with its Segment.
            self.cluster = None;
        }
        if self.cluster.is_some_and(|c| c.end == Some(pos)) {
            self.cluster = None;
        }
    }

    /// Decides what to do with the element whose header `h` starts the buffer.
    fn start_element(&mut self, h: ElementHeader) -> Result<(), WebmError> {
        // An element of a higher level ends the unknown-size masters it cannot be inside.
        if self.cluster.is_some_and(|c| c.end.is_none()) && (is_level1(h.id) || is_level0(h.id)) {
            self.cluster = None;
        }
        if self.cluster.is_none()
            && self.segment.is_some_and(|s| s.end.is_none())
            && is_level0(h.id)
        {
            self.segment = None;
        }
        let data_start = self.pos + h.header_len as u64;
        let end = h.size.map(|s| data_start.saturating_add(s));
        // The nearest known end among the entered masters (a Cluster's is within its
        // Segment's, checked when it was entered).
        let parent_end = self
            .cluster
            .and_then(|c| c.end)
            .or(self.segment.and_then(|s| s.end));
        if let (Some(end), Some(parent_end)) = (end, parent_end)
            && end > parent_end
        {
            return Err(WebmError::ElementOverrunsParent {
                id: h.id,
                offset: self.pos,
            });
        }
        let level = match (self.segment, self.cluster) {
            (_, Some(_)) => 2,
            (Some(_), None) => 1,
            (None, None) => 0,
        };
        let kind = match (level, h.id) {
            (0, ID_EBML) => Some(Whole::EbmlHeader),
            (0, ID_SEGMENT) => {
                self.advance(h.header_len);
                self.segment = Some(Master { end });
                return Ok(());
            }
            (1, ID_INFO) => Some(Whole::Info),
            (1, ID_TRACKS) => Some(Whole::Tracks),
            (1, ID_CLUSTER) => {
                self.advance(h.header_len);
                self.cluster = Some(Master { end });
                self.cluster_timecode = None;
                return Ok(());
            }
            (2, ID_CLUSTER_TIMECODE) => Some(Whole::ClusterTimecode),
            (2, ID_SIMPLE_BLOCK) => Some(Whole::SimpleBlock),
            (2, ID_BLOCK_GROUP) => Some(Whole::BlockGroup),
            _ => None,
        };
        let size = h
            .size
            .ok_or(WebmError::UnknownSizeNotAllowed { id: h.id })?;
        self.advance(h.header_len);
        let Some(kind) = kind else {
            self.state = State::Skip(size);
            return Ok(());
        };
        let max = match kind {
            Whole::EbmlHeader | Whole::Info | Whole::Tracks => self.limits.max_header_size,
            Whole::ClusterTimecode => 8,
            Whole::SimpleBlock | Whole::BlockGroup => self.limits.max_block_size,
        };
        let size =
            usize::try_from(size)
                .ok()
                .filter(|&s| s <= max)
                .ok_or(WebmError::ElementTooLarge {
                    id: h.id,
                    size,
                    max,
                })?;
        // One allocation for the body instead of growth on every push.
        self.buf.reserve(size.saturating_sub(self.buf.len()));
        self.state = State::Body { kind, size };
        Ok(())
    }

    /// Parses an element buffered whole; a block's frames go to `pending` after the first.
    fn finish_element(
        &mut self,
        kind: Whole,
        data: Bytes,
        offset: u64,
    ) -> Result<Option<WebmEvent>, WebmError> {
        match kind {
            Whole::EbmlHeader => {
                self.doc_type = Some(parse_ebml_header(&data, offset)?);
                Ok(None)
            }
            Whole::Info => {
                self.timecode_scale = parse_info(&data, offset)?;
                Ok(None)
            }
            Whole::Tracks => {
                let tracks = parse_tracks(&data, offset)?;
                self.default_durations = tracks
                    .iter()
                    .filter_map(|t| Some((t.number, t.default_duration_ns?)))
                    .collect();
                Ok(Some(WebmEvent::Tracks(tracks)))
            }
            Whole::ClusterTimecode => {
                self.cluster_timecode = Some(ebml::read_uint(&data, ID_CLUSTER_TIMECODE)?);
                Ok(None)
            }
            Whole::SimpleBlock => self.frames(parse_simple_block(&data)?),
            Whole::BlockGroup => self.frames(parse_block_group(&data, offset)?),
        }
    }

    /// Turns a block into frame events: returns the first, queues the rest.
    fn frames(&mut self, block: Block) -> Result<Option<WebmEvent>, WebmError> {
        let cluster = self
            .cluster_timecode
            .ok_or(WebmError::MissingClusterTimecode)?;
        // In ns, as i128 with checked arithmetic: a u64 tick count times a u64 scale can
        // still exceed i128 (2^128), and the result must fit i64 ms anyway.
        let ticks = i128::from(cluster) + i128::from(block.relative_timecode);
        let start_ns = ticks
            .checked_mul(i128::from(self.timecode_scale))
            .ok_or(WebmError::TimestampOverflow)?;
        let step_ns = self
            .default_durations
            .iter()
            .find(|(n, _)| *n == block.track)
            .map_or(0, |(_, d)| i128::from(*d));
        let mut first = None;
        for (i, data) in block.frames.into_iter().enumerate() {
            // ≤ 255 laced frames of a u64 duration: no overflow before the i64 check.
            let ns = start_ns.saturating_add(step_ns * i as i128);
            let timestamp_ms = i64::try_from(ns.div_euclid(1_000_000))
                .map_err(|_| WebmError::TimestampOverflow)?;
            let event = WebmEvent::Frame {
                track: block.track,
                timestamp_ms,
                keyframe: block.keyframe,
                data,
            };
            if first.is_none() {
                first = Some(event);
            } else {
                self.pending.push_back(event);
            }
        }
        Ok(first)
    }

    fn advance(&mut self, n: usize) {
        self.buf.advance(n);
        self.pos += n as u64;
    }
}
