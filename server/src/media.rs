//! One media message as ingest parsed it, shared by every output.
//!
//! A [`Packet`] is built once per FLV tag / RTMP message and travels through the hub as an
//! `Arc`. Each output format serializes it at most once ([`Packet::flv_tag`],
//! [`Packet::rtmp_chunks`]) and every viewer of that format sends the same `Bytes`.

use std::sync::OnceLock;

use bytes::{Bytes, BytesMut};
use onair_shared::flv;

/// What a packet carries; the numbers are the FLV tag types (and RTMP message types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketKind {
    Audio = 8,
    Video = 9,
    Script = 18,
}

/// One audio/video/script message. `body` is the FLV tag body, which is also the RTMP
/// message payload, so no format needs the payload copied to be parsed.
#[derive(Debug)]
pub struct Packet {
    pub kind: PacketKind,
    /// Milliseconds, as viewers see them (already shifted across republishes).
    pub timestamp: u32,
    /// A video keyframe (a viewer may start here).
    pub keyframe: bool,
    /// A sequence header (AVC/HEVC/AV1 decoder config, AAC AudioSpecificConfig, OpusHead).
    pub config: bool,
    pub body: Bytes,
    flv: OnceLock<Bytes>,
    rtmp: OnceLock<Bytes>,
}

impl PacketKind {
    pub fn from_tag(kind: flv::TagKind) -> Self {
        match kind {
            flv::TagKind::Audio => PacketKind::Audio,
            flv::TagKind::Video => PacketKind::Video,
            flv::TagKind::Script => PacketKind::Script,
        }
    }
}

impl Packet {
    /// Classifies the body from its first bytes (legacy and Enhanced FLV headers).
    pub fn new(kind: PacketKind, timestamp: u32, body: Bytes) -> Self {
        let (keyframe, config) = classify(kind, &body);
        Self {
            kind,
            timestamp,
            keyframe,
            config,
            body,
            flv: OnceLock::new(),
            rtmp: OnceLock::new(),
        }
    }

    /// The same packet at another timestamp (republish shifting); serializations are redone.
    pub fn with_timestamp(&self, timestamp: u32) -> Self {
        Self {
            kind: self.kind,
            timestamp,
            keyframe: self.keyframe,
            config: self.config,
            body: self.body.clone(),
            flv: OnceLock::new(),
            rtmp: OnceLock::new(),
        }
    }

    /// The complete FLV tag (header, body, PreviousTagSize), built on first use.
    pub fn flv_tag(&self) -> Bytes {
        self.flv
            .get_or_init(|| {
                let tag = flv::Tag {
                    kind: self.tag_kind(),
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

    pub fn tag_kind(&self) -> flv::TagKind {
        match self.kind {
            PacketKind::Audio => flv::TagKind::Audio,
            PacketKind::Video => flv::TagKind::Video,
            PacketKind::Script => flv::TagKind::Script,
        }
    }

    pub fn is_audio_config(&self) -> bool {
        self.config && self.kind == PacketKind::Audio
    }
    pub fn is_video_config(&self) -> bool {
        self.config && self.kind == PacketKind::Video
    }
}

/// `(keyframe, config)` from the first bytes of a tag body.
fn classify(kind: PacketKind, body: &[u8]) -> (bool, bool) {
    let Some(&b0) = body.first() else {
        return (false, false);
    };
    match kind {
        PacketKind::Video => {
            if b0 & 0x80 != 0 {
                // Enhanced RTMP: frame type in bits 4..6, packet type in the low nibble.
                let frame_type = (b0 >> 4) & 0x07;
                let packet_type = b0 & 0x0f;
                (frame_type == 1 && packet_type != 0, packet_type == 0)
            } else {
                let frame_type = b0 >> 4;
                let codec = b0 & 0x0f;
                let avc_like = codec == 7 || codec == 12;
                let seq = avc_like && body.get(1) == Some(&0);
                (frame_type == 1 && !seq, seq)
            }
        }
        PacketKind::Audio => {
            let format = b0 >> 4;
            let seq = match format {
                10 => body.get(1) == Some(&0), // AAC sequence header
                9 => b0 & 0x0f == 0,           // Enhanced audio SequenceStart
                _ => false,
            };
            (false, seq)
        }
        PacketKind::Script => (false, false),
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

    #[test]
    fn classifies_legacy_and_enhanced_headers() {
        let p = |k, b: &'static [u8]| Packet::new(k, 0, Bytes::from_static(b));
        let avc_seq = p(PacketKind::Video, &[0x17, 0, 0, 0, 0, 1]);
        assert!(avc_seq.config && !avc_seq.keyframe);
        let avc_key = p(PacketKind::Video, &[0x17, 1, 0, 0, 0, 9]);
        assert!(avc_key.keyframe && !avc_key.config);
        assert!(!p(PacketKind::Video, &[0x27, 1, 0, 0, 0]).keyframe);
        // Enhanced: 0x80 | key(1)<<4 | SequenceStart(0), then FourCC.
        let ex_seq = p(PacketKind::Video, &[0x90, b'h', b'v', b'c', b'1']);
        assert!(ex_seq.config && !ex_seq.keyframe);
        let ex_key = p(PacketKind::Video, &[0x91, b'h', b'v', b'c', b'1', 0, 0, 0]);
        assert!(ex_key.keyframe);
        assert!(p(PacketKind::Audio, &[0xaf, 0, 0x12, 0x10]).is_audio_config());
        assert!(!p(PacketKind::Audio, &[0xaf, 1, 0x21]).config);
        assert!(p(PacketKind::Audio, &[0x90, b'O', b'p', b'u', b's']).is_audio_config());
        assert!(!p(PacketKind::Video, &[]).keyframe);
    }

    #[test]
    fn flv_tag_is_built_once_and_exact() {
        let pkt = Packet::new(
            PacketKind::Audio,
            0x0102_0304,
            Bytes::from_static(&[0xaf, 1, 7]),
        );
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
