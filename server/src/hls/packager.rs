//! The per-stream packager: hub packets in, init segments, LL-HLS parts, CMAF segments and
//! MPEG-TS segments out, written into the stream's [`Window`].
//!
//! Cutting rules (the "lead" track is video, or audio for an audio-only stream):
//! - a segment starts on a keyframe and ends at the first keyframe at least the segment
//!   target after its start (within half a frame), or after [`MAX_SEGMENT_TARGETS`]
//!   targets without one (a keyframe-less source must not grow memory);
//! - a part ends before the lead frame that would make it longer than the part target, so
//!   every part fits `PART-TARGET`; each part is one `moof`+`mdat` per track (CMAF);
//! - a codec config arriving after media started (republish, resolution change) ends the
//!   segment, and the next one starts at a keyframe after `EXT-X-DISCONTINUITY`, with a
//!   new init segment if the config changed;
//! - a part or segment is also cut on bytes and on wall clock (see [`bounds`]), so a
//!   publisher whose timestamps freeze or run backwards cannot grow one without bound.
//!
//! It is synchronous and clock-free except for the wall-clock date it stamps on segments
//! (`EXT-X-PROGRAM-DATE-TIME`), which the caller passes in.

use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use onair_shared::fmp4::{FragmentSamples, Track, TrackTimeline};

use super::bounds::{self, Open};
use super::cmaf::{self, AudioSetup, SetupError, VideoSetup};
use super::ts::TsSegmenter;
use super::window::{Part, Window};
use crate::media::{Config, Packet, Track as MediaTrack, Unit};

/// A segment with no keyframe for this many segment targets is cut anyway.
const MAX_SEGMENT_TARGETS: i64 = 4;

/// Packaging settings in milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct Targets {
    pub segment_ms: i64,
    pub part_ms: i64,
}

/// One track of the current run: its fMP4 track and timeline.
#[derive(Debug)]
struct TrackState {
    track: Track,
    timeline: TrackTimeline,
}

/// The segment in progress.
#[derive(Debug, Clone, Copy)]
struct Cut {
    segment_start: i64,
    part_start: i64,
    segment: Open,
    part: Open,
}

impl Cut {
    fn new(dts: i64, now: SystemTime) -> Self {
        Self {
            segment_start: dts,
            part_start: dts,
            segment: Open::new(now, dts),
            part: Open::new(now, dts),
        }
    }
}

/// Media with one set of configs: one init segment.
#[derive(Debug)]
struct Run {
    init: u32,
    video: Option<TrackState>,
    audio: Option<TrackState>,
    ts: Option<TsSegmenter>,
    cut: Option<Cut>,
    last_lead: Option<i64>,
    lead_frame_ms: i64,
}

/// Turns one stream's packets into HLS media.
#[derive(Debug)]
pub struct Packager {
    targets: Targets,
    video: Option<VideoSetup>,
    audio: Option<AudioSetup>,
    run: Option<Run>,
    next_init: u32,
    discontinuity: bool,
    sequence: u32,
    /// Wall clock at a media time: segment dates follow the media clock from there, so
    /// they do not jitter with delivery (re-anchored at every discontinuity).
    anchor: Option<(SystemTime, i64)>,
    /// Added to every timestamp; grows at discontinuities (see [`Packager::realign`]).
    shift: i64,
    /// Where the media packaged so far ends (ms, shifted), over all tracks.
    media_end: i64,
    /// Names the stream in log lines.
    name: String,
    /// The last early cut was for a frozen or backwards clock: tighter caps apply until a
    /// segment is cut on media time again.
    bad_clock: bool,
    /// The bad clock was logged (once per stream).
    logged: bool,
}

impl Packager {
    pub fn new(targets: Targets) -> Self {
        Self::named(targets, String::new())
    }

    /// A packager whose log lines name the stream.
    pub fn named(targets: Targets, name: String) -> Self {
        Self {
            targets,
            video: None,
            audio: None,
            run: None,
            next_init: 0,
            discontinuity: false,
            sequence: 0,
            anchor: None,
            shift: 0,
            media_end: i64::MIN,
            name,
            bad_clock: false,
            logged: false,
        }
    }

    /// Handles one packet from the hub. Times are the stream's 64-bit timeline, which the
    /// hub's parser extended once for every output.
    pub fn push(&mut self, packet: &Packet, now: SystemTime, w: &mut Window) {
        match &packet.unit {
            Unit::Config(config) => match config.track {
                MediaTrack::Video => self.video_config(config, w),
                MediaTrack::Audio => self.audio_config(config, w),
            },
            Unit::Frame(f) => {
                let dts = f.dts + self.shift;
                match f.track {
                    MediaTrack::Video => {
                        self.video_frame(dts, f.cts, f.keyframe, f.payload.clone(), now, w)
                    }
                    MediaTrack::Audio => self.audio_frame(dts, f.payload.clone(), now, w),
                }
            }
            Unit::Script(_) | Unit::Passthrough(_) => {}
        }
    }

    /// The stream ended: the last part and segment are completed.
    pub fn finish(&mut self, w: &mut Window) {
        self.flush(w);
        w.ended = true;
    }

    fn video_config(&mut self, config: &Config, w: &mut Window) {
        match cmaf::video_setup(config) {
            Ok(setup) => {
                let changed = self.video.as_ref() != Some(&setup);
                self.config_arrived(changed, w);
                self.video = Some(setup);
                w.cmaf_error = None;
            }
            Err(e @ SetupError::VideoCodec(_)) => {
                self.flush(w);
                self.run = None;
                self.video = None;
                w.cmaf_error = Some(e.to_string());
                w.ts_error = Some(e.to_string());
            }
            Err(e) => tracing::warn!("HLS: ignoring a video config: {e}"),
        }
    }

    fn audio_config(&mut self, config: &Config, w: &mut Window) {
        match cmaf::audio_setup(config) {
            Ok(setup) => {
                let changed = self.audio.as_ref() != Some(&setup);
                self.config_arrived(changed, w);
                self.audio = Some(setup);
            }
            // Packaged without its audio rather than not at all.
            Err(e) => tracing::warn!("HLS: ignoring the audio track: {e}"),
        }
    }

    /// A config after media started is a republish or a codec change: a discontinuity.
    fn config_arrived(&mut self, changed: bool, w: &mut Window) {
        let Some(run) = &self.run else {
            return;
        };
        if run.cut.is_some() {
            self.flush(w);
            self.discontinuity = true;
        }
        if changed {
            self.run = None;
        }
    }

    /// Completes the part and segment in progress; the next segment waits for a keyframe.
    fn flush(&mut self, w: &mut Window) {
        let Some(run) = &mut self.run else {
            return;
        };
        if run.cut.take().is_some() {
            let part = take_part(run, false, &mut self.sequence);
            if let Some(part) = part {
                w.add_part(part);
            }
            w.end_segment(run.ts.as_mut().map(TsSegmenter::finish));
        }
    }

    /// Builds the init segment for the current configs, if there is something to package.
    fn ensure_run(&mut self, w: &mut Window) -> bool {
        if self.run.is_some() {
            return true;
        }
        if self.video.is_none() && self.audio.is_none() {
            return false;
        }
        let state = |track: &Track| TrackState {
            track: track.clone(),
            timeline: cmaf::timeline(track),
        };
        let video = self.video.as_ref().map(|v| state(&v.track));
        let audio = self.audio.as_ref().map(|a| state(&a.track));
        let tracks: Vec<Track> = video
            .iter()
            .chain(&audio)
            .map(|t| t.track.clone())
            .collect();
        let init = match cmaf::init_segment(&tracks) {
            Ok(init) => init,
            Err(e) => {
                w.cmaf_error = Some(format!("cannot build the init segment: {e}"));
                return false;
            }
        };
        let id = self.next_init;
        self.next_init += 1;
        w.add_init(id, init);
        let ts = match &self.audio {
            Some(AudioSetup {
                ts: None, codec, ..
            }) => {
                w.ts_error = Some(format!(
                    "this stream's audio is {codec}, which MPEG-TS HLS does not carry here; \
                     use the CMAF playlist (index.m3u8) instead"
                ));
                None
            }
            audio => {
                w.ts_error = None;
                Some(TsSegmenter::new(
                    self.video.as_ref().map(|v| v.ts.clone()),
                    audio.as_ref().and_then(|a| a.ts),
                ))
            }
        };
        let lead_frame_ms = if video.is_some() { 40 } else { 21 };
        self.run = Some(Run {
            init: id,
            video,
            audio,
            ts,
            cut: None,
            last_lead: None,
            lead_frame_ms,
        });
        true
    }

    fn video_frame(
        &mut self,
        dts: i64,
        cts: i32,
        key: bool,
        data: Bytes,
        now: SystemTime,
        w: &mut Window,
    ) {
        let size = data.len();
        if self.video.is_none() || !self.ensure_run(w) {
            return;
        }
        let dts = self.realign(dts, key);
        if self.lead(dts, key, now, w) {
            let Some(run) = &mut self.run else {
                return;
            };
            if let Some(ts) = &mut run.ts {
                ts.video(to_u64(dts), cts, key, &data);
            }
            if let Some(v) = &mut run.video {
                let _ = v.timeline.push(to_u64(dts), cts, key, data);
            }
            self.media_end = self.media_end.max(dts + run.lead_frame_ms);
            self.after_lead(dts, now, w);
            self.grew(size, Some(dts), now, w);
        }
    }

    fn audio_frame(&mut self, dts: i64, data: Bytes, now: SystemTime, w: &mut Window) {
        let size = data.len();
        if self.audio.is_none() || !self.ensure_run(w) {
            return;
        }
        let audio_only = self.run.as_ref().is_some_and(|r| r.video.is_none());
        let dts = if audio_only {
            self.realign(dts, true)
        } else {
            dts
        };
        if audio_only && !self.lead(dts, true, now, w) {
            return;
        }
        let Some(run) = &mut self.run else {
            return;
        };
        if run.cut.is_none() {
            // Before the first keyframe of a segment: nothing to attach it to.
            return;
        }
        if let Some(ts) = &mut run.ts {
            ts.audio(to_u64(dts), &data);
        }
        if let Some(a) = &mut run.audio {
            let _ = a.timeline.push(to_u64(dts), 0, true, data);
            let frame_ms = i64::from(cmaf::default_duration(&a.track)) * 1000
                / i64::from(a.track.timescale.max(1));
            self.media_end = self.media_end.max(dts + frame_ms);
        }
        if audio_only {
            self.after_lead(dts, now, w);
        }
        self.grew(size, audio_only.then_some(dts), now, w);
    }

    /// At the keyframe that starts the segment after a discontinuity: a source that
    /// restarted (the hub continues a republish 1 ms after the last timestamp) would
    /// overlap what was packaged; shift it to start where that ends, so decode times stay
    /// increasing by at least a frame for every player. A real gap stays a gap.
    fn realign(&mut self, dts: i64, key: bool) -> i64 {
        let starting = self.run.as_ref().is_some_and(|r| r.cut.is_none());
        if self.discontinuity && key && starting && dts < self.media_end {
            self.shift += self.media_end - dts;
            return self.media_end;
        }
        dts
    }

    /// Called for a lead-track frame before it is added: starts or ends a segment as the
    /// rules say. Returns whether the frame is to be packaged (false before a keyframe).
    fn lead(&mut self, dts: i64, key: bool, now: SystemTime, w: &mut Window) -> bool {
        let Some(run) = &mut self.run else {
            return false;
        };
        let frame = run
            .last_lead
            .map(|last| dts - last)
            .filter(|d| (1..=1000).contains(d))
            .unwrap_or(run.lead_frame_ms);
        run.lead_frame_ms = frame;
        run.last_lead = Some(dts);
        match run.cut {
            None if !key => false,
            None => {
                let discontinuity = std::mem::take(&mut self.discontinuity);
                if discontinuity || self.anchor.is_none() {
                    self.anchor = Some((now, dts));
                }
                let pdt = date(self.anchor, dts, now);
                w.begin_segment(pdt, discontinuity, run.init);
                run.cut = Some(Cut::new(dts, now));
                if let Some(ts) = &mut run.ts {
                    ts.begin();
                }
                true
            }
            Some(cut) => {
                let elapsed = dts - cut.segment_start;
                let due = key && elapsed + frame / 2 >= self.targets.segment_ms;
                if due || elapsed >= self.targets.segment_ms * MAX_SEGMENT_TARGETS {
                    // Everything before this frame is the last part of the segment.
                    if let Some(part) = take_part(run, false, &mut self.sequence) {
                        w.add_part(part);
                    }
                    w.end_segment(run.ts.as_mut().map(TsSegmenter::finish));
                    w.begin_segment(date(self.anchor, dts, now), false, run.init);
                    run.cut = Some(Cut::new(dts, now));
                    // The clock advances again (a keyframe-less source is not a bad clock).
                    self.bad_clock &= !due;
                    if !self.bad_clock {
                        w.max_bytes = None;
                    }
                    if let Some(ts) = &mut run.ts {
                        ts.begin();
                    }
                }
                true
            }
        }
    }

    /// Called after a lead frame was added: cuts a part if adding the next frame would
    /// make it longer than the part target. The frame just added stays for the next part,
    /// so every duration in the part is exact.
    fn after_lead(&mut self, dts: i64, now: SystemTime, w: &mut Window) {
        let Some(run) = &mut self.run else {
            return;
        };
        let Some(cut) = &mut run.cut else {
            return;
        };
        if dts > cut.part_start && dts + run.lead_frame_ms - cut.part_start > self.targets.part_ms {
            cut.part_start = dts;
            cut.part = Open::new(now, dts);
            if let Some(part) = take_part(run, true, &mut self.sequence) {
                w.add_part(part);
            }
        }
    }
    /// Called after a frame of `size` bytes was added (`lead_ms` for a lead frame): cuts
    /// the part, or the part and the segment, when a byte or wall-clock bound bites. Never
    /// on the normal path: media time cuts them long before.
    fn grew(&mut self, size: usize, lead_ms: Option<i64>, now: SystemTime, w: &mut Window) {
        let (part_cap, segment_cap) = if self.bad_clock {
            (
                bounds::BAD_CLOCK_PART_BYTES,
                bounds::BAD_CLOCK_SEGMENT_BYTES,
            )
        } else {
            (bounds::MAX_PART_BYTES, bounds::MAX_SEGMENT_BYTES)
        };
        let Some(run) = &mut self.run else {
            return;
        };
        let Some(mut cut) = run.cut else {
            return;
        };
        for open in [&mut cut.part, &mut cut.segment] {
            open.bytes += size;
            if let Some(ms) = lead_ms {
                open.newest_ms = ms;
            }
        }
        run.cut = Some(cut);
        let segment = bounds::check(&cut.segment, self.targets.segment_ms, segment_cap, now);
        let part = bounds::check(&cut.part, self.targets.part_ms, part_cap, now);
        let (cause, open) = match (segment, part) {
            (Some(cause), _) => (cause, cut.segment),
            (None, Some(cause)) => (cause, cut.part),
            (None, None) => return,
        };
        // Everything so far, the newest lead sample too, is the part (durations re-timed
        // by the timeline where the clock did not advance).
        if let Some(part) = take_part(run, false, &mut self.sequence) {
            w.add_part(part);
        }
        let at = cut.part.newest_ms;
        if segment.is_some() {
            w.end_segment(run.ts.as_mut().map(TsSegmenter::finish));
            w.begin_segment(date(self.anchor, at, now), false, run.init);
            if let Some(ts) = &mut run.ts {
                ts.begin();
            }
            cut = Cut::new(at, now);
        } else {
            cut.part_start = at;
            cut.part = Open::new(now, at);
        }
        run.cut = Some(cut);
        let line = bounds::describe(&self.name, cause, &open, now);
        if cause.bad_clock() {
            self.bad_clock = true;
            w.max_bytes = Some(bounds::BAD_CLOCK_WINDOW_BYTES);
            if !std::mem::replace(&mut self.logged, true) {
                tracing::warn!("{line}");
                return;
            }
        }
        tracing::debug!("{line}");
    }
}

/// Takes the samples of the part in progress. With `keep_newest` the lead track's newest
/// sample (just pushed, its duration unknown) stays for the next part.
fn take_part(run: &mut Run, keep_newest: bool, sequence: &mut u32) -> Option<Part> {
    let video_lead = run.video.is_some();
    let take = |state: &mut TrackState, keep: bool| -> Option<FragmentSamples> {
        if keep {
            state.timeline.take_completed()
        } else {
            state.timeline.take_fragment()
        }
    };
    let video = run
        .video
        .as_mut()
        .and_then(|v| take(v, keep_newest).map(|f| (v.track.clone(), f)));
    let audio_keep = keep_newest && !video_lead;
    let audio = run
        .audio
        .as_mut()
        .and_then(|a| take(a, audio_keep).map(|f| (a.track.clone(), f)));
    let lead = if video_lead { &video } else { &audio };
    let (lead_track, lead_fragment) = lead.as_ref()?;
    let duration = lead_fragment.duration() as f64 / f64::from(lead_track.timescale.max(1));
    let independent = lead_fragment.samples.first().is_some_and(|s| s.keyframe);
    let mut data = BytesMut::new();
    for (track, fragment) in video.iter().chain(&audio) {
        *sequence = sequence.wrapping_add(1);
        if let Err(e) = cmaf::write_fragment(*sequence, track, fragment, &mut data) {
            tracing::warn!("HLS: dropping a fragment: {e}");
        }
    }
    Some(Part {
        data: data.freeze(),
        duration,
        independent,
    })
}

/// The wall-clock date of media time `dts` given an anchor.
fn date(anchor: Option<(SystemTime, i64)>, dts: i64, now: SystemTime) -> SystemTime {
    let Some((wall, ms)) = anchor else {
        return now;
    };
    let offset = std::time::Duration::from_millis(dts.abs_diff(ms));
    if dts >= ms {
        wall + offset
    } else {
        wall.checked_sub(offset).unwrap_or(wall)
    }
}

fn to_u64(ms: i64) -> u64 {
    u64::try_from(ms).unwrap_or(0)
}
