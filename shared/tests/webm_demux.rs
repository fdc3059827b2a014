//! The WebM demuxer on hand-built EBML: each element path (unknown- and known-size
//! Segment/Cluster, SimpleBlock, BlockGroup, lacing, skipped elements, chained streams,
//! timestamp scaling) and each error, fed whole and byte by byte.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use onair_shared::webm::{Demuxer, Limits, TrackKind, WebmError, WebmEvent};

/// An element ID as written (leading zero bytes dropped).
fn id_bytes(id: u32) -> Vec<u8> {
    let b = id.to_be_bytes();
    let skip = b.iter().take_while(|&&x| x == 0).count();
    b[skip..].to_vec()
}

/// A size vint in the shortest form (all-ones values avoided, they mean "unknown").
fn size(n: u64) -> Vec<u8> {
    for len in 1..=8u32 {
        if n < (1u64 << (7 * len)) - 1 {
            let v = n | (1u64 << (7 * len));
            return v.to_be_bytes()[(8 - len as usize)..].to_vec();
        }
    }
    unreachable!()
}

fn el(id: u32, body: &[u8]) -> Vec<u8> {
    let mut out = id_bytes(id);
    out.extend(size(body.len() as u64));
    out.extend_from_slice(body);
    out
}

/// An element header with an unknown size, written in 8 bytes as Chromium does.
fn unknown(id: u32) -> Vec<u8> {
    let mut out = id_bytes(id);
    out.extend([0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    out
}

fn uint(id: u32, v: u64) -> Vec<u8> {
    let b = v.to_be_bytes();
    let skip = b.iter().take_while(|&&x| x == 0).count().min(7);
    el(id, &b[skip..])
}

fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

fn ebml_header(doc_type: &str) -> Vec<u8> {
    el(
        0x1A45DFA3,
        &cat(&[uint(0x4286, 1), el(0x4282, doc_type.as_bytes())]),
    )
}

fn info(scale: u64) -> Vec<u8> {
    el(
        0x1549A966,
        &cat(&[uint(0x2AD7B1, scale), el(0x4D80, b"test")]),
    )
}

fn tracks() -> Vec<u8> {
    let video = el(
        0xAE,
        &cat(&[
            uint(0xD7, 1),
            uint(0x83, 1),
            el(0x86, b"V_MPEG4/ISO/AVC"),
            el(0xE0, &cat(&[uint(0xB0, 640), uint(0xBA, 360)])),
        ]),
    );
    let audio = el(
        0xAE,
        &cat(&[
            uint(0xD7, 2),
            uint(0x83, 2),
            el(0x86, b"A_OPUS"),
            el(0x63A2, b"OpusHead\x01\x02\x38\x01\x80\xbb\0\0\0\0\0"),
            uint(0x23E383, 20_000_000), // DefaultDuration 20 ms
            el(
                0xE1,
                &cat(&[el(0xB5, &48000f32.to_be_bytes()), uint(0x9F, 2)]),
            ),
        ]),
    );
    el(0x1654AE6B, &cat(&[video, audio]))
}

fn block_body(track: u8, rel: i16, flags: u8, data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x80 | track];
    out.extend(rel.to_be_bytes());
    out.push(flags);
    out.extend_from_slice(data);
    out
}

fn simple_block(track: u8, rel: i16, key: bool, data: &[u8]) -> Vec<u8> {
    el(
        0xA3,
        &block_body(track, rel, if key { 0x80 } else { 0 }, data),
    )
}

fn frame(track: u64, timestamp_ms: i64, keyframe: bool, data: &[u8]) -> WebmEvent {
    WebmEvent::Frame {
        track,
        timestamp_ms,
        keyframe,
        data: bytes::Bytes::copy_from_slice(data),
    }
}

/// Demuxes whole and byte by byte; both must agree. Returns the events and the error.
fn demux(bytes: &[u8], limits: Limits) -> (Vec<WebmEvent>, Option<WebmError>) {
    let run = |chunk: usize| {
        let mut d = Demuxer::new(limits);
        let mut events = Vec::new();
        for piece in bytes.chunks(chunk.max(1)) {
            d.push(piece);
            loop {
                match d.next_event() {
                    Ok(Some(e)) => events.push(e),
                    Ok(None) => break,
                    Err(e) => {
                        assert_eq!(d.next_event(), Err(e.clone()), "error is not sticky");
                        return (events, Some(e));
                    }
                }
            }
        }
        (events, None)
    };
    let whole = run(bytes.len());
    assert_eq!(run(1), whole, "byte-by-byte differs from whole");
    whole
}

fn ok(bytes: &[u8]) -> Vec<WebmEvent> {
    let (events, err) = demux(bytes, Limits::default());
    assert_eq!(err, None);
    events
}

#[test]
fn live_stream_with_unknown_sizes() {
    let group = el(
        0xA0,
        &cat(&[
            el(0xA1, &block_body(1, 40, 0, b"P")),
            el(0x9B, &[20]),   // BlockDuration, ignored
            el(0xFB, &[0xd8]), // ReferenceBlock -40
        ]),
    );
    let key_group = el(0xA0, &el(0xA1, &block_body(1, 80, 0, b"I2")));
    let stream = cat(&[
        ebml_header("webm"),
        unknown(0x18538067),
        el(0xEC, &[0; 5]), // Void
        info(1_000_000),
        tracks(),
        unknown(0x1F43B675),
        uint(0xE7, 1000),
        simple_block(1, 0, true, b"IDR"),
        simple_block(2, -5, true, b"op"),
        el(0xEC, &[]),
        group,
        // A Cues element ends the unknown-size Cluster and is skipped.
        el(0x1C53BB6B, &[0xBB, 0x80]),
        unknown(0x1F43B675),
        uint(0xE7, 2000),
        key_group,
        el(0x1254C367, &[1, 2, 3]), // Tags: ends the Cluster, skipped
    ]);
    let events = ok(&stream);
    let WebmEvent::Tracks(t) = &events[0] else {
        panic!("{:?}", events[0]);
    };
    assert_eq!(t.len(), 2);
    assert_eq!(
        (t[0].number, t[0].kind, t[0].codec_id.as_str()),
        (1, TrackKind::Video, "V_MPEG4/ISO/AVC")
    );
    assert_eq!(
        t[0].video.map(|v| (v.pixel_width, v.pixel_height)),
        Some((640, 360))
    );
    assert_eq!(
        t[1].audio.map(|a| (a.sampling_frequency, a.channels)),
        Some((48000.0, 2))
    );
    assert_eq!(t[1].default_duration_ns, Some(20_000_000));
    assert_eq!(&t[1].codec_private.as_ref().unwrap()[..8], b"OpusHead");
    assert_eq!(
        events[1..],
        [
            frame(1, 1000, true, b"IDR"),
            frame(2, 995, true, b"op"),
            frame(1, 1040, false, b"P"),
            frame(1, 2080, true, b"I2"),
        ]
    );
}

#[test]
fn known_sizes_and_chained_streams() {
    let cluster = el(
        0x1F43B675,
        &cat(&[
            uint(0xE7, 7),
            simple_block(1, 3, true, b"a"),
            el(0xBF, &[0; 4]),
        ]),
    );
    let segment = el(0x18538067, &cat(&[tracks(), cluster.clone(), cluster]));
    // A second stream after the first (e.g. the recorder restarted) with a 10 µs scale.
    let second = cat(&[
        ebml_header("matroska"),
        unknown(0x18538067),
        info(10_000),
        tracks(),
        unknown(0x1F43B675),
        uint(0xE7, 150),
        simple_block(2, 0, false, b"b"),
        simple_block(2, -1, false, b"c"),
    ]);
    let stream = cat(&[ebml_header("webm"), segment, second]);
    let events = ok(&stream);
    assert_eq!(events.len(), 6);
    assert!(matches!(events[0], WebmEvent::Tracks(_)));
    assert_eq!(
        events[1..3],
        [frame(1, 10, true, b"a"), frame(1, 10, true, b"a")]
    );
    assert!(matches!(events[3], WebmEvent::Tracks(_)));
    // 150 ticks of 10 µs = 1.5 ms → 1; 149 ticks = 1.49 ms → 1.
    assert_eq!(
        events[4..],
        [frame(2, 1, false, b"b"), frame(2, 1, false, b"c")]
    );
}

#[test]
fn laced_frames_spread_by_default_duration() {
    // Xiph lacing, 3 Opus frames of 1, 2, 1 bytes on track 2 (DefaultDuration 20 ms), and
    // fixed lacing on track 1 (no DefaultDuration: frames share the block's time).
    let stream = cat(&[
        ebml_header("webm"),
        unknown(0x18538067),
        tracks(),
        unknown(0x1F43B675),
        uint(0xE7, 100),
        el(0xA3, &block_body(2, 0, 0x80 | 0x02, &[2, 1, 2, 7, 8, 8, 9])),
        el(0xA3, &block_body(1, 1, 0x04, &[1, 5, 5, 6, 6])),
    ]);
    assert_eq!(
        ok(&stream)[1..],
        [
            frame(2, 100, true, &[7]),
            frame(2, 120, true, &[8, 8]),
            frame(2, 140, true, &[9]),
            frame(1, 101, false, &[5, 5]),
            frame(1, 101, false, &[6, 6]),
        ]
    );
}

#[test]
fn large_skipped_elements_are_not_buffered() {
    let void = el(0xEC, &vec![0u8; 1 << 20]);
    let stream = cat(&[
        ebml_header("webm"),
        unknown(0x18538067),
        void.clone(),
        tracks(),
        unknown(0x1F43B675),
        uint(0xE7, 0),
        void,
        simple_block(1, 0, true, b"x"),
    ]);
    let limits = Limits {
        max_block_size: 1024,
        max_header_size: 1024,
    };
    let mut d = Demuxer::new(limits);
    let mut events = Vec::new();
    for piece in stream.chunks(4096) {
        d.push(piece);
        while let Some(e) = d.next_event().unwrap() {
            events.push(e);
        }
        assert!(
            d.buffered_len() <= 1024 + 12,
            "buffered {}",
            d.buffered_len()
        );
    }
    assert_eq!(events.len(), 2);
    assert_eq!(d.position(), stream.len() as u64);
}

#[test]
fn frames_are_not_copied() {
    let stream = cat(&[
        ebml_header("webm"),
        unknown(0x18538067),
        unknown(0x1F43B675),
        uint(0xE7, 0),
        simple_block(1, 0, true, b"first"),
        simple_block(1, 1, false, b"second"),
    ]);
    let mut d = Demuxer::new(Limits::default());
    d.push(&stream);
    let mut ptrs = Vec::new();
    while let Some(e) = d.next_event().unwrap() {
        if let WebmEvent::Frame { data, .. } = e {
            ptrs.push(data.as_ptr() as usize);
        }
    }
    // "first", then the next SimpleBlock's ID, size and 4-byte block header.
    assert_eq!(ptrs[1] - ptrs[0], 5 + 1 + 1 + 4);
}

fn stream_with(parts: &[Vec<u8>]) -> Vec<u8> {
    let mut all = vec![ebml_header("webm"), unknown(0x18538067)];
    all.extend_from_slice(parts);
    cat(&all)
}

fn err(bytes: &[u8], limits: Limits) -> WebmError {
    demux(bytes, limits).1.expect("an error")
}

#[test]
fn errors() {
    let d = Limits::default();
    assert_eq!(err(b"\x1a\x45\xdf\xa4", d), WebmError::NotEbml);
    assert_eq!(
        err(&ebml_header("ogg"), d),
        WebmError::UnsupportedDocType("ogg".into())
    );
    // A block over the limit fails before its data arrives.
    let limits = Limits {
        max_block_size: 16,
        max_header_size: 64,
    };
    let head = stream_with(&[unknown(0x1F43B675), uint(0xE7, 0), vec![0xA3, 0x91]]);
    assert_eq!(
        err(&head, limits),
        WebmError::ElementTooLarge {
            id: 0xA3,
            size: 17,
            max: 16
        }
    );
    assert!(matches!(
        err(&stream_with(&[tracks()]), limits),
        WebmError::ElementTooLarge { id: 0x1654AE6B, .. }
    ));
    assert_eq!(
        err(&stream_with(&[unknown(0x1F43B675), unknown(0xA3)]), d),
        WebmError::UnknownSizeNotAllowed { id: 0xA3 }
    );
    assert_eq!(
        err(&stream_with(&[unknown(0x1254C367)]), d),
        WebmError::UnknownSizeNotAllowed { id: 0x1254C367 }
    );
    let bad_id = stream_with(&[vec![0x00, 0x81, 0]]);
    assert!(matches!(err(&bad_id, d), WebmError::BadElementId { .. }));
    let bad_size = stream_with(&[vec![0xEC, 0x00, 0]]);
    assert!(matches!(
        err(&bad_size, d),
        WebmError::BadElementSize { .. }
    ));
    // A child that runs past its known-size Cluster.
    let mut cluster = el(0x1F43B675, &cat(&[uint(0xE7, 0), el(0xEC, &[0; 8])]));
    let n = cluster.len();
    cluster[n - 9] = 0x89; // Void now claims 9 bytes
    assert!(matches!(
        err(&stream_with(&[cluster]), d),
        WebmError::ElementOverrunsParent { id: 0xEC, .. }
    ));
    assert_eq!(
        err(
            &stream_with(&[unknown(0x1F43B675), simple_block(1, 0, true, b"x")]),
            d
        ),
        WebmError::MissingClusterTimecode
    );
    assert_eq!(
        err(&stream_with(&[unknown(0x1F43B675), el(0xE7, &[0; 9])]), d),
        WebmError::ElementTooLarge {
            id: 0xE7,
            size: 9,
            max: 8
        }
    );
    assert_eq!(
        err(&stream_with(&[el(0x1549A966, &uint(0x2AD7B1, 0))]), d),
        WebmError::BadValue { id: 0x2AD7B1 }
    );
    let overflow = stream_with(&[
        info(u64::MAX),
        unknown(0x1F43B675),
        uint(0xE7, u64::MAX),
        simple_block(1, 0, true, b"x"),
    ]);
    assert_eq!(err(&overflow, d), WebmError::TimestampOverflow);
    let group = el(0xA0, &el(0x9B, &[1]));
    assert_eq!(
        err(
            &stream_with(&[unknown(0x1F43B675), uint(0xE7, 0), group]),
            d
        ),
        WebmError::BadBlock("BlockGroup without a Block")
    );
    let bad_track = el(0x1654AE6B, &el(0xAE, &uint(0x83, 1)));
    assert!(matches!(
        err(&stream_with(&[bad_track]), d),
        WebmError::BadTrack(_)
    ));
}

#[test]
fn pushes_after_an_error_are_dropped() {
    let mut d = Demuxer::new(Limits::default());
    d.push(b"RIFF");
    assert_eq!(d.next_event(), Err(WebmError::NotEbml));
    d.push(&[0; 100]);
    assert_eq!(d.buffered_len(), 0);
    assert_eq!(d.next_event(), Err(WebmError::NotEbml));
}
