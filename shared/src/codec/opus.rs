//! The Opus identification header, `OpusHead` (RFC 7845 §5.1).
//!
//! Browsers' WebCodecs encode Opus where they cannot encode AAC, and Enhanced RTMP/FLV
//! carries Opus with this header as its sequence start. The packagers need the channel
//! count, pre-skip and channel mapping from it (fMP4 `dOps`, MPEG-TS descriptors).

use bytes::{BufMut, BytesMut};

use super::CodecError;

/// The 8-byte magic signature.
pub const OPUS_HEAD_MAGIC: &[u8; 8] = b"OpusHead";

/// Opus always decodes at 48 kHz, whatever the input rate was.
pub const OPUS_OUTPUT_SAMPLE_RATE: u32 = 48000;

/// Size of the header without a channel mapping table.
const FIXED_LEN: usize = 19;

/// The channel mapping table, present when the mapping family is not 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpusChannelMapping {
    /// Number of Opus streams in each packet (at least 1).
    pub stream_count: u8,
    /// How many of those streams are coupled (stereo); at most `stream_count`.
    pub coupled_count: u8,
    /// For each output channel, the decoded channel index (255 = silence).
    pub mapping: Vec<u8>,
}

/// An `OpusHead` identification header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpusHead {
    /// Version; 1 today, and any version 0..=15 is compatible.
    pub version: u8,
    /// Output channel count (at least 1).
    pub channels: u8,
    /// Samples (at 48 kHz) to discard from the decoder output at the start.
    pub pre_skip: u16,
    /// The original input sample rate in Hz (informational; 0 = unspecified).
    pub input_sample_rate: u32,
    /// Output gain in dB, Q7.8 fixed point.
    pub output_gain: i16,
    /// Channel mapping family: 0 mono/stereo (RTP), 1 Vorbis order, 255 undefined, ….
    pub mapping_family: u8,
    /// The mapping table; `Some` exactly when `mapping_family != 0`.
    pub mapping: Option<OpusChannelMapping>,
}

impl OpusHead {
    /// A version-1 header for mono or stereo (mapping family 0), no gain.
    pub fn new(channels: u8, pre_skip: u16, input_sample_rate: u32) -> Self {
        Self {
            version: 1,
            channels,
            pre_skip,
            input_sample_rate,
            output_gain: 0,
            mapping_family: 0,
            mapping: None,
        }
    }

    /// Parses an `OpusHead`; bytes after it are ignored, as RFC 7845 requires.
    pub fn parse(data: &[u8]) -> Result<Self, CodecError> {
        let fixed = data
            .get(..FIXED_LEN)
            .ok_or(CodecError::Truncated("OpusHead"))?;
        let (magic, f) = fixed.split_at(8);
        if magic != OPUS_HEAD_MAGIC {
            return Err(CodecError::Invalid("OpusHead magic"));
        }
        // f: version, channels, pre_skip(2), rate(4), gain(2), family; all little-endian.
        let &[
            version,
            channels,
            p0,
            p1,
            r0,
            r1,
            r2,
            r3,
            g0,
            g1,
            mapping_family,
        ] = f
        else {
            return Err(CodecError::Truncated("OpusHead"));
        };
        // Only the major version (high nibble) breaks compatibility.
        if version >> 4 != 0 {
            return Err(CodecError::UnsupportedVersion {
                what: "OpusHead",
                version,
            });
        }
        if channels == 0 {
            return Err(CodecError::Invalid("OpusHead channel count 0"));
        }
        let mapping = if mapping_family == 0 {
            if channels > 2 {
                return Err(CodecError::Invalid(
                    "OpusHead family 0 with over 2 channels",
                ));
            }
            None
        } else {
            let table_len = 2 + usize::from(channels);
            let table = data
                .get(FIXED_LEN..FIXED_LEN + table_len)
                .ok_or(CodecError::Truncated("OpusHead channel mapping table"))?;
            let (counts, mapping) = table.split_at(2);
            let m = OpusChannelMapping {
                stream_count: counts.first().copied().unwrap_or(0),
                coupled_count: counts.get(1).copied().unwrap_or(0),
                mapping: mapping.to_vec(),
            };
            validate_mapping(&m, channels)?;
            Some(m)
        };
        Ok(Self {
            version,
            channels,
            pre_skip: u16::from_le_bytes([p0, p1]),
            input_sample_rate: u32::from_le_bytes([r0, r1, r2, r3]),
            output_gain: i16::from_le_bytes([g0, g1]),
            mapping_family,
            mapping,
        })
    }

    /// Appends the header to `out`; checks first, so on error nothing is written.
    pub fn build(&self, out: &mut BytesMut) -> Result<(), CodecError> {
        if self.version >> 4 != 0 || self.channels == 0 {
            return Err(CodecError::NotEncodable(
                "OpusHead version or channel count",
            ));
        }
        match (&self.mapping, self.mapping_family) {
            (None, 0) if self.channels <= 2 => {}
            (Some(m), family) if family != 0 => {
                validate_mapping(m, self.channels)
                    .map_err(|_| CodecError::NotEncodable("OpusHead channel mapping table"))?;
            }
            _ => {
                return Err(CodecError::NotEncodable(
                    "OpusHead mapping table must be present exactly when family is not 0",
                ));
            }
        }
        out.reserve(FIXED_LEN + 2 + usize::from(self.channels));
        out.put_slice(OPUS_HEAD_MAGIC);
        out.put_u8(self.version);
        out.put_u8(self.channels);
        out.put_u16_le(self.pre_skip);
        out.put_u32_le(self.input_sample_rate);
        out.put_i16_le(self.output_gain);
        out.put_u8(self.mapping_family);
        if let Some(m) = &self.mapping {
            out.put_u8(m.stream_count);
            out.put_u8(m.coupled_count);
            out.put_slice(&m.mapping);
        }
        Ok(())
    }

    /// The header as a new buffer.
    pub fn to_bytes(&self) -> Result<bytes::Bytes, CodecError> {
        let mut out = BytesMut::new();
        self.build(&mut out)?;
        Ok(out.freeze())
    }

    /// The codec string used by MSE and WebCodecs.
    pub fn codec_string(&self) -> &'static str {
        "opus"
    }
}

/// Checks a mapping table against the channel count (RFC 7845 §5.1.1).
fn validate_mapping(m: &OpusChannelMapping, channels: u8) -> Result<(), CodecError> {
    if m.stream_count == 0 || m.coupled_count > m.stream_count {
        return Err(CodecError::Invalid("OpusHead stream counts"));
    }
    if m.mapping.len() != usize::from(channels) {
        return Err(CodecError::Invalid("OpusHead mapping table length"));
    }
    let decoded = u16::from(m.stream_count) + u16::from(m.coupled_count);
    if decoded > 255 {
        return Err(CodecError::Invalid("OpusHead stream counts"));
    }
    if m.mapping
        .iter()
        .any(|&c| c != 255 && u16::from(c) >= decoded)
    {
        return Err(CodecError::Invalid("OpusHead mapping entry"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    // From ffmpeg -c:a libopus -f ogg, stereo and 5.1.
    const STEREO: [u8; 19] = [
        0x4f, 0x70, 0x75, 0x73, 0x48, 0x65, 0x61, 0x64, 0x01, 0x02, 0x38, 0x01, 0x80, 0xbb, 0x00,
        0x00, 0x00, 0x00, 0x00,
    ];
    const SURROUND: [u8; 27] = [
        0x4f, 0x70, 0x75, 0x73, 0x48, 0x65, 0x61, 0x64, 0x01, 0x06, 0x38, 0x01, 0x80, 0xbb, 0x00,
        0x00, 0x00, 0x00, 0x01, 0x04, 0x02, 0x00, 0x04, 0x01, 0x02, 0x03, 0x05,
    ];

    #[test]
    fn parses_libopus_stereo() {
        let h = OpusHead::parse(&STEREO).unwrap();
        assert_eq!(h, OpusHead::new(2, 312, 48000));
        assert_eq!(&h.to_bytes().unwrap()[..], &STEREO[..]);
        assert_eq!(h.codec_string(), "opus");
        // Trailing bytes are ignored.
        let mut longer = STEREO.to_vec();
        longer.extend_from_slice(&[1, 2, 3]);
        assert_eq!(OpusHead::parse(&longer).unwrap(), h);
    }

    #[test]
    fn parses_mapping_family_1() {
        let h = OpusHead::parse(&SURROUND).unwrap();
        assert_eq!(h.channels, 6);
        assert_eq!(h.mapping_family, 1);
        let m = h.mapping.clone().unwrap();
        assert_eq!((m.stream_count, m.coupled_count), (4, 2));
        assert_eq!(m.mapping, vec![0, 4, 1, 2, 3, 5]);
        assert_eq!(&h.to_bytes().unwrap()[..], &SURROUND[..]);
    }

    #[test]
    fn gain_and_version_fields() {
        let mut h = OpusHead::new(1, 3840, 44100);
        h.output_gain = -256; // -1 dB
        h.version = 15;
        let bytes = h.to_bytes().unwrap();
        assert_eq!(
            &bytes[8..],
            &[15, 1, 0x00, 0x0f, 0x44, 0xac, 0, 0, 0x00, 0xff, 0]
        );
        assert_eq!(OpusHead::parse(&bytes).unwrap(), h);
    }

    #[test]
    fn rejects_bad_headers() {
        assert_eq!(OpusHead::parse(&[]), Err(CodecError::Truncated("OpusHead")));
        assert!(matches!(
            OpusHead::parse(&STEREO[..18]),
            Err(CodecError::Truncated(_))
        ));
        let mut bad = STEREO;
        bad[0] = b'o';
        assert_eq!(
            OpusHead::parse(&bad),
            Err(CodecError::Invalid("OpusHead magic"))
        );
        let mut bad = STEREO;
        bad[8] = 0x10;
        assert!(matches!(
            OpusHead::parse(&bad),
            Err(CodecError::UnsupportedVersion { version: 0x10, .. })
        ));
        let mut bad = STEREO;
        bad[9] = 0;
        assert!(OpusHead::parse(&bad).is_err());
        let mut bad = STEREO;
        bad[9] = 3; // family 0 allows only mono/stereo
        assert!(OpusHead::parse(&bad).is_err());
        assert!(matches!(
            OpusHead::parse(&SURROUND[..26]),
            Err(CodecError::Truncated(_))
        ));
        let mut bad = SURROUND;
        bad[20] = 5; // more coupled than streams
        assert!(OpusHead::parse(&bad).is_err());
        let mut bad = SURROUND;
        bad[26] = 6; // channel index past streams + coupled
        assert!(OpusHead::parse(&bad).is_err());
        bad[26] = 255; // silence is allowed
        assert!(OpusHead::parse(&bad).is_ok());
    }

    #[test]
    fn build_checks_mapping_consistency() {
        let mut h = OpusHead::new(2, 0, 0);
        h.mapping_family = 1;
        let mut out = BytesMut::new();
        assert!(h.build(&mut out).is_err());
        h.mapping = Some(OpusChannelMapping {
            stream_count: 1,
            coupled_count: 1,
            mapping: vec![0, 1],
        });
        assert!(h.build(&mut out).is_ok());
        h.mapping_family = 0;
        assert!(h.to_bytes().is_err());
        h.mapping = None;
        h.channels = 3;
        assert!(h.to_bytes().is_err());
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn parse_build_round_trip(data in proptest::collection::vec(any::<u8>(), 19..40), family in any::<u8>(), channels in 1u8..8) {
            let mut data = data;
            data[..8].copy_from_slice(OPUS_HEAD_MAGIC);
            data[8] &= 0x0f;
            data[9] = channels;
            data[18] = family;
            if let Ok(h) = OpusHead::parse(&data) {
                let bytes = h.to_bytes().unwrap();
                prop_assert_eq!(&bytes[..], &data[..bytes.len()]);
            }
        }
    }
}
