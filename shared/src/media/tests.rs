#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use std::sync::Arc;

use bytes::Bytes;

use super::script::ScriptValue;
use super::*;
use crate::amf0::{Amf0Value, encode_all};
use crate::flv::{DemuxEvent, Demuxer};

/// The avcC ffmpeg muxed into FLV for a 1920x1080 High@4.0 SPS.
const AVCC: &str = "01640028ffe1001b67640028acd940780227e5c044000003000400000300f03c\
                    60c65801000668ebe3cb22c0fdf8f800";

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn body(parts: &[&[u8]]) -> Bytes {
    Bytes::from(parts.concat())
}

fn avc_sequence_header() -> Bytes {
    body(&[&[0x17, 0, 0, 0, 0], &hex(AVCC)])
}

#[test]
fn legacy_avc_config_keyframe_and_inter_frame() {
    let mut p = Parser::new();
    let Unit::Config(c) = p
        .parse(MediaKind::Video, 0, &avc_sequence_header())
        .unwrap()
    else {
        panic!("not a config");
    };
    assert_eq!((c.track, c.codec), (Track::Video, Codec::H264));
    assert_eq!(c.codec_string.as_deref(), Some("avc1.640028"));
    assert_eq!((c.width, c.height), (Some(1920), Some(1080)));
    assert!(
        c.avc()
            .is_some_and(|(a, sps)| a.nal_length_size == 4 && sps.is_some())
    );

    // Keyframe with a composition offset of 80 ms (signed 24-bit).
    let key = p
        .parse(
            MediaKind::Video,
            40,
            &body(&[&[0x17, 1, 0, 0, 80], b"NALU"]),
        )
        .unwrap();
    let f = key.frame().unwrap();
    assert!(f.is_video_keyframe());
    assert_eq!((f.dts, f.cts, &f.payload[..]), (40, 80, &b"NALU"[..]));
    // Inter frame with a negative composition offset.
    let inter = p
        .parse(
            MediaKind::Video,
            73,
            &body(&[&[0x27, 1, 0xff, 0xff, 0xf6], b"x"]),
        )
        .unwrap();
    let f = inter.frame().unwrap();
    assert!(!f.keyframe && f.cts == -10);
    // End of sequence passes through.
    assert_eq!(
        p.parse(MediaKind::Video, 80, &body(&[&[0x17, 2, 0, 0, 0]]))
            .unwrap(),
        Unit::Passthrough(Track::Video)
    );
}

#[test]
fn enhanced_video_is_opaque_but_typed() {
    let mut p = Parser::new();
    // 0x80 | key(1) << 4 | SequenceStart(0), FourCC hvc1, then the record.
    let seq = body(&[&[0x90], b"hvc1", &[1, 2, 3]]);
    let c = p.parse(MediaKind::Video, 0, &seq).unwrap();
    let c = c.config().unwrap();
    assert_eq!((c.codec, &c.record[..]), (Codec::HEVC, &[1u8, 2, 3][..]));
    assert_eq!(c.decoder, DecoderConfig::Opaque);
    // CodedFramesX (3): no composition offset field.
    let key = p
        .parse(MediaKind::Video, 0, &body(&[&[0x93], b"hvc1", b"data"]))
        .unwrap();
    assert!(key.frame().unwrap().is_video_keyframe());
}

#[test]
fn audio_configs_and_frames() {
    let mut p = Parser::new();
    // AAC-LC 44.1 kHz stereo.
    let aac = p
        .parse(MediaKind::Audio, 0, &body(&[&[0xaf, 0, 0x12, 0x10]]))
        .unwrap();
    let c = aac.config().unwrap();
    assert_eq!(c.codec_string.as_deref(), Some("mp4a.40.2"));
    assert_eq!((c.sample_rate, c.channels), (Some(44_100), Some(2)));
    let f = p
        .parse(MediaKind::Audio, 23, &body(&[&[0xaf, 1], b"raw"]))
        .unwrap();
    let f = f.frame().unwrap();
    assert_eq!((f.track, f.keyframe, f.dts), (Track::Audio, true, 23));
    assert!(!f.is_video_keyframe());

    // Enhanced Opus: sound format 9, SequenceStart, FourCC, OpusHead (stereo).
    let mut head = b"OpusHead".to_vec();
    head.extend([1, 2, 0x38, 1, 0x80, 0xbb, 0, 0, 0, 0, 0]);
    let opus = p
        .parse(MediaKind::Audio, 0, &body(&[&[0x90], b"Opus", &head]))
        .unwrap();
    let c = opus.config().unwrap();
    assert_eq!(
        (c.codec, c.sample_rate, c.channels),
        (Codec::OPUS, Some(48_000), Some(2))
    );
    assert_eq!(
        mime_type(None, Some(c)),
        "audio/mp4; codecs=\"opus\"".to_string()
    );
}

#[test]
fn a_repeated_config_is_parsed_once() {
    let mut p = Parser::new();
    let a = p
        .parse(MediaKind::Video, 0, &avc_sequence_header())
        .unwrap();
    let b = p
        .parse(MediaKind::Video, 5000, &avc_sequence_header())
        .unwrap();
    assert!(Arc::ptr_eq(a.config().unwrap(), b.config().unwrap()));
    assert!(Arc::ptr_eq(a.config().unwrap(), p.video_config().unwrap()));
}

#[test]
fn bad_bodies_are_typed_errors_and_keep_the_current_config() {
    let mut p = Parser::new();
    p.parse(MediaKind::Video, 0, &avc_sequence_header())
        .unwrap();
    assert!(matches!(
        p.parse(MediaKind::Video, 0, &Bytes::new()),
        Err(MediaError::TagBody(_))
    ));
    // Legacy codec id 4 (VP6) is not carried.
    assert!(matches!(
        p.parse(MediaKind::Video, 0, &body(&[&[0x14, 0]])),
        Err(MediaError::TagBody(_))
    ));
    // An AVC sequence header whose avcC is garbage.
    let bad = body(&[&[0x17, 0, 0, 0, 0], &[9, 9]]);
    assert!(matches!(
        p.parse(MediaKind::Video, 0, &bad),
        Err(MediaError::Config {
            codec: Codec::H264,
            ..
        })
    ));
    assert_eq!(p.video_config().unwrap().width, Some(1920));
    // Script data that is not AMF0, and one without a name.
    assert!(p.parse(MediaKind::Script, 0, &body(&[&[0xff]])).is_err());
    let mut unnamed = bytes::BytesMut::new();
    encode_all(&[Amf0Value::Number(1.0)], &mut unnamed);
    assert_eq!(
        p.parse(MediaKind::Script, 0, &unnamed.freeze()),
        Err(MediaError::UnnamedScript)
    );
}

#[test]
fn timestamps_extend_across_the_wrap_and_step_back_on_a_restart() {
    let mut x = TimestampExtender::default();
    assert_eq!(x.extend(u32::MAX - 10), i64::from(u32::MAX) - 10);
    // Past the wrap: forward.
    assert_eq!(x.extend(20), (1i64 << 32) + 20);
    // A restarted encoder clock: back by the same amount, not another wrap.
    assert_eq!(x.extend(10), (1i64 << 32) + 10);
    // Metadata at 0 in the middle of a stream and back: no harm.
    let mut y = TimestampExtender::default();
    for (ts, want) in [(5000, 5000), (0, 0), (5033, 5033)] {
        assert_eq!(y.extend(ts), want);
    }
}

#[test]
fn set_data_frame_is_sliced_off_and_clock_stamps_are_typed() {
    let mut wrapped = bytes::BytesMut::new();
    let meta = Amf0Value::EcmaArray(vec![("width".into(), Amf0Value::Number(320.0))]);
    encode_all(
        &[
            Amf0Value::String("@setDataFrame".into()),
            Amf0Value::String("onMetaData".into()),
            meta.clone(),
        ],
        &mut wrapped,
    );
    let wrapped = wrapped.freeze();
    let s = Script::parse(&wrapped).unwrap();
    assert!(s.is_metadata());
    assert_eq!(s.value, ScriptValue::Metadata(vec![meta.clone()]));
    let mut plain = bytes::BytesMut::new();
    encode_all(&[Amf0Value::String("onMetaData".into()), meta], &mut plain);
    assert_eq!(s.body, plain.freeze());
    // A slice, not a copy.
    assert_eq!(s.body.as_ptr(), wrapped[16..].as_ptr());

    let mut stamp = bytes::BytesMut::new();
    crate::remux::clock::write_on_fi(1_700_000_000_123.0, &mut stamp);
    let s = Script::parse(&stamp.freeze()).unwrap();
    assert_eq!(s.wallclock_ms(), Some(1_700_000_000_123.0));
    let mut other = bytes::BytesMut::new();
    encode_all(&[Amf0Value::String("onCuePoint".into())], &mut other);
    let s = Script::parse(&other.freeze()).unwrap();
    assert_eq!(
        (s.name.as_str(), &s.value),
        ("onCuePoint", &ScriptValue::Other)
    );
}

/// Every tag of the ffmpeg golden file (H.264 with B-frames + AAC) parses; the units agree
/// with the tag headers' own bits.
#[test]
fn golden_file_units() {
    let file = include_bytes!("../../tests/data/avc_aac_bframes.flv");
    let mut demux = Demuxer::new(1 << 20);
    demux.push(file);
    let mut p = Parser::new();
    let (mut configs, mut keys, mut frames, mut scripts, mut reordered) = (0, 0, 0, 0, 0);
    let mut last_video_dts = i64::MIN;
    while let Some(event) = demux.next_event().unwrap() {
        let DemuxEvent::Tag(tag) = event else {
            continue;
        };
        match p.parse(tag.kind, tag.timestamp, &tag.data).unwrap() {
            Unit::Config(_) => configs += 1,
            Unit::Frame(f) => {
                frames += 1;
                assert_eq!(f.dts, i64::from(tag.timestamp));
                if f.track == Track::Video {
                    // Legacy AVC: frame type 1 in the high nibble is a keyframe.
                    assert_eq!(f.keyframe, tag.data[0] >> 4 == 1);
                    keys += usize::from(f.keyframe);
                    reordered += usize::from(f.cts != 0);
                    assert!(f.dts >= last_video_dts);
                    last_video_dts = f.dts;
                }
            }
            Unit::Script(s) => scripts += usize::from(s.is_metadata()),
            Unit::Passthrough(_) => {}
        }
    }
    assert_eq!((configs, scripts), (2, 1));
    assert!(
        keys >= 1 && frames > 50 && reordered > 0,
        "{keys} {frames} {reordered}"
    );
    assert_eq!(p.video_config().unwrap().codec, Codec::H264);
    assert_eq!(p.audio_config().unwrap().codec, Codec::AAC);
}
