//! FLV → fragmented MP4 for Media Source Extensions: the browser player's core, sans-IO.
//!
//! # Layout
//! - this file: [`Remuxer`]: FLV bytes in (any split), [`RemuxEvent`]s out: init segments,
//!   media fragments (one `moof`+`mdat` per video frame, audio riding along), and the
//!   wall-clock stamps a studio puts in the stream ([`ClockStamp`], glass-to-glass latency).
//! - [`tracks`]: FLV sequence headers → fMP4 tracks and MSE codec strings (shared with the
//!   server's CMAF packager).
//! - [`clock`]: the `onFI` script tag carrying the capture wall clock, both ways.
//!
//! One `SourceBuffer` gets both tracks (one init, multi-track fragments), so the player
//! has exactly one append queue. A video frame is sent on as soon as it arrives (its
//! duration estimated by [`TrackTimeline`]): waiting for the next frame would add a frame
//! of latency. Audio-only streams are cut every [`AUDIO_ONLY_FRAGMENT_MS`].

pub mod clock;
pub mod tracks;

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

use crate::flv::audio::{AudioPacket, AudioTagBody};
use crate::flv::video::{VideoPacket, VideoTagBody};
use crate::flv::{DemuxEvent, Demuxer, FlvError, TagKind};
use crate::fmp4::{self, Fmp4Error, FragmentSamples, TrackFragment, TrackTimeline};

pub use clock::ClockStamp;
pub use tracks::{AUDIO_TRACK, TrackSetup, VIDEO_TRACK};

/// An audio-only stream is cut into fragments of about this length.
pub const AUDIO_ONLY_FRAGMENT_MS: u64 = 60;

/// Why the stream cannot be remuxed. Bad frames are skipped and counted instead.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RemuxError {
    /// The FLV framing is broken; nothing after this point can be trusted.
    #[error("FLV: {0}")]
    Flv(#[from] FlvError),
    /// A codec configuration that cannot be parsed.
    #[error("invalid codec configuration: {0}")]
    Invalid(String),
    /// A codec MSE cannot be given here (yet).
    #[error("{0} is not supported by the player")]
    Unsupported(String),
    /// A fragment could not be written (a sample too large for its fields).
    #[error("fMP4: {0}")]
    Fmp4(#[from] Fmp4Error),
}

/// What the player does next.
#[derive(Debug, Clone, PartialEq)]
pub enum RemuxEvent {
    /// Append this init segment before the next media fragment.
    Init(InitSegment),
    /// Append this fragment.
    Media(MediaSegment),
    /// The frame at `media_time` was captured at a known wall-clock time.
    Clock(ClockStamp),
}

/// An init segment (`ftyp`+`moov`) and what it describes.
#[derive(Debug, Clone, PartialEq)]
pub struct InitSegment {
    /// The bytes to append.
    pub data: Bytes,
    /// The MIME type for `addSourceBuffer` / `changeType`, e.g.
    /// `video/mp4; codecs="avc1.64001f,mp4a.40.2"`.
    pub mime: String,
    /// The video track, if any.
    pub video: Option<TrackSetup>,
    /// The audio track, if any.
    pub audio: Option<TrackSetup>,
    /// The set of tracks differs from the previous init segment: a `SourceBuffer` cannot
    /// change its track count, so the player needs a new `MediaSource`.
    pub tracks_changed: bool,
}

/// One `moof`+`mdat`.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaSegment {
    /// The bytes to append.
    pub data: Bytes,
    /// Media time of the first sample, seconds (what `video.currentTime` will show).
    pub start: f64,
    /// Media time where the fragment ends (last duration estimated), seconds.
    pub end: f64,
    /// Whether it starts with a video keyframe (a place a player may jump to).
    pub keyframe: bool,
    /// Video frames in it.
    pub video_frames: u32,
    /// Audio frames in it.
    pub audio_frames: u32,
}

/// Counters for a stats overlay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RemuxStats {
    /// FLV bytes pushed.
    pub bytes_in: u64,
    /// Video frames sent on.
    pub video_frames: u64,
    /// Audio frames sent on.
    pub audio_frames: u64,
    /// Frames dropped: unparsable bodies, frames before a config or the first keyframe.
    pub skipped: u64,
}

/// FLV in, fMP4 out. See the module docs.
#[derive(Debug)]
pub struct Remuxer {
    demux: Demuxer,
    video: Option<TrackSetup>,
    audio: Option<TrackSetup>,
    /// Which tracks the last init segment had; `None` before the first one.
    init_tracks: Option<(bool, bool)>,
    need_init: bool,
    video_line: Option<TrackTimeline>,
    audio_line: Option<TrackTimeline>,
    waiting_keyframe: bool,
    sequence: u32,
    /// The last FLV timestamp and the high bits that extend 32-bit times past a wrap.
    last_ts: Option<u32>,
    wraps: u64,
    /// Media time (s) minus source time (s) of the newest fragment, to place clock stamps.
    media_offset: f64,
    /// An `onFI` stamp (source ms, wall clock) waiting for its video frame.
    pending_clock: Option<(u64, f64)>,
    events: VecDeque<RemuxEvent>,
    stats: RemuxStats,
}

impl Remuxer {
    /// A remuxer expecting an FLV file header first; tags larger than `max_tag_size`
    /// are an error.
    pub fn new(max_tag_size: usize) -> Self {
        Self {
            demux: Demuxer::new(max_tag_size),
            video: None,
            audio: None,
            init_tracks: None,
            need_init: false,
            video_line: None,
            audio_line: None,
            waiting_keyframe: true,
            sequence: 0,
            last_ts: None,
            wraps: 0,
            media_offset: 0.0,
            pending_clock: None,
            events: VecDeque::new(),
            stats: RemuxStats::default(),
        }
    }

    /// Feeds FLV bytes (any split) and remuxes every complete tag in them.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), RemuxError> {
        self.stats.bytes_in += bytes.len() as u64;
        self.demux.push(bytes);
        while let Some(event) = self.demux.next_event()? {
            let DemuxEvent::Tag(tag) = event else {
                continue;
            };
            let ms = self.extend(tag.timestamp);
            match tag.kind {
                TagKind::Video => self.video_tag(ms, &tag.data)?,
                TagKind::Audio => self.audio_tag(ms, &tag.data)?,
                TagKind::Script => {
                    if let Some(wallclock_ms) = clock::parse_on_fi(&tag.data) {
                        if self.video.is_some() {
                            // Placed exactly when the stamped frame is remuxed.
                            self.pending_clock = Some((ms, wallclock_ms));
                        } else {
                            self.events.push_back(RemuxEvent::Clock(ClockStamp {
                                media_time: ms as f64 / 1000.0 + self.media_offset,
                                wallclock_ms,
                            }));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The next thing to do, in order.
    pub fn next_event(&mut self) -> Option<RemuxEvent> {
        self.events.pop_front()
    }

    /// Sends on whatever audio waits (end of stream).
    pub fn flush(&mut self) -> Result<(), RemuxError> {
        self.emit_fragment()
    }

    /// Counters so far.
    pub fn stats(&self) -> RemuxStats {
        self.stats
    }

    /// The current video track, if any.
    pub fn video(&self) -> Option<&TrackSetup> {
        self.video.as_ref()
    }

    /// The current audio track, if any.
    pub fn audio(&self) -> Option<&TrackSetup> {
        self.audio.as_ref()
    }

    /// Extends a 32-bit FLV timestamp past wrap-arounds (a jump back of more than half the
    /// range is a wrap; smaller jumps back are left to the timelines as resets).
    fn extend(&mut self, ts: u32) -> u64 {
        if let Some(last) = self.last_ts
            && ts < last
            && last - ts > u32::MAX / 2
        {
            self.wraps += 1;
        }
        self.last_ts = Some(ts);
        (self.wraps << 32) | u64::from(ts)
    }

    fn video_tag(&mut self, ms: u64, data: &Bytes) -> Result<(), RemuxError> {
        if let Some(setup) = tracks::video_setup(data)? {
            if self.video.as_ref().map(|v| &v.track) != Some(&setup.track) {
                self.video = Some(setup);
                self.need_init = true;
            }
            return Ok(());
        }
        let Ok(body) = VideoTagBody::parse(data) else {
            self.stats.skipped += 1;
            return Ok(());
        };
        let keyframe = body.is_keyframe();
        let VideoPacket::Frame { cts, data } = body.packet else {
            return Ok(());
        };
        if self.video.is_none() {
            self.stats.skipped += 1;
            return Ok(());
        }
        self.ensure_init()?;
        if self.waiting_keyframe && !keyframe {
            self.stats.skipped += 1;
            return Ok(());
        }
        self.waiting_keyframe = false;
        if let Some(line) = &mut self.video_line {
            line.push(ms, cts, keyframe, data)?;
        }
        self.emit_fragment_of(Some(ms))
    }

    fn audio_tag(&mut self, ms: u64, data: &Bytes) -> Result<(), RemuxError> {
        if let Some(setup) = tracks::audio_setup(data)? {
            if self.audio.as_ref().map(|a| &a.track) != Some(&setup.track) {
                // Samples of the old config go out under the old init segment.
                self.emit_fragment()?;
                self.audio = Some(setup);
                self.need_init = true;
            }
            return Ok(());
        }
        let Ok(body) = AudioTagBody::parse(data) else {
            self.stats.skipped += 1;
            return Ok(());
        };
        let AudioPacket::Frame(data) = body.packet else {
            return Ok(());
        };
        if self.audio.is_none() {
            self.stats.skipped += 1;
            return Ok(());
        }
        self.ensure_init()?;
        let has_video = self.init_tracks.is_some_and(|(v, _)| v);
        if has_video && self.waiting_keyframe {
            // The buffer starts at the first keyframe; earlier audio would only make a gap.
            self.stats.skipped += 1;
            return Ok(());
        }
        let Some(line) = &mut self.audio_line else {
            return Ok(());
        };
        line.push(ms, 0, true, data)?;
        let threshold = u64::from(line.timescale()) * AUDIO_ONLY_FRAGMENT_MS / 1000;
        if !has_video && line.buffered_duration() >= threshold {
            self.emit_fragment()?;
        }
        Ok(())
    }

    /// Emits an init segment when a config changed (or none was sent yet).
    fn ensure_init(&mut self) -> Result<(), RemuxError> {
        if !self.need_init && self.init_tracks.is_some() {
            return Ok(());
        }
        let mut tracks = Vec::new();
        let mut codecs = Vec::new();
        for setup in [&self.video, &self.audio].into_iter().flatten() {
            tracks.push(setup.track.clone());
            codecs.push(setup.codec.as_str());
        }
        let mut out = BytesMut::new();
        fmp4::write_init(&tracks, &mut out)?;
        let kind = if self.video.is_some() {
            "video"
        } else {
            "audio"
        };
        let mime = format!("{kind}/mp4; codecs=\"{}\"", codecs.join(","));
        let now = (self.video.is_some(), self.audio.is_some());
        let tracks_changed = self.init_tracks.is_some_and(|before| before != now);
        if self.video.is_some() {
            // A new video config starts a new coded sequence: wait for its keyframe.
            self.waiting_keyframe = true;
        }
        let keep = |line: &Option<TrackTimeline>, setup: &Option<TrackSetup>| match (line, setup) {
            (Some(l), Some(s)) if l.timescale() == s.track.timescale && !tracks_changed => {
                Some(l.clone())
            }
            (_, Some(s)) => Some(tracks::timeline(&s.track)),
            (_, None) => None,
        };
        self.video_line = keep(&self.video_line, &self.video);
        self.audio_line = keep(&self.audio_line, &self.audio);
        self.init_tracks = Some(now);
        self.need_init = false;
        self.events.push_back(RemuxEvent::Init(InitSegment {
            data: out.freeze(),
            mime,
            video: self.video.clone(),
            audio: self.audio.clone(),
            tracks_changed,
        }));
        Ok(())
    }

    /// One fragment of everything waiting on both tracks.
    fn emit_fragment(&mut self) -> Result<(), RemuxError> {
        self.emit_fragment_of(None)
    }

    /// [`Self::emit_fragment`]; `video_ms` is the source time of the newest video sample,
    /// which ties media time to source time for the clock stamps.
    fn emit_fragment_of(&mut self, video_ms: Option<u64>) -> Result<(), RemuxError> {
        let video = self
            .video_line
            .as_mut()
            .and_then(TrackTimeline::take_fragment);
        let audio = self
            .audio_line
            .as_mut()
            .and_then(TrackTimeline::take_fragment);
        let timescale = |line: &Option<TrackTimeline>| {
            f64::from(line.as_ref().map_or(1000, TrackTimeline::timescale))
        };
        let (vs, as_) = (timescale(&self.video_line), timescale(&self.audio_line));
        let mut parts = Vec::with_capacity(2);
        let mut bounds: Option<(f64, f64)> = None;
        let mut widen = |f: &FragmentSamples, scale: f64| {
            let start = f.base_decode_time as f64 / scale;
            let end = (f.base_decode_time + f.duration()) as f64 / scale;
            bounds = Some(bounds.map_or((start, end), |(s, e)| (s.min(start), e.max(end))));
        };
        if let Some(f) = &video {
            widen(f, vs);
            if let (Some(ms), Some(last)) = (video_ms, f.samples.last()) {
                let last_start = f.base_decode_time + f.duration() - u64::from(last.duration);
                self.media_offset = last_start as f64 / vs - ms as f64 / 1000.0;
                if let Some((stamp_ms, wallclock_ms)) = self.pending_clock.take() {
                    let media_time =
                        last_start as f64 / vs + (stamp_ms as f64 - ms as f64) / 1000.0;
                    self.events.push_back(RemuxEvent::Clock(ClockStamp {
                        media_time,
                        wallclock_ms,
                    }));
                }
            }
            parts.push(TrackFragment {
                track_id: VIDEO_TRACK,
                base_decode_time: f.base_decode_time,
                samples: &f.samples,
                data: &f.data,
            });
        }
        if let Some(f) = &audio {
            widen(f, as_);
            parts.push(TrackFragment {
                track_id: AUDIO_TRACK,
                base_decode_time: f.base_decode_time,
                samples: &f.samples,
                data: &f.data,
            });
        }
        let Some((start, end)) = bounds else {
            return Ok(());
        };
        self.sequence = self.sequence.wrapping_add(1);
        let mut out = BytesMut::new();
        fmp4::write_multi_fragment(self.sequence, &parts, &mut out)?;
        let video_frames = video.as_ref().map_or(0, |f| f.samples.len() as u32);
        let audio_frames = audio.as_ref().map_or(0, |f| f.samples.len() as u32);
        self.stats.video_frames += u64::from(video_frames);
        self.stats.audio_frames += u64::from(audio_frames);
        self.events.push_back(RemuxEvent::Media(MediaSegment {
            data: out.freeze(),
            start,
            end,
            keyframe: video
                .as_ref()
                .and_then(|f| f.samples.first())
                .is_some_and(|s| s.keyframe),
            video_frames,
            audio_frames,
        }));
        Ok(())
    }
}

#[cfg(test)]
mod tests;
