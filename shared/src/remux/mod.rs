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

use crate::flv::{DemuxEvent, Demuxer, FlvError};
use crate::fmp4::{self, Fmp4Error, FragmentSamples, TrackFragment, TrackTimeline};
use crate::media::{Codec, Config, Frame, MediaError, Parser, Track, Unit};

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
    #[error("{0}")]
    Media(#[from] MediaError),
    /// A configuration that parses but cannot make a track (the named field is unusable).
    #[error("invalid codec configuration: unusable {0}")]
    InvalidTrack(&'static str),
    /// A codec MSE cannot be given here (yet).
    #[error("{0} is not supported by the player")]
    Unsupported(Codec),
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
    /// Tags → media units, on the one 64-bit timeline.
    parser: Parser,
    /// Media time (s) minus source time (s) of the newest fragment, to place clock stamps.
    media_offset: f64,
    /// An `onFI` stamp (source ms, wall clock) waiting for its video frame.
    pending_clock: Option<(i64, f64)>,
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
            parser: Parser::new(),
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
            match self.parser.parse(tag.kind, tag.timestamp, &tag.data) {
                Ok(Unit::Config(config)) => self.config(&config)?,
                Ok(Unit::Frame(frame)) => match frame.track {
                    Track::Video => self.video_frame(frame)?,
                    Track::Audio => self.audio_frame(frame)?,
                },
                Ok(Unit::Script(script)) => {
                    let (Some(wallclock_ms), Some(ms)) =
                        (script.wallclock_ms(), self.parser.last_dts())
                    else {
                        continue;
                    };
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
                Ok(Unit::Passthrough(_)) => {}
                // A broken configuration stops the stream: nothing after it decodes.
                Err(e @ MediaError::Config { .. }) => return Err(e.into()),
                Err(MediaError::TagBody(_)) => self.stats.skipped += 1,
                // Script data is advisory.
                Err(_) => {}
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

    fn config(&mut self, config: &Config) -> Result<(), RemuxError> {
        let setup = tracks::setup(config)?;
        match config.track {
            Track::Video => {
                if self.video.as_ref().map(|v| &v.track) != Some(&setup.track) {
                    self.video = Some(setup);
                    self.need_init = true;
                }
            }
            Track::Audio => {
                if self.audio.as_ref().map(|a| &a.track) != Some(&setup.track) {
                    // Samples of the old config go out under the old init segment.
                    self.emit_fragment()?;
                    self.audio = Some(setup);
                    self.need_init = true;
                }
            }
        }
        Ok(())
    }

    fn video_frame(&mut self, frame: Frame) -> Result<(), RemuxError> {
        if self.video.is_none() {
            self.stats.skipped += 1;
            return Ok(());
        }
        self.ensure_init()?;
        if self.waiting_keyframe && !frame.keyframe {
            self.stats.skipped += 1;
            return Ok(());
        }
        self.waiting_keyframe = false;
        let ms = media_ms(frame.dts);
        if let Some(line) = &mut self.video_line {
            line.push(ms, frame.cts, frame.keyframe, frame.payload)?;
        }
        self.emit_fragment_of(Some(ms))
    }

    fn audio_frame(&mut self, frame: Frame) -> Result<(), RemuxError> {
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
        line.push(media_ms(frame.dts), 0, true, frame.payload)?;
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
        let tracks: Vec<_> = [&self.video, &self.audio]
            .into_iter()
            .flatten()
            .map(|setup| setup.track.clone())
            .collect();
        let mut out = BytesMut::new();
        fmp4::write_init(&tracks, &mut out)?;
        // The parser's current configs are the ones the tracks were made from.
        let video = self.parser.video_config().filter(|_| self.video.is_some());
        let audio = self.parser.audio_config().filter(|_| self.audio.is_some());
        let mime = crate::media::mime_type(video.map(|c| &**c), audio.map(|c| &**c));
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

/// A 64-bit stream time as the fragment timelines take it: a stream that starts by going
/// back before 0 is held at 0 there (the timelines treat a step back as a reset).
fn media_ms(dts: i64) -> u64 {
    u64::try_from(dts).unwrap_or(0)
}

#[cfg(test)]
mod tests;
