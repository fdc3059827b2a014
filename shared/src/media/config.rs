//! Decoder configurations, parsed once per stream when their sequence header arrives.
//!
//! A [`Config`] carries everything an output asks of a codec configuration: the parsed
//! record (so the MPEG-TS muxer gets SPS/PPS and the fMP4 writer the `avcC` without parsing
//! again), the RFC 6381 codec string MSE and HLS want, and the numbers `/api/streams` shows.

use bytes::Bytes;

use super::{MediaError, Track};
use crate::codec::{AacConfig, AvcConfig, OpusHead, Sps};
use crate::flv::audio::AudioCodec;
use crate::flv::video::VideoCodec;

/// A codec, as the tag header names it: the FLV/E-RTMP codec enums of the track's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// A video codec.
    Video(VideoCodec),
    /// An audio codec.
    Audio(AudioCodec),
}

impl Codec {
    /// H.264.
    pub const H264: Codec = Codec::Video(VideoCodec::Avc);
    /// HEVC.
    pub const HEVC: Codec = Codec::Video(VideoCodec::Hevc);
    /// AAC.
    pub const AAC: Codec = Codec::Audio(AudioCodec::Aac);
    /// Opus.
    pub const OPUS: Codec = Codec::Audio(AudioCodec::Opus);

    /// The short lowercase name `/api/streams` reports: `h264`, `aac`, `opus`, …
    pub fn name(self) -> &'static str {
        match self {
            Codec::Video(VideoCodec::Avc) => "h264",
            Codec::Video(VideoCodec::Hevc) => "hevc",
            Codec::Video(VideoCodec::Av1) => "av1",
            Codec::Audio(AudioCodec::Aac) => "aac",
            Codec::Audio(AudioCodec::Mp3) => "mp3",
            Codec::Audio(AudioCodec::Opus) => "opus",
            Codec::Audio(AudioCodec::Flac) => "flac",
            Codec::Audio(AudioCodec::Ac3) => "ac3",
            Codec::Audio(AudioCodec::Eac3) => "eac3",
            Codec::Audio(AudioCodec::Other(_)) => "other",
        }
    }

    /// The name for people: `H.264`, `AAC`, `Opus`, …
    pub fn display_name(self) -> &'static str {
        match self {
            Codec::Video(VideoCodec::Avc) => "H.264",
            Codec::Video(VideoCodec::Hevc) => "HEVC",
            Codec::Video(VideoCodec::Av1) => "AV1",
            Codec::Audio(AudioCodec::Aac) => "AAC",
            Codec::Audio(AudioCodec::Mp3) => "MP3",
            Codec::Audio(AudioCodec::Opus) => "Opus",
            Codec::Audio(AudioCodec::Flac) => "FLAC",
            Codec::Audio(AudioCodec::Ac3) => "AC-3",
            Codec::Audio(AudioCodec::Eac3) => "E-AC-3",
            Codec::Audio(AudioCodec::Other(_)) => "legacy FLV audio",
        }
    }
}

impl std::fmt::Display for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.display_name())
    }
}

/// The parsed decoder configuration record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecoderConfig {
    /// H.264: the `avcC` and its first SPS (`None` when the SPS cannot be parsed: the
    /// stream still passes through FLV/RTMP, it just has no known size).
    Avc {
        /// The AVCDecoderConfigurationRecord.
        avcc: AvcConfig,
        /// Its first SPS.
        sps: Option<Box<Sps>>,
    },
    /// AAC AudioSpecificConfig.
    Aac(AacConfig),
    /// Opus identification header.
    Opus(OpusHead),
    /// A record kept as bytes only (HEVC, AV1, FLAC, …): carried, not interpreted.
    Opaque,
}

/// A track's decoder configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Which track it configures.
    pub track: Track,
    /// The codec.
    pub codec: Codec,
    /// The record as it came (`avcC`, AudioSpecificConfig, OpusHead, `hvcC`, `av1C`, …).
    pub record: Bytes,
    /// The parsed record.
    pub decoder: DecoderConfig,
    /// RFC 6381 codec string where known: `avc1.64001f`, `mp4a.40.2`, `opus`.
    pub codec_string: Option<String>,
    /// Picture size in pixels (video, where the SPS says).
    pub width: Option<u32>,
    /// Picture height in pixels.
    pub height: Option<u32>,
    /// Output sample rate in Hz (audio).
    pub sample_rate: Option<u32>,
    /// Channel count (audio).
    pub channels: Option<u8>,
}

impl Config {
    /// Parses a video decoder configuration record of `codec`.
    pub fn video(codec: Codec, record: Bytes) -> Result<Self, MediaError> {
        let invalid = |source| MediaError::Config { codec, source };
        let mut config = Self::bare(Track::Video, codec, record);
        if codec == Codec::H264 {
            let avcc = AvcConfig::parse(&config.record).map_err(invalid)?;
            let sps = avcc.parse_sps().ok();
            config.codec_string = Some(avcc.codec_string());
            config.width = sps.as_ref().map(|s| s.width);
            config.height = sps.as_ref().map(|s| s.height);
            config.decoder = DecoderConfig::Avc {
                avcc,
                sps: sps.map(Box::new),
            };
        }
        Ok(config)
    }

    /// Parses an audio decoder configuration record of `codec`.
    pub fn audio(codec: Codec, record: Bytes) -> Result<Self, MediaError> {
        let invalid = |source| MediaError::Config { codec, source };
        let mut config = Self::bare(Track::Audio, codec, record);
        match codec {
            Codec::AAC => {
                let asc = AacConfig::parse(&config.record).map_err(invalid)?;
                config.codec_string = Some(asc.codec_string());
                config.sample_rate = Some(asc.output_sample_rate());
                config.channels = asc.channel_count();
                config.decoder = DecoderConfig::Aac(asc);
            }
            Codec::OPUS => {
                let head = OpusHead::parse(&config.record).map_err(invalid)?;
                config.codec_string = Some(head.codec_string().into());
                // Opus always decodes at 48 kHz whatever the input rate was.
                config.sample_rate = Some(48_000);
                config.channels = Some(head.channels);
                config.decoder = DecoderConfig::Opus(head);
            }
            _ => {}
        }
        Ok(config)
    }

    fn bare(track: Track, codec: Codec, record: Bytes) -> Self {
        Self {
            track,
            codec,
            record,
            decoder: DecoderConfig::Opaque,
            codec_string: None,
            width: None,
            height: None,
            sample_rate: None,
            channels: None,
        }
    }

    /// The `avcC` and its SPS, for H.264.
    pub fn avc(&self) -> Option<(&AvcConfig, Option<&Sps>)> {
        match &self.decoder {
            DecoderConfig::Avc { avcc, sps } => Some((avcc, sps.as_deref())),
            _ => None,
        }
    }
}

/// The MIME type MSE's `addSourceBuffer` wants for fragmented MP4 of these tracks, e.g.
/// `video/mp4; codecs="avc1.64001f,mp4a.40.2"` (`audio/mp4` without video). Tracks without
/// a codec string are left out of the list.
pub fn mime_type(video: Option<&Config>, audio: Option<&Config>) -> String {
    let kind = if video.is_some() { "video" } else { "audio" };
    let codecs: Vec<&str> = [video, audio]
        .into_iter()
        .flatten()
        .filter_map(|c| c.codec_string.as_deref())
        .collect();
    format!("{kind}/mp4; codecs=\"{}\"", codecs.join(","))
}
