//! Progressive (non-fragmented) MP4 writer: `ftyp`, `moov`, then one `mdat`.
//!
//! Used for recordings: a file a `<video>` element can seek in from the first byte, because
//! the index (`moov`) comes before the media (`mdat`). That order means every chunk offset
//! depends on the size of `moov`, which is only known once every sample has been seen, so
//! the writer works in two steps and never holds the media itself (sans-IO, bounded memory):
//!
//! 1. [`Mp4Writer::push`] once per sample, in the order the payloads will be written, with
//!    the decode time and composition offset in the track timescale, size and sync flag;
//! 2. [`Mp4Writer::finish`] appends `ftyp` + `moov` + the `mdat` header; the caller then
//!    writes the payloads, unchanged, in the same order as they were pushed.
//!
//! ```text
//! ftyp
//! moov ─ mvhd
//!      └ trak ─ tkhd, edts(elst)
//!             └ mdia ─ mdhd, hdlr
//!                    └ minf ─ vmhd|smhd, dinf
//!                           └ stbl ─ stsd, stts, ctts?, stss?, stsc, stsz, stco|co64
//! mdat
//! ```
//!
//! A chunk is a run of consecutive samples of one track; samples are interleaved as pushed.
//! Box framing and the sample entries (`avc1`, `mp4a`, `Opus`) come from [`crate::fmp4`].

pub mod tables;

use bytes::{BufMut, BytesMut};

use crate::fmp4::boxes::{begin, begin_full, end, write_ftyp, write_mvhd, write_tkhd};
use crate::fmp4::init::begin_media;
use crate::fmp4::{Fmp4Error, Track, TrackConfig};

/// Movie timescale (`mvhd`, `tkhd`, `elst` durations): milliseconds.
pub const MOVIE_TIMESCALE: u32 = 1000;

/// Why a progressive MP4 could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mp4Error {
    /// A writer without tracks.
    #[error("an MP4 needs at least one track")]
    NoTracks,
    /// A track id of 0 or used twice, or a timescale of 0.
    #[error("track {0} has id 0, a duplicate id or a zero timescale")]
    BadTrack(u32),
    /// `push` named a track index the writer does not have.
    #[error("no track with index {0}")]
    NoSuchTrack(usize),
    /// A box could not be written.
    #[error(transparent)]
    Box(#[from] Fmp4Error),
}

/// The per-sample tables of one track, filled by [`Mp4Writer::push`].
#[derive(Debug, Clone)]
struct TrackSamples {
    track: Track,
    dts: Vec<u64>,
    cts: Vec<i32>,
    sizes: Vec<u32>,
    keyframes: Vec<bool>,
    /// Offset of each chunk from the start of the `mdat` payload.
    chunk_offsets: Vec<u64>,
    chunk_lengths: Vec<u32>,
}

/// Collects sample tables, then writes everything before the media; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Mp4Writer {
    tracks: Vec<TrackSamples>,
    last_track: Option<usize>,
    mdat_len: u64,
}

impl Mp4Writer {
    /// A writer for `tracks` (ids non-zero and unique, timescales non-zero); `push` names a
    /// track by its index in this list.
    pub fn new(tracks: Vec<Track>) -> Result<Self, Mp4Error> {
        if tracks.is_empty() {
            return Err(Mp4Error::NoTracks);
        }
        for (i, t) in tracks.iter().enumerate() {
            if t.id == 0 || t.timescale == 0 || tracks[..i].iter().any(|o| o.id == t.id) {
                return Err(Mp4Error::BadTrack(t.id));
            }
        }
        Ok(Self {
            tracks: tracks
                .into_iter()
                .map(|track| TrackSamples {
                    track,
                    dts: Vec::new(),
                    cts: Vec::new(),
                    sizes: Vec::new(),
                    keyframes: Vec::new(),
                    chunk_offsets: Vec::new(),
                    chunk_lengths: Vec::new(),
                })
                .collect(),
            last_track: None,
            mdat_len: 0,
        })
    }

    /// Adds a sample of track `track` whose payload of `size` bytes will follow the previous
    /// one in `mdat`. `dts` is in the track timescale; a decode time that does not increase
    /// (a source glitch) is moved to one tick after the previous one, so durations stay
    /// positive.
    pub fn push(
        &mut self,
        track: usize,
        dts: u64,
        cts: i32,
        size: u32,
        keyframe: bool,
    ) -> Result<(), Mp4Error> {
        let t = self
            .tracks
            .get_mut(track)
            .ok_or(Mp4Error::NoSuchTrack(track))?;
        let dts = match t.dts.last() {
            Some(&last) if dts <= last => last + 1,
            _ => dts,
        };
        t.dts.push(dts);
        t.cts.push(cts);
        t.sizes.push(size);
        t.keyframes.push(keyframe);
        match t.chunk_lengths.last_mut() {
            Some(len) if self.last_track == Some(track) => *len += 1,
            _ => {
                t.chunk_offsets.push(self.mdat_len);
                t.chunk_lengths.push(1);
            }
        }
        self.last_track = Some(track);
        self.mdat_len += u64::from(size);
        Ok(())
    }

    /// Bytes of media the caller will write after [`Mp4Writer::finish`]'s output.
    pub fn mdat_payload_len(&self) -> u64 {
        self.mdat_len
    }

    /// Number of samples pushed to track `track` (0 for an unknown index).
    pub fn sample_count(&self, track: usize) -> usize {
        self.tracks.get(track).map_or(0, |t| t.dts.len())
    }

    /// Appends `ftyp`, `moov` and the `mdat` header; the payloads go right after, in push
    /// order. On error nothing is appended.
    pub fn finish(&self, out: &mut BytesMut) -> Result<(), Mp4Error> {
        let mark = out.len();
        let result = self.finish_unchecked(out);
        if result.is_err() {
            out.truncate(mark);
        }
        result
    }

    fn finish_unchecked(&self, out: &mut BytesMut) -> Result<(), Mp4Error> {
        let start = out.len();
        let mut brands: Vec<&[u8; 4]> = vec![b"isom", b"iso2", b"mp41"];
        if self.tracks.iter().any(|t| t.track.config.is_video()) {
            brands.push(b"avc1");
        }
        write_ftyp(out, b"isom", &brands)?;
        let ftyp_len = (out.len() - start) as u64;
        // A payload that does not fit a 32-bit box size needs the 64-bit `largesize` form.
        let mdat_header: u64 = if self.mdat_len + 8 > u64::from(u32::MAX) {
            16
        } else {
            8
        };
        // The size of `moov` does not depend on the offset values, only on their width:
        // measure with zeros, then write for real once the media's position is known.
        let mut scratch = BytesMut::new();
        self.write_moov(&mut scratch, None, false)?;
        let wide =
            ftyp_len + scratch.len() as u64 + mdat_header + self.mdat_len > u64::from(u32::MAX);
        if wide {
            scratch.clear();
            self.write_moov(&mut scratch, None, true)?;
        }
        let base = ftyp_len + scratch.len() as u64 + mdat_header;
        self.write_moov(out, Some(base), wide)?;
        if mdat_header == 16 {
            out.put_u32(1);
            out.put_slice(b"mdat");
            out.put_u64(self.mdat_len + 16);
        } else {
            // Checked above: fits.
            out.put_u32((self.mdat_len + 8) as u32);
            out.put_slice(b"mdat");
        }
        Ok(())
    }

    /// Where every track starts and how long it lasts, in its own timescale.
    fn timing(&self) -> Vec<TrackTiming> {
        let starts: Vec<f64> = self
            .tracks
            .iter()
            .filter_map(|t| {
                t.dts
                    .first()
                    .map(|&d| d as f64 / f64::from(t.track.timescale))
            })
            .collect();
        let movie_start = starts.iter().copied().fold(f64::INFINITY, f64::min);
        self.tracks
            .iter()
            .map(|t| TrackTiming::of(t, movie_start))
            .collect()
    }

    fn write_moov(
        &self,
        out: &mut BytesMut,
        base: Option<u64>,
        wide: bool,
    ) -> Result<(), Mp4Error> {
        let timing = self.timing();
        let moov = begin(out, b"moov");
        let next_id = self
            .tracks
            .iter()
            .map(|t| t.track.id)
            .max()
            .map_or(1, |id| id.saturating_add(1));
        let mvhd = out.len();
        write_mvhd(out, MOVIE_TIMESCALE, next_id)?;
        let movie_duration = timing.iter().map(|t| t.movie_duration).max().unwrap_or(0);
        patch_u32(out, mvhd + 24, movie_duration);
        for (t, timing) in self.tracks.iter().zip(&timing) {
            write_trak(out, t, timing, base, wide)?;
        }
        end(out, moov)?;
        Ok(())
    }
}

/// The derived durations of one track.
#[derive(Debug, Clone, Copy)]
struct TrackTiming {
    /// Sample durations end to end, in the track timescale.
    media_duration: u64,
    /// Empty time before the track's first sample, in the movie timescale.
    delay: u64,
    /// Presentation time of the earliest sample relative to the first decode time (ticks).
    media_time: u64,
    /// `delay` plus the presented media, in the movie timescale.
    movie_duration: u64,
}

impl TrackTiming {
    fn of(t: &TrackSamples, movie_start: f64) -> Self {
        let scale = f64::from(t.track.timescale);
        let (Some(&first), Some(&last)) = (t.dts.first(), t.dts.last()) else {
            return Self {
                media_duration: 0,
                delay: 0,
                media_time: 0,
                movie_duration: 0,
            };
        };
        let frame = u64::from(last_duration(t));
        let media_duration = last - first + frame;
        let pts = || {
            t.dts
                .iter()
                .zip(&t.cts)
                .map(|(&d, &c)| d as i128 + i128::from(c) - first as i128)
        };
        let media_time = u64::try_from(pts().min().unwrap_or(0)).unwrap_or(0);
        // Presented: from the earliest to the end of the latest presentation time, which
        // with B-frames is past the last decode time (cutting there would hide frames).
        let end = u64::try_from(pts().max().unwrap_or(0)).unwrap_or(0) + frame;
        let delay_s = (first as f64 / scale - movie_start).max(0.0);
        let delay = (delay_s * f64::from(MOVIE_TIMESCALE)).round() as u64;
        let presented = end.saturating_sub(media_time);
        let movie_duration = delay + to_movie(presented, t.track.timescale);
        Self {
            media_duration,
            delay,
            media_time,
            movie_duration,
        }
    }
}

fn to_movie(ticks: u64, timescale: u32) -> u64 {
    (u128::from(ticks) * u128::from(MOVIE_TIMESCALE) / u128::from(timescale.max(1))) as u64
}

/// The last sample's duration is not in the source: repeat the one before it, or, for a
/// single sample, the codec's usual frame length.
fn last_duration(t: &TrackSamples) -> u32 {
    match t.dts.len() {
        0 => 0,
        1 => match t.track.config {
            TrackConfig::Aac { .. } => 1024,
            TrackConfig::Opus { .. } => 960,
            _ => t.track.timescale / 30,
        },
        n => u32::try_from(t.dts[n - 1] - t.dts[n - 2]).unwrap_or(u32::MAX),
    }
}

fn durations(t: &TrackSamples) -> Vec<u32> {
    let mut out: Vec<u32> = t
        .dts
        .windows(2)
        .map(|w| u32::try_from(w[1] - w[0]).unwrap_or(u32::MAX))
        .collect();
    if !t.dts.is_empty() {
        out.push(last_duration(t));
    }
    out
}

/// Writes a duration into a version 0 header box; longer than 32 bits saturates (only
/// `mdhd` of a 90 kHz track could get there, after 13 hours).
fn patch_u32(out: &mut BytesMut, at: usize, value: u64) {
    let v = u32::try_from(value).unwrap_or(u32::MAX);
    out[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

fn write_trak(
    out: &mut BytesMut,
    t: &TrackSamples,
    timing: &TrackTiming,
    base: Option<u64>,
    wide: bool,
) -> Result<(), Mp4Error> {
    let video = t.track.config.is_video();
    let (width, height) = match &t.track.config {
        TrackConfig::Avc { width, height, .. } => (*width, *height),
        _ => (0, 0),
    };
    let trak = begin(out, b"trak");
    let tkhd = out.len();
    write_tkhd(out, t.track.id, !video, width, height)?;
    patch_u32(out, tkhd + 28, timing.movie_duration);
    write_edts(out, t, timing)?;

    let media = begin_media(out, &t.track)?;
    patch_u32(out, media.mdhd + 24, timing.media_duration);
    tables::write_stts(out, &durations(t))?;
    tables::write_ctts(out, &t.cts)?;
    if video {
        tables::write_stss(out, &t.keyframes)?;
    }
    tables::write_stsc(out, &t.chunk_lengths)?;
    tables::write_stsz(out, &t.sizes)?;
    let offsets: Vec<u64> = match base {
        Some(base) => t.chunk_offsets.iter().map(|o| base + o).collect(),
        None => vec![0; t.chunk_offsets.len()],
    };
    tables::write_chunk_offsets(out, &offsets, wide)?;
    media.end(out)?;
    end(out, trak)?;
    Ok(())
}

/// `edts`/`elst`: an empty edit for a track that starts after the movie does, then the
/// media from its earliest presentation time, so B-frame delay does not show as a lead-in.
fn write_edts(out: &mut BytesMut, t: &TrackSamples, timing: &TrackTiming) -> Result<(), Mp4Error> {
    if t.dts.is_empty() || (timing.delay == 0 && timing.media_time == 0) {
        return Ok(());
    }
    let edts = begin(out, b"edts");
    let elst = begin_full(out, b"elst", 0, 0);
    let entries = if timing.delay > 0 { 2 } else { 1 };
    out.put_u32(entries);
    if timing.delay > 0 {
        out.put_u32(u32::try_from(timing.delay).unwrap_or(u32::MAX));
        out.put_i32(-1); // empty edit
        out.put_u32(0x0001_0000);
    }
    let presented = timing.movie_duration - timing.delay;
    out.put_u32(u32::try_from(presented).unwrap_or(u32::MAX));
    out.put_i32(i32::try_from(timing.media_time).unwrap_or(i32::MAX));
    out.put_u32(0x0001_0000); // media_rate 1.0
    end(out, elst)?;
    end(out, edts)?;
    Ok(())
}

#[cfg(test)]
mod tests;
