//! The byte and wall-clock cut rules on hand-built packets, with the time passed in.

use std::time::{Duration, SystemTime};

use super::bounds;
use super::packager::Packager;
use super::tests::{AVC_CONFIG, aac, aac_config, hex, packet, setup, video};
use super::window::Window;
use crate::media::{MediaKind, Packet};

/// A video frame of `size` bytes (one NAL unit).
fn big_video(ms: u32, key: bool, size: usize) -> Packet {
    let mut body = vec![if key { 0x17 } else { 0x27 }, 1, 0, 0, 0];
    let nal = size as u32 + 1;
    body.extend_from_slice(&nal.to_be_bytes());
    body.push(if key { 0x65 } else { 0x41 });
    body.resize(body.len() + size, 0x88);
    packet(MediaKind::Video, ms, body)
}

fn started(t0: SystemTime) -> (Packager, Window) {
    let (mut p, mut w) = setup();
    p.push(&packet(MediaKind::Video, 0, hex(AVC_CONFIG)), t0, &mut w);
    p.push(&aac_config([0x12, 0x10]), t0, &mut w);
    (p, w)
}

/// Bytes held by the part and segment in progress and the window.
fn held(w: &Window) -> usize {
    w.bytes()
        + w.current
            .as_ref()
            .map_or(0, |c| c.parts.iter().map(|p| p.data.len()).sum())
}

#[test]
fn frozen_clock_is_cut_by_wall_clock() {
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    let (mut p, mut w) = started(t0);
    // 25 frames a second of wall time, all stamped 5000 ms.
    for i in 0..25 * 20u64 {
        let now = t0 + Duration::from_millis(i * 40);
        p.push(&video(5000, i == 0), now, &mut w);
        p.push(&aac(5000), now, &mut w);
    }
    // 20 s of wall time: segments cut every 3 targets (6 s), parts every 3 parts (~1 s).
    assert!(w.segments.len() >= 3, "{}", w.segments.len());
    let current = w.current.as_ref().expect("a segment in progress");
    assert!(current.parts.len() <= 6, "{}", current.parts.len());
    for s in &w.segments {
        assert!(s.parts.is_empty() || s.parts.len() <= 7);
    }
}

#[test]
fn frozen_clock_is_cut_by_bytes_and_the_window_is_capped() {
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    let (mut p, mut w) = started(t0);
    // 200 MB in no wall time at all: only the byte caps can cut.
    for i in 0..200u64 * 16 {
        p.push(&big_video(5000, i == 0, 64 << 10), t0, &mut w);
        let limit = bounds::BAD_CLOCK_WINDOW_BYTES + 4 * bounds::MAX_SEGMENT_BYTES;
        assert!(held(&w) < limit, "{} bytes held at frame {i}", held(&w));
    }
    assert_eq!(w.max_bytes, Some(bounds::BAD_CLOCK_WINDOW_BYTES));
    assert!(w.bytes() <= bounds::BAD_CLOCK_WINDOW_BYTES + 3 * bounds::BAD_CLOCK_SEGMENT_BYTES);
    assert!(!w.segments.is_empty());
}

#[test]
fn backwards_clock_is_cut() {
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    let (mut p, mut w) = started(t0);
    // Each frame 40 ms before the previous one, 25 a second of wall time.
    for i in 0..25 * 20u64 {
        let now = t0 + Duration::from_millis(i * 40);
        let ms = 100_000 - 40 * i as u32;
        p.push(&video(ms, i % 25 == 0), now, &mut w);
    }
    assert!(w.segments.len() >= 3, "{}", w.segments.len());
    // Durations are whatever the fMP4 timeline re-times them to; they are positive but not
    // yet bounded (one comes out at ~109 s here: a known gap, see the issue).
    assert!(w.segments.iter().all(|s| s.duration > 0.0));
    assert_eq!(w.max_bytes, Some(bounds::BAD_CLOCK_WINDOW_BYTES));
}

#[test]
fn check_names_the_cause() {
    let t0 = SystemTime::UNIX_EPOCH;
    let open = |start, newest, bytes| bounds::Open {
        opened: t0,
        bytes,
        start_ms: start,
        newest_ms: newest,
    };
    let at = |ms| t0 + Duration::from_millis(ms);
    // Normal: within the target in media time and wall time.
    assert_eq!(
        bounds::check(&open(0, 300, 10), 333, 1 << 20, at(300)),
        None
    );
    // A slow publisher within 3 targets of wall time is left alone.
    assert_eq!(bounds::check(&open(0, 40, 10), 333, 1 << 20, at(900)), None);
    let frozen = bounds::check(&open(5, 5, 10), 333, 1 << 20, at(1000));
    assert_eq!(frozen, Some(bounds::Cause::Frozen));
    let back = bounds::check(&open(5, 1, 1 << 20), 333, 1 << 20, at(0));
    assert_eq!(back, Some(bounds::Cause::Backwards));
    let stalled = bounds::check(&open(0, 40, 10), 333, 1 << 20, at(1000));
    assert_eq!(stalled, Some(bounds::Cause::Stalled));
    let bytes = bounds::check(&open(0, 40, 2 << 20), 333, 1 << 20, at(0));
    assert_eq!(bytes, Some(bounds::Cause::Bytes));
    let line = bounds::describe(
        "live/x",
        bounds::Cause::Frozen,
        &open(12345, 12345, 1),
        at(5000),
    );
    assert_eq!(
        line,
        "live/x: timestamps frozen at 12.345 s for 5.0 s; HLS cut by wall clock and bytes"
    );
}
