//! Unit tests of the chunk reader with hand-built chunk bytes.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use bytes::{BufMut, BytesMut};

use super::*;
use crate::rtmp::writer::{MessageHeader, write_message};

/// Reads every complete message, feeding `bytes` one byte at a time.
fn read_bytewise(reader: &mut ChunkReader, bytes: &[u8]) -> Vec<RtmpMessage> {
    let mut input = BytesMut::new();
    let mut out = Vec::new();
    for &b in bytes {
        input.put_u8(b);
        while let Some(m) = reader.read_message(&mut input).unwrap() {
            out.push(m);
        }
    }
    assert!(input.is_empty(), "leftover {input:?}");
    out
}

fn read_all(bytes: &[u8]) -> Vec<RtmpMessage> {
    let mut whole = ChunkReader::new(ReaderLimits::default());
    let mut input = BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Some(m) = whole.read_message(&mut input).unwrap() {
        out.push(m);
    }
    assert!(input.is_empty());
    // The same bytes fed one at a time must give the same messages.
    let mut bytewise = ChunkReader::new(ReaderLimits::default());
    assert_eq!(read_bytewise(&mut bytewise, bytes), out);
    out
}

fn first_error(limits: ReaderLimits, bytes: &[u8]) -> RtmpError {
    let mut reader = ChunkReader::new(limits);
    let mut input = BytesMut::from(bytes);
    loop {
        match reader.read_message(&mut input) {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("no error; {} bytes left", input.len()),
            Err(e) => return e,
        }
    }
}

fn summary(m: &RtmpMessage) -> (u32, u8, u32, u32, Vec<u8>) {
    (
        m.csid,
        m.type_id,
        m.stream_id,
        m.timestamp,
        m.payload.to_vec(),
    )
}

#[test]
fn type0_single_chunk_is_zero_copy() {
    let bytes = [4, 0, 0, 10, 0, 0, 3, 8, 1, 0, 0, 0, b'a', b'b', b'c'];
    let mut input = BytesMut::from(&bytes[..]);
    let base = input.as_ptr() as usize;
    let mut reader = ChunkReader::new(ReaderLimits::default());
    let m = reader.read_message(&mut input).unwrap().unwrap();
    assert_eq!(summary(&m), (4, 8, 1, 10, b"abc".to_vec()));
    // The payload points into the input buffer: no copy was made.
    assert_eq!(m.payload.as_ptr() as usize, base + 12);
}

#[test]
fn header_types_1_2_3_accumulate_deltas() {
    let mut b = vec![];
    // type 0: ts 1000, len 2, video, stream 1
    b.extend_from_slice(&[6, 0, 0x03, 0xE8, 0, 0, 2, 9, 1, 0, 0, 0, 1, 1]);
    // type 1: delta 40, len 3, audio
    b.extend_from_slice(&[0x46, 0, 0, 40, 0, 0, 3, 8, 2, 2, 2]);
    // type 2: delta 33
    b.extend_from_slice(&[0x86, 0, 0, 33, 3, 3, 3]);
    // type 3 starting a new message: the same delta again
    b.extend_from_slice(&[0xC6, 4, 4, 4]);
    let got: Vec<_> = read_all(&b).iter().map(summary).collect();
    assert_eq!(
        got,
        vec![
            (6, 9, 1, 1000, vec![1, 1]),
            (6, 8, 1, 1040, vec![2, 2, 2]),
            (6, 8, 1, 1073, vec![3, 3, 3]),
            (6, 8, 1, 1106, vec![4, 4, 4]),
        ]
    );
}

#[test]
fn type3_after_type0_adds_the_type0_timestamp() {
    // ffmpeg's and librtmp's reading: the type-0 timestamp field doubles as the delta.
    let mut b = vec![5, 0, 0, 20, 0, 0, 1, 18, 1, 0, 0, 0, 7];
    b.extend_from_slice(&[0xC5, 8]);
    let got: Vec<_> = read_all(&b).iter().map(|m| m.timestamp).collect();
    assert_eq!(got, vec![20, 40]);
}

#[test]
fn extended_timestamp_on_continuations_with_and_without_repeat() {
    let ts = 0x0123_4567u32;
    let mut with = vec![4, 0xFF, 0xFF, 0xFF, 0, 0, 200, 9, 1, 0, 0, 0];
    with.extend_from_slice(&ts.to_be_bytes());
    with.extend(std::iter::repeat_n(1u8, 128));
    with.push(0xC4);
    with.extend_from_slice(&ts.to_be_bytes());
    with.extend(std::iter::repeat_n(2u8, 72));
    let m = read_all(&with);
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].timestamp, ts);
    assert_eq!(m[0].payload.len(), 200);
    assert!(m[0].payload[..128].iter().all(|&x| x == 1));
    assert!(m[0].payload[128..].iter().all(|&x| x == 2));

    // Same message, continuation without the repeated extended timestamp.
    let mut without = with[..12 + 4 + 128 + 1].to_vec();
    without.extend(std::iter::repeat_n(2u8, 72));
    let m2 = read_all(&without);
    assert_eq!(summary(&m2[0]), summary(&m[0]));

    // A type-3 header starting a new message after an extended type-1 delta carries it too.
    let mut delta = vec![0x44, 0xFF, 0xFF, 0xFF, 0, 0, 1, 8];
    delta.extend_from_slice(&0x0100_0000u32.to_be_bytes());
    delta.push(9);
    delta.push(0xC4);
    delta.extend_from_slice(&0x0100_0000u32.to_be_bytes());
    delta.push(10);
    let mut all = with.clone();
    all.extend_from_slice(&delta);
    let m3 = read_all(&all);
    assert_eq!(m3[1].timestamp, ts.wrapping_add(0x0100_0000));
    assert_eq!(m3[2].timestamp, ts.wrapping_add(0x0200_0000));
    assert_eq!(&m3[2].payload[..], &[10]);
}

#[test]
fn timestamps_wrap_around() {
    let mut b = vec![
        4, 0xFF, 0xFF, 0xFF, 0, 0, 1, 8, 1, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xF0, 0,
    ];
    b.extend_from_slice(&[0x84, 0, 0, 0x20, 1]);
    let got: Vec<_> = read_all(&b).iter().map(|m| m.timestamp).collect();
    assert_eq!(got, vec![0xFFFF_FFF0, 0x10]);
}

#[test]
fn interleaved_chunk_streams() {
    let mut b = vec![];
    // audio on csid 4 (200 bytes) and video on csid 6 (150 bytes), chunks interleaved
    b.extend_from_slice(&[4, 0, 0, 1, 0, 0, 200, 8, 1, 0, 0, 0]);
    b.extend(std::iter::repeat_n(0xA, 128));
    b.extend_from_slice(&[6, 0, 0, 2, 0, 0, 150, 9, 1, 0, 0, 0]);
    b.extend(std::iter::repeat_n(0xB, 128));
    b.push(0xC4);
    b.extend(std::iter::repeat_n(0xA, 72));
    b.push(0xC6);
    b.extend(std::iter::repeat_n(0xB, 22));
    let got = read_all(&b);
    assert_eq!(got.len(), 2);
    assert_eq!((got[0].csid, got[0].payload.len()), (4, 200));
    assert_eq!((got[1].csid, got[1].payload.len()), (6, 150));
    assert!(got[1].payload.iter().all(|&x| x == 0xB));
}

#[test]
fn two_and_three_byte_basic_headers() {
    let mut b = vec![0, 10, 0, 0, 1, 0, 0, 1, 8, 1, 0, 0, 0, 0xAA];
    b.extend_from_slice(&[1, 0x00, 0x01, 0, 0, 1, 0, 0, 1, 9, 1, 0, 0, 0, 0xBB]);
    b.extend_from_slice(&[0xC0, 10, 0xCC]);
    let got: Vec<_> = read_all(&b).iter().map(|m| (m.csid, m.timestamp)).collect();
    assert_eq!(got, vec![(74, 1), (64 + 256, 1), (74, 2)]);
}

#[test]
fn set_chunk_size_applies_to_the_next_chunk() {
    let mut b = vec![2, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0, 0x10, 0];
    let mut payload = vec![0u8; 3000];
    payload[2999] = 9;
    let h = MessageHeader {
        csid: 6,
        timestamp: 0,
        type_id: 9,
        stream_id: 1,
    };
    let mut body = BytesMut::new();
    write_message(&mut body, &h, &payload, 4096);
    b.extend_from_slice(&body);
    let mut reader = ChunkReader::new(ReaderLimits::default());
    let got = read_bytewise(&mut reader, &b);
    assert_eq!(reader.chunk_size(), 4096);
    assert_eq!(got[0].type_id, msg_type::SET_CHUNK_SIZE);
    assert_eq!(got[1].payload.len(), 3000);
    assert_eq!(got[1].payload[2999], 9);
}

#[test]
fn abort_drops_the_partial_message() {
    let mut b = vec![4, 0, 0, 0, 0, 0, 200, 8, 1, 0, 0, 0];
    b.extend(std::iter::repeat_n(1u8, 128));
    // Abort(csid 4)
    b.extend_from_slice(&[2, 0, 0, 0, 0, 0, 4, 2, 0, 0, 0, 0, 0, 0, 0, 4]);
    // a fresh message on csid 4
    b.extend_from_slice(&[4, 0, 0, 5, 0, 0, 1, 8, 1, 0, 0, 0, 7]);
    let got = read_all(&b);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].type_id, msg_type::ABORT);
    assert_eq!((got[1].timestamp, &got[1].payload[..]), (5, &[7][..]));
}

#[test]
fn oversize_message_is_refused_before_its_payload_arrives() {
    let limits = ReaderLimits {
        max_message_len: 1000,
        ..ReaderLimits::default()
    };
    let header_only = [4, 0, 0, 0, 0x00, 0x03, 0xE9, 8, 1, 0, 0, 0];
    let err = first_error(limits, &header_only);
    assert!(matches!(
        err,
        RtmpError::MessageTooLarge {
            csid: 4,
            len: 1001,
            max: 1000
        }
    ));
    assert!(err.to_string().contains("1001 bytes"));
}

#[test]
fn huge_or_invalid_chunk_size_is_an_error() {
    for size in [16u32 << 20, 0, 0x8000_0080, 65_537] {
        let mut b = vec![2, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0];
        b.extend_from_slice(&size.to_be_bytes());
        let err = first_error(ReaderLimits::default(), &b);
        assert!(
            matches!(err, RtmpError::ChunkSizeOutOfRange { size: s, max: 65_536 } if s == size),
            "{err}"
        );
    }
    let mut reader = ChunkReader::new(ReaderLimits::default());
    reader.set_chunk_size(65_536).unwrap();
}

#[test]
fn compressed_header_without_a_previous_one_is_an_error() {
    let err = first_error(ReaderLimits::default(), &[0x44, 0, 0, 0, 0, 0, 1, 8, 0]);
    assert!(matches!(
        err,
        RtmpError::MissingPreviousHeader { csid: 4, fmt: 1 }
    ));
}

#[test]
fn new_header_in_the_middle_of_a_message_is_an_error() {
    let mut b = vec![4, 0, 0, 0, 0, 0, 200, 8, 1, 0, 0, 0];
    b.extend(std::iter::repeat_n(1u8, 128));
    b.extend_from_slice(&[0x84, 0, 0, 1]);
    let err = first_error(ReaderLimits::default(), &b);
    assert!(matches!(
        err,
        RtmpError::InterruptedMessage {
            csid: 4,
            remaining: 72
        }
    ));
}

#[test]
fn too_many_chunk_streams() {
    let limits = ReaderLimits {
        max_chunk_streams: 3,
        ..ReaderLimits::default()
    };
    let mut b = vec![];
    for csid in 3..10u8 {
        b.extend_from_slice(&[csid, 0, 0, 0, 0, 0, 1, 8, 1, 0, 0, 0, 0]);
    }
    let err = first_error(limits, &b);
    assert!(matches!(err, RtmpError::TooManyChunkStreams { max: 3 }));
}

#[test]
fn reassembly_budget_is_enforced() {
    let limits = ReaderLimits {
        max_pending_bytes: 300,
        ..ReaderLimits::default()
    };
    let mut b = vec![];
    for csid in 3..10u8 {
        b.extend_from_slice(&[csid, 0, 0, 0, 0, 0x10, 0, 8, 1, 0, 0, 0]);
        b.extend(std::iter::repeat_n(0u8, 128));
    }
    let err = first_error(limits, &b);
    assert!(matches!(err, RtmpError::ReassemblyBudget { max: 300 }));
}

#[test]
fn zero_length_message() {
    let got = read_all(&[3, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0, 0]);
    assert_eq!(got.len(), 1);
    assert!(got[0].payload.is_empty());
}
