//! Codec configs (parsed once at ingest by `onair_shared::media`) → fMP4 tracks, MPEG-TS configs, and the
//! per-track timelines the packager cuts into parts.

use bytes::{Bytes, BytesMut};
use onair_shared::fmp4::{self, FragmentSamples, Track};
use onair_shared::media::{Codec, Config, DecoderConfig};
use onair_shared::remux::{RemuxError, tracks};
use onair_shared::ts::{TsAudioConfig, TsVideoConfig};

pub use onair_shared::remux::{AUDIO_TRACK, VIDEO_TRACK};

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
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SetupError {
    #[error("{0} cannot be packaged as HLS yet (only H.264 video, AAC and Opus audio)")]
    VideoCodec(Codec),
    #[error("{0} cannot be packaged as HLS (only AAC and Opus)")]
    AudioCodec(Codec),
    #[error("{0}")]
    Invalid(RemuxError),
}

/// The video track (as the player builds it) and the MPEG-TS config of a parsed config.
pub fn video_setup(config: &Config) -> Result<VideoSetup, SetupError> {
    let setup = tracks::setup(config).map_err(|e| match e {
        RemuxError::Unsupported(codec) => SetupError::VideoCodec(codec),
        other => SetupError::Invalid(other),
    })?;
    let Some((avc, _)) = config.avc() else {
        return Err(SetupError::VideoCodec(config.codec));
    };
    let ts = TsVideoConfig {
        sps: avc.sps.clone(),
        pps: avc.pps.clone(),
        nal_length_size: avc.nal_length_size,
    };
    Ok(VideoSetup {
        track: setup.track,
        ts,
    })
}

/// The audio track and, for AAC, its MPEG-TS config.
pub fn audio_setup(config: &Config) -> Result<AudioSetup, SetupError> {
    let setup = tracks::setup(config).map_err(|e| match e {
        RemuxError::Unsupported(codec) => SetupError::AudioCodec(codec),
        other => SetupError::Invalid(other),
    })?;
    let ts = match &config.decoder {
        DecoderConfig::Aac(asc) => Some(TsAudioConfig {
            object_type: asc.object_type,
            sample_rate_index: asc.frequency_index,
            channels: asc.channel_config,
        }),
        _ => None,
    };
    Ok(AudioSetup {
        track: setup.track,
        ts,
        codec: setup.name,
    })
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
