//! Timing for fMP4 tracks: FLV-style millisecond DTS/PTS → `trun` entries and `tfdt`.
//!
//! FLV gives decode times in whole milliseconds plus a composition offset. A `trun` wants
//! per-sample durations in the track timescale, and a sample's duration is only known when
//! the next sample arrives. [`TrackTimeline`] therefore:
//!
//! - converts every absolute millisecond time to ticks on its own (`ms × timescale / 1000`)
//!   and takes durations as differences of those, so rounding never accumulates (drift);
//! - estimates the duration of the last sample of a fragment from the previous duration
//!   (or a default), and starts the next fragment exactly where that estimate ended, so
//!   decode times are gapless across fragments; the estimate's error (jitter) is absorbed
//!   by the next fragment's first duration and composition offset, so presentation times
//!   stay exactly the source's (an estimate far too long, e.g. after a hole in the source,
//!   is not followed: the next fragment starts on time and overlaps it instead);
//! - keeps decode times increasing when the source jumps backwards (republish, 32-bit
//!   wrap) by shifting the source from then on, and keeps real gaps (longer than 100 ms
//!   and than a sample) as gaps between fragments.

use bytes::Bytes;

use super::{Fmp4Error, Sample};

/// Distance from the expected decode time within which a fragment's first sample is
/// snapped to it (estimate error, jitter); later by more than this and one (estimated)
/// sample duration is a real gap, earlier than the previous sample by more is a reset.
const SNAP_TOLERANCE_MS: i128 = 100;

/// The samples of one fragment, ready for [`super::write_fragment`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FragmentSamples {
    /// Decode time of the first sample in the track timescale (`tfdt`).
    pub base_decode_time: u64,
    /// One `trun` entry per sample.
    pub samples: Vec<Sample>,
    /// The payloads, in the same order.
    pub data: Vec<Bytes>,
}

impl FragmentSamples {
    /// Sum of the sample durations: the fragment's length in the track timescale.
    pub fn duration(&self) -> u64 {
        self.samples.iter().map(|s| u64::from(s.duration)).sum()
    }
}

#[derive(Debug, Clone, Copy)]
struct Emitted {
    dts: i128,
    source_dts: i128,
    end: i128,
}

#[derive(Debug, Clone)]
struct Pending {
    /// Decode time in ticks, after shifts and clamping.
    dts: i128,
    /// Source decode time in ticks, after shifts, before clamping (for estimates).
    source_dts: i128,
    /// Presentation time in ticks, after shifts.
    pts: i128,
    keyframe: bool,
    data: Bytes,
}

/// Turns millisecond timestamps of one track into fragments of [`Sample`]s.
///
/// Push samples in decode order with [`push`](Self::push), then cut a fragment with
/// [`take_completed`](Self::take_completed) (exact durations: e.g. right after pushing a
/// keyframe, for CMAF segments) or [`take_fragment`](Self::take_fragment) (everything now,
/// the last duration estimated: LL-HLS parts, the MSE player, end of stream).
#[derive(Debug, Clone)]
pub struct TrackTimeline {
    timescale: u32,
    default_duration: u32,
    /// Ticks added to every converted source time (grows after backwards jumps).
    shift: i128,
    /// After a [`take_fragment`](Self::take_fragment): the last emitted sample.
    emitted: Option<Emitted>,
    /// The most recent duration known from two consecutive decode times.
    last_duration: Option<u32>,
    pending: Vec<Pending>,
}

impl TrackTimeline {
    /// A timeline in `timescale` ticks per second; `default_duration` (in ticks) is used
    /// for a sample whose duration cannot be estimated (e.g. 3000 for 30 fps video at
    /// 90 kHz, 1024 for AAC, 960 for 20 ms Opus).
    pub fn new(timescale: u32, default_duration: u32) -> Self {
        Self {
            timescale: timescale.max(1),
            default_duration: default_duration.max(1),
            shift: 0,
            emitted: None,
            last_duration: None,
            pending: Vec::new(),
        }
    }

    /// Ticks per second.
    pub fn timescale(&self) -> u32 {
        self.timescale
    }

    /// Number of samples waiting for the next fragment.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether no sample is waiting.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Length in ticks of what is waiting, the last sample's duration estimated.
    pub fn buffered_duration(&self) -> u64 {
        match (self.pending.first(), self.pending.last()) {
            (Some(first), Some(last)) => to_u64(self.end_of(last.dts, last.source_dts) - first.dts),
            _ => 0,
        }
    }

    /// Decode time (ticks) the next pushed sample is expected at, if any sample was seen.
    pub fn next_decode_time(&self) -> Option<u64> {
        match self.pending.last() {
            Some(last) => Some(to_u64(self.end_of(last.dts, last.source_dts))),
            None => self.emitted.map(|e| to_u64(e.end)),
        }
    }

    /// Adds a sample: decode time in ms (extend FLV's 32-bit times, or pass them as is:
    /// a wrap is handled as a backwards jump), composition offset in ms, payload.
    pub fn push(
        &mut self,
        dts_ms: u64,
        cts_ms: i32,
        keyframe: bool,
        data: Bytes,
    ) -> Result<(), Fmp4Error> {
        if u32::try_from(data.len()).is_err() {
            return Err(Fmp4Error::TooLarge("sample"));
        }
        let mut t = self.ticks(i128::from(dts_ms)) + self.shift;
        let mut p = self.ticks(i128::from(dts_ms) + i128::from(cts_ms)) + self.shift;
        let window = self.ticks(SNAP_TOLERANCE_MS);
        let estimate = i128::from(self.estimated_duration());

        // Where the previous sample starts (decode time, source time) and where this one
        // is expected.
        let previous = match (self.pending.last(), self.emitted) {
            (Some(last), _) => Some((last.dts, last.source_dts, last.dts + estimate)),
            (None, Some(e)) => Some((e.dts, e.source_dts, e.end)),
            (None, None) => None,
        };
        let dts = match previous {
            None => t,
            Some((prev, _, expected)) => {
                if t < prev - window {
                    // Clearly before the previous sample: a reset, not jitter. Shift the
                    // source so it continues where it was expected.
                    let jump = expected - t;
                    self.shift += jump;
                    t += jump;
                    p += jump;
                }
                if !self.pending.is_empty() {
                    // Durations inside a fragment come from the source; stay increasing.
                    t.max(prev + 1)
                } else if t >= expected - window.min(estimate / 2)
                    && t <= expected + window.max(estimate)
                {
                    // Near the previous fragment's estimated end: stay gapless there; the
                    // composition offset keeps the presentation time exact.
                    expected
                } else if t < expected {
                    // The estimate overshot by much: start on time and overlap its end
                    // rather than run ahead of the source, which would squeeze the
                    // following samples to one tick each until the source caught up.
                    t.max(prev + 1)
                } else {
                    // A real gap in the source stays a gap.
                    t
                }
            }
        };
        if let Some((_, prev_source, _)) = previous {
            // Estimate from the source clock, not from a snapped or clamped decode time.
            if t > prev_source {
                self.last_duration = Some(to_u32(t - prev_source));
            }
        }

        self.pending.push(Pending {
            dts,
            source_dts: t,
            pts: p,
            keyframe,
            data,
        });
        Ok(())
    }

    /// Takes everything pushed so far as one fragment, or `None` if nothing is waiting.
    pub fn take_fragment(&mut self) -> Option<FragmentSamples> {
        let last = self.pending.last()?;
        let end = self.end_of(last.dts, last.source_dts);
        self.emitted = Some(Emitted {
            dts: last.dts,
            source_dts: last.source_dts,
            end,
        });
        let pending = std::mem::take(&mut self.pending);
        Some(build(pending, end))
    }

    /// Takes every waiting sample except the newest, whose duration is not known yet, so
    /// all durations are exact; `None` if fewer than two samples wait.
    ///
    /// The usual way to cut before keyframes: push the keyframe, then take what precedes it.
    pub fn take_completed(&mut self) -> Option<FragmentSamples> {
        if self.pending.len() < 2 {
            return None;
        }
        let newest = self.pending.split_off(self.pending.len() - 1);
        let end = newest.first()?.dts;
        let done = std::mem::replace(&mut self.pending, newest);
        Some(build(done, end))
    }

    /// Forgets the continuity (e.g. after a codec change starts a new init segment); the
    /// next sample starts at its own time. Pending samples are dropped.
    pub fn reset(&mut self) {
        *self = Self::new(self.timescale, self.default_duration);
    }

    /// Estimated end of the newest sample: one estimated duration after its *source*
    /// time, so a fragment's snapped start is corrected at its end instead of carried on
    /// (one-sample fragments would otherwise random-walk away from the source clock).
    fn end_of(&self, dts: i128, source_dts: i128) -> i128 {
        (source_dts + i128::from(self.estimated_duration())).max(dts + 1)
    }

    fn estimated_duration(&self) -> u32 {
        self.last_duration.unwrap_or(self.default_duration)
    }

    fn ticks(&self, ms: i128) -> i128 {
        (ms * i128::from(self.timescale)).div_euclid(1000)
    }
}

/// The `trun` entries of `pending` (non-empty), the last one lasting until `end`.
fn build(pending: Vec<Pending>, end: i128) -> FragmentSamples {
    let base_decode_time = pending.first().map_or(0, |s| to_u64(s.dts));
    let mut samples = Vec::with_capacity(pending.len());
    for (i, sample) in pending.iter().enumerate() {
        let next = pending.get(i + 1).map_or(end, |next| next.dts);
        samples.push(Sample {
            duration: to_u32(next - sample.dts),
            // Checked in `push`: fits in u32.
            size: to_u32(sample.data.len() as i128),
            cts_offset: to_i32(sample.pts - sample.dts),
            keyframe: sample.keyframe,
        });
    }
    FragmentSamples {
        base_decode_time,
        samples,
        data: pending.into_iter().map(|s| s.data).collect(),
    }
}

// Saturating conversions: the values are non-negative and small in any real stream.
fn to_u64(v: i128) -> u64 {
    u64::try_from(v.max(0)).unwrap_or(u64::MAX)
}

fn to_u32(v: i128) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

fn to_i32(v: i128) -> i32 {
    i32::try_from(v).unwrap_or(if v < 0 { i32::MIN } else { i32::MAX })
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    /// (dts, pts) in ticks of every sample, rebuilt from the fragments as a player would.
    fn times(fragments: &[FragmentSamples]) -> Vec<(u64, i64)> {
        let mut out = Vec::new();
        for f in fragments {
            let mut dts = f.base_decode_time;
            for s in &f.samples {
                out.push((dts, dts as i64 + i64::from(s.cts_offset)));
                dts += u64::from(s.duration);
            }
        }
        out
    }

    fn payload() -> Bytes {
        Bytes::from_static(b"x")
    }

    #[test]
    fn video_30fps_has_no_drift_and_exact_pts() {
        let mut tl = TrackTimeline::new(90_000, 3000);
        let mut fragments = Vec::new();
        let ms = |i: u64| (i * 1000 + 15) / 30; // FLV rounds 33.33 ms frames
        for i in 0..3000u64 {
            if i % 30 == 0 {
                fragments.extend(tl.take_fragment());
            }
            tl.push(ms(i), 67, i % 30 == 0, payload()).unwrap();
        }
        fragments.extend(tl.take_fragment());
        assert_eq!(fragments.len(), 100);
        // Gapless: each fragment starts where the previous one ended.
        for w in fragments.windows(2) {
            assert_eq!(
                w[0].base_decode_time + w[0].duration(),
                w[1].base_decode_time
            );
        }
        for (i, (dts, pts)) in times(&fragments).into_iter().enumerate() {
            let exact = ms(i as u64) * 90;
            assert_eq!(pts, (exact + 67 * 90) as i64, "sample {i}");
            if i % 30 == 0 {
                assert!(dts.abs_diff(exact) <= 90, "sample {i}: {dts} vs {exact}");
            } else {
                assert_eq!(dts, exact, "sample {i}");
            }
        }
    }

    #[test]
    fn aac_44100_decode_time_follows_the_source_clock() {
        let mut tl = TrackTimeline::new(44_100, 1024);
        let ms = |i: u64| i * 1024 * 1000 / 44_100;
        let mut last = None;
        for i in 0..20_000u64 {
            tl.push(ms(i), 0, true, payload()).unwrap();
            if i % 7 == 6 {
                last = tl.take_fragment();
            }
        }
        let f = last.unwrap();
        // The last sample sits within a millisecond of 1024 × index, after 7+ minutes.
        let dts = f.base_decode_time + f.duration() - u64::from(f.samples[6].duration);
        assert!(dts.abs_diff(19_998 * 1024) <= 45, "{dts}");
        // 23 or 24 ms apart; the first sample of a fragment absorbs the estimate's error.
        assert!(
            f.samples[1..]
                .iter()
                .all(|s| (1014..=1059).contains(&s.duration))
        );
    }

    #[test]
    fn b_frames_keep_their_offsets() {
        let mut tl = TrackTimeline::new(90_000, 3000);
        // I P B B: decode order with composition offsets as ffmpeg's FLV muxer writes them.
        for (dts, cts, key) in [
            (0, 67, true),
            (33, 133, false),
            (67, 33, false),
            (100, 0, false),
        ] {
            tl.push(dts, cts, key, payload()).unwrap();
        }
        let f = tl.take_fragment().unwrap();
        let offsets: Vec<i32> = f.samples.iter().map(|s| s.cts_offset).collect();
        assert_eq!(offsets, [6030, 11970, 2970, 0]);
        let keys: Vec<bool> = f.samples.iter().map(|s| s.keyframe).collect();
        assert_eq!(keys, [true, false, false, false]);
        // The last duration is estimated from the one before (67 → 100 ms).
        assert_eq!(f.samples[3].duration, 2970);
    }

    #[test]
    fn take_completed_keeps_the_newest_sample_and_is_exact() {
        let mut tl = TrackTimeline::new(90_000, 3000);
        tl.push(0, 0, true, payload()).unwrap();
        assert!(tl.take_completed().is_none());
        tl.push(34, 0, false, payload()).unwrap();
        tl.push(67, 0, true, payload()).unwrap();
        let f = tl.take_completed().unwrap();
        let durations: Vec<u32> = f.samples.iter().map(|s| s.duration).collect();
        assert_eq!(durations, [3060, 2970]);
        assert_eq!(tl.len(), 1);
        tl.push(100, 0, false, payload()).unwrap();
        let f = tl.take_fragment().unwrap();
        assert_eq!(f.base_decode_time, 6030);
        assert_eq!(f.samples[0].duration, 2970);
    }

    #[test]
    fn lone_sample_uses_the_default_then_the_stream_corrects_it() {
        let mut tl = TrackTimeline::new(48_000, 960);
        assert!(tl.take_fragment().is_none());
        tl.push(1000, 0, true, payload()).unwrap();
        let f = tl.take_fragment().unwrap();
        assert_eq!(f.base_decode_time, 48_000);
        assert_eq!(f.samples[0].duration, 960);
        assert_eq!(tl.next_decode_time(), Some(48_960));
        tl.push(1040, 0, true, payload()).unwrap(); // 40 ms frames, not 20
        tl.push(1080, 0, true, payload()).unwrap();
        let f = tl.take_fragment().unwrap();
        assert_eq!(f.base_decode_time, 48_960);
        assert_eq!(f.samples[0].duration, 51_840 - 48_960);
        assert_eq!(f.samples[0].cts_offset, 49_920 - 48_960);
        assert_eq!(f.samples[1].duration, 1920);
    }

    #[test]
    fn backwards_jump_and_32_bit_wrap_stay_monotonic() {
        let mut tl = TrackTimeline::new(90_000, 3000);
        let start = u64::from(u32::MAX) - 99;
        for i in 0..3 {
            tl.push(start + i * 40, 0, i == 0, payload()).unwrap();
        }
        for ms in [20, 60, 100, 140, 180] {
            tl.push(ms, 0, false, payload()).unwrap(); // wrapped past 0xffff_ffff
        }
        let first = tl.take_fragment().unwrap();
        tl.push(0, 0, true, payload()).unwrap(); // a republish from zero
        tl.push(40, 0, false, payload()).unwrap();
        let second = tl.take_fragment().unwrap();
        let all = times(&[first.clone(), second.clone()]);
        assert!(all.windows(2).all(|w| w[0].0 < w[1].0), "{all:?}");
        assert!(all.iter().all(|&(d, p)| d as i64 == p));
        assert_eq!(first.samples[2].duration, 3600); // estimate after the jump
        assert_eq!(
            first.base_decode_time + first.duration(),
            second.base_decode_time
        );
    }

    #[test]
    fn slow_video_jitter_is_not_a_gap() {
        let mut tl = TrackTimeline::new(90_000, 3000);
        tl.push(0, 0, true, payload()).unwrap();
        tl.push(1000, 0, false, payload()).unwrap();
        let first = tl.take_fragment().unwrap();
        tl.push(2300, 0, false, payload()).unwrap(); // 300 ms late for a 1 fps source
        let second = tl.take_fragment().unwrap();
        assert_eq!(
            first.base_decode_time + first.duration(),
            second.base_decode_time
        );
        assert_eq!(second.samples[0].cts_offset, 300 * 90);
    }

    #[test]
    fn an_overshooting_estimate_does_not_run_ahead_of_the_source() {
        let mut tl = TrackTimeline::new(1000, 20);
        for ms in [0, 20, 5000] {
            tl.push(ms, 0, true, payload()).unwrap(); // a 5 s hole inside the fragment
        }
        let first = tl.take_fragment().unwrap();
        assert_eq!(first.samples[2].duration, 4980);
        tl.push(5020, 0, true, payload()).unwrap();
        let second = tl.take_fragment().unwrap();
        assert_eq!(second.base_decode_time, 5020);
        assert_eq!(second.samples[0].cts_offset, 0);
    }

    #[test]
    fn real_gaps_are_kept_between_fragments() {
        let mut tl = TrackTimeline::new(1000, 20);
        tl.push(0, 0, true, payload()).unwrap();
        tl.push(20, 0, true, payload()).unwrap();
        tl.take_fragment().unwrap();
        tl.push(1000, 0, true, payload()).unwrap();
        let f = tl.take_fragment().unwrap();
        assert_eq!(f.base_decode_time, 1000);
        assert_eq!(tl.buffered_duration(), 0);
        tl.push(1020, 0, true, payload()).unwrap();
        assert_eq!(tl.buffered_duration(), 20);
        assert_eq!(tl.len(), 1);
        tl.reset();
        assert!(tl.is_empty());
        assert_eq!(tl.next_decode_time(), None);
    }
}
