//! Human-facing codec descriptions (for `/api/streams`) from a stream's config packets,
//! parsed with `onair-shared`'s codec modules.

use bytes::Bytes;
use onair_shared::codec::{AacConfig, AvcConfig, OpusHead};
use onair_shared::flv::audio::{AudioCodec, AudioPacket, AudioTagBody};
use onair_shared::flv::video::{VideoCodec, VideoPacket, VideoTagBody};
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

/// Describes a video sequence-header tag body.
pub fn video_info(body: &Bytes) -> Option<VideoInfo> {
    let tag = VideoTagBody::parse(body).ok()?;
    let VideoPacket::SequenceHeader(config) = tag.packet else {
        return None;
    };
    match tag.codec {
        VideoCodec::Avc => {
            let avc = AvcConfig::parse(&config).ok();
            let sps = avc.as_ref().and_then(|a| a.parse_sps().ok());
            Some(VideoInfo {
                codec: "h264",
                codec_string: avc.map(|a| a.codec_string()),
                width: sps.as_ref().map(|s| s.width),
                height: sps.as_ref().map(|s| s.height),
            })
        }
        VideoCodec::Hevc => Some(VideoInfo {
            codec: "hevc",
            codec_string: None,
            width: None,
            height: None,
        }),
        VideoCodec::Av1 => Some(VideoInfo {
            codec: "av1",
            codec_string: None,
            width: None,
            height: None,
        }),
    }
}

/// Describes an audio sequence-header tag body.
pub fn audio_info(body: &Bytes) -> Option<AudioInfo> {
    let tag = AudioTagBody::parse(body).ok()?;
    let AudioPacket::SequenceHeader(config) = tag.packet else {
        return None;
    };
    match tag.codec {
        AudioCodec::Aac => {
            let aac = AacConfig::parse(&config).ok();
            Some(AudioInfo {
                codec: "aac",
                codec_string: aac.as_ref().map(|a| a.codec_string()),
                sample_rate: aac.as_ref().map(|a| a.output_sample_rate()),
                channels: aac.as_ref().and_then(|a| a.channel_count()),
            })
        }
        AudioCodec::Opus => {
            let head = OpusHead::parse(&config).ok();
            Some(AudioInfo {
                codec: "opus",
                codec_string: Some("opus".into()),
                sample_rate: Some(48_000),
                channels: head.map(|h| h.channels),
            })
        }
        other => Some(AudioInfo {
            codec: match other {
                AudioCodec::Mp3 => "mp3",
                AudioCodec::Flac => "flac",
                AudioCodec::Ac3 => "ac3",
                AudioCodec::Eac3 => "eac3",
                _ => "other",
            },
            codec_string: None,
            sample_rate: None,
            channels: None,
        }),
    }
}
