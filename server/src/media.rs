//! One media message as ingest parsed it, shared by every output.
//!
//! A [`Packet`] is built once per FLV tag / RTMP message by the hub, from the typed
//! [`Unit`] that `onair_shared::media` made of it (the one place tag bodies are
//! interpreted), and travels through the hub as an `Arc`. Each output format serializes it
//! at most once ([`Packet::flv_tag`], [`Packet::rtmp_chunks`]) and every viewer of that
//! format sends the same `Bytes`.

use std::sync::{Arc, OnceLock};

use bytes::{Bytes, BytesMut};
use onair_shared::flv;
pub use onair_shared::media::{Config, Frame, MediaKind, Track, Unit};

/// One audio/video/script message. `body` is the FLV tag body, which is also the RTMP
/// message payload, so no format needs the payload copied to be sent.
#[derive(Debug)]
pub struct Packet {
    pub kind: MediaKind,
    /// Milliseconds, as viewers see them (already shifted across republishes).
    pub timestamp: u32,
    /// The tag body as sent on (for script data: without an RTMP `@setDataFrame` wrapper).
    pub body: Bytes,
    /// What the body is; a frame's payload is a slice of `body`.
    pub unit: Unit,
    flv: OnceLock<Bytes>,
    rtmp: OnceLock<Bytes>,
}

impl Packet {
    /// A packet of `body` parsed as `unit` (by `onair_shared::media::Parser`).
    pub fn new(kind: MediaKind, timestamp: u32, body: Bytes, unit: Unit) -> Self {
        Self {
            kind,
            timestamp,
            body,
            unit,
            flv: OnceLock::new(),
            rtmp: OnceLock::new(),
        }
    }

    /// A video keyframe: a viewer may start here.
    pub fn keyframe(&self) -> bool {
        self.unit.frame().is_some_and(Frame::is_video_keyframe)
    }

    /// A decoder configuration (sequence header), replayed to every new viewer.
    pub fn config(&self) -> Option<&Arc<Config>> {
        self.unit.config()
    }

    pub fn is_config(&self) -> bool {
        self.config().is_some()
    }

    pub fn is_video_config(&self) -> bool {
        self.config().is_some_and(|c| c.track == Track::Video)
    }

    pub fn is_audio_config(&self) -> bool {
        self.config().is_some_and(|c| c.track == Track::Audio)
    }

    /// `onMetaData`, replayed to every new viewer.
    pub fn is_metadata(&self) -> bool {
        matches!(&self.unit, Unit::Script(s) if s.is_metadata())
    }

    /// A video frame (not a config, not side data): what the frame rate counts.
    pub fn is_video_frame(&self) -> bool {
        self.unit.frame().is_some_and(|f| f.track == Track::Video)
    }

    /// The complete FLV tag (header, body, PreviousTagSize), built on first use.
    pub fn flv_tag(&self) -> Bytes {
        self.flv
            .get_or_init(|| {
                let tag = flv::Tag {
                    kind: self.kind,
                    timestamp: self.timestamp,
                    stream_id: 0,
                    data: self.body.clone(),
                };
                // Ingest bounds every body far below FLV's 16 MiB tag limit, so this cannot fail.
                flv::encode_tag(&tag).unwrap_or_default()
            })
            .clone()
    }

    /// The RTMP chunks of this message for play sessions (message stream 1, our chunk
    /// size), built on first use with `build`.
    pub fn rtmp_chunks(&self, build: impl FnOnce(&Packet) -> Bytes) -> Bytes {
        self.rtmp.get_or_init(|| build(self)).clone()
    }
}

/// The 9-byte FLV file header plus PreviousTagSize0, as `shared` writes it.
pub fn flv_file_header(has_audio: bool, has_video: bool) -> Bytes {
    let mut out = BytesMut::with_capacity(13);
    flv::write_header(&flv::FlvHeader::new(has_audio, has_video), &mut out);
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;
    use onair_shared::media::Parser;

    fn packet(p: &mut Parser, kind: MediaKind, body: &'static [u8]) -> Packet {
        let body = Bytes::from_static(body);
        let unit = p.parse(kind, 0, &body).unwrap();
        Packet::new(kind, 0, body, unit)
    }

    #[test]
    fn flags_come_from_the_unit() {
        let mut p = Parser::new();
        let key = packet(&mut p, MediaKind::Video, &[0x17, 1, 0, 0, 0, 9]);
        assert!(key.keyframe() && !key.is_config() && key.is_video_frame());
        let inter = packet(&mut p, MediaKind::Video, &[0x27, 1, 0, 0, 0]);
        assert!(!inter.keyframe() && inter.is_video_frame());
        let aac = packet(&mut p, MediaKind::Audio, &[0xaf, 0, 0x12, 0x10]);
        assert!(aac.is_audio_config() && !aac.is_video_config() && !aac.keyframe());
        let frame = packet(&mut p, MediaKind::Audio, &[0xaf, 1, 0x21]);
        assert!(!frame.is_config() && !frame.keyframe() && !frame.is_video_frame());
    }

    #[test]
    fn flv_tag_is_built_once_and_exact() {
        let body = Bytes::from_static(&[0xaf, 1, 7]);
        let unit = Parser::new().parse(MediaKind::Audio, 0, &body).unwrap();
        let pkt = Packet::new(MediaKind::Audio, 0x0102_0304, body, unit);
        let tag = pkt.flv_tag();
        assert_eq!(
            &tag[..],
            &[
                8, 0, 0, 3, 0x02, 0x03, 0x04, 0x01, 0, 0, 0, 0xaf, 1, 7, 0, 0, 0, 14
            ]
        );
        // Same allocation on the second call: serialized once, shared after.
        assert_eq!(pkt.flv_tag().as_ptr(), tag.as_ptr());
    }
}
