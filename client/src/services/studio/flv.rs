//! The studio's FLV output, as pure Rust (no browser types, so it is unit-tested natively):
//! capture-clock → FLV-millisecond mapping per track, the tags the encoders' output becomes
//! (laid out by `onair_shared::flv`), and the `onFI` glass-to-glass stamp.
//!
//! The `onFI` script tag is the contract with the player: AMF0 string `"onFI"`, then an
//! object with `sd` (`YYYY-MM-DD`, UTC), `st` (`HH:MM:SS.mmm`, UTC) and `wallclock` (ms since
//! the Unix epoch when the frame reached the studio from the capture track), sent right
//! before the video tag of that frame with the same timestamp.

use std::collections::VecDeque;

use onair_shared::codec::OpusHead;
use onair_shared::flv::audio::{AudioCodec, AudioPacket, AudioTagBody};
use onair_shared::flv::video::{VideoCodec, VideoFrameType, VideoPacket, VideoTagBody};
use onair_shared::flv::{FlvError, FlvHeader, MediaKind, Tag, encode_tag, write_header};
use onair_shared::remux::clock::write_on_fi;

/// The FLV file header and `PreviousTagSize0`, the first bytes of every socket.
pub fn file_header() -> Vec<u8> {
    let mut out = Default::default();
    write_header(&FlvHeader::new(true, true), &mut out);
    out.to_vec()
}

fn tag(kind: MediaKind, timestamp: u32, data: impl Into<Vec<u8>>) -> Result<Vec<u8>, FlvError> {
    let tag = Tag {
        kind,
        timestamp,
        stream_id: 0,
        data: data.into().into(),
    };
    Ok(encode_tag(&tag)?.to_vec())
}

/// The AVC sequence header (`avcC` from the encoder's `decoderConfig.description`).
pub fn avc_config(avcc: Vec<u8>, timestamp: u32) -> Result<Vec<u8>, FlvError> {
    let body = VideoTagBody {
        frame_type: VideoFrameType::Key,
        codec: VideoCodec::Avc,
        enhanced: false,
        packet: VideoPacket::SequenceHeader(avcc.into()),
    };
    tag(MediaKind::Video, timestamp, body.to_bytes().to_vec())
}

/// One encoded H.264 access unit (AVCC, length-prefixed NALs). No B-frames, so cts is 0.
pub fn avc_frame(data: Vec<u8>, keyframe: bool, timestamp: u32) -> Result<Vec<u8>, FlvError> {
    let body = VideoTagBody {
        frame_type: if keyframe {
            VideoFrameType::Key
        } else {
            VideoFrameType::Inter
        },
        codec: VideoCodec::Avc,
        enhanced: false,
        packet: VideoPacket::Frame {
            cts: 0,
            data: data.into(),
        },
    };
    tag(MediaKind::Video, timestamp, body.to_bytes().to_vec())
}

/// Which audio codec the encoder produced; AAC travels as legacy FLV, Opus as Enhanced FLV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioKind {
    Aac,
    Opus,
}

impl AudioKind {
    fn body(self, packet: AudioPacket) -> AudioTagBody {
        match self {
            AudioKind::Aac => AudioTagBody {
                codec: AudioCodec::Aac,
                enhanced: false,
                // 44 kHz / 16-bit / stereo: the fixed flags FLV requires for AAC.
                legacy_flags: 0x0f,
                packet,
            },
            AudioKind::Opus => AudioTagBody {
                codec: AudioCodec::Opus,
                enhanced: true,
                legacy_flags: 0,
                packet,
            },
        }
    }

    /// The name shown in the status panel.
    pub fn name(self) -> &'static str {
        match self {
            AudioKind::Aac => "AAC",
            AudioKind::Opus => "Opus",
        }
    }
}

/// The audio sequence header: AudioSpecificConfig for AAC, OpusHead for Opus.
pub fn audio_config(kind: AudioKind, config: Vec<u8>, timestamp: u32) -> Result<Vec<u8>, FlvError> {
    let body = kind.body(AudioPacket::SequenceHeader(config.into()));
    tag(MediaKind::Audio, timestamp, body.to_bytes().to_vec())
}

/// One encoded audio packet.
pub fn audio_frame(kind: AudioKind, data: Vec<u8>, timestamp: u32) -> Result<Vec<u8>, FlvError> {
    let body = kind.body(AudioPacket::Frame(data.into()));
    tag(MediaKind::Audio, timestamp, body.to_bytes().to_vec())
}

/// An OpusHead for an encoder that gave no description. 312 samples is libopus's lookahead
/// at 48 kHz, which is what Chromium's encoder uses.
pub fn opus_head(channels: u8, sample_rate: u32) -> Vec<u8> {
    OpusHead::new(channels, 312, sample_rate)
        .to_bytes()
        .map(|b| b.to_vec())
        .unwrap_or_default()
}

/// Whether bytes from an encoder's `description` are a usable OpusHead.
pub fn is_opus_head(data: &[u8]) -> bool {
    OpusHead::parse(data).is_ok()
}

/// The `onFI` script tag for a frame captured at `wallclock_ms` (ms since the Unix epoch),
/// as `onair_shared::remux::clock` writes it and the player reads it.
pub fn stamp(wallclock_ms: f64, timestamp: u32) -> Result<Vec<u8>, FlvError> {
    let mut out = Default::default();
    write_on_fi(wallclock_ms, &mut out);
    tag(MediaKind::Script, timestamp, out.to_vec())
}

/// Maps one track's capture timestamps (µs, on a clock of the browser's choosing: Chromium's
/// video and audio tracks use different ones) onto the stream's FLV milliseconds.
///
/// The first sample of the track is anchored at the moment it reached the studio (`now_us`,
/// relative to the start of the broadcast), so both tracks share one timeline; later samples
/// keep their own clock's spacing. The result never goes backwards.
#[derive(Debug, Default, Clone)]
pub struct TrackClock {
    offset_us: Option<f64>,
    last_ms: u32,
}

impl TrackClock {
    /// Anchors the track on its first sample; later calls do nothing.
    pub fn anchor(&mut self, sample_us: f64, now_us: f64) {
        if self.offset_us.is_none() {
            self.offset_us = Some(now_us - sample_us);
        }
    }

    /// The FLV timestamp of a sample, or `None` before the track is anchored.
    pub fn ms(&mut self, sample_us: f64) -> Option<u32> {
        let offset = self.offset_us?;
        let ms = ((sample_us + offset) / 1000.0).max(0.0) as u32;
        self.last_ms = self.last_ms.max(ms);
        Some(self.last_ms)
    }
}

/// Frames waiting for their `onFI` stamp: capture timestamp (µs) → wallclock (ms).
///
/// Bounded, since an encoder may drop frames it was given and never output them.
#[derive(Debug, Default)]
pub struct Stamps {
    pending: VecDeque<(f64, f64)>,
}

impl Stamps {
    const MAX: usize = 16;

    pub fn add(&mut self, sample_us: f64, wallclock_ms: f64) {
        if self.pending.len() >= Self::MAX {
            self.pending.pop_front();
        }
        self.pending.push_back((sample_us, wallclock_ms));
    }

    /// The wallclock for the frame with this capture timestamp, if one was asked for; older
    /// entries (frames the encoder dropped) are discarded on the way.
    pub fn take(&mut self, sample_us: f64) -> Option<f64> {
        while let Some(&(ts, wallclock)) = self.pending.front() {
            if ts > sample_us {
                return None;
            }
            self.pending.pop_front();
            if ts == sample_us {
                return Some(wallclock);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use onair_shared::amf0::{Amf0Value, decode_all};
    use onair_shared::flv::{DemuxEvent, Demuxer};

    #[test]
    fn stream_demuxes_back() {
        let mut bytes = file_header();
        bytes.extend(avc_config(vec![1, 0x42, 0, 0x1f, 0xff], 0).unwrap());
        bytes.extend(audio_config(AudioKind::Opus, opus_head(1, 48_000), 0).unwrap());
        bytes.extend(stamp(1_795_295_363_456.0, 33).unwrap());
        bytes.extend(avc_frame(vec![0, 0, 0, 1, 0x65], true, 33).unwrap());
        bytes.extend(audio_frame(AudioKind::Opus, vec![0xfc], 40).unwrap());
        let mut demux = Demuxer::new(1 << 20);
        demux.push(&bytes);
        let mut tags = Vec::new();
        while let Some(event) = demux.next_event().unwrap() {
            if let DemuxEvent::Tag(tag) = event {
                tags.push(tag);
            }
        }
        assert_eq!(tags.len(), 5);
        let video = VideoTagBody::parse(&tags[3].data).unwrap();
        assert!(video.is_keyframe());
        let audio = AudioTagBody::parse(&tags[1].data).unwrap();
        assert_eq!(audio.codec, AudioCodec::Opus);
        assert!(audio.is_sequence_header());
        assert_eq!(tags[2].kind, MediaKind::Script);
        assert_eq!(tags[2].timestamp, 33);
        let values = decode_all(&tags[2].data).unwrap();
        assert_eq!(values[0].as_str(), Some("onFI"));
        let Amf0Value::Object(props) = &values[1] else {
            panic!("not an object: {values:?}");
        };
        assert_eq!(
            props[0],
            ("sd".into(), Amf0Value::String("2026-11-21".into()))
        );
        assert_eq!(
            props[1],
            ("st".into(), Amf0Value::String("21:09:23.456".into()))
        );
        assert_eq!(
            props[2],
            ("wallclock".into(), Amf0Value::Number(1_795_295_363_456.0))
        );
    }

    #[test]
    fn clocks_align_tracks_and_never_go_back() {
        let mut video = TrackClock::default();
        assert_eq!(video.ms(5.0), None);
        video.anchor(8_887_640_800.0, 100_000.0);
        assert_eq!(video.ms(8_887_640_800.0), Some(100));
        assert_eq!(video.ms(8_887_674_133.0), Some(133));
        assert_eq!(video.ms(8_887_600_000.0), Some(133));
        let mut audio = TrackClock::default();
        audio.anchor(2_319_300.0, 110_000.0);
        assert_eq!(audio.ms(2_329_300.0), Some(120));
    }

    #[test]
    fn stamps_match_exact_frames_and_skip_dropped_ones() {
        let mut stamps = Stamps::default();
        stamps.add(10.0, 1.0);
        stamps.add(20.0, 2.0);
        assert_eq!(stamps.take(5.0), None);
        assert_eq!(stamps.take(20.0), Some(2.0));
        assert_eq!(stamps.take(10.0), None);
        for i in 0..40 {
            stamps.add(f64::from(i), 0.0);
        }
        assert!(stamps.pending.len() <= Stamps::MAX);
    }
}
