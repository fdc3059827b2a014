//! Decoder configurations ([`Config`]) → fMP4 [`Track`]s and the codec strings MSE asks for.
//!
//! The server's CMAF packager, the MP4 recorder and the browser player all start from the
//! configs `media` parsed at ingest, so the mapping lives here once.

use crate::fmp4::{OPUS_TIMESCALE, Track, TrackConfig, TrackTimeline, VIDEO_TIMESCALE};

use super::RemuxError;
use crate::media::{Config, DecoderConfig};

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

/// The fMP4 track for a stream's decoder configuration (parsed once, at ingest).
pub fn setup(config: &Config) -> Result<TrackSetup, RemuxError> {
    let codec = config.codec_string.clone().unwrap_or_default();
    let name = config.codec.display_name();
    let (id, timescale, track_config) = match &config.decoder {
        DecoderConfig::Avc { avcc, sps } => {
            if !(1..=4).contains(&avcc.nal_length_size) {
                return Err(RemuxError::InvalidTrack("AVC NAL length size"));
            }
            let sps = sps.as_ref().ok_or(RemuxError::InvalidTrack("H.264 SPS"))?;
            let side = |v: u32| u16::try_from(v).unwrap_or(u16::MAX);
            let avc = TrackConfig::Avc {
                avcc: config.record.clone(),
                width: side(sps.width),
                height: side(sps.height),
            };
            (VIDEO_TRACK, VIDEO_TIMESCALE, avc)
        }
        DecoderConfig::Aac(asc) => {
            let aac = TrackConfig::Aac {
                sample_rate: asc.output_sample_rate(),
                channels: u16::from(asc.channel_count().unwrap_or(2)),
                asc: config.record.clone(),
            };
            (AUDIO_TRACK, asc.sample_rate.max(1), aac)
        }
        DecoderConfig::Opus(head) => {
            let opus = TrackConfig::Opus {
                channels: head.channels,
                pre_skip: head.pre_skip,
                input_sample_rate: head.input_sample_rate,
                output_gain: head.output_gain,
            };
            (AUDIO_TRACK, OPUS_TIMESCALE, opus)
        }
        DecoderConfig::Opaque => return Err(RemuxError::Unsupported(config.codec)),
    };
    Ok(TrackSetup {
        codec,
        name,
        track: Track {
            id,
            timescale,
            config: track_config,
        },
    })
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
