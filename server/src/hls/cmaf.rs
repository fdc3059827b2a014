//! Codec configs (FLV sequence-header bodies) → fMP4 tracks, MPEG-TS configs, and the
//! per-track timelines the packager cuts into parts.

use bytes::{Bytes, BytesMut};
use onair_shared::codec::{AacConfig, AvcConfig};
use onair_shared::fmp4::{self, FragmentSamples, Track, TrackConfig};
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
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    #[error("{0} cannot be packaged as HLS yet (only H.264 video, AAC and Opus audio)")]
    VideoCodec(String),
    #[error("{0} cannot be packaged as HLS (only AAC and Opus)")]
    AudioCodec(String),
    #[error("invalid codec config: {0}")]
    Invalid(String),
}

fn setup_error(e: RemuxError, unsupported: fn(String) -> SetupError) -> SetupError {
    match e {
        RemuxError::Unsupported(what) => unsupported(what),
        other => SetupError::Invalid(other.to_string()),
    }
}

/// Parses a video sequence-header tag body (the track as the player builds it, plus the
/// MPEG-TS config). `Ok(None)`: not a sequence header.
pub fn video_setup(body: &Bytes) -> Result<Option<VideoSetup>, SetupError> {
    let Some(setup) =
        tracks::video_setup(body).map_err(|e| setup_error(e, SetupError::VideoCodec))?
    else {
        return Ok(None);
    };
    let TrackConfig::Avc { avcc, .. } = &setup.track.config else {
        return Err(SetupError::VideoCodec(setup.name.into()));
    };
    let avc = AvcConfig::parse(avcc).map_err(|e| SetupError::Invalid(e.to_string()))?;
    let ts = TsVideoConfig {
        sps: avc.sps.clone(),
        pps: avc.pps.clone(),
        nal_length_size: avc.nal_length_size,
    };
    Ok(Some(VideoSetup {
        track: setup.track,
        ts,
    }))
}

/// Parses an audio sequence-header tag body. `Ok(None)`: not a sequence header.
pub fn audio_setup(body: &Bytes) -> Result<Option<AudioSetup>, SetupError> {
    let Some(setup) =
        tracks::audio_setup(body).map_err(|e| setup_error(e, SetupError::AudioCodec))?
    else {
        return Ok(None);
    };
    let ts = match &setup.track.config {
        TrackConfig::Aac { asc, .. } => {
            let asc = AacConfig::parse(asc).map_err(|e| SetupError::Invalid(e.to_string()))?;
            Some(TsAudioConfig {
                object_type: asc.object_type,
                sample_rate_index: asc.frequency_index,
                channels: asc.channel_config,
            })
        }
        _ => None,
    };
    Ok(Some(AudioSetup {
        track: setup.track,
        ts,
        codec: setup.name,
    }))
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
