//! FLV file header and tag header: the types and their fixed-size wire layouts.
//!
//! Kept apart from the demuxer and the muxer so both read and write the same layout, and
//! so the RTMP layer (whose messages carry the same type / timestamp / body) can share
//! [`Tag`] and [`MediaKind`].

use bytes::Bytes;

use super::FlvError;

/// Size of the FLV file header (signature, version, flags, data offset).
pub const FLV_HEADER_SIZE: usize = 9;
/// Size of a tag header (type, data size, timestamp, extended timestamp, stream id).
pub const TAG_HEADER_SIZE: usize = 11;
/// Size of the `PreviousTagSize` field after the file header and after each tag.
pub const PREVIOUS_TAG_SIZE_LEN: usize = 4;

const SIGNATURE: &[u8; 3] = b"FLV";
const FLAG_AUDIO: u8 = 0x04;
const FLAG_VIDEO: u8 = 0x01;

/// The FLV file header.
///
/// The muxer always writes a data offset of 9; the demuxer skips any extra header bytes a
/// larger offset announces. Reserved flag bits are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlvHeader {
    /// Format version; always 1 in practice, kept as read.
    pub version: u8,
    /// The "audio tags present" flag.
    pub has_audio: bool,
    /// The "video tags present" flag.
    pub has_video: bool,
}

impl FlvHeader {
    /// A version-1 header with the given track flags.
    pub const fn new(has_audio: bool, has_video: bool) -> Self {
        FlvHeader {
            version: 1,
            has_audio,
            has_video,
        }
    }

    /// Parses a complete 9-byte header, returning it and its data offset.
    pub(crate) fn parse(b: &[u8; FLV_HEADER_SIZE]) -> Result<(Self, u32), FlvError> {
        let [s0, s1, s2, version, flags, o0, o1, o2, o3] = *b;
        if [s0, s1, s2] != *SIGNATURE {
            return Err(FlvError::BadSignature);
        }
        let offset = u32::from_be_bytes([o0, o1, o2, o3]);
        if (offset as usize) < FLV_HEADER_SIZE {
            return Err(FlvError::BadDataOffset(offset));
        }
        let header = FlvHeader {
            version,
            has_audio: flags & FLAG_AUDIO != 0,
            has_video: flags & FLAG_VIDEO != 0,
        };
        Ok((header, offset))
    }

    /// The 9 header bytes (without `PreviousTagSize0`).
    pub(crate) fn to_bytes(self) -> [u8; FLV_HEADER_SIZE] {
        let mut flags = 0;
        if self.has_audio {
            flags |= FLAG_AUDIO;
        }
        if self.has_video {
            flags |= FLAG_VIDEO;
        }
        let [o0, o1, o2, o3] = (FLV_HEADER_SIZE as u32).to_be_bytes();
        [b'F', b'L', b'V', self.version, flags, o0, o1, o2, o3]
    }
}

/// Checks a partial header: an error as soon as the signature bytes seen so far differ.
pub(crate) fn check_signature_prefix(seen: &[u8]) -> Result<(), FlvError> {
    if seen.iter().zip(SIGNATURE).all(|(a, b)| a == b) {
        Ok(())
    } else {
        Err(FlvError::BadSignature)
    }
}

pub use crate::media::MediaKind;

/// One FLV tag: its kind, 32-bit millisecond timestamp (DTS), stream id and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// Audio, video or script data.
    pub kind: MediaKind,
    /// Decode timestamp in milliseconds (24 bits + 8 extended bits on the wire; wraps).
    pub timestamp: u32,
    /// Stream id, 24 bits on the wire and always 0 in practice; the muxer writes the low
    /// 24 bits.
    pub stream_id: u32,
    /// The tag body (codec header + payload), shared without copying.
    pub data: Bytes,
}

/// A parsed tag header; the body is not read yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TagHeader {
    pub kind: MediaKind,
    pub data_size: usize,
    pub timestamp: u32,
    pub stream_id: u32,
}

impl TagHeader {
    pub(crate) fn parse(b: &[u8; TAG_HEADER_SIZE]) -> Result<Self, FlvError> {
        let [ty, s0, s1, s2, t0, t1, t2, t_ext, i0, i1, i2] = *b;
        Ok(TagHeader {
            kind: MediaKind::from_type_id(ty).ok_or(FlvError::UnknownTagType(ty))?,
            data_size: u32::from_be_bytes([0, s0, s1, s2]) as usize,
            // The extended byte holds the timestamp's upper 8 bits.
            timestamp: u32::from_be_bytes([t_ext, t0, t1, t2]),
            stream_id: u32::from_be_bytes([0, i0, i1, i2]),
        })
    }

    /// The 11 header bytes; `data_size` must already be checked to fit in 24 bits.
    pub(crate) fn to_bytes(self) -> [u8; TAG_HEADER_SIZE] {
        let [_, s0, s1, s2] = (self.data_size as u32).to_be_bytes();
        let [t_ext, t0, t1, t2] = self.timestamp.to_be_bytes();
        let [_, i0, i1, i2] = self.stream_id.to_be_bytes();
        [
            self.kind.type_id(),
            s0,
            s1,
            s2,
            t0,
            t1,
            t2,
            t_ext,
            i0,
            i1,
            i2,
        ]
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn file_header_round_trip() {
        let bytes = *b"FLV\x01\x05\x00\x00\x00\x09";
        let parsed = FlvHeader::parse(&bytes);
        assert_eq!(parsed, Ok((FlvHeader::new(true, true), 9)));
        assert_eq!(FlvHeader::new(true, true).to_bytes(), bytes);
        assert_eq!(
            FlvHeader::parse(b"FLV\x01\x04\x00\x00\x00\x09").map(|(h, _)| h),
            Ok(FlvHeader::new(true, false))
        );
        assert_eq!(
            FlvHeader::parse(b"FLV\x01\x01\x00\x00\x00\x0d").map(|(h, o)| (h.has_video, o)),
            Ok((true, 13))
        );
    }

    #[test]
    fn file_header_errors() {
        assert_eq!(
            FlvHeader::parse(b"FLX\x01\x05\x00\x00\x00\x09"),
            Err(FlvError::BadSignature)
        );
        assert_eq!(
            FlvHeader::parse(b"FLV\x01\x05\x00\x00\x00\x08"),
            Err(FlvError::BadDataOffset(8))
        );
        assert_eq!(check_signature_prefix(b""), Ok(()));
        assert_eq!(check_signature_prefix(b"FL"), Ok(()));
        assert_eq!(check_signature_prefix(b"FLV\x01"), Ok(()));
        assert_eq!(check_signature_prefix(b"G"), Err(FlvError::BadSignature));
    }

    #[test]
    fn tag_header_layout() {
        // Video, 0x000102 bytes, timestamp 0x04050607 (0x07 is the extended byte), stream 0.
        let bytes = [9, 0x00, 0x01, 0x02, 0x05, 0x06, 0x07, 0x04, 0, 0, 0];
        let h = TagHeader::parse(&bytes);
        let want = TagHeader {
            kind: MediaKind::Video,
            data_size: 0x102,
            timestamp: 0x0405_0607,
            stream_id: 0,
        };
        assert_eq!(h, Ok(want));
        assert_eq!(want.to_bytes(), bytes);
        assert_eq!(
            TagHeader::parse(&[0x29, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(FlvError::UnknownTagType(0x29))
        );
    }

    #[test]
    fn tag_kinds() {
        for kind in [MediaKind::Audio, MediaKind::Video, MediaKind::Script] {
            assert_eq!(MediaKind::from_type_id(kind.type_id()), Some(kind));
        }
        assert_eq!(MediaKind::from_type_id(0), None);
    }
}
