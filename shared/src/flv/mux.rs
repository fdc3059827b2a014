//! FLV muxer: writers that append the file header and tags to a caller's `BytesMut`.
//!
//! Stateless on purpose: timing (DTS, wrap-around, republish offsets) belongs to the caller,
//! these functions only lay bytes out. The header/trailer writers let a server frame a
//! shared payload without copying it, and [`encode_tag`] builds a complete tag once so
//! every FLV viewer can be sent clones of the same `Bytes`.

use bytes::{BufMut, Bytes, BytesMut};

use super::FlvError;
use super::header::{
    FLV_HEADER_SIZE, FlvHeader, MediaKind, PREVIOUS_TAG_SIZE_LEN, TAG_HEADER_SIZE, Tag, TagHeader,
};

/// Largest tag data size the 24-bit size field can express.
pub const MAX_TAG_DATA_SIZE: usize = 0xFF_FFFF;

/// Appends the 9-byte file header and `PreviousTagSize0` (= 0).
pub fn write_header(header: &FlvHeader, out: &mut BytesMut) {
    out.reserve(FLV_HEADER_SIZE + PREVIOUS_TAG_SIZE_LEN);
    out.put_slice(&header.to_bytes());
    out.put_u32(0);
}

/// Appends a whole tag: tag header, data and `PreviousTagSize`.
///
/// Fails, appending nothing, if the data is over [`MAX_TAG_DATA_SIZE`]. Only the low 24
/// bits of `stream_id` are written.
pub fn write_tag(tag: &Tag, out: &mut BytesMut) -> Result<(), FlvError> {
    let len = tag.data.len();
    check_size(len)?;
    out.reserve(TAG_HEADER_SIZE + len + PREVIOUS_TAG_SIZE_LEN);
    write_tag_header(tag.kind, tag.timestamp, tag.stream_id, len, out)?;
    out.put_slice(&tag.data);
    write_tag_trailer(len, out)
}

/// Appends only the 11-byte tag header for a body of `data_len` bytes, so the body can be
/// sent from its own buffer; follow the body with [`write_tag_trailer`].
pub fn write_tag_header(
    kind: MediaKind,
    timestamp: u32,
    stream_id: u32,
    data_len: usize,
    out: &mut BytesMut,
) -> Result<(), FlvError> {
    check_size(data_len)?;
    let header = TagHeader {
        kind,
        data_size: data_len,
        timestamp,
        stream_id,
    };
    out.put_slice(&header.to_bytes());
    Ok(())
}

/// Appends the `PreviousTagSize` (11 + `data_len`) that follows a body of `data_len` bytes.
pub fn write_tag_trailer(data_len: usize, out: &mut BytesMut) -> Result<(), FlvError> {
    check_size(data_len)?;
    // Cannot overflow: data_len ≤ 0xFF_FFFF was just checked.
    out.put_u32((TAG_HEADER_SIZE + data_len) as u32);
    Ok(())
}

/// Builds a complete tag (header, data, `PreviousTagSize`) as one `Bytes`, so a frame is
/// serialized once and every FLV viewer is sent a cheap clone.
pub fn encode_tag(tag: &Tag) -> Result<Bytes, FlvError> {
    let mut out = BytesMut::with_capacity(TAG_HEADER_SIZE + tag.data.len() + PREVIOUS_TAG_SIZE_LEN);
    write_tag(tag, &mut out)?;
    Ok(out.freeze())
}

fn check_size(len: usize) -> Result<(), FlvError> {
    if len > MAX_TAG_DATA_SIZE {
        Err(FlvError::TagTooLarge {
            size: len,
            max: MAX_TAG_DATA_SIZE,
        })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn header_bytes() {
        let mut out = BytesMut::new();
        write_header(&FlvHeader::new(true, false), &mut out);
        assert_eq!(&out[..], b"FLV\x01\x04\x00\x00\x00\x09\x00\x00\x00\x00");
    }

    #[test]
    fn tag_bytes() {
        let tag = Tag {
            kind: MediaKind::Audio,
            timestamp: 0x0102_0304,
            stream_id: 0x0100_0005, // only the low 24 bits are written
            data: Bytes::from_static(b"\xaf\x01ab"),
        };
        let mut out = BytesMut::from(&b"prefix"[..]);
        assert_eq!(write_tag(&tag, &mut out), Ok(()));
        assert_eq!(
            &out[..],
            b"prefix\x08\x00\x00\x04\x02\x03\x04\x01\x00\x00\x05\xaf\x01ab\x00\x00\x00\x0f"
        );
        assert_eq!(encode_tag(&tag).as_deref(), Ok(&out[6..]));
    }

    #[test]
    fn framing_around_a_shared_payload_matches_write_tag() {
        let tag = Tag {
            kind: MediaKind::Video,
            timestamp: 40,
            stream_id: 0,
            data: Bytes::from_static(b"\x17\x01\x00\x00\x00payload"),
        };
        let mut head = BytesMut::new();
        let mut trail = BytesMut::new();
        let framed = write_tag_header(tag.kind, 40, 0, tag.data.len(), &mut head)
            .and_then(|()| write_tag_trailer(tag.data.len(), &mut trail));
        assert_eq!(framed, Ok(()));
        let mut joined = head.to_vec();
        joined.extend_from_slice(&tag.data);
        joined.extend_from_slice(&trail);
        assert_eq!(encode_tag(&tag).map(|b| b.to_vec()), Ok(joined));
    }

    #[test]
    fn oversize_tag_is_an_error_and_writes_nothing() {
        let tag = Tag {
            kind: MediaKind::Video,
            timestamp: 0,
            stream_id: 0,
            data: Bytes::from(vec![0u8; MAX_TAG_DATA_SIZE + 1]),
        };
        let mut out = BytesMut::new();
        let err = FlvError::TagTooLarge {
            size: MAX_TAG_DATA_SIZE + 1,
            max: MAX_TAG_DATA_SIZE,
        };
        assert_eq!(write_tag(&tag, &mut out), Err(err.clone()));
        assert!(out.is_empty());
        assert_eq!(write_tag_trailer(MAX_TAG_DATA_SIZE + 1, &mut out), Err(err));
        assert_eq!(write_tag_trailer(MAX_TAG_DATA_SIZE, &mut out), Ok(()));
        assert_eq!(&out[..], &[0x01, 0x00, 0x00, 0x0a]);
    }
}
