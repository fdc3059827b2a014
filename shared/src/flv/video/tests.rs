//! Video tag bodies: every legacy and Enhanced RTMP form, round trips and errors.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::VideoCodec::{Av1, Avc, Hevc};
use super::VideoFrameType::{Command, Disposable, Generated, Inter, Key};
use super::*;

fn body(parts: &[&[u8]]) -> Bytes {
    Bytes::from(parts.concat())
}

fn tag(ft: VideoFrameType, codec: VideoCodec, enhanced: bool, p: VideoPacket) -> VideoTagBody {
    VideoTagBody {
        frame_type: ft,
        codec,
        enhanced,
        packet: p,
    }
}

fn frame(cts: i32, data: &'static [u8]) -> VideoPacket {
    VideoPacket::Frame {
        cts,
        data: Bytes::from_static(data),
    }
}

fn seq(data: &'static [u8]) -> VideoPacket {
    VideoPacket::SequenceHeader(Bytes::from_static(data))
}

/// Parses each body, compares, and checks that writing gives the same bytes back.
fn round_trips(cases: Vec<(Bytes, VideoTagBody)>) {
    for (data, expected) in cases {
        let parsed = VideoTagBody::parse(&data).unwrap();
        assert_eq!(parsed, expected, "{data:02x?}");
        assert_eq!(parsed.to_bytes(), data);
    }
}

const AVCC: &[u8] = &[1, 0x64, 0, 0x1f, 0xff, 0xe0, 0];
const NAL: &[u8] = &[0, 0, 2, 0xae, 6, 5];
const D: &[u8] = &[0xaa, 0xbb];

#[test]
fn legacy_forms() {
    let data = body(&[&[0x17, 0, 0, 0, 0], AVCC]);
    let parsed = VideoTagBody::parse(&data).unwrap();
    // Zero-copy: the payload points into the message.
    let VideoPacket::SequenceHeader(p) = &parsed.packet else {
        panic!()
    };
    assert_eq!(p.as_ptr(), data[5..].as_ptr());
    assert!(parsed.is_keyframe() && parsed.is_sequence_header());
    #[rustfmt::skip]
    let cases = vec![
        (data, tag(Key, Avc, false, seq(AVCC))),
        // ffmpeg's first keyframe: cts 0x43 = 67 ms.
        (body(&[&[0x17, 1, 0, 0, 0x43], NAL]), tag(Key, Avc, false, frame(67, NAL))),
        // Negative composition offset (-40 ms).
        (body(&[&[0x27, 1, 0xff, 0xff, 0xd8], NAL]), tag(Inter, Avc, false, frame(-40, NAL))),
        (body(&[&[0x17, 2, 0, 0, 0]]), tag(Key, Avc, false, VideoPacket::EndOfSequence)),
        (body(&[&[0x37, 1, 0, 0, 0]]), tag(Disposable, Avc, false, frame(0, &[]))),
        // HEVC with the non-standard id 12, largest cts.
        (body(&[&[0x4c, 1, 0x7f, 0xff, 0xff], NAL]), tag(Generated, Hevc, false, frame(0x7fffff, NAL))),
    ];
    round_trips(cases);
    assert!(!tag(Inter, Avc, false, frame(0, NAL)).is_keyframe());
    assert!(tag(Generated, Avc, false, frame(0, NAL)).is_keyframe());
}

#[test]
fn enhanced_forms() {
    let b = Bytes::from_static;
    #[rustfmt::skip]
    let cases = vec![
        (body(&[&[0x90], b"hvc1", D]), tag(Key, Hevc, true, seq(D))),
        (body(&[&[0x91], b"hvc1", &[0xff, 0xff, 0xfe], D]), tag(Key, Hevc, true, frame(-2, D))),
        // CodedFramesX: no composition time.
        (body(&[&[0xa3], b"avc1", D]), tag(Inter, Avc, true, frame(0, D))),
        (body(&[&[0x92], b"avc1"]), tag(Key, Avc, true, VideoPacket::EndOfSequence)),
        // AV1 CodedFrames carry no composition time either.
        (body(&[&[0xa1], b"av01", D]), tag(Inter, Av1, true, frame(0, D))),
        (body(&[&[0x90], b"av01", D]), tag(Key, Av1, true, seq(D))),
        (body(&[&[0xd4], b"hvc1", D]), tag(Command, Hevc, true, VideoPacket::Metadata(b(D)))),
        (body(&[&[0x95], b"av01", D]), tag(Key, Av1, true, VideoPacket::Mpeg2TsSequenceStart(b(D)))),
    ];
    round_trips(cases);
    // Metadata ignores the frame type, even a reserved one.
    let t = VideoTagBody::parse(&body(&[&[0x84], b"hvc1", D])).unwrap();
    assert_eq!(t.packet, VideoPacket::Metadata(b(D)));
}

#[test]
fn equivalent_enhanced_forms_normalise() {
    // CodedFrames with cts 0 parses like CodedFramesX, and is written as X.
    let t = VideoTagBody::parse(&body(&[&[0x91], b"hvc1", &[0, 0, 0], D])).unwrap();
    assert_eq!(t.packet, frame(0, D));
    assert_eq!(t.to_bytes(), body(&[&[0x93], b"hvc1", D]));
    // AV1 CodedFramesX is written as CodedFrames.
    let t = VideoTagBody::parse(&body(&[&[0x93], b"av01", D])).unwrap();
    assert_eq!(t.to_bytes(), body(&[&[0x91], b"av01", D]));
}

#[test]
fn legacy_flag_is_honoured_where_possible() {
    let avc = tag(Inter, Avc, false, frame(5, &[9]));
    assert_eq!(avc.to_bytes(), body(&[&[0x27, 1, 0, 0, 5, 9]]));
    let hevc = tag(Inter, Hevc, true, frame(5, &[9]));
    assert_eq!(hevc.to_bytes(), body(&[&[0xa1], b"hvc1", &[0, 0, 5, 9]]));
    // AV1 and metadata have no legacy form.
    let av1 = tag(Key, Av1, false, VideoPacket::EndOfSequence);
    assert!(av1.writes_enhanced());
    assert_eq!(av1.to_bytes(), body(&[&[0x92], b"av01"]));
    let meta = tag(Key, Avc, false, VideoPacket::Metadata(Bytes::new()));
    assert_eq!(meta.to_bytes(), body(&[&[0x94], b"avc1"]));
}

#[test]
fn errors() {
    use TagBodyError::*;
    let parse = |parts: &[&[u8]]| VideoTagBody::parse(&body(parts));
    assert_eq!(parse(&[]), Err(Empty));
    assert!(matches!(parse(&[&[0x17]]), Err(Truncated(_))));
    assert!(matches!(parse(&[&[0x17, 1, 0, 0]]), Err(Truncated(_))));
    assert_eq!(parse(&[&[0x22, 0]]), Err(UnsupportedVideoCodec(2)));
    assert_eq!(parse(&[&[0x07, 1, 0, 0, 0]]), Err(InvalidFrameType(0)));
    assert_eq!(parse(&[&[0x67, 1, 0, 0, 0]]), Err(InvalidFrameType(6)));
    let avc3 = UnsupportedPacketType {
        kind: "AVC",
        value: 3,
    };
    assert_eq!(parse(&[&[0x17, 3, 0, 0, 0]]), Err(avc3));
    assert_eq!(parse(&[&[0x57, 1]]), Err(VideoCommand(1)));
    assert_eq!(parse(&[&[0x52, 0]]), Err(VideoCommand(0)));
    assert!(matches!(parse(&[&[0x57]]), Err(Truncated(_))));
    assert_eq!(parse(&[&[0xd1, 0]]), Err(VideoCommand(0)));
    let err = parse(&[&[0x91], b"vp09", &[0, 0, 0]]).unwrap_err();
    assert_eq!(err, UnknownFourCc(FourCc(*b"vp09")));
    assert_eq!(err.to_string(), "unknown FourCC 'vp09'");
    assert_eq!(FourCc([0, 1, 2, 3]).to_string(), "0x00010203");
    for value in [6, 7, 15] {
        let err = UnsupportedPacketType {
            kind: "video",
            value,
        };
        assert_eq!(parse(&[&[0x90 | value], b"hvc1"]), Err(err));
    }
    assert!(matches!(parse(&[&[0x90], b"hv"]), Err(Truncated(_))));
    assert!(matches!(
        parse(&[&[0x91], b"hvc1", &[0]]),
        Err(Truncated(_))
    ));
}
