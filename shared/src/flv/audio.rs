//! FLV/RTMP audio tag bodies: legacy (AAC, MP3 and the other sound formats, reported as
//! such) and Enhanced RTMP v2 audio with FourCC `Opus`, `mp4a`, `.mp3`, `fLaC`, `ac-3`,
//! `ec-3`.
//!
//! The browser studio sends Opus where the browser cannot encode AAC, which legacy FLV
//! cannot carry; E-RTMP's `ExHeader` sound format (9) with a FourCC carries it. Payloads are
//! zero-copy slices of the message, and writing is the inverse of parsing. Legacy AAC keeps
//! its rate/size/type bits (`0xAF` in practice) so the tag rebuilds byte for byte.

use bytes::{BufMut, Bytes, BytesMut};

pub use super::video::{FourCc, TagBodyError};

/// Legacy sound format: MP3.
const FORMAT_MP3: u8 = 2;
/// Sound format 9 announces the Enhanced RTMP header.
const FORMAT_EX_HEADER: u8 = 9;
/// Legacy sound format: AAC.
const FORMAT_AAC: u8 = 10;

// Enhanced RTMP audio packet types.
const PT_SEQUENCE_START: u8 = 0;
const PT_CODED_FRAMES: u8 = 1;
const PT_SEQUENCE_END: u8 = 2;

/// An audio codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AudioCodec {
    /// AAC (legacy format 10, FourCC `mp4a`).
    Aac,
    /// MP3 (legacy format 2, FourCC `.mp3`).
    Mp3,
    /// Opus (FourCC `Opus`).
    Opus,
    /// FLAC (FourCC `fLaC`).
    Flac,
    /// AC-3 (FourCC `ac-3`).
    Ac3,
    /// E-AC-3 (FourCC `ec-3`).
    Eac3,
    /// Another legacy sound format (PCM, ADPCM, Nellymoser, G.711, Speex, …), by number.
    /// Formats 2, 9 and 10 are never reported here.
    Other(u8),
}

const FOURCCS: [(AudioCodec, [u8; 4]); 6] = [
    (AudioCodec::Aac, *b"mp4a"),
    (AudioCodec::Mp3, *b".mp3"),
    (AudioCodec::Opus, *b"Opus"),
    (AudioCodec::Flac, *b"fLaC"),
    (AudioCodec::Ac3, *b"ac-3"),
    (AudioCodec::Eac3, *b"ec-3"),
];

impl AudioCodec {
    /// The Enhanced RTMP FourCC, if the codec has one.
    pub fn fourcc(self) -> Option<FourCc> {
        FOURCCS
            .iter()
            .find(|(c, _)| *c == self)
            .map(|(_, f)| FourCc(*f))
    }

    /// The codec for a FourCC, if known.
    pub fn from_fourcc(fourcc: FourCc) -> Option<Self> {
        FOURCCS
            .iter()
            .find(|(_, f)| *f == fourcc.0)
            .map(|(c, _)| *c)
    }

    /// The legacy sound format number, if the codec has one.
    fn legacy_format(self) -> Option<u8> {
        match self {
            AudioCodec::Aac => Some(FORMAT_AAC),
            AudioCodec::Mp3 => Some(FORMAT_MP3),
            AudioCodec::Other(f) => Some(f & 0x0f),
            _ => None,
        }
    }
}

/// What an audio tag carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioPacket {
    /// The decoder configuration (AAC AudioSpecificConfig, OpusHead, …).
    SequenceHeader(Bytes),
    /// Coded audio (raw AAC frames, Opus packets, …).
    Frame(Bytes),
    /// End of sequence (E-RTMP only).
    SequenceEnd,
}

/// A parsed audio tag body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioTagBody {
    /// The codec.
    pub codec: AudioCodec,
    /// Whether the tag uses the Enhanced RTMP header. Codecs without a legacy format and
    /// [`AudioPacket::SequenceEnd`] are always written enhanced (except `Other`, which has
    /// no FourCC).
    pub enhanced: bool,
    /// Legacy sound rate (2 bits), size (1 bit) and type (1 bit), the low nibble of the
    /// first byte; `0x0f` for AAC. 0 for enhanced tags.
    pub legacy_flags: u8,
    /// The payload.
    pub packet: AudioPacket,
}

impl AudioTagBody {
    /// Parses an audio tag body; payloads are slices of `data`.
    pub fn parse(data: &Bytes) -> Result<Self, TagBodyError> {
        let first = *data.first().ok_or(TagBodyError::Empty)?;
        let format = first >> 4;
        let flags = first & 0x0f;
        if format == FORMAT_EX_HEADER {
            return Self::parse_enhanced(data, flags);
        }
        let (codec, packet) = match format {
            FORMAT_AAC => {
                let pt = *data
                    .get(1)
                    .ok_or(TagBodyError::Truncated("AAC packet type"))?;
                let payload = data.slice(2..);
                let packet = match pt {
                    0 => AudioPacket::SequenceHeader(payload),
                    1 => AudioPacket::Frame(payload),
                    value => {
                        return Err(TagBodyError::UnsupportedPacketType { kind: "AAC", value });
                    }
                };
                (AudioCodec::Aac, packet)
            }
            FORMAT_MP3 => (AudioCodec::Mp3, AudioPacket::Frame(data.slice(1..))),
            other => (
                AudioCodec::Other(other),
                AudioPacket::Frame(data.slice(1..)),
            ),
        };
        Ok(Self {
            codec,
            enhanced: false,
            legacy_flags: flags,
            packet,
        })
    }

    fn parse_enhanced(data: &Bytes, packet_type: u8) -> Result<Self, TagBodyError> {
        if !matches!(
            packet_type,
            PT_SEQUENCE_START | PT_CODED_FRAMES | PT_SEQUENCE_END
        ) {
            // 4 MultichannelConfig, 5 Multitrack, 7 ModEx, others reserved.
            return Err(TagBodyError::UnsupportedPacketType {
                kind: "audio",
                value: packet_type,
            });
        }
        let fourcc = data
            .get(1..5)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(FourCc)
            .ok_or(TagBodyError::Truncated("audio FourCC"))?;
        let codec = AudioCodec::from_fourcc(fourcc).ok_or(TagBodyError::UnknownFourCc(fourcc))?;
        let payload = data.slice(5..);
        let packet = match packet_type {
            PT_SEQUENCE_START => AudioPacket::SequenceHeader(payload),
            PT_CODED_FRAMES => AudioPacket::Frame(payload),
            _ => AudioPacket::SequenceEnd,
        };
        Ok(Self {
            codec,
            enhanced: true,
            legacy_flags: 0,
            packet,
        })
    }

    /// Whether the tag will be written with the Enhanced RTMP header.
    pub fn writes_enhanced(&self) -> bool {
        match (self.codec.fourcc(), self.codec.legacy_format()) {
            (Some(_), None) => true,
            (Some(_), Some(_)) => {
                self.enhanced
                    || matches!(self.packet, AudioPacket::SequenceEnd)
                    // MP3 has no legacy sequence header.
                    || (self.codec == AudioCodec::Mp3
                        && matches!(self.packet, AudioPacket::SequenceHeader(_)))
            }
            (None, _) => false,
        }
    }

    /// Appends the tag body to `out`. An `Other` codec is written as its legacy format
    /// with the payload as is (a sequence end writes no payload).
    pub fn write(&self, out: &mut BytesMut) {
        let payload: &[u8] = match &self.packet {
            AudioPacket::SequenceHeader(d) | AudioPacket::Frame(d) => d,
            AudioPacket::SequenceEnd => &[],
        };
        out.reserve(5 + payload.len());
        match (self.writes_enhanced(), self.codec.fourcc()) {
            (true, Some(fourcc)) => {
                let pt = match self.packet {
                    AudioPacket::SequenceHeader(_) => PT_SEQUENCE_START,
                    AudioPacket::Frame(_) => PT_CODED_FRAMES,
                    AudioPacket::SequenceEnd => PT_SEQUENCE_END,
                };
                out.put_u8((FORMAT_EX_HEADER << 4) | pt);
                out.put_slice(&fourcc.0);
            }
            _ => {
                let format = self.codec.legacy_format().unwrap_or(FORMAT_AAC);
                out.put_u8((format << 4) | (self.legacy_flags & 0x0f));
                if self.codec == AudioCodec::Aac {
                    let is_header = matches!(self.packet, AudioPacket::SequenceHeader(_));
                    out.put_u8(if is_header { 0 } else { 1 });
                }
            }
        }
        out.put_slice(payload);
    }

    /// The tag body as a new buffer.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::new();
        self.write(&mut out);
        out.freeze()
    }

    /// Whether this is a decoder configuration.
    pub fn is_sequence_header(&self) -> bool {
        matches!(self.packet, AudioPacket::SequenceHeader(_))
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn body(parts: &[&[u8]]) -> Bytes {
        Bytes::from(parts.concat())
    }

    fn round_trip(data: Bytes, expected: AudioTagBody) {
        let parsed = AudioTagBody::parse(&data).unwrap();
        assert_eq!(parsed, expected);
        assert_eq!(parsed.to_bytes(), data);
    }

    fn tag(
        codec: AudioCodec,
        enhanced: bool,
        legacy_flags: u8,
        packet: AudioPacket,
    ) -> AudioTagBody {
        AudioTagBody {
            codec,
            enhanced,
            legacy_flags,
            packet,
        }
    }

    const ASC: &[u8] = &[0x12, 0x08, 0x56, 0xe5, 0x00];

    #[test]
    fn legacy_forms() {
        // ffmpeg's AAC sequence header and a raw frame.
        let data = body(&[&[0xaf, 0], ASC]);
        let parsed = AudioTagBody::parse(&data).unwrap();
        let AudioPacket::SequenceHeader(p) = &parsed.packet else {
            panic!()
        };
        assert_eq!(p.as_ptr(), data[2..].as_ptr());
        assert!(parsed.is_sequence_header());
        round_trip(
            data,
            tag(
                AudioCodec::Aac,
                false,
                0x0f,
                AudioPacket::SequenceHeader(Bytes::from_static(ASC)),
            ),
        );
        round_trip(
            body(&[&[0xaf, 1, 0xde, 0x02]]),
            tag(
                AudioCodec::Aac,
                false,
                0x0f,
                AudioPacket::Frame(Bytes::from_static(&[0xde, 0x02])),
            ),
        );
        // Flags other than 0xf survive (some encoders write 0xae, 0xa2 …).
        round_trip(
            body(&[&[0xa2, 1]]),
            tag(AudioCodec::Aac, false, 2, AudioPacket::Frame(Bytes::new())),
        );
        round_trip(
            body(&[&[0x2e, 0xff, 0xfb]]),
            tag(
                AudioCodec::Mp3,
                false,
                0x0e,
                AudioPacket::Frame(Bytes::from_static(&[0xff, 0xfb])),
            ),
        );
        // G.711 mu-law, reported by number.
        round_trip(
            body(&[&[0x82, 7]]),
            tag(
                AudioCodec::Other(8),
                false,
                2,
                AudioPacket::Frame(Bytes::from_static(&[7])),
            ),
        );
    }

    #[test]
    fn enhanced_forms() {
        let b = |x: &'static [u8]| Bytes::from_static(x);
        let opus_head: &[u8] = b"OpusHead\x01\x02\x38\x01\x80\xbb\0\0\0\0\0";
        round_trip(
            body(&[&[0x90], b"Opus", opus_head]),
            tag(
                AudioCodec::Opus,
                true,
                0,
                AudioPacket::SequenceHeader(b(opus_head)),
            ),
        );
        round_trip(
            body(&[&[0x91], b"Opus", &[0xfc, 1]]),
            tag(AudioCodec::Opus, true, 0, AudioPacket::Frame(b(&[0xfc, 1]))),
        );
        round_trip(
            body(&[&[0x92], b"Opus"]),
            tag(AudioCodec::Opus, true, 0, AudioPacket::SequenceEnd),
        );
        round_trip(
            body(&[&[0x90], b"mp4a", ASC]),
            tag(
                AudioCodec::Aac,
                true,
                0,
                AudioPacket::SequenceHeader(b(ASC)),
            ),
        );
        round_trip(
            body(&[&[0x91], b".mp3", &[0xff]]),
            tag(AudioCodec::Mp3, true, 0, AudioPacket::Frame(b(&[0xff]))),
        );
        for (codec, fourcc) in [
            (AudioCodec::Flac, b"fLaC"),
            (AudioCodec::Ac3, b"ac-3"),
            (AudioCodec::Eac3, b"ec-3"),
        ] {
            round_trip(
                body(&[&[0x91], fourcc, &[1]]),
                tag(codec, true, 0, AudioPacket::Frame(b(&[1]))),
            );
        }
    }

    #[test]
    fn writer_picks_a_representable_form() {
        // Opus has no legacy format, whatever `enhanced` says.
        let opus = tag(
            AudioCodec::Opus,
            false,
            0,
            AudioPacket::Frame(Bytes::from_static(&[1])),
        );
        assert_eq!(opus.to_bytes(), body(&[&[0x91], b"Opus", &[1]]));
        // AAC sequence end exists only in E-RTMP.
        let end = tag(AudioCodec::Aac, false, 0x0f, AudioPacket::SequenceEnd);
        assert_eq!(end.to_bytes(), body(&[&[0x92], b"mp4a"]));
        let mp3 = tag(
            AudioCodec::Mp3,
            false,
            0,
            AudioPacket::SequenceHeader(Bytes::new()),
        );
        assert_eq!(mp3.to_bytes(), body(&[&[0x90], b".mp3"]));
        // Other formats have no FourCC: legacy, payload as is.
        let pcm = tag(
            AudioCodec::Other(3),
            true,
            0x0e,
            AudioPacket::SequenceHeader(Bytes::from_static(&[5])),
        );
        assert_eq!(pcm.to_bytes(), body(&[&[0x3e, 5]]));
    }

    #[test]
    fn errors() {
        let parse = |parts: &[&[u8]]| AudioTagBody::parse(&body(parts));
        assert_eq!(parse(&[]), Err(TagBodyError::Empty));
        assert!(matches!(parse(&[&[0xaf]]), Err(TagBodyError::Truncated(_))));
        assert_eq!(
            parse(&[&[0xaf, 2]]),
            Err(TagBodyError::UnsupportedPacketType {
                kind: "AAC",
                value: 2
            })
        );
        assert!(matches!(
            parse(&[&[0x90], b"Opu"]),
            Err(TagBodyError::Truncated(_))
        ));
        let err = parse(&[&[0x91], b"vorb", &[1]]).unwrap_err();
        assert_eq!(err, TagBodyError::UnknownFourCc(FourCc(*b"vorb")));
        assert_eq!(err.to_string(), "unknown FourCC 'vorb'");
        for pt in [3, 4, 5, 7, 15] {
            assert_eq!(
                parse(&[&[0x90 | pt], b"Opus"]),
                Err(TagBodyError::UnsupportedPacketType {
                    kind: "audio",
                    value: pt
                })
            );
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    fn canonical() -> impl Strategy<Value = AudioTagBody> {
        let codec = prop_oneof![
            Just(AudioCodec::Aac),
            Just(AudioCodec::Mp3),
            Just(AudioCodec::Opus),
            Just(AudioCodec::Flac),
            Just(AudioCodec::Ac3),
            Just(AudioCodec::Eac3),
            (0u8..16)
                .prop_filter("not 2, 9, 10", |f| !matches!(f, 2 | 9 | 10))
                .prop_map(AudioCodec::Other),
        ];
        let data = proptest::collection::vec(any::<u8>(), 0..32).prop_map(Bytes::from);
        let packet = prop_oneof![
            data.clone().prop_map(AudioPacket::SequenceHeader),
            data.prop_map(AudioPacket::Frame),
            Just(AudioPacket::SequenceEnd),
        ];
        (codec, any::<bool>(), 0u8..16, packet).prop_map(|(codec, enhanced, flags, mut packet)| {
            if matches!(codec, AudioCodec::Other(_)) {
                // Legacy-only formats carry plain frames.
                if let AudioPacket::SequenceHeader(d) = &packet {
                    packet = AudioPacket::Frame(d.clone());
                } else if packet == AudioPacket::SequenceEnd {
                    packet = AudioPacket::Frame(Bytes::new());
                }
            }
            let mut t = AudioTagBody {
                codec,
                enhanced,
                legacy_flags: flags,
                packet,
            };
            t.enhanced = t.writes_enhanced();
            if t.enhanced {
                t.legacy_flags = 0;
            }
            t
        })
    }

    proptest! {
        #[test]
        fn parse_write_round_trip(t in canonical()) {
            prop_assert_eq!(AudioTagBody::parse(&t.to_bytes()).unwrap(), t);
        }

        #[test]
        fn parse_never_panics_and_rewrites_stably(data in proptest::collection::vec(any::<u8>(), 0..16)) {
            let data = Bytes::from(data);
            if let Ok(t) = AudioTagBody::parse(&data) {
                let again = t.to_bytes();
                prop_assert_eq!(AudioTagBody::parse(&again).unwrap(), t.clone());
                // Legacy and E-RTMP sequence starts/frames rebuild byte for byte.
                if t.packet != AudioPacket::SequenceEnd {
                    prop_assert_eq!(again, data);
                }
            }
        }
    }
}
