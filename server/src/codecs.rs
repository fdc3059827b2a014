//! Human-facing codec descriptions for `/api/streams`, read from the configs
//! `onair_shared::media` parsed when they arrived (never parsed again per request).

use onair_shared::media::Config;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VideoInfo {
    /// `h264`, `hevc` or `av1`.
    pub codec: &'static str,
    /// RFC 6381 codec string where known (`avc1.64001f`).
    pub codec_string: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AudioInfo {
    /// `aac`, `opus`, `mp3`, …
    pub codec: &'static str,
    pub codec_string: Option<String>,
    pub sample_rate: Option<u32>,
    pub channels: Option<u8>,
}

/// Describes a video config.
pub fn video_info(config: &Config) -> VideoInfo {
    VideoInfo {
        codec: config.codec.name(),
        codec_string: config.codec_string.clone(),
        width: config.width,
        height: config.height,
    }
}

/// Describes an audio config.
pub fn audio_info(config: &Config) -> AudioInfo {
    AudioInfo {
        codec: config.codec.name(),
        codec_string: config.codec_string.clone(),
        sample_rate: config.sample_rate,
        channels: config.channels,
    }
}
