//! Golden FLV files made by ffmpeg (commands in `data/*.txt`): demux them fed in many split
//! sizes, mux the events back and require the exact original bytes; check what the files
//! are known to contain; and check that cut or corrupted copies give "need more" or an
//! error, never a panic. Files are embedded with `include_bytes!` so this also runs on wasm32.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use bytes::BytesMut;
use onair_shared::amf0::{self, Amf0Value};
use onair_shared::flv::{
    DemuxEvent, Demuxer, FlvError, FlvHeader, MediaKind, Tag, write_header, write_tag,
};

const AVC_AAC: &[u8] = include_bytes!("data/avc_aac_bframes.flv");
const AUDIO_ONLY: &[u8] = include_bytes!("data/audio_only.flv");
const VIDEO_ONLY: &[u8] = include_bytes!("data/video_only.flv");

const MAX_TAG: usize = 1 << 20;

/// Feeds `bytes` in chunks of `split` bytes (0 = all at once) and collects every event.
fn demux(bytes: &[u8], split: usize) -> (Vec<DemuxEvent>, Demuxer) {
    let mut d = Demuxer::new(MAX_TAG);
    let mut events = Vec::new();
    let chunk = if split == 0 {
        bytes.len().max(1)
    } else {
        split
    };
    for piece in bytes.chunks(chunk) {
        d.push(piece);
        loop {
            match d.next_event() {
                Ok(Some(e)) => events.push(e),
                Ok(None) => break,
                Err(e) => panic!("demux error at split {split}: {e}"),
            }
        }
    }
    (events, d)
}

fn mux(events: &[DemuxEvent]) -> Vec<u8> {
    let mut out = BytesMut::new();
    for e in events {
        match e {
            DemuxEvent::Header(h) => write_header(h, &mut out),
            DemuxEvent::Tag(t) => assert_eq!(write_tag(t, &mut out), Ok(())),
        }
    }
    out.to_vec()
}

fn tags(events: &[DemuxEvent]) -> Vec<&Tag> {
    events
        .iter()
        .filter_map(|e| match e {
            DemuxEvent::Tag(t) => Some(t),
            DemuxEvent::Header(_) => None,
        })
        .collect()
}

fn count(events: &[DemuxEvent], kind: MediaKind) -> usize {
    tags(events).iter().filter(|t| t.kind == kind).count()
}

/// Demux at many split sizes, require identical events each time and a byte-exact remux.
fn round_trip(bytes: &[u8]) -> Vec<DemuxEvent> {
    let (reference, d) = demux(bytes, 0);
    assert!(d.at_tag_boundary());
    assert_eq!(d.previous_tag_size_mismatches(), 0);
    assert_eq!(mux(&reference), bytes, "remux differs from the file");
    for split in [1, 2, 3, 7, 11, 13, 15, 188, 1000, 4096] {
        let (events, d) = demux(bytes, split);
        assert_eq!(events, reference, "split {split}");
        assert!(d.at_tag_boundary(), "split {split}");
        assert_eq!(d.buffered_len(), 0);
    }
    reference
}

/// The first tag is `onMetaData`; returns its properties (via our AMF0 decoder).
fn metadata(events: &[DemuxEvent]) -> Amf0Value {
    let first = tags(events).first().map(|t| (t.kind, t.data.clone()));
    let Some((MediaKind::Script, body)) = first else {
        panic!("first tag is not script data: {first:?}");
    };
    let values = amf0::decode_all(&body);
    let Ok(mut values) = values else {
        panic!("onMetaData does not decode: {values:?}");
    };
    assert_eq!(values.len(), 2);
    assert_eq!(
        values.first().and_then(Amf0Value::as_str),
        Some("onMetaData")
    );
    values.pop().unwrap_or(Amf0Value::Null)
}

/// Checks the video track: AVC sequence header first, keyframes, B-frame reordering.
fn check_video(events: &[DemuxEvent]) {
    let video: Vec<_> = tags(events)
        .into_iter()
        .filter(|t| t.kind == MediaKind::Video)
        .collect();
    // 15 frames (1 s at 15 fps) between the sequence header and the end-of-sequence tag.
    assert_eq!(video.len(), 17);
    let first = video.first().map(|t| t.data.get(..2));
    // 0x17 = keyframe + codec 7 (AVC); 0x00 = AVC sequence header.
    assert_eq!(first, Some(Some(&[0x17, 0x00][..])));
    let last = video.last().map(|t| t.data.get(..2));
    assert_eq!(last, Some(Some(&[0x17, 0x02][..])), "end of sequence");
    let keyframes = video
        .iter()
        .filter(|t| t.data.get(..2) == Some(&[0x17, 0x01]))
        .count();
    assert_eq!(keyframes, 2, "-g 8 over 15 frames");
    // B-frames: some frame has a non-zero composition time offset (AVC packet bytes 2..5).
    let reordered = video
        .iter()
        .filter(|t| t.data.get(1) == Some(&1))
        .any(|t| t.data.get(2..5).is_some_and(|cts| cts != [0, 0, 0]));
    assert!(
        reordered,
        "no composition offsets: the file has no B-frames"
    );
    assert!(video.windows(2).all(|w| match w {
        [a, b] => a.timestamp <= b.timestamp,
        _ => true,
    }));
}

fn check_audio(events: &[DemuxEvent]) {
    let audio: Vec<_> = tags(events)
        .into_iter()
        .filter(|t| t.kind == MediaKind::Audio)
        .collect();
    assert_eq!(audio.len(), 46);
    // 0xaf = AAC, 44 kHz, 16-bit, stereo flag; then 0x00 = AudioSpecificConfig.
    assert_eq!(
        audio.first().map(|t| t.data.get(..2)),
        Some(Some(&[0xaf, 0x00][..]))
    );
    assert!(
        audio
            .iter()
            .skip(1)
            .all(|t| t.data.get(..2) == Some(&[0xaf, 0x01]))
    );
}

#[test]
fn avc_aac_bframes_round_trips() {
    let events = round_trip(AVC_AAC);
    assert_eq!(
        events.first(),
        Some(&DemuxEvent::Header(FlvHeader::new(true, true)))
    );
    assert_eq!(count(&events, MediaKind::Script), 1);
    check_video(&events);
    check_audio(&events);
    let meta = metadata(&events);
    assert_eq!(
        meta.get("width").and_then(Amf0Value::as_number),
        Some(160.0)
    );
    assert_eq!(
        meta.get("height").and_then(Amf0Value::as_number),
        Some(120.0)
    );
    assert_eq!(
        meta.get("videocodecid").and_then(Amf0Value::as_number),
        Some(7.0)
    );
    assert_eq!(
        meta.get("audiocodecid").and_then(Amf0Value::as_number),
        Some(10.0)
    );
}

#[test]
fn audio_only_round_trips() {
    let events = round_trip(AUDIO_ONLY);
    assert_eq!(
        events.first(),
        Some(&DemuxEvent::Header(FlvHeader::new(true, false)))
    );
    assert_eq!(count(&events, MediaKind::Video), 0);
    check_audio(&events);
    let meta = metadata(&events);
    assert_eq!(
        meta.get("audiocodecid").and_then(Amf0Value::as_number),
        Some(10.0)
    );
    assert_eq!(meta.get("videocodecid"), None);
}

#[test]
fn video_only_round_trips() {
    let events = round_trip(VIDEO_ONLY);
    assert_eq!(
        events.first(),
        Some(&DemuxEvent::Header(FlvHeader::new(false, true)))
    );
    assert_eq!(count(&events, MediaKind::Audio), 0);
    check_video(&events);
    let meta = metadata(&events);
    assert_eq!(
        meta.get("width").and_then(Amf0Value::as_number),
        Some(160.0)
    );
    assert_eq!(meta.get("audiocodecid"), None);
}

#[test]
fn truncated_file_is_need_more() {
    let (all, _) = demux(AVC_AAC, 0);
    // Cuts inside the header, a tag header, a tag body and a trailer.
    for cut in [0, 5, 12, 13, 20, 500, AVC_AAC.len() / 2, AVC_AAC.len() - 2] {
        let (events, mut d) = demux(AVC_AAC.get(..cut).unwrap_or_default(), 0);
        assert_eq!(d.next_event(), Ok(None), "cut {cut}");
        assert!(events.len() <= all.len(), "cut {cut}");
        assert_eq!(events, all.get(..events.len()).unwrap_or_default());
        assert!(!d.at_tag_boundary() || cut == 13, "cut {cut}");
        // The rest of the file completes it.
        d.push(AVC_AAC.get(cut..).unwrap_or_default());
        let mut rest = Vec::new();
        while let Ok(Some(e)) = d.next_event() {
            rest.push(e);
        }
        assert_eq!(events.len() + rest.len(), all.len(), "cut {cut}");
        assert!(d.at_tag_boundary());
    }
}

/// Drains `bytes` fed all at once until an error; panics if there is none.
fn first_error(bytes: &[u8], max_tag: usize) -> FlvError {
    let mut d = Demuxer::new(max_tag);
    d.push(bytes);
    loop {
        match d.next_event() {
            Ok(Some(_)) => {}
            Ok(None) => panic!("no error"),
            Err(e) => return e,
        }
    }
}

#[test]
fn corrupted_files_are_errors() {
    let mut bad = AVC_AAC.to_vec();
    bad[0] = b'f';
    assert_eq!(first_error(&bad, MAX_TAG), FlvError::BadSignature);

    // The largest tag is the first keyframe (~3 KB): a 2 KB limit must reject it.
    assert!(matches!(
        first_error(AVC_AAC, 2048),
        FlvError::TagTooLarge { max: 2048, .. }
    ));

    // Break the type byte of the second tag (after header, pts0 and the script tag).
    let mut bad = AVC_AAC.to_vec();
    let script_len = u32::from_be_bytes([0, bad[14], bad[15], bad[16]]) as usize;
    let second = 13 + 11 + script_len + 4;
    bad[second] = 0x42;
    assert_eq!(first_error(&bad, MAX_TAG), FlvError::UnknownTagType(0x42));

    // Garbage after a good prefix, byte by byte: an error, no panic, buffer released.
    let mut d = Demuxer::new(4096);
    let mut failed = false;
    for b in AVC_AAC.iter().take(second).chain([0xffu8; 64].iter()) {
        d.push(std::slice::from_ref(b));
        while let Ok(Some(_)) = d.next_event() {}
        failed |= d.next_event().is_err();
    }
    assert!(failed);
    assert_eq!(d.buffered_len(), 0);
}

#[test]
fn wrong_previous_tag_sizes_are_tolerated() {
    let mut bad = AVC_AAC.to_vec();
    // Zero the trailer of the first (script) tag.
    let script_len = u32::from_be_bytes([0, bad[14], bad[15], bad[16]]) as usize;
    let trailer = 13 + 11 + script_len;
    bad[trailer..trailer + 4].copy_from_slice(&[0, 0, 0, 0]);
    let mut d = Demuxer::new(MAX_TAG);
    d.push(&bad);
    let mut events = Vec::new();
    while let Ok(Some(e)) = d.next_event() {
        events.push(e);
    }
    let (all, _) = demux(AVC_AAC, 0);
    assert_eq!(events, all);
    assert_eq!(d.previous_tag_size_mismatches(), 1);
    // Muxing writes the correct size, so the original file comes back.
    assert_eq!(mux(&events), AVC_AAC);
}
