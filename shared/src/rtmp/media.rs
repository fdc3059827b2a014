//! Outgoing media for play sessions: audio (type 8), video (type 9) and data (type 18)
//! messages, chunked once so the same bytes can go to every viewer.
//!
//! Every viewer's play stream is message stream [`PLAY_STREAM_ID`] (the first stream a
//! client creates, which is what all common players do), and the server announces the same
//! chunk size to everyone, so a frame's chunked bytes depend only on the frame: build them
//! once with [`media_message`] and clone the `Bytes` per viewer.

use bytes::{Bytes, BytesMut};

use super::writer::{MessageHeader, chunked_len, write_message};
pub use crate::media::MediaKind;

/// The message stream id of play sessions (what `createStream` returns first).
pub const PLAY_STREAM_ID: u32 = 1;
/// Chunk stream id for audio messages.
pub const CSID_AUDIO: u32 = 4;
/// Chunk stream id for data messages (`onMetaData`, `|RtmpSampleAccess`).
pub const CSID_DATA: u32 = 5;
/// Chunk stream id for video messages.
pub const CSID_VIDEO: u32 = 6;

/// The chunk stream id we send media of `kind` on.
pub fn csid(kind: MediaKind) -> u32 {
    match kind {
        MediaKind::Audio => CSID_AUDIO,
        MediaKind::Video => CSID_VIDEO,
        MediaKind::Script => CSID_DATA,
    }
}

fn header(kind: MediaKind, stream_id: u32, timestamp: u32) -> MessageHeader {
    MessageHeader {
        csid: csid(kind),
        timestamp,
        type_id: kind.type_id(),
        stream_id,
    }
}
/// Appends one self-contained chunked media message (type-0 header, type-3 continuations).
pub fn write_media_message(
    out: &mut BytesMut,
    kind: MediaKind,
    stream_id: u32,
    timestamp: u32,
    payload: &[u8],
    chunk_size: u32,
) {
    write_message(
        out,
        &header(kind, stream_id, timestamp),
        payload,
        chunk_size,
    );
}

/// One chunked media message on [`PLAY_STREAM_ID`], ready to be shared by every viewer
/// that uses `chunk_size`.
pub fn media_message(kind: MediaKind, timestamp: u32, payload: &[u8], chunk_size: u32) -> Bytes {
    let header = header(kind, PLAY_STREAM_ID, timestamp);
    let mut out = BytesMut::with_capacity(chunked_len(&header, payload.len(), chunk_size));
    write_message(&mut out, &header, payload, chunk_size);
    out.freeze()
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::amf0::{Amf0Value, decode_all, encode_all};
    use crate::rtmp::{ChunkReader, ReaderLimits};

    #[test]
    fn shared_bytes_read_back_by_any_reader() {
        let payload = vec![0x17u8; 10_000];
        let shared = media_message(MediaKind::Video, 0x0100_0000, &payload, 4096);
        for _viewer in 0..2 {
            let mut reader = ChunkReader::new(ReaderLimits::default());
            reader.set_chunk_size(4096).unwrap();
            let mut input = BytesMut::from(&shared[..]);
            let m = reader.read_message(&mut input).unwrap().unwrap();
            assert_eq!(
                (m.csid, m.type_id, m.stream_id, m.timestamp),
                (6, 9, 1, 0x0100_0000)
            );
            assert_eq!(m.payload.len(), 10_000);
            assert!(input.is_empty());
        }
    }

    #[test]
    fn metadata_payload() {
        let mut body = BytesMut::new();
        encode_all(
            &[
                Amf0Value::String("onMetaData".into()),
                Amf0Value::EcmaArray(vec![("width".into(), Amf0Value::Number(320.0))]),
            ],
            &mut body,
        );
        let v = decode_all(&body).unwrap();
        assert_eq!(v[0].as_str(), Some("onMetaData"));
        assert_eq!(v[1].get("width").unwrap().as_number(), Some(320.0));
        let mut out = BytesMut::new();
        write_media_message(&mut out, MediaKind::Script, 1, 0, &body, 128);
        assert_eq!(out[0], 5);
        assert_eq!(out[7], 18);
    }
}
