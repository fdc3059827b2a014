//! FLV recording → progressive MP4, on a blocking thread when the stream has ended.
//!
//! Two passes over the FLV, read back with the shared demuxer: the first collects every
//! sample's timing and size (and the codec configs) so the `moov` can be written before
//! `mdat`; the second copies the payloads in the same order. Memory stays at a few bytes
//! per sample whatever the recording's length. The MP4 is written as `….mp4.part` and
//! renamed when complete, so the listing never shows half a file.
//!
//! Only the first config of each track is used (a sample entry per track); samples before
//! it, and codecs the MP4 writer has no sample entry for, are left out.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;

use bytes::{Bytes, BytesMut};
use onair_shared::flv::Tag;
use onair_shared::flv::demux::{DemuxEvent, Demuxer};
use onair_shared::fmp4::{Track, TrackConfig};
use onair_shared::media::{self, Codec, Parser, Unit};
use onair_shared::mp4::Mp4Writer;
use onair_shared::remux::tracks;

use super::RecordError;

/// FLV's own limit: a 24-bit data size.
const MAX_TAG: usize = 1 << 24;
const READ_CHUNK: usize = 256 * 1024;

/// What a finished conversion produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub samples: usize,
    pub duration_s: f64,
}

/// One sample as found in the FLV: times in milliseconds on the recording's 64-bit
/// timeline (the one `onair_shared::media` extends for every output).
#[derive(Debug, Clone, Copy)]
struct Meta {
    video: bool,
    ms: i64,
    cts_ms: i32,
    size: u32,
    key: bool,
}

/// Picks the samples out of the tags, deterministically (both passes must agree).
#[derive(Default)]
struct Classifier {
    parser: Parser,
    video: Option<Track>,
    /// The audio track and the codec its samples must have.
    audio: Option<(Track, Codec)>,
}

impl Classifier {
    fn classify(&mut self, tag: &Tag) -> Option<(Meta, Bytes)> {
        let frame = match self.parser.parse(tag.kind, tag.timestamp, &tag.data).ok()? {
            Unit::Config(config) => {
                // The first config of each track gives its sample entry.
                if let Ok(setup) = tracks::setup(&config) {
                    match config.track {
                        media::Track::Video => {
                            self.video.get_or_insert(setup.track);
                        }
                        media::Track::Audio => {
                            self.audio.get_or_insert((setup.track, config.codec));
                        }
                    }
                }
                return None;
            }
            Unit::Frame(frame) => frame,
            _ => return None,
        };
        let video = frame.track == media::Track::Video;
        let usable = if video {
            self.video.is_some() && frame.codec == Codec::H264
        } else {
            self.audio.as_ref().is_some_and(|(_, c)| *c == frame.codec)
        };
        if !usable {
            return None;
        }
        let meta = Meta {
            video,
            ms: frame.dts,
            cts_ms: frame.cts,
            size: u32::try_from(frame.payload.len()).ok()?,
            key: frame.keyframe,
        };
        Some((meta, frame.payload))
    }
}

/// Feeds every sample of the FLV at `path` to `f`, in file order. A damaged or truncated
/// tail (a crash while recording) ends the file quietly: what came before is kept.
fn for_each_sample(
    path: &Path,
    mut f: impl FnMut(Meta, Bytes) -> Result<(), RecordError>,
) -> Result<Classifier, RecordError> {
    let mut file = File::open(path).map_err(RecordError::io(path))?;
    let mut demuxer = Demuxer::new(MAX_TAG);
    let mut classifier = Classifier::default();
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        let n = file.read(&mut buf).map_err(RecordError::io(path))?;
        if n == 0 {
            return Ok(classifier);
        }
        demuxer.push(&buf[..n]);
        loop {
            match demuxer.next_event() {
                Ok(Some(DemuxEvent::Tag(tag))) => {
                    if let Some((meta, data)) = classifier.classify(&tag) {
                        f(meta, data)?;
                    }
                }
                Ok(Some(DemuxEvent::Header(_))) => {}
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(file = %path.display(), "FLV recording ends in damage: {e}");
                    return Ok(classifier);
                }
            }
        }
    }
}

/// Converts the FLV recording at `flv` into an MP4 at `mp4`.
pub fn convert(flv: &Path, mp4: &Path) -> Result<Summary, RecordError> {
    let mut metas = Vec::new();
    let found = for_each_sample(flv, |meta, _| {
        metas.push(meta);
        Ok(())
    })?;
    let mut tracks = Vec::new();
    let video_index = found.video.map(|t| {
        tracks.push(t);
        tracks.len() - 1
    });
    let audio_index = found.audio.map(|(t, _)| {
        tracks.push(t);
        tracks.len() - 1
    });
    if metas.is_empty() {
        return Err(RecordError::Empty(flv.to_path_buf()));
    }
    let mp4_err = |source| RecordError::Mp4 {
        path: mp4.to_path_buf(),
        source,
    };
    let mut writer = Mp4Writer::new(tracks.clone()).map_err(mp4_err)?;
    let base_ms = metas.iter().map(|m| m.ms).min().unwrap_or(0);
    let mut last_audio: Option<u64> = None;
    for m in &metas {
        let Some(index) = (if m.video { video_index } else { audio_index }) else {
            continue;
        };
        let track = &tracks[index];
        let scale = u64::from(track.timescale);
        let mut dts = u64::try_from(m.ms - base_ms).unwrap_or(0) * scale / 1000;
        if let (TrackConfig::Aac { .. }, Some(prev)) = (&track.config, last_audio) {
            // FLV rounds AAC times (1024 samples: 23.2 ms at 44.1 kHz) to whole ms; snap a
            // frame that is where the previous one ended, give or take that rounding, back
            // onto the exact sample clock instead of jittering every duration.
            let expected = prev + 1024;
            if dts.abs_diff(expected) <= scale / 1000 + 1 {
                dts = expected;
            }
        }
        if !m.video {
            last_audio = Some(dts);
        }
        let cts = i64::from(m.cts_ms) * scale as i64 / 1000;
        let cts = i32::try_from(cts).unwrap_or(0);
        writer
            .push(index, dts, cts, m.size, m.key)
            .map_err(mp4_err)?;
    }

    let part = mp4.with_extension("mp4.part");
    let write = || -> Result<(), RecordError> {
        let io = RecordError::io(&part);
        let file = File::create(&part).map_err(RecordError::io(&part))?;
        let mut out = BufWriter::with_capacity(READ_CHUNK, file);
        let mut header = BytesMut::new();
        writer.finish(&mut header).map_err(mp4_err)?;
        out.write_all(&header).map_err(RecordError::io(&part))?;
        let mut next = metas.iter();
        for_each_sample(flv, |meta, data| {
            // The same bytes give the same samples; anything else means the file changed.
            match next.next() {
                Some(m) if m.size == meta.size && m.ms == meta.ms => {
                    out.write_all(&data).map_err(RecordError::io(&part))
                }
                _ => Err(RecordError::Changed(flv.to_path_buf())),
            }
        })?;
        if next.next().is_some() {
            return Err(RecordError::Changed(flv.to_path_buf()));
        }
        let file = out.into_inner().map_err(|e| io(e.into_error()))?;
        file.sync_all().map_err(RecordError::io(&part))?;
        std::fs::rename(&part, mp4).map_err(RecordError::io(mp4))
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&part);
        return Err(e);
    }
    let last = metas.iter().map(|m| m.ms).max().unwrap_or(base_ms);
    Ok(Summary {
        samples: metas.len(),
        duration_s: (last - base_ms) as f64 / 1000.0,
    })
}
