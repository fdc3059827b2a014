//! Remuxer tests on the golden FLVs and hand-built tag streams.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use bytes::{Bytes, BytesMut};

use super::*;
use crate::flv::{self, FlvHeader, MediaKind, Tag};

const AV: &[u8] = include_bytes!("../../tests/data/avc_aac_bframes.flv");
const AUDIO: &[u8] = include_bytes!("../../tests/data/audio_only.flv");
const VIDEO: &[u8] = include_bytes!("../../tests/data/video_only.flv");

fn run(input: &[u8], split: usize) -> Vec<RemuxEvent> {
    let mut r = Remuxer::new(1 << 20);
    let mut out = Vec::new();
    for chunk in input.chunks(split.max(1)) {
        r.push(chunk).unwrap();
        out.extend(std::iter::from_fn(|| r.next_event()));
    }
    r.flush().unwrap();
    out.extend(std::iter::from_fn(|| r.next_event()));
    out
}

/// The tag's video frame, as ingest parses it.
fn video_frame(tag: &Tag) -> Option<Frame> {
    let unit = Parser::new()
        .parse(tag.kind, tag.timestamp, &tag.data)
        .ok()?;
    unit.frame().filter(|f| f.track == Track::Video).cloned()
}

fn tags(input: &[u8]) -> Vec<Tag> {
    let mut d = flv::Demuxer::new(1 << 20);
    d.push(input);
    std::iter::from_fn(|| d.next_event().unwrap())
        .filter_map(|e| match e {
            flv::DemuxEvent::Tag(t) => Some(t),
            _ => None,
        })
        .collect()
}

fn stream(tags: &[Tag]) -> Bytes {
    let mut out = BytesMut::new();
    flv::write_header(
        &FlvHeader {
            has_audio: true,
            has_video: true,
            version: 1,
        },
        &mut out,
    );
    for t in tags {
        flv::write_tag(t, &mut out).unwrap();
    }
    out.freeze()
}

fn media(events: &[RemuxEvent]) -> Vec<&MediaSegment> {
    events
        .iter()
        .filter_map(|e| match e {
            RemuxEvent::Media(m) => Some(m),
            _ => None,
        })
        .collect()
}

fn inits(events: &[RemuxEvent]) -> Vec<&InitSegment> {
    events
        .iter()
        .filter_map(|e| match e {
            RemuxEvent::Init(i) => Some(i),
            _ => None,
        })
        .collect()
}

#[test]
fn audio_video_golden() {
    let events = run(AV, AV.len());
    let init = inits(&events);
    assert_eq!(init.len(), 1);
    assert!(
        init[0].mime.starts_with("video/mp4; codecs=\"avc1.4d")
            && init[0].mime.ends_with(",mp4a.40.2\""),
        "{}",
        init[0].mime
    );
    assert!(!init[0].tracks_changed);
    assert_eq!(&init[0].data[4..8], b"ftyp");
    let frames = media(&events);
    let video_tags = tags(AV).iter().filter(|t| video_frame(t).is_some()).count();
    // Every video frame is sent on (the stream starts with a keyframe), one per fragment.
    assert_eq!(
        frames
            .iter()
            .map(|m| m.video_frames as usize)
            .sum::<usize>(),
        video_tags
    );
    assert!(frames[0].keyframe);
    assert!(frames.iter().all(|m| &m.data[4..8] == b"moof"));
    assert!(frames.iter().filter(|m| m.keyframe).count() >= 2);
    // Audio rides with video: every AAC frame is sent (the video starts at 0 ms).
    let audio: u32 = frames.iter().map(|m| m.audio_frames).sum();
    let audio_tags = tags(AV)
        .iter()
        .filter(|t| t.kind == MediaKind::Audio)
        .count();
    assert_eq!(audio as usize, audio_tags - 1);
    // Fragments follow each other in media time (ms timestamps, ~66.7 ms per frame).
    for pair in frames.windows(2) {
        assert!(pair[1].start >= pair[0].start, "{pair:?}");
        assert!(pair[1].start - pair[0].start < 0.1);
    }
    // One fragment per video frame (plus the audio left at the end).
    assert_eq!(
        frames.iter().filter(|m| m.video_frames == 1).count(),
        video_tags
    );
}

#[test]
fn any_split_gives_the_same_events() {
    for input in [AV, AUDIO, VIDEO] {
        let whole = run(input, input.len());
        for split in [1, 2, 7, 11, 100, 4096] {
            assert_eq!(run(input, split), whole, "split {split}");
        }
    }
}

#[test]
fn audio_only_and_video_only() {
    let events = run(AUDIO, AUDIO.len());
    let init = inits(&events);
    assert_eq!(init[0].mime, "audio/mp4; codecs=\"mp4a.40.2\"");
    let frames = media(&events);
    assert!(frames.iter().all(|m| m.video_frames == 0 && !m.keyframe));
    // ~60 ms fragments: 3 AAC frames at 44.1 kHz each.
    assert!(frames.len() >= 12, "{} fragments", frames.len());
    let total: u32 = frames.iter().map(|m| m.audio_frames).sum();
    let audio_tags = tags(AUDIO)
        .iter()
        .filter(|t| t.kind == MediaKind::Audio)
        .count();
    assert_eq!(total as usize, audio_tags - 1);

    let events = run(VIDEO, VIDEO.len());
    assert!(
        inits(&events)[0]
            .mime
            .starts_with("video/mp4; codecs=\"avc1.")
    );
    assert!(!inits(&events)[0].mime.contains(','));
    assert!(media(&events).iter().all(|m| m.audio_frames == 0));
}

#[test]
fn config_change_reinitialises_and_waits_for_a_keyframe() {
    let all = tags(VIDEO);
    let config = all[1].clone();
    assert_eq!(
        config.data[1], 0,
        "the second tag is the AVC sequence header"
    );
    // Same SPS/PPS, another level byte: a different avcC, as after an encoder restart.
    let mut changed = config.data.to_vec();
    changed[5 + 3] = changed[5 + 3].wrapping_add(1);
    let mut input = all.clone();
    let last = input.last().unwrap().timestamp;
    // A non-keyframe right after the change must be dropped, then the stream goes on.
    let delta = input
        .iter()
        .find(|t| video_frame(t).is_some_and(|f| !f.keyframe))
        .unwrap()
        .clone();
    let key = input
        .iter()
        .find(|t| video_frame(t).is_some_and(|f| f.keyframe))
        .unwrap()
        .clone();
    for (i, mut t) in [
        Tag {
            data: Bytes::from(changed),
            ..config.clone()
        },
        delta,
        key,
    ]
    .into_iter()
    .enumerate()
    {
        t.timestamp = last + 100 + 67 * i as u32;
        input.push(t);
    }
    let events = run(&stream(&input), 4096);
    let init = inits(&events);
    assert_eq!(init.len(), 2);
    assert!(!init[1].tracks_changed);
    assert_ne!(init[0].data, init[1].data);
    let after: Vec<_> = events
        .iter()
        .skip_while(|e| !matches!(e, RemuxEvent::Init(i) if i.data == init[1].data))
        .filter_map(|e| match e {
            RemuxEvent::Media(m) => Some(m),
            _ => None,
        })
        .collect();
    assert_eq!(after.len(), 1);
    assert!(after[0].keyframe);
}

#[test]
fn a_track_appearing_later_needs_a_new_media_source() {
    let video = tags(VIDEO);
    let audio = tags(AUDIO);
    let mut input = video.clone();
    let last = video.last().unwrap().timestamp;
    for mut t in audio
        .into_iter()
        .filter(|t| t.kind == MediaKind::Audio)
        .take(5)
    {
        t.timestamp += last;
        input.push(t);
    }
    let key = video
        .iter()
        .find(|t| video_frame(t).is_some_and(|f| f.keyframe))
        .unwrap();
    input.push(Tag {
        timestamp: last + 200,
        ..key.clone()
    });
    let events = run(&stream(&input), 4096);
    let init = inits(&events);
    assert_eq!(init.len(), 2);
    assert!(init[1].tracks_changed);
    assert!(init[1].mime.contains("mp4a.40.2"));
}

#[test]
fn clock_stamps_map_to_media_time() {
    let mut input = tags(VIDEO);
    let frame = input
        .iter()
        .position(|t| t.kind == MediaKind::Video && t.data[1] == 1 && t.timestamp > 300)
        .unwrap();
    let ts = input[frame].timestamp;
    let mut body = BytesMut::new();
    clock::write_on_fi(1_800_000_000_000.0, &mut body);
    input.insert(
        frame,
        Tag {
            kind: MediaKind::Script,
            timestamp: ts,
            stream_id: 0,
            data: body.freeze(),
        },
    );
    let events = run(&stream(&input), 4096);
    let at = events
        .iter()
        .position(|e| matches!(e, RemuxEvent::Clock(_)))
        .unwrap();
    let RemuxEvent::Clock(stamp) = events[at] else {
        unreachable!()
    };
    assert_eq!(stamp.wallclock_ms, 1_800_000_000_000.0);
    // The stamped frame is the next fragment; its start is the stamp's media time.
    let next = media(&events[at..])[0];
    assert!(
        (next.start - stamp.media_time).abs() < 1e-9,
        "{} vs {}",
        next.start,
        stamp.media_time
    );
}

#[test]
fn garbage_is_an_error_and_bad_frames_are_skipped() {
    let mut r = Remuxer::new(1 << 20);
    assert!(matches!(r.push(b"NOT AN FLV"), Err(RemuxError::Flv(_))));

    let mut input = tags(VIDEO);
    let at = input.len() / 2;
    input.insert(
        at,
        Tag {
            kind: MediaKind::Video,
            timestamp: input[at].timestamp,
            stream_id: 0,
            data: Bytes::new(),
        },
    );
    input.insert(
        at,
        Tag {
            kind: MediaKind::Audio,
            timestamp: input[at].timestamp,
            stream_id: 0,
            data: Bytes::from_static(&[0xaf, 1]),
        },
    );
    let mut r = Remuxer::new(1 << 20);
    r.push(&stream(&input)).unwrap();
    // The empty video tag is skipped; the audio frame has no config yet.
    assert_eq!(r.stats().skipped, 2);

    // A broken sequence header is an error the player can show.
    let bad = Tag {
        kind: MediaKind::Video,
        timestamp: 0,
        stream_id: 0,
        data: Bytes::from_static(&[0x17, 0, 0, 0, 0, 9]),
    };
    let mut r = Remuxer::new(1 << 20);
    assert!(matches!(
        r.push(&stream(&[bad])),
        Err(RemuxError::Media(MediaError::Config { .. }))
    ));
    let hevc = Tag {
        kind: MediaKind::Video,
        timestamp: 0,
        stream_id: 0,
        data: Bytes::from_static(&[0x1c, 0, 0, 0, 0, 1]),
    };
    let mut r = Remuxer::new(1 << 20);
    assert_eq!(
        r.push(&stream(&[hevc])),
        Err(RemuxError::Unsupported(Codec::HEVC))
    );
}

#[cfg(not(target_arch = "wasm32"))]
mod props {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Arbitrary tag bodies (mutated from the golden file) never panic the remuxer, and
        /// every fragment it emits starts with a `moof`.
        #[test]
        fn mutated_streams_never_panic(flips in proptest::collection::vec((0usize..AV.len(), any::<u8>()), 1..40), split in 1usize..5000) {
            let mut input = AV.to_vec();
            for (at, byte) in flips {
                // Keep the file header intact so the mutations reach the tag bodies.
                if at >= 13 {
                    input[at] = byte;
                }
            }
            let mut r = Remuxer::new(1 << 20);
            for chunk in input.chunks(split) {
                if r.push(chunk).is_err() {
                    break;
                }
                while let Some(e) = r.next_event() {
                    if let RemuxEvent::Media(m) = e {
                        prop_assert_eq!(&m.data[4..8], b"moof");
                    }
                }
            }
        }
    }
}
