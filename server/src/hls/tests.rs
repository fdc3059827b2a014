//! The packager on synthetic packets: cutting rules, discontinuities, codecs, memory.

use std::time::SystemTime;

use bytes::Bytes;

use super::packager::{Packager, Targets};
use super::playlist;
use super::window::Window;
use crate::media::{MediaKind, Packet};
use onair_shared::media::Parser;

/// A real x264 AVC sequence header (64x48) as an FLV video tag body.
pub(super) const AVC_CONFIG: &str = "17000000000164000affe100186764000aacd9447b011000000300100000030320f122596001000468ef8fcbfdf8f800";

pub(super) fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

std::thread_local! {
    /// One stream's parser per test (each test runs on its own thread), as the hub has.
    static PARSER: std::cell::RefCell<Parser> = std::cell::RefCell::new(Parser::new());
}

/// A packet as the hub builds it: parsed once by the stream's parser.
pub(super) fn packet(kind: MediaKind, ms: u32, body: Vec<u8>) -> Packet {
    let body = Bytes::from(body);
    let unit = PARSER
        .with(|p| p.borrow_mut().parse(kind, ms, &body))
        .unwrap();
    Packet::new(kind, ms, body, unit)
}

pub(super) fn video(ms: u32, key: bool) -> Packet {
    let nal = if key { 0x65 } else { 0x41 };
    let body = vec![
        if key { 0x17 } else { 0x27 },
        1,
        0,
        0,
        0,
        0,
        0,
        0,
        2,
        nal,
        0x88,
    ];
    packet(MediaKind::Video, ms, body)
}

pub(super) fn aac_config(asc: [u8; 2]) -> Packet {
    packet(MediaKind::Audio, 0, vec![0xaf, 0, asc[0], asc[1]])
}

pub(super) fn aac(ms: u32) -> Packet {
    packet(MediaKind::Audio, ms, vec![0xaf, 1, 0x21, 0x10, 0x05])
}

fn opus_config() -> Packet {
    let mut body = vec![0x90, b'O', b'p', b'u', b's'];
    body.extend_from_slice(b"OpusHead");
    body.extend_from_slice(&[1, 2, 0x38, 0x01, 0x80, 0xbb, 0, 0, 0, 0, 0]);
    packet(MediaKind::Audio, 0, body)
}

fn opus(ms: u32) -> Packet {
    packet(
        MediaKind::Audio,
        ms,
        vec![0x91, b'O', b'p', b'u', b's', 0xfc, 1, 2],
    )
}

pub(super) fn setup() -> (Packager, Window) {
    let packager = Packager::new(Targets {
        segment_ms: 2000,
        part_ms: 333,
    });
    (packager, Window::new(2.0, 0.333, 6))
}

/// Feeds `seconds` of 25 fps video (a keyframe every second) from `start_ms`, with
/// `audio` frames every 20 ms interleaved.
fn feed(
    p: &mut Packager,
    w: &mut Window,
    start_ms: u32,
    seconds: u32,
    audio: Option<fn(u32) -> Packet>,
) {
    let now = SystemTime::now();
    let mut next_audio = start_ms;
    for i in 0..seconds * 25 {
        let ms = start_ms + i * 40;
        while let Some(make) = audio.filter(|_| next_audio <= ms) {
            p.push(&make(next_audio), now, w);
            next_audio += 20;
        }
        p.push(&video(ms, i % 25 == 0), now, w);
    }
}

#[test]
fn segments_and_parts_follow_the_targets() {
    let (mut p, mut w) = setup();
    let now = SystemTime::now();
    p.push(&packet(MediaKind::Video, 0, hex(AVC_CONFIG)), now, &mut w);
    p.push(&aac_config([0x12, 0x10]), now, &mut w);
    feed(&mut p, &mut w, 0, 11, Some(aac));
    p.finish(&mut w);
    assert!(w.ended && w.cmaf_error.is_none() && w.ts_error.is_none());
    assert_eq!(w.segments.len(), 6);
    for s in w.segments.iter().take(5) {
        assert!((s.duration - 2.0).abs() < 1e-9, "{}", s.duration);
        assert!(s.ts.as_ref().is_some_and(|ts| ts.len() % 188 == 0));
        assert!(s.cmaf.starts_with(&[0, 0]) && &s.cmaf[4..8] == b"moof");
    }
    let parts = &w.segments[4].parts;
    assert!(parts.iter().all(|p| p.duration <= 0.333 + 1e-9));
    assert!(parts[0].independent && !parts[1].independent);
    assert!(w.init(0).is_some_and(|i| &i[4..8] == b"ftyp"));
    let text = playlist::cmaf(&w);
    assert!(text.ends_with("#EXT-X-ENDLIST\n"), "{text}");
}

#[test]
fn republish_and_codec_change_are_discontinuities() {
    let (mut p, mut w) = setup();
    let now = SystemTime::now();
    let avc = || packet(MediaKind::Video, 0, hex(AVC_CONFIG));
    p.push(&avc(), now, &mut w);
    p.push(&aac_config([0x12, 0x10]), now, &mut w);
    feed(&mut p, &mut w, 0, 5, Some(aac));
    // A republish: the same configs again, then media continuing the clock.
    p.push(&avc(), now, &mut w);
    p.push(&aac_config([0x12, 0x10]), now, &mut w);
    feed(&mut p, &mut w, 5001, 5, Some(aac));
    // A codec change: new audio config, so a new init segment.
    p.push(&aac_config([0x11, 0x90]), now, &mut w);
    feed(&mut p, &mut w, 10002, 5, Some(aac));
    p.finish(&mut w);
    let flags: Vec<(bool, u32)> = w
        .segments
        .iter()
        .map(|s| (s.discontinuity, s.init))
        .collect();
    assert_eq!(
        flags,
        // 3 segments per run (2 + 2 + 1 s); the oldest slid out of the window.
        [
            (false, 0),
            (false, 0),
            (true, 0),
            (false, 0),
            (false, 0),
            (true, 1),
            (false, 1),
            (false, 1),
        ][..]
    );
    let text = playlist::cmaf(&w);
    assert!(
        text.contains("#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"init-1.mp4\""),
        "{text}"
    );
    assert_eq!(
        playlist::ts(&w).matches("#EXT-X-DISCONTINUITY\n").count(),
        1
    );
}

#[test]
fn opus_is_cmaf_only_and_audio_only_streams_are_cut_on_audio() {
    let (mut p, mut w) = setup();
    let now = SystemTime::now();
    p.push(&packet(MediaKind::Video, 0, hex(AVC_CONFIG)), now, &mut w);
    p.push(&opus_config(), now, &mut w);
    feed(&mut p, &mut w, 0, 5, Some(opus));
    assert!(w.ts_error.as_deref().is_some_and(|e| e.contains("Opus")));
    assert!(w.segments.iter().all(|s| s.ts.is_none()) && w.segments.len() == 2);

    let (mut p, mut w) = setup();
    p.push(&aac_config([0x12, 0x10]), now, &mut w);
    for i in 0..500 {
        p.push(&aac(i * 20), now, &mut w);
    }
    assert_eq!(w.segments.len(), 4);
    assert!(w.segments.iter().all(|s| (s.duration - 2.0).abs() < 0.03));
}

#[test]
fn memory_stays_flat_over_a_long_stream() {
    let (mut p, mut w) = setup();
    let now = SystemTime::now();
    p.push(&packet(MediaKind::Video, 0, hex(AVC_CONFIG)), now, &mut w);
    p.push(&aac_config([0x12, 0x10]), now, &mut w);
    let held = |w: &Window| -> usize {
        let parts = |ps: &[super::window::Part]| ps.iter().map(|p| p.data.len()).sum::<usize>();
        w.segments
            .iter()
            .map(|s| s.cmaf.len() + s.ts.as_ref().map_or(0, |t| t.len()) + parts(&s.parts))
            .sum::<usize>()
            + w.current.as_ref().map_or(0, |c| parts(&c.parts))
    };
    feed(&mut p, &mut w, 0, 60, Some(aac));
    let after_a_minute = held(&w);
    feed(&mut p, &mut w, 60_000, 540, Some(aac));
    // Ten minutes in, the same media is held as after one (±10 %: part boundaries).
    let after_ten = held(&w);
    assert!(
        after_ten.abs_diff(after_a_minute) * 10 <= after_a_minute,
        "{after_a_minute} → {after_ten} bytes"
    );
    assert_eq!(w.segments.len(), 8);
    assert_eq!(w.segments.iter().filter(|s| !s.parts.is_empty()).count(), 2);
    assert_eq!(w.inits.len(), 1);
}
