//! FLV sequence headers → fMP4 [`Track`]s and the codec strings MSE asks for.
//!
//! The server's CMAF packager and the browser player both start from the FLV sequence
//! header bodies, so the mapping lives here once.

use bytes::Bytes;

use crate::codec::{AacConfig, AvcConfig, OpusHead};
use crate::flv::audio::{AudioCodec, AudioPacket, AudioTagBody};
use crate::flv::video::{VideoCodec, VideoPacket, VideoTagBody};
use crate::fmp4::{OPUS_TIMESCALE, Track, TrackConfig, TrackTimeline, VIDEO_TIMESCALE};

use super::RemuxError;

/// Track id of the video track in every init segment.
pub const VIDEO_TRACK: u32 = 1;
/// Track id of the audio track.
pub const AUDIO_TRACK: u32 = 2;

/// A track ready for an init segment, with what a player shows about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackSetup {
    /// The fMP4 track.
    pub track: Track,
    /// RFC 6381 codec string: `avc1.PPCCLL`, `mp4a.40.2`, `opus`.
    pub codec: String,
    /// Short codec name for people: `H.264`, `AAC`, `Opus`.
    pub name: &'static str,
}

/// Parses a video tag body. `Ok(None)`: not a sequence header.
pub fn video_setup(body: &Bytes) -> Result<Option<TrackSetup>, RemuxError> {
    // An unparsable body is a bad frame (skipped by the caller), not a config error.
    let Ok(tag) = VideoTagBody::parse(body) else {
        return Ok(None);
    };
    let VideoPacket::SequenceHeader(config) = tag.packet else {
        return Ok(None);
    };
    match tag.codec {
        VideoCodec::Avc => {}
        VideoCodec::Hevc => return Err(RemuxError::Unsupported("HEVC video".into())),
        VideoCodec::Av1 => return Err(RemuxError::Unsupported("AV1 video".into())),
    }
    let avc = AvcConfig::parse(&config).map_err(|e| RemuxError::Invalid(e.to_string()))?;
    if !(1..=4).contains(&avc.nal_length_size) {
        return Err(RemuxError::Invalid(format!(
            "NAL length size {}",
            avc.nal_length_size
        )));
    }
    let sps = avc
        .parse_sps()
        .map_err(|e| RemuxError::Invalid(e.to_string()))?;
    Ok(Some(TrackSetup {
        codec: avc.codec_string(),
        name: "H.264",
        track: Track {
            id: VIDEO_TRACK,
            timescale: VIDEO_TIMESCALE,
            config: TrackConfig::Avc {
                avcc: config,
                width: u16::try_from(sps.width).unwrap_or(u16::MAX),
                height: u16::try_from(sps.height).unwrap_or(u16::MAX),
            },
        },
    }))
}

/// Parses an audio tag body. `Ok(None)`: not a sequence header.
pub fn audio_setup(body: &Bytes) -> Result<Option<TrackSetup>, RemuxError> {
    let Ok(tag) = AudioTagBody::parse(body) else {
        return Ok(None);
    };
    let AudioPacket::SequenceHeader(config) = tag.packet else {
        return Ok(None);
    };
    match tag.codec {
        AudioCodec::Aac => {
            let asc = AacConfig::parse(&config).map_err(|e| RemuxError::Invalid(e.to_string()))?;
            Ok(Some(TrackSetup {
                codec: asc.codec_string(),
                name: "AAC",
                track: Track {
                    id: AUDIO_TRACK,
                    timescale: asc.sample_rate.max(1),
                    config: TrackConfig::Aac {
                        sample_rate: asc.output_sample_rate(),
                        channels: u16::from(asc.channel_count().unwrap_or(2)),
                        asc: config,
                    },
                },
            }))
        }
        AudioCodec::Opus => {
            let head = OpusHead::parse(&config).map_err(|e| RemuxError::Invalid(e.to_string()))?;
            Ok(Some(TrackSetup {
                codec: "opus".into(),
                name: "Opus",
                track: Track {
                    id: AUDIO_TRACK,
                    timescale: OPUS_TIMESCALE,
                    config: TrackConfig::Opus {
                        channels: head.channels,
                        pre_skip: head.pre_skip,
                        input_sample_rate: head.input_sample_rate,
                        output_gain: head.output_gain,
                    },
                },
            }))
        }
        other => Err(RemuxError::Unsupported(format!("{other:?} audio"))),
    }
}

/// The default duration (ticks) of a sample of `track` whose duration cannot be known yet.
pub fn default_duration(track: &Track) -> u32 {
    match track.config {
        TrackConfig::Aac { .. } => 1024,
        TrackConfig::Opus { .. } => 960,
        // 30 fps at 90 kHz.
        _ => 3000,
    }
}

/// A fresh timeline for `track`.
pub fn timeline(track: &Track) -> TrackTimeline {
    TrackTimeline::new(track.timescale, default_duration(track))
}
