//! Box order, chunk offsets and durations of whole progressive files.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use bytes::{Bytes, BytesMut};

use super::*;

fn video() -> Track {
    Track {
        id: 1,
        timescale: 90_000,
        config: TrackConfig::Avc {
            avcc: Bytes::from_static(&[1, 0x64, 0, 0x1f, 0xff, 0xe0, 0]),
            width: 320,
            height: 240,
        },
    }
}

fn audio() -> Track {
    Track {
        id: 2,
        timescale: 44_100,
        config: TrackConfig::Aac {
            asc: Bytes::from_static(&[0x12, 0x10]),
            sample_rate: 44_100,
            channels: 2,
        },
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Top-level boxes as (type, offset, size).
fn top_level(b: &[u8]) -> Vec<([u8; 4], usize, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 8 <= b.len() {
        let size = u32_at(b, at) as usize;
        let kind = [b[at + 4], b[at + 5], b[at + 6], b[at + 7]];
        out.push((kind, at, size));
        if size < 8 {
            break;
        }
        at += size;
    }
    out
}

/// Offset of the first box of type `kind` inside `b` (a plain byte search is enough for
/// these small, known files).
fn find(b: &[u8], kind: &[u8; 4]) -> usize {
    b.windows(4).position(|w| w == kind).expect("box present") - 4
}

/// A file whose header was written by `w` and whose payloads are bytes of value i for
/// sample i (in push order).
fn build(w: &Mp4Writer, sizes: &[u32]) -> Vec<u8> {
    let mut out = BytesMut::new();
    w.finish(&mut out).unwrap();
    for (i, &s) in sizes.iter().enumerate() {
        out.extend(std::iter::repeat_n(i as u8, s as usize));
    }
    out.to_vec()
}

#[test]
fn ftyp_moov_mdat_in_order_and_chunk_offsets_point_at_the_payloads() {
    let mut w = Mp4Writer::new(vec![video(), audio()]).unwrap();
    // V V A A V: chunks V[0,1], A[2,3], V[4].
    let pushes = [
        (0, 0, 7200, 10, true),
        (0, 3600, 0, 20, false),
        (1, 0, 0, 5, true),
        (1, 1024, 0, 5, true),
        (0, 7200, 3600, 30, false),
    ];
    let sizes: Vec<u32> = pushes.iter().map(|p| p.3).collect();
    for (track, dts, cts, size, key) in pushes {
        w.push(track, dts, cts, size, key).unwrap();
    }
    assert_eq!(w.mdat_payload_len(), 70);
    let file = build(&w, &sizes);
    let boxes = top_level(&file);
    let kinds: Vec<&[u8; 4]> = boxes.iter().map(|b| &b.0).collect();
    assert_eq!(kinds, [b"ftyp", b"moov", b"mdat"]);
    let (_, mdat_at, mdat_size) = boxes[2];
    assert_eq!(mdat_size, 8 + 70);
    assert_eq!(mdat_at + mdat_size, file.len());
    let payload = mdat_at + 8;

    // Video: two chunks, at the payloads of samples 0 and 4.
    let moov = &file[boxes[1].1..mdat_at];
    let v_stco = find(moov, b"stco");
    assert_eq!(u32_at(moov, v_stco + 12), 2);
    assert_eq!(u32_at(moov, v_stco + 16) as usize, payload);
    assert_eq!(u32_at(moov, v_stco + 20) as usize, payload + 40);
    assert_eq!(file[payload + 40], 4);
    // Audio: one chunk of two samples right after the first video chunk.
    let a_moov = &moov[v_stco + 8..];
    let a_stco = find(a_moov, b"stco");
    assert_eq!(u32_at(a_moov, a_stco + 12), 1);
    assert_eq!(u32_at(a_moov, a_stco + 16) as usize, payload + 30);
    assert_eq!(file[payload + 30], 2);
    let a_stsc = find(a_moov, b"stsc");
    assert_eq!(
        &a_moov[a_stsc + 16..a_stsc + 28],
        &[0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 1]
    );

    // Video tables: durations 3600 ×3 (the last repeats the one before), B-frame offsets,
    // keyframe 1 only.
    let stts = find(moov, b"stts");
    assert_eq!(
        &moov[stts + 12..stts + 24],
        &[0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0x0e, 0x10]
    );
    let ctts = find(moov, b"ctts");
    assert_eq!(u32_at(moov, ctts + 12), 3);
    let stss = find(moov, b"stss");
    assert_eq!(&moov[stss + 12..stss + 20], &[0, 0, 0, 1, 0, 0, 0, 1]);
    // The edit list skips the 80 ms B-frame delay: media_time = min pts = 3600 ticks.
    let elst = find(moov, b"elst");
    assert_eq!(u32_at(moov, elst + 12), 1);
    assert_eq!(u32_at(moov, elst + 20), 3600);
    // mdhd duration: 3 × 3600 ticks. Presented video: pts 40..120 ms plus the last frame's
    // 40 ms = 120 ms (all three frames); audio 2048 / 44100 s = 46 ms; mvhd takes the longer.
    let mdhd = find(moov, b"mdhd");
    assert_eq!(u32_at(moov, mdhd + 24), 10_800);
    let mvhd = find(moov, b"mvhd");
    assert_eq!(u32_at(moov, mvhd + 24), 120);
    assert_eq!(u32_at(moov, elst + 16), 120);
}

#[test]
fn non_increasing_decode_times_are_nudged_forward() {
    let mut w = Mp4Writer::new(vec![audio()]).unwrap();
    w.push(0, 1000, 0, 1, true).unwrap();
    w.push(0, 1000, 0, 1, true).unwrap();
    w.push(0, 900, 0, 1, true).unwrap();
    let file = build(&w, &[1, 1, 1]);
    let stts = find(&file, b"stts");
    // Durations 1, 1, then the last repeats 1: one entry of three.
    assert_eq!(
        &file[stts + 12..stts + 24],
        &[0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 1]
    );
    // All audio samples are sync samples and have no composition offsets: no stss/ctts.
    assert!(!file.windows(4).any(|w| w == b"stss" || w == b"ctts"));
}

#[test]
fn a_track_starting_late_gets_an_empty_edit() {
    let mut w = Mp4Writer::new(vec![video(), audio()]).unwrap();
    w.push(0, 0, 0, 1, true).unwrap();
    w.push(0, 9000, 0, 1, true).unwrap();
    // Audio starts 500 ms in.
    w.push(1, 22_050, 0, 1, true).unwrap();
    let file = build(&w, &[1, 1, 1]);
    let a_trak = file.windows(4).rposition(|w| w == b"trak").unwrap() - 4;
    let elst = a_trak + find(&file[a_trak..], b"elst");
    assert_eq!(u32_at(&file, elst + 12), 2);
    assert_eq!(u32_at(&file, elst + 16), 500);
    assert_eq!(u32_at(&file, elst + 20), u32::MAX); // media_time −1: empty
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    assert_eq!(Mp4Writer::new(vec![]).unwrap_err(), Mp4Error::NoTracks);
    assert_eq!(
        Mp4Writer::new(vec![audio(), audio()]).unwrap_err(),
        Mp4Error::BadTrack(2)
    );
    let mut w = Mp4Writer::new(vec![audio()]).unwrap();
    assert_eq!(w.push(3, 0, 0, 1, true), Err(Mp4Error::NoSuchTrack(3)));
    // No samples at all still gives a valid (empty) file.
    let mut out = BytesMut::new();
    w.finish(&mut out).unwrap();
    assert_eq!(&out[out.len() - 4..], b"mdat");
}
