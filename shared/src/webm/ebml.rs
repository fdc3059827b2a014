//! EBML, the binary XML under Matroska/WebM: variable-length integers, element headers,
//! the element IDs this demuxer acts on, scalar payloads, and an iterator over the children
//! of a master element that is already buffered whole (EBML header, Info, Tracks,
//! BlockGroup).
//!
//! An element is `ID | size | data`. Both the ID and the size are "vints": the number of
//! leading zero bits of the first byte plus one gives the length (1..=8 bytes). IDs keep
//! their marker bit (so `0x1A45DFA3` is the EBML header ID as written); sizes drop it, and
//! a size whose value bits are all 1 means "unknown" (live streams: Segment, Cluster).

use super::WebmError;

/// EBML header (level 0).
pub const ID_EBML: u32 = 0x1A45_DFA3;
/// `DocType` inside the EBML header: `"webm"` or `"matroska"`.
pub const ID_DOC_TYPE: u32 = 0x4282;
/// Segment (level 0): everything else lives inside it.
pub const ID_SEGMENT: u32 = 0x1853_8067;
/// SeekHead (level 1).
pub const ID_SEEK_HEAD: u32 = 0x114D_9B74;
/// Info (level 1).
pub const ID_INFO: u32 = 0x1549_A966;
/// `TimestampScale` (ns per tick) inside Info.
pub const ID_TIMECODE_SCALE: u32 = 0x2A_D7B1;
/// Tracks (level 1).
pub const ID_TRACKS: u32 = 0x1654_AE6B;
/// Cluster (level 1).
pub const ID_CLUSTER: u32 = 0x1F43_B675;
/// Cues (level 1).
pub const ID_CUES: u32 = 0x1C53_BB6B;
/// Tags (level 1).
pub const ID_TAGS: u32 = 0x1254_C367;
/// Chapters (level 1).
pub const ID_CHAPTERS: u32 = 0x1043_A770;
/// Attachments (level 1).
pub const ID_ATTACHMENTS: u32 = 0x1941_A469;
/// Cluster `Timestamp` (level 2).
pub const ID_CLUSTER_TIMECODE: u32 = 0xE7;
/// SimpleBlock (level 2).
pub const ID_SIMPLE_BLOCK: u32 = 0xA3;
/// BlockGroup (level 2).
pub const ID_BLOCK_GROUP: u32 = 0xA0;
/// Block inside a BlockGroup.
pub const ID_BLOCK: u32 = 0xA1;
/// ReferenceBlock inside a BlockGroup: present exactly when the block is not a keyframe.
pub const ID_REFERENCE_BLOCK: u32 = 0xFB;

/// Level-1 elements: inside an unknown-size Cluster, one of these ends the Cluster.
pub fn is_level1(id: u32) -> bool {
    matches!(
        id,
        ID_SEEK_HEAD
            | ID_INFO
            | ID_TRACKS
            | ID_CLUSTER
            | ID_CUES
            | ID_TAGS
            | ID_CHAPTERS
            | ID_ATTACHMENTS
    )
}

/// Level-0 elements: one of these ends an unknown-size Segment (a chained stream).
pub fn is_level0(id: u32) -> bool {
    matches!(id, ID_EBML | ID_SEGMENT)
}

/// Length in bytes of a vint from its first byte, or `None` for `0x00` (over 8 bytes).
fn vint_len(first: u8) -> Option<usize> {
    (first != 0).then(|| first.leading_zeros() as usize + 1)
}

/// What [`read_vint`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vint {
    /// More bytes are needed.
    Incomplete,
    /// The first byte is `0x00`: longer than 8 bytes, which EBML does not allow here.
    Invalid,
    /// `(value without the marker bit, raw value with it, length)`.
    Value(u64, u64, usize),
}

/// Reads a vint at the start of `data`.
pub fn read_vint(data: &[u8]) -> Vint {
    let Some(&first) = data.first() else {
        return Vint::Incomplete;
    };
    let Some(len) = vint_len(first) else {
        return Vint::Invalid;
    };
    let Some(bytes) = data.get(..len) else {
        return Vint::Incomplete;
    };
    let raw = bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    // len ≤ 8, so the shift is ≤ 56 and the marker bit is dropped exactly.
    let marker = 1u64 << (7 * len);
    Vint::Value(raw & (marker - 1), raw, len)
}

/// The header of an element: its ID (marker kept), data size (`None` = unknown), and how
/// many bytes the ID and size took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElementHeader {
    /// The ID as written, e.g. [`ID_CLUSTER`].
    pub id: u32,
    /// The data size; `None` when the size field is all ones ("unknown").
    pub size: Option<u64>,
    /// Bytes taken by the ID and the size field.
    pub header_len: usize,
}

/// Parses an element header at the start of `data`: `Ok(None)` if more bytes are needed.
/// `offset` (the stream position of `data`) is only used in errors.
pub fn read_header(data: &[u8], offset: u64) -> Result<Option<ElementHeader>, WebmError> {
    let (id, id_len) = match read_vint(data) {
        Vint::Incomplete => return Ok(None),
        // IDs are at most 4 bytes long; all-ones value bits are reserved.
        Vint::Value(value, raw, len) if len <= 4 && value != (1u64 << (7 * len)) - 1 => {
            (raw as u32, len)
        }
        Vint::Value(..) | Vint::Invalid => return Err(WebmError::BadElementId { offset }),
    };
    let rest = data.get(id_len..).unwrap_or_default();
    let (size, size_len) = match read_vint(rest) {
        Vint::Incomplete => return Ok(None),
        Vint::Invalid => {
            return Err(WebmError::BadElementSize {
                offset: offset + id_len as u64,
            });
        }
        Vint::Value(value, _, len) => {
            let unknown = value == (1u64 << (7 * len)) - 1;
            ((!unknown).then_some(value), len)
        }
    };
    Ok(Some(ElementHeader {
        id,
        size,
        header_len: id_len + size_len,
    }))
}

/// An unsigned integer payload (0..=8 bytes, big-endian; empty = 0).
pub fn read_uint(data: &[u8], id: u32) -> Result<u64, WebmError> {
    if data.len() > 8 {
        return Err(WebmError::BadValue { id });
    }
    Ok(data.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

/// A float payload (0, 4 or 8 bytes, big-endian IEEE 754; empty = 0.0).
pub fn read_float(data: &[u8], id: u32) -> Result<f64, WebmError> {
    match *data {
        [] => Ok(0.0),
        [a, b, c, d] => Ok(f64::from(f32::from_be_bytes([a, b, c, d]))),
        [a, b, c, d, e, f, g, h] => Ok(f64::from_be_bytes([a, b, c, d, e, f, g, h])),
        _ => Err(WebmError::BadValue { id }),
    }
}

/// A string payload: ASCII or UTF-8, padded with NULs that are not part of the value.
pub fn read_string(data: &[u8]) -> String {
    let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    String::from_utf8_lossy(data.get(..end).unwrap_or_default()).into_owned()
}

/// Iterator over the children of a buffered master element: `(id, data)` pairs, in order.
/// Yields an error (then stops) for a malformed header, an unknown size, or a child that
/// runs past the parent.
#[derive(Debug, Clone)]
pub struct Children<'a> {
    data: &'a [u8],
    /// Stream offset of `data`, for errors.
    offset: u64,
    failed: bool,
}

/// The children of a master element whose data is `data` (starting at stream `offset`).
pub fn children(data: &[u8], offset: u64) -> Children<'_> {
    Children {
        data,
        offset,
        failed: false,
    }
}

impl<'a> Iterator for Children<'a> {
    type Item = Result<(u32, &'a [u8]), WebmError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.data.is_empty() {
            return None;
        }
        let result = self.split_one();
        self.failed = result.is_err();
        Some(result)
    }
}

impl<'a> Children<'a> {
    fn split_one(&mut self) -> Result<(u32, &'a [u8]), WebmError> {
        let h = read_header(self.data, self.offset)?.ok_or(WebmError::ElementOverrunsParent {
            id: 0,
            offset: self.offset,
        })?;
        let size = h
            .size
            .ok_or(WebmError::UnknownSizeNotAllowed { id: h.id })?;
        let overrun = WebmError::ElementOverrunsParent {
            id: h.id,
            offset: self.offset,
        };
        let size = usize::try_from(size).map_err(|_| overrun.clone())?;
        let end = h.header_len.checked_add(size).ok_or(overrun.clone())?;
        let body = self.data.get(h.header_len..end).ok_or(overrun)?;
        self.data = self.data.get(end..).unwrap_or_default();
        self.offset += end as u64;
        Ok((h.id, body))
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn vints_of_every_length() {
        assert_eq!(read_vint(&[0x81]), Vint::Value(1, 0x81, 1));
        assert_eq!(read_vint(&[0x40, 0x02]), Vint::Value(2, 0x4002, 2));
        assert_eq!(read_vint(&[0x40]), Vint::Incomplete);
        assert_eq!(read_vint(&[]), Vint::Incomplete);
        assert_eq!(read_vint(&[0x00, 1, 2]), Vint::Invalid);
        let eight = [0x01, 0, 0, 0, 0, 0, 0x01, 0x00];
        assert_eq!(
            read_vint(&eight),
            Vint::Value(256, 0x0100_0000_0000_0100, 8)
        );
    }

    #[test]
    fn headers_known_unknown_and_bad() {
        // Cluster, unknown size written in 8 bytes (as Chromium does).
        let h = [
            0x1F, 0x43, 0xB6, 0x75, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        ];
        assert_eq!(
            read_header(&h, 0),
            Ok(Some(ElementHeader {
                id: ID_CLUSTER,
                size: None,
                header_len: 12
            }))
        );
        assert_eq!(read_header(&h[..11], 0), Ok(None));
        // 1-byte unknown size.
        assert_eq!(read_header(&[0xA3, 0xFF], 0).unwrap().unwrap().size, None);
        // 0xFE is a known size of 126; 0x407F the 2-byte form of 127.
        assert_eq!(
            read_header(&[0xA3, 0xFE], 0).unwrap().unwrap().size,
            Some(126)
        );
        assert_eq!(
            read_header(&[0xA3, 0x40, 0x7F], 0).unwrap().unwrap().size,
            Some(127)
        );
        assert_eq!(
            read_header(&[0x00, 0x81], 7),
            Err(WebmError::BadElementId { offset: 7 })
        );
        // 5-byte IDs and the reserved all-ones 1-byte ID are not IDs.
        assert!(read_header(&[0x08, 0, 0, 0, 1, 0x81], 0).is_err());
        assert!(read_header(&[0xFF, 0x81], 0).is_err());
        assert_eq!(
            read_header(&[0xA3, 0x00], 10),
            Err(WebmError::BadElementSize { offset: 11 })
        );
    }

    #[test]
    fn scalars() {
        assert_eq!(read_uint(&[], 1), Ok(0));
        assert_eq!(read_uint(&[0x0F, 0x42, 0x40], 1), Ok(1_000_000));
        assert_eq!(read_uint(&[0; 9], 5), Err(WebmError::BadValue { id: 5 }));
        assert_eq!(read_float(&[0x47, 0x3B, 0x80, 0x00], 1), Ok(48000.0));
        assert_eq!(read_float(&48000.0f64.to_be_bytes(), 1), Ok(48000.0));
        assert_eq!(read_float(&[], 1), Ok(0.0));
        assert!(read_float(&[1, 2], 1).is_err());
        assert_eq!(read_string(b"A_OPUS\0\0"), "A_OPUS");
    }

    #[test]
    fn children_in_order_and_errors() {
        let data = [0xD7, 0x81, 0x02, 0x86, 0x82, b'A', b'B', 0xEC, 0x80];
        let kids: Vec<_> = children(&data, 0).map(Result::unwrap).collect();
        assert_eq!(
            kids,
            vec![(0xD7, &[2u8][..]), (0x86, &b"AB"[..]), (0xEC, &[][..])]
        );
        let mut it = children(&[0xD7, 0x85, 1], 100);
        assert_eq!(
            it.next(),
            Some(Err(WebmError::ElementOverrunsParent {
                id: 0xD7,
                offset: 100
            }))
        );
        assert_eq!(it.next(), None);
        let mut it = children(&[0xA1, 0xFF], 0);
        assert_eq!(
            it.next(),
            Some(Err(WebmError::UnknownSizeNotAllowed { id: 0xA1 }))
        );
        assert!(children(&[0x1A, 0x45], 0).next().unwrap().is_err());
    }
}
