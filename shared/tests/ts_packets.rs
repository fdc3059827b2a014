//! Packet-level checks of the MPEG-TS muxer, with a small demuxer written here: sync bytes,
//! continuity counters per PID, PAT/PMT CRCs recomputed bit by bit, PCR spacing, and every
//! PES reassembled back into the expected Annex B / ADTS bytes and timestamps. Runs on
//! wasm32 too.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use onair_shared::ts::{
    AUDIO_PID, PMT_PID, TsAudioConfig, TsError, TsMuxer, TsVideoConfig, VIDEO_PID,
};

const SPS: &[u8] = &[0x67, 0x64, 0x00, 0x1f, 0xac];
const PPS: &[u8] = &[0x68, 0xee, 0x3c];

fn muxer() -> TsMuxer {
    TsMuxer::new(
        Some(TsVideoConfig::new(
            vec![Bytes::from_static(SPS)],
            vec![Bytes::from_static(PPS)],
        )),
        Some(TsAudioConfig {
            object_type: 2,
            sample_rate_index: 3, // 48 kHz
            channels: 2,
        }),
    )
}

/// CRC-32/MPEG-2 bit by bit, independent of the crate's table.
fn crc32_bitwise(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &byte in data {
        for bit in (0..8).rev() {
            let top = (crc >> 31) ^ u32::from((byte >> bit) & 1);
            crc <<= 1;
            if top != 0 {
                crc ^= 0x04c1_1db7;
            }
        }
    }
    crc
}

#[derive(Debug, Default)]
struct Demuxed {
    /// Sections from PID 0 and the PMT PID, in order.
    sections: Vec<(u16, Vec<u8>)>,
    /// Complete PES packets per PID.
    pes: BTreeMap<u16, Vec<Vec<u8>>>,
    /// `(pid, pcr base)` in stream order.
    pcrs: Vec<(u16, u64)>,
    /// Packets with the random access indicator, per PID.
    random_access: BTreeMap<u16, usize>,
}

fn demux(ts: &[u8]) -> Demuxed {
    assert_eq!(ts.len() % 188, 0);
    let mut d = Demuxed::default();
    let mut last_cc: BTreeMap<u16, u8> = BTreeMap::new();
    let mut current: BTreeMap<u16, Vec<u8>> = BTreeMap::new();
    for p in ts.chunks(188) {
        assert_eq!(p[0], 0x47, "sync byte");
        let pusi = p[1] & 0x40 != 0;
        let pid = u16::from_be_bytes([p[1], p[2]]) & 0x1fff;
        let control = (p[3] >> 4) & 3;
        let cc = p[3] & 0x0f;
        assert_ne!(control, 0, "reserved adaptation_field_control");
        let has_payload = control & 1 != 0;
        if let Some(&prev) = last_cc.get(&pid) {
            let expected = if has_payload { (prev + 1) & 0x0f } else { prev };
            assert_eq!(cc, expected, "continuity counter on PID {pid:#x}");
        }
        last_cc.insert(pid, cc);

        let mut pos = 4;
        if control & 2 != 0 {
            let len = usize::from(p[4]);
            assert!(5 + len <= 188);
            if len > 0 {
                let flags = p[5];
                if flags & 0x10 != 0 {
                    let base = (u64::from(u32::from_be_bytes([p[6], p[7], p[8], p[9]])) << 1)
                        | u64::from(p[10] >> 7);
                    d.pcrs.push((pid, base));
                }
                if flags & 0x40 != 0 {
                    *d.random_access.entry(pid).or_default() += 1;
                }
            }
            pos = 5 + len;
        }
        if !has_payload {
            assert_eq!(pos, 188, "adaptation-only packet must fill the packet");
            continue;
        }
        assert!(pos < 188, "payload flag with no payload");
        let payload = &p[pos..];
        if pid == 0 || pid == PMT_PID {
            assert!(pusi);
            let section = &payload[1 + usize::from(payload[0])..];
            let len = 3 + (usize::from(u16::from_be_bytes([section[1], section[2]])) & 0x3ff);
            d.sections.push((pid, section[..len].to_vec()));
            continue;
        }
        if pusi {
            if let Some(done) = current.remove(&pid) {
                d.pes.entry(pid).or_default().push(done);
            }
            current.insert(pid, Vec::new());
        }
        current
            .get_mut(&pid)
            .expect("payload before a unit start")
            .extend_from_slice(payload);
    }
    for (pid, done) in current {
        d.pes.entry(pid).or_default().push(done);
    }
    d
}

fn timestamp(b: &[u8]) -> u64 {
    assert_eq!(b[0] & 1, 1);
    assert_eq!(b[2] & 1, 1);
    assert_eq!(b[4] & 1, 1);
    (u64::from(b[0] >> 1) & 7) << 30
        | u64::from(u16::from_be_bytes([b[1], b[2]]) >> 1) << 15
        | u64::from(u16::from_be_bytes([b[3], b[4]]) >> 1)
}

/// `(stream_id, pts, dts, elementary stream bytes)` of a PES packet.
fn parse_pes(pes: &[u8]) -> (u8, u64, Option<u64>, &[u8]) {
    assert_eq!(&pes[..3], &[0, 0, 1]);
    let len = usize::from(u16::from_be_bytes([pes[4], pes[5]]));
    if len != 0 {
        assert_eq!(len, pes.len() - 6, "PES_packet_length");
    }
    let flags = pes[7];
    let header_len = usize::from(pes[8]);
    let pts = timestamp(&pes[9..14]);
    let dts = match flags >> 6 {
        3 => {
            assert_eq!(pes[9] >> 4, 3);
            assert_eq!(pes[14] >> 4, 1);
            Some(timestamp(&pes[14..19]))
        }
        2 => {
            assert_eq!(pes[9] >> 4, 2);
            None
        }
        other => panic!("PTS_DTS_flags {other}"),
    };
    (pes[3], pts, dts, &pes[9 + header_len..])
}

fn avcc(nals: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for nal in nals {
        out.extend_from_slice(&(nal.len() as u32).to_be_bytes());
        out.extend_from_slice(nal);
    }
    out
}

fn annexb(keyframe: bool, nals: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![0, 0, 0, 1, 0x09, 0xf0];
    if keyframe {
        for set in [SPS, PPS] {
            out.extend_from_slice(&[0, 0, 0, 1]);
            out.extend_from_slice(set);
        }
    }
    for nal in nals {
        out.extend_from_slice(&[0, 0, 0, 1]);
        out.extend_from_slice(nal);
    }
    out
}

fn nal(kind: u8, len: usize) -> Vec<u8> {
    let mut n = vec![kind; len.max(1)];
    n[0] = kind;
    n
}

#[test]
fn tables_carry_valid_crcs_and_the_program() {
    let mut out = BytesMut::new();
    muxer().write_tables(&mut out);
    let d = demux(&out);
    assert_eq!(d.sections.len(), 2);
    for (_, section) in &d.sections {
        let (body, crc) = section.split_at(section.len() - 4);
        assert_eq!(crc32_bitwise(body).to_be_bytes(), crc);
    }
    let (pid, pat) = &d.sections[0];
    assert_eq!((*pid, pat[0]), (0, 0x00));
    assert_eq!(&pat[8..12], &[0x00, 0x01, 0xf0, 0x00]); // program 1 → PMT PID 0x1000
    let (pid, pmt) = &d.sections[1];
    assert_eq!((*pid, pmt[0]), (PMT_PID, 0x02));
    assert_eq!(u16::from_be_bytes([pmt[8], pmt[9]]) & 0x1fff, VIDEO_PID);
    assert_eq!(
        &pmt[12..22],
        &[0x1b, 0xe1, 0x00, 0xf0, 0x00, 0x0f, 0xe1, 0x01, 0xf0, 0x00]
    );
}

#[test]
fn two_segments_round_trip() {
    let mut m = muxer();
    let mut out = BytesMut::new();
    let mut expected_video = Vec::new();
    let mut expected_audio = Vec::new();
    let mut audio_ms = 0u64;
    for frame in 0..60u64 {
        let dts = 1000 + frame * 100 / 3;
        let keyframe = frame % 30 == 0;
        if keyframe {
            m.write_tables(&mut out);
        }
        // Sizes sweep across packet boundaries (184 payload bytes per packet).
        let nals = if keyframe {
            vec![nal(0x06, 20), nal(0x65, 700 + frame as usize)]
        } else {
            vec![nal(0x41, 150 + (frame as usize * 7) % 250)]
        };
        let cts = if keyframe { 67 } else { 33 };
        m.write_video(dts, cts, keyframe, &avcc(&nals), &mut out)
            .unwrap();
        expected_video.push(((dts + cts as u64) * 90, dts * 90, annexb(keyframe, &nals)));
        while audio_ms <= dts + 33 {
            let frame_bytes = vec![0x5a; 160 + (audio_ms as usize % 40)];
            m.write_audio(1000 + audio_ms, &frame_bytes, &mut out)
                .unwrap();
            expected_audio.push(((1000 + audio_ms) * 90, frame_bytes));
            audio_ms += 21;
        }
    }

    let d = demux(&out);
    assert_eq!(d.sections.len(), 4);
    assert_eq!(d.random_access.get(&VIDEO_PID), Some(&2));
    assert_eq!(d.random_access.get(&AUDIO_PID), None);

    let video = &d.pes[&VIDEO_PID];
    assert_eq!(video.len(), expected_video.len());
    for (pes, (pts, dts, es)) in video.iter().zip(&expected_video) {
        let (stream_id, got_pts, got_dts, got_es) = parse_pes(pes);
        assert_eq!(stream_id, 0xe0);
        assert_eq!((got_pts, got_dts), (*pts, Some(*dts)));
        assert_eq!(got_es, &es[..]);
    }

    let audio = &d.pes[&AUDIO_PID];
    assert_eq!(audio.len(), expected_audio.len());
    for (pes, (pts, frame)) in audio.iter().zip(&expected_audio) {
        let (stream_id, got_pts, got_dts, es) = parse_pes(pes);
        assert_eq!((stream_id, got_pts, got_dts), (0xc0, *pts, None));
        let (adts, raw) = es.split_at(7);
        assert_eq!(&adts[..2], &[0xff, 0xf1]);
        assert_eq!(adts[2] >> 6, 1, "AAC-LC profile");
        assert_eq!((adts[2] >> 2) & 0x0f, 3, "48 kHz index");
        assert_eq!(((adts[2] & 1) << 2) | (adts[3] >> 6), 2, "stereo");
        let frame_len = (usize::from(adts[3] & 3) << 11)
            | (usize::from(adts[4]) << 3)
            | usize::from(adts[5] >> 5);
        assert_eq!(frame_len, 7 + frame.len());
        assert_eq!(raw, &frame[..]);
    }

    // PCR only on the video PID, never backwards, never more than 100 ms apart.
    assert!(d.pcrs.iter().all(|&(pid, _)| pid == VIDEO_PID));
    assert_eq!(d.pcrs[0].1, 90_000);
    for w in d.pcrs.windows(2) {
        assert!(w[0].1 <= w[1].1 && w[1].1 - w[0].1 <= 9000, "{w:?}");
    }
}

#[test]
fn every_pes_size_near_packet_boundaries_reassembles() {
    let mut m = TsMuxer::new(
        None,
        Some(TsAudioConfig {
            object_type: 2,
            sample_rate_index: 4,
            channels: 1,
        }),
    );
    let mut out = BytesMut::new();
    let sizes: Vec<usize> = (0..400).collect();
    for (i, &size) in sizes.iter().enumerate() {
        m.write_audio(i as u64 * 23, &vec![size as u8; size], &mut out)
            .unwrap();
    }
    let d = demux(&out);
    let audio = &d.pes[&AUDIO_PID];
    assert_eq!(audio.len(), sizes.len());
    for (pes, &size) in audio.iter().zip(&sizes) {
        let (_, _, _, es) = parse_pes(pes);
        assert_eq!(es.len(), 7 + size);
        assert!(es[7..].iter().all(|&b| b == size as u8));
    }
    // Audio-only: PCR and random access ride on the audio PID.
    assert!(d.pcrs.iter().all(|&(pid, _)| pid == AUDIO_PID));
    assert_eq!(d.random_access[&AUDIO_PID], sizes.len());
}

#[test]
fn malformed_access_unit_is_an_error_not_a_panic() {
    let mut m = muxer();
    let mut out = BytesMut::new();
    for bad in [
        &[0u8, 0, 0][..],
        &[0, 0, 0, 9, 0x65],
        &[0xff, 0xff, 0xff, 0xff],
    ] {
        assert!(matches!(
            m.write_video(0, 0, true, bad, &mut out),
            Err(TsError::BadNalLength { .. })
        ));
    }
    assert!(out.is_empty());
}

#[cfg(not(target_arch = "wasm32"))]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn any_access_units_round_trip(
            units in prop::collection::vec(
                (prop::collection::vec(1usize..600, 1..5), any::<bool>(), 0i32..200),
                1..20,
            ),
        ) {
            let mut m = muxer();
            let mut out = BytesMut::new();
            m.write_tables(&mut out);
            let mut expected = Vec::new();
            for (i, (sizes, keyframe, cts)) in units.iter().enumerate() {
                let nals: Vec<Vec<u8>> = sizes.iter().map(|&s| nal(0x41, s)).collect();
                let dts = i as u64 * 40;
                m.write_video(dts, *cts, *keyframe, &avcc(&nals), &mut out).unwrap();
                expected.push((annexb(*keyframe, &nals), (dts + *cts as u64) * 90));
            }
            let d = demux(&out);
            let video = &d.pes[&VIDEO_PID];
            prop_assert_eq!(video.len(), expected.len());
            for (pes, (es, pts)) in video.iter().zip(&expected) {
                let (_, got_pts, _, got_es) = parse_pes(pes);
                prop_assert_eq!(got_es, &es[..]);
                prop_assert_eq!(got_pts, *pts);
            }
        }
    }
}
