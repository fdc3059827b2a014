//! The sliding window of one stream's HLS media: init segments, complete segments, the
//! segment in progress with its LL-HLS parts, and the questions requests ask of them.
//!
//! Memory stays flat: at most `window + EXTRA_SEGMENTS` complete segments are kept, and
//! only the newest [`PART_SEGMENTS`] keep their parts (a segment's bytes are its parts
//! concatenated once, when it completes).

use std::collections::VecDeque;
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};

/// Segments kept beyond the listed window, for players that fetch a segment just as it
/// slides out of the playlist.
const EXTRA_SEGMENTS: usize = 2;
/// Complete segments whose parts stay listed and served (LL-HLS asks for about 3 target
/// durations of parts).
pub const PART_SEGMENTS: usize = 2;

/// One LL-HLS partial segment: one `moof`+`mdat` per track.
#[derive(Debug, Clone)]
pub struct Part {
    pub data: Bytes,
    /// Seconds.
    pub duration: f64,
    /// Starts with a keyframe.
    pub independent: bool,
}

/// A complete segment.
#[derive(Debug)]
pub struct Segment {
    pub msn: u64,
    /// Seconds.
    pub duration: f64,
    pub pdt: SystemTime,
    /// Preceded by `EXT-X-DISCONTINUITY` (republish or codec change).
    pub discontinuity: bool,
    /// Discontinuity sequence number: discontinuities up to and including this segment.
    pub dsn: u64,
    /// Which init segment (`EXT-X-MAP`) it needs.
    pub init: u32,
    /// Emptied once the segment is older than [`PART_SEGMENTS`].
    pub parts: Vec<Part>,
    pub cmaf: Bytes,
    pub ts: Option<Bytes>,
}

/// The segment being built.
#[derive(Debug)]
pub struct Current {
    pub msn: u64,
    pub pdt: SystemTime,
    pub discontinuity: bool,
    pub dsn: u64,
    pub init: u32,
    pub parts: Vec<Part>,
}

/// Everything served for one stream.
#[derive(Debug)]
pub struct Window {
    pub segments: VecDeque<Segment>,
    pub current: Option<Current>,
    /// Media sequence number of the segment in progress, or of the next one.
    pub next_msn: u64,
    dsn: u64,
    /// Init segments by id; only the ones still referenced are kept.
    pub inits: Vec<(u32, Bytes)>,
    pub ended: bool,
    /// `EXT-X-TARGETDURATION`: never decreases.
    pub target_duration: u64,
    /// `PART-TARGET` in seconds.
    pub part_target: f64,
    /// Segments listed in a playlist.
    pub window: usize,
    /// Set when the stream's codecs cannot be packaged at all (e.g. HEVC).
    pub cmaf_error: Option<String>,
    /// Set when the TS playlist cannot carry the stream (e.g. Opus audio).
    pub ts_error: Option<String>,
    /// Bytes of complete segments kept at most (the newest always stays): set by the
    /// packager while a stream's clock is frozen or running backwards.
    pub max_bytes: Option<usize>,
}

impl Window {
    pub fn new(segment_target: f64, part_target: f64, window: usize) -> Self {
        Self {
            segments: VecDeque::new(),
            current: None,
            next_msn: 0,
            dsn: 0,
            inits: Vec::new(),
            ended: false,
            target_duration: segment_target.ceil().max(1.0) as u64,
            part_target,
            window: window.max(1),
            cmaf_error: None,
            ts_error: None,
            max_bytes: None,
        }
    }

    pub fn add_init(&mut self, id: u32, data: Bytes) {
        self.inits.push((id, data));
    }

    pub fn init(&self, id: u32) -> Option<Bytes> {
        self.inits
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, d)| d.clone())
    }

    /// Starts segment `next_msn`.
    pub fn begin_segment(&mut self, pdt: SystemTime, discontinuity: bool, init: u32) {
        if discontinuity {
            self.dsn += 1;
        }
        self.current = Some(Current {
            msn: self.next_msn,
            pdt,
            discontinuity,
            dsn: self.dsn,
            init,
            parts: Vec::new(),
        });
    }

    pub fn add_part(&mut self, part: Part) {
        if let Some(current) = &mut self.current {
            current.parts.push(part);
        }
    }

    /// Completes the segment in progress (if it has any media) and slides the window.
    pub fn end_segment(&mut self, ts: Option<Bytes>) {
        let Some(current) = self.current.take() else {
            return;
        };
        if current.parts.is_empty() {
            // Nothing was produced: the next segment reuses the number (and the flag).
            self.dsn -= u64::from(current.discontinuity);
            return;
        }
        let duration: f64 = current.parts.iter().map(|p| p.duration).sum();
        let mut cmaf = BytesMut::with_capacity(current.parts.iter().map(|p| p.data.len()).sum());
        for part in &current.parts {
            cmaf.extend_from_slice(&part.data);
        }
        self.target_duration = self.target_duration.max(duration.round() as u64);
        self.segments.push_back(Segment {
            msn: current.msn,
            duration,
            pdt: current.pdt,
            discontinuity: current.discontinuity,
            dsn: current.dsn,
            init: current.init,
            parts: current.parts,
            cmaf: cmaf.freeze(),
            ts,
        });
        self.next_msn = current.msn + 1;
        while self.segments.len() > self.window + EXTRA_SEGMENTS {
            self.segments.pop_front();
        }
        if let Some(max) = self.max_bytes {
            while self.segments.len() > 1 && self.bytes() > max {
                self.segments.pop_front();
            }
        }
        let keep_parts_from = self.segments.len().saturating_sub(PART_SEGMENTS);
        for segment in self.segments.iter_mut().take(keep_parts_from) {
            segment.parts = Vec::new();
        }
        // Forget init segments no segment needs any more (the newest always stays).
        let newest = self.inits.last().map(|(id, _)| *id);
        let oldest_used = self.segments.front().map(|s| s.init);
        self.inits
            .retain(|(id, _)| Some(*id) == newest || oldest_used.is_some_and(|o| *id >= o));
    }

    /// Bytes held by the complete segments (CMAF, TS and the parts still kept).
    pub fn bytes(&self) -> usize {
        self.segments
            .iter()
            .map(|s| {
                s.cmaf.len()
                    + s.ts.as_ref().map_or(0, Bytes::len)
                    + s.parts.iter().map(|p| p.data.len()).sum::<usize>()
            })
            .sum()
    }

    /// The complete segments a playlist lists.
    pub fn listed(&self) -> impl Iterator<Item = &Segment> {
        self.segments
            .iter()
            .skip(self.segments.len().saturating_sub(self.window))
    }

    pub fn segment(&self, msn: u64) -> Option<&Segment> {
        self.segments.iter().find(|s| s.msn == msn)
    }

    pub fn part(&self, msn: u64, index: usize) -> Option<Bytes> {
        let parts = match &self.current {
            Some(c) if c.msn == msn => &c.parts,
            _ => &self.segment(msn)?.parts,
        };
        parts.get(index).map(|p| p.data.clone())
    }

    /// The part the next `EXT-X-PRELOAD-HINT` names.
    pub fn next_part(&self) -> (u64, usize) {
        match &self.current {
            Some(c) => (c.msn, c.parts.len()),
            None => (self.next_msn, 0),
        }
    }

    /// Whether a blocking request for segment `msn` (part `part`, or the whole segment)
    /// can be answered: it exists, something later exists, or the stream ended.
    pub fn has(&self, msn: u64, part: Option<usize>) -> bool {
        if self.ended {
            return true;
        }
        let complete = self.segments.back().is_some_and(|s| s.msn >= msn);
        match part {
            None => complete,
            Some(p) => {
                if let Some(segment) = self.segment(msn) {
                    // Past the last part of a complete segment means the next one's first.
                    return segment.parts.is_empty()
                        || p < segment.parts.len()
                        || self.has(msn + 1, Some(0));
                }
                let (next_msn, next_part) = self.next_part();
                complete || next_msn > msn || (next_msn == msn && next_part > p)
            }
        }
    }
}
