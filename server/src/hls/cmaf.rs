//! Codec configs (FLV sequence-header bodies) → fMP4 tracks, MPEG-TS configs, and the
//! per-track timelines the packager cuts into parts.

use bytes::{Bytes, BytesMut};
use onair_shared::codec::{AacConfig, AvcConfig, OpusHead};
use onair_shared::flv::audio::{AudioCodec, AudioPacket, AudioTagBody};
use onair_shared::flv::video::{VideoCodec, VideoPacket, VideoTagBody};
use onair_shared::fmp4::{
    self, FragmentSamples, OPUS_TIMESCALE, Track, TrackConfig, VIDEO_TIMESCALE,
};
use onair_shared::ts::{TsAudioConfig, TsVideoConfig};

/// Track id of the video track in every init segment.
pub const VIDEO_TRACK: u32 = 1;
/// Track id of the audio track.
pub const AUDIO_TRACK: u32 = 2;

/// A video config the packager can package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoSetup {
    pub track: Track,
    pub ts: TsVideoConfig,
}

/// An audio config; `ts` is `None` for codecs MPEG-TS HLS cannot carry here (Opus).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioSetup {
    pub track: Track,
    pub ts: Option<TsAudioConfig>,
    pub codec: &'static str,
}

/// Why a config cannot be packaged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    #[error("{0} video cannot be packaged as HLS yet (only H.264)")]
    VideoCodec(&'static str),
    #[error("{0} audio cannot be packaged as HLS (only AAC and Opus)")]
    AudioCodec(String),
    #[error("invalid codec config: {0}")]
    Invalid(String),
}

/// Parses a video sequence-header tag body. `Ok(None)`: not a sequence header.
pub fn video_setup(body: &Bytes) -> Result<Option<VideoSetup>, SetupError> {
    let tag = VideoTagBody::parse(body).map_err(|e| SetupError::Invalid(e.to_string()))?;
    let VideoPacket::SequenceHeader(config) = tag.packet else {
        return Ok(None);
    };
    match tag.codec {
        VideoCodec::Avc => {}
        VideoCodec::Hevc => return Err(SetupError::VideoCodec("HEVC")),
        VideoCodec::Av1 => return Err(SetupError::VideoCodec("AV1")),
    }
    let avc = AvcConfig::parse(&config).map_err(|e| SetupError::Invalid(e.to_string()))?;
    let sps = avc
        .parse_sps()
        .map_err(|e| SetupError::Invalid(e.to_string()))?;
    let ts = TsVideoConfig {
        sps: avc.sps.clone(),
        pps: avc.pps.clone(),
        nal_length_size: avc.nal_length_size,
    };
    Ok(Some(VideoSetup {
        track: Track {
            id: VIDEO_TRACK,
            timescale: VIDEO_TIMESCALE,
            config: TrackConfig::Avc {
                avcc: config,
                width: u16::try_from(sps.width).unwrap_or(u16::MAX),
                height: u16::try_from(sps.height).unwrap_or(u16::MAX),
            },
        },
        ts: Some(ts)
            .filter(|t| (1..=4).contains(&t.nal_length_size))
            .ok_or_else(|| {
                SetupError::Invalid(format!("NAL length size {}", avc.nal_length_size))
            })?,
    }))
}

/// Parses an audio sequence-header tag body. `Ok(None)`: not a sequence header.
pub fn audio_setup(body: &Bytes) -> Result<Option<AudioSetup>, SetupError> {
    let tag = AudioTagBody::parse(body).map_err(|e| SetupError::Invalid(e.to_string()))?;
    let AudioPacket::SequenceHeader(config) = tag.packet else {
        return Ok(None);
    };
    match tag.codec {
        AudioCodec::Aac => {
            let asc = AacConfig::parse(&config).map_err(|e| SetupError::Invalid(e.to_string()))?;
            let sample_rate = asc.sample_rate.max(1);
            let channels = asc.channel_count().unwrap_or(2);
            Ok(Some(AudioSetup {
                track: Track {
                    id: AUDIO_TRACK,
                    timescale: sample_rate,
                    config: TrackConfig::Aac {
                        asc: config,
                        sample_rate: asc.output_sample_rate(),
                        channels: u16::from(channels),
                    },
                },
                ts: Some(TsAudioConfig {
                    object_type: asc.object_type,
                    sample_rate_index: asc.frequency_index,
                    channels: asc.channel_config,
                }),
                codec: "AAC",
            }))
        }
        AudioCodec::Opus => {
            let head = OpusHead::parse(&config).map_err(|e| SetupError::Invalid(e.to_string()))?;
            Ok(Some(AudioSetup {
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
                ts: None,
                codec: "Opus",
            }))
        }
        other => Err(SetupError::AudioCodec(format!("{other:?}"))),
    }
}

/// Sample durations and timelines are the player's too (`onair_shared::remux`).
pub use onair_shared::remux::tracks::{default_duration, timeline};

/// The init segment (`ftyp` + `moov`) of these tracks.
pub fn init_segment(tracks: &[Track]) -> Result<Bytes, fmp4::Fmp4Error> {
    let mut out = BytesMut::new();
    fmp4::write_init(tracks, &mut out)?;
    Ok(out.freeze())
}

/// Appends one single-track fragment (`moof` + `mdat`): CMAF wants one track per fragment.
pub fn write_fragment(
    sequence: u32,
    track: &Track,
    fragment: &FragmentSamples,
    out: &mut BytesMut,
) -> Result<(), fmp4::Fmp4Error> {
    fmp4::write_fragment(
        sequence,
        track,
        fragment.base_decode_time,
        &fragment.samples,
        &fragment.data,
        out,
    )
}
