//! Tag bodies → [`Unit`]s, per stream, on one 64-bit timeline.

use std::sync::Arc;

use bytes::Bytes;

use super::{Codec, Config, Frame, MediaError, MediaKind, Script, Track, Unit};
use crate::flv::audio::{AudioPacket, AudioTagBody};
use crate::flv::video::{VideoPacket, VideoTagBody};

/// Extends 32-bit millisecond timestamps (FLV, RTMP) to a 64-bit timeline.
///
/// The one rule, everywhere: each timestamp is read as the signed 32-bit difference from
/// the previous one (serial-number arithmetic). So a wrap past 2^32 ms (49.7 days)
/// continues forward, and a jump back (an encoder that restarted its clock) goes back by
/// the same amount rather than being mistaken for a wrap; consumers that need time to only
/// move forward (fragment timelines, HLS segments) deal with that step themselves, as they
/// would with any discontinuity. The first timestamp is taken as is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimestampExtender {
    last: Option<(u32, i64)>,
}

impl TimestampExtender {
    /// The 64-bit time of `ts`, which becomes the reference for the next one.
    pub fn extend(&mut self, ts: u32) -> i64 {
        let ext = match self.last {
            None => i64::from(ts),
            Some((last, ext)) => ext + i64::from(ts.wrapping_sub(last) as i32),
        };
        self.last = Some((ts, ext));
        ext
    }
}

/// One stream's tags in, typed units out (see the [module docs](super)).
///
/// It keeps each track's current [`Config`]: a sequence header identical to the current
/// one (a republish, a periodic repeat) is not parsed again and yields the same `Arc`.
#[derive(Debug, Default, Clone)]
pub struct Parser {
    clock: TimestampExtender,
    video: Option<Arc<Config>>,
    audio: Option<Arc<Config>>,
}

impl Parser {
    /// A parser for a new stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses one tag body of `kind` at 32-bit `timestamp`. Every timestamp, even one of a
    /// body that turns out to be unusable, advances the timeline.
    pub fn parse(
        &mut self,
        kind: MediaKind,
        timestamp: u32,
        body: &Bytes,
    ) -> Result<Unit, MediaError> {
        let dts = self.clock.extend(timestamp);
        match kind {
            MediaKind::Video => self.video(dts, body),
            MediaKind::Audio => self.audio(dts, body),
            MediaKind::Script => Script::parse(body).map(Unit::Script),
        }
    }

    /// The 64-bit time of the last tag parsed.
    pub fn last_dts(&self) -> Option<i64> {
        self.clock.last.map(|(_, ext)| ext)
    }

    /// The current video configuration.
    pub fn video_config(&self) -> Option<&Arc<Config>> {
        self.video.as_ref()
    }

    /// The current audio configuration.
    pub fn audio_config(&self) -> Option<&Arc<Config>> {
        self.audio.as_ref()
    }

    fn video(&mut self, dts: i64, body: &Bytes) -> Result<Unit, MediaError> {
        let tag = VideoTagBody::parse(body)?;
        let keyframe = tag.is_keyframe();
        let codec = Codec::Video(tag.codec);
        match tag.packet {
            VideoPacket::SequenceHeader(record) => {
                let config = keep(&mut self.video, codec, record, Config::video)?;
                Ok(Unit::Config(config))
            }
            VideoPacket::Frame { cts, data } => Ok(Unit::Frame(Frame {
                track: Track::Video,
                codec,
                dts,
                cts,
                keyframe,
                payload: data,
            })),
            VideoPacket::EndOfSequence
            | VideoPacket::Metadata(_)
            | VideoPacket::Mpeg2TsSequenceStart(_) => Ok(Unit::Passthrough(Track::Video)),
        }
    }

    fn audio(&mut self, dts: i64, body: &Bytes) -> Result<Unit, MediaError> {
        let tag = AudioTagBody::parse(body)?;
        let codec = Codec::Audio(tag.codec);
        match tag.packet {
            AudioPacket::SequenceHeader(record) => {
                let config = keep(&mut self.audio, codec, record, Config::audio)?;
                Ok(Unit::Config(config))
            }
            AudioPacket::Frame(data) => Ok(Unit::Frame(Frame {
                track: Track::Audio,
                codec,
                dts,
                cts: 0,
                keyframe: true,
                payload: data,
            })),
            AudioPacket::SequenceEnd => Ok(Unit::Passthrough(Track::Audio)),
        }
    }
}

/// The current config if `record` is the same codec and bytes, else `parse(codec, record)`,
/// which becomes current. A record that does not parse leaves the current one in place.
fn keep(
    current: &mut Option<Arc<Config>>,
    codec: Codec,
    record: Bytes,
    parse: impl FnOnce(Codec, Bytes) -> Result<Config, MediaError>,
) -> Result<Arc<Config>, MediaError> {
    if let Some(c) = current
        && c.codec == codec
        && c.record == record
    {
        return Ok(c.clone());
    }
    let config = Arc::new(parse(codec, record)?);
    *current = Some(config.clone());
    Ok(config)
}
