//! Structural checks of the fMP4 writer: the produced init segments and fragments are
//! parsed back box by box (sizes must nest exactly) and the `trun` entries, data offsets
//! and payloads are read back. Runs on wasm32 too.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use bytes::{Bytes, BytesMut};
use onair_shared::fmp4::{
    SAMPLE_FLAGS_NON_SYNC, SAMPLE_FLAGS_SYNC, Sample, Track, TrackConfig, write_fragment,
    write_init,
};

/// One box: its path from the root (`moov/trak/tkhd`), body start and end.
#[derive(Debug)]
struct Found {
    path: String,
    body: usize,
    end: usize,
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Walks the boxes in `buf[start..end]`, descending into containers; children must fill
/// their parent exactly.
fn walk(buf: &[u8], start: usize, end: usize, parent: &str, out: &mut Vec<Found>) {
    let mut pos = start;
    while pos < end {
        let size = be32(buf, pos) as usize;
        assert!(
            size >= 8 && pos + size <= end,
            "bad size {size} at {pos} in {parent}"
        );
        let kind = String::from_utf8_lossy(&buf[pos + 4..pos + 8]).into_owned();
        let path = if parent.is_empty() {
            kind.clone()
        } else {
            format!("{parent}/{kind}")
        };
        let body = pos + 8;
        out.push(Found {
            path: path.clone(),
            body,
            end: pos + size,
        });
        // Where children start: containers at once; full boxes with an entry count after
        // 8 bytes; sample entries after their fixed fields.
        let children = match kind.as_str() {
            "moov" | "trak" | "mdia" | "minf" | "dinf" | "stbl" | "mvex" | "moof" | "traf" => {
                Some(body)
            }
            "stsd" | "dref" => Some(body + 8),
            "avc1" => Some(body + 78),
            "mp4a" | "Opus" => Some(body + 28),
            _ => None,
        };
        if let Some(children) = children {
            walk(buf, children, pos + size, &path, out);
        }
        pos += size;
    }
    assert_eq!(pos, end, "boxes overrun {parent}");
}

fn boxes(buf: &[u8]) -> Vec<Found> {
    let mut out = Vec::new();
    walk(buf, 0, buf.len(), "", &mut out);
    out
}

fn find<'a>(found: &'a [Found], path: &str) -> &'a Found {
    found
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("no {path}"))
}

fn tracks() -> Vec<Track> {
    vec![
        Track {
            id: 1,
            timescale: 90_000,
            config: TrackConfig::Avc {
                avcc: Bytes::from_static(&[
                    1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 2, 0x67, 0x64, 1, 0, 1, 0x68,
                ]),
                width: 640,
                height: 360,
            },
        },
        Track {
            id: 2,
            timescale: 44_100,
            config: TrackConfig::Aac {
                asc: Bytes::from_static(&[0x12, 0x10]),
                sample_rate: 44_100,
                channels: 2,
            },
        },
        Track {
            id: 3,
            timescale: 48_000,
            config: TrackConfig::Opus {
                channels: 2,
                pre_skip: 312,
                input_sample_rate: 48_000,
                output_gain: 0,
            },
        },
    ]
}

#[test]
fn init_segment_has_the_cmaf_box_tree() {
    let mut out = BytesMut::new();
    write_init(&tracks(), &mut out).unwrap();
    let found = boxes(&out);
    let paths: Vec<&str> = found.iter().map(|f| f.path.as_str()).collect();
    let mut expected = vec!["ftyp", "moov", "moov/mvhd"];
    let entries = [
        ("vmhd", "avc1", "avcC"),
        ("smhd", "mp4a", "esds"),
        ("smhd", "Opus", "dOps"),
    ];
    let trak_paths: Vec<Vec<String>> = entries
        .iter()
        .map(|(media_header, entry, config)| {
            let stbl = "moov/trak/mdia/minf/stbl";
            [
                "moov/trak".to_string(),
                "moov/trak/tkhd".into(),
                "moov/trak/mdia".into(),
                "moov/trak/mdia/mdhd".into(),
                "moov/trak/mdia/hdlr".into(),
                "moov/trak/mdia/minf".into(),
                format!("moov/trak/mdia/minf/{media_header}"),
                "moov/trak/mdia/minf/dinf".into(),
                "moov/trak/mdia/minf/dinf/dref".into(),
                "moov/trak/mdia/minf/dinf/dref/url ".into(),
                stbl.into(),
                format!("{stbl}/stsd"),
                format!("{stbl}/stsd/{entry}"),
                format!("{stbl}/stsd/{entry}/{config}"),
                format!("{stbl}/stts"),
                format!("{stbl}/stsc"),
                format!("{stbl}/stsz"),
                format!("{stbl}/stco"),
            ]
            .to_vec()
        })
        .collect();
    for trak in &trak_paths {
        expected.extend(trak.iter().map(String::as_str));
    }
    expected.extend([
        "moov/mvex",
        "moov/mvex/trex",
        "moov/mvex/trex",
        "moov/mvex/trex",
    ]);
    assert_eq!(paths, expected);

    let ftyp = find(&found, "ftyp");
    assert_eq!(
        &out[ftyp.body..ftyp.end],
        b"iso6\0\0\0\0iso6cmfcmp41dashavc1"
    );
    let hdlrs: Vec<&[u8]> = found
        .iter()
        .filter(|f| f.path.ends_with("hdlr"))
        .map(|f| &out[f.body + 8..f.body + 12])
        .collect();
    assert_eq!(hdlrs, [b"vide", b"soun", b"soun"]);
    let avcc = find(&found, "moov/trak/mdia/minf/stbl/stsd/avc1/avcC");
    assert_eq!(out[avcc.body..avcc.end].len(), 14);
    let trex_ids: Vec<u32> = found
        .iter()
        .filter(|f| f.path.ends_with("trex"))
        .map(|f| be32(&out, f.body + 4))
        .collect();
    assert_eq!(trex_ids, [1, 2, 3]);
}

/// `(duration, size, flags, cts_offset)` of every `trun` entry, and the data offset.
fn read_trun(buf: &[u8], trun: &Found) -> (i32, Vec<(u32, u32, u32, i32)>) {
    assert_eq!(&buf[trun.body..trun.body + 4], &[1, 0, 0x0f, 0x01]);
    let count = be32(buf, trun.body + 4) as usize;
    let offset = be32(buf, trun.body + 8) as i32;
    let entries = (0..count)
        .map(|i| {
            let at = trun.body + 12 + 16 * i;
            (
                be32(buf, at),
                be32(buf, at + 4),
                be32(buf, at + 8),
                be32(buf, at + 12) as i32,
            )
        })
        .collect::<Vec<_>>();
    assert_eq!(trun.body + 12 + 16 * count, trun.end);
    (offset, entries)
}

#[test]
fn fragment_reads_back() {
    let track = &tracks()[0];
    let samples = [
        Sample {
            duration: 3000,
            size: 5,
            cts_offset: 6000,
            keyframe: true,
        },
        Sample {
            duration: 3000,
            size: 3,
            cts_offset: -3000,
            keyframe: false,
        },
    ];
    let data = [Bytes::from_static(b"key!!"), Bytes::from_static(b"dlt")];
    let mut out = BytesMut::new();
    write_fragment(42, track, 1 << 40, &samples, &data, &mut out).unwrap();
    let found = boxes(&out);
    let paths: Vec<&str> = found.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "moof",
            "moof/mfhd",
            "moof/traf",
            "moof/traf/tfhd",
            "moof/traf/tfdt",
            "moof/traf/trun",
            "mdat"
        ]
    );
    assert_eq!(be32(&out, find(&found, "moof/mfhd").body + 4), 42);
    let tfhd = find(&found, "moof/traf/tfhd");
    assert_eq!(&out[tfhd.body..tfhd.end], &[0, 2, 0, 0, 0, 0, 0, 1]);
    let tfdt = find(&found, "moof/traf/tfdt");
    assert_eq!(
        &out[tfdt.body..tfdt.end],
        &[1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0]
    );
    let (offset, entries) = read_trun(&out, find(&found, "moof/traf/trun"));
    assert_eq!(
        entries,
        [
            (3000, 5, SAMPLE_FLAGS_SYNC, 6000),
            (3000, 3, SAMPLE_FLAGS_NON_SYNC, -3000)
        ]
    );
    assert_eq!(SAMPLE_FLAGS_NON_SYNC, 0x0101_0000);
    assert_eq!(&out[offset as usize..], b"key!!dlt");
    assert_eq!(find(&found, "mdat").body, offset as usize);
}

#[cfg(not(target_arch = "wasm32"))]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn any_fragment_reads_back(
            entries in prop::collection::vec(
                (any::<u32>(), prop::collection::vec(any::<u8>(), 0..300), any::<i32>(), any::<bool>()),
                0..40,
            ),
            seq in any::<u32>(),
            base in any::<u64>(),
        ) {
            let samples: Vec<Sample> = entries
                .iter()
                .map(|(duration, data, cts_offset, keyframe)| Sample {
                    duration: *duration,
                    size: data.len() as u32,
                    cts_offset: *cts_offset,
                    keyframe: *keyframe,
                })
                .collect();
            let data: Vec<Bytes> = entries.iter().map(|e| Bytes::from(e.1.clone())).collect();
            let mut out = BytesMut::new();
            write_fragment(seq, &tracks()[1], base, &samples, &data, &mut out).unwrap();
            let found = boxes(&out);
            let (offset, read) = read_trun(&out, find(&found, "moof/traf/trun"));
            let expected: Vec<(u32, u32, u32, i32)> = samples
                .iter()
                .map(|s| {
                    let flags = if s.keyframe { SAMPLE_FLAGS_SYNC } else { SAMPLE_FLAGS_NON_SYNC };
                    (s.duration, s.size, flags, s.cts_offset)
                })
                .collect();
            prop_assert_eq!(read, expected);
            prop_assert_eq!(&out[offset as usize..], &data.concat()[..]);
            let tfdt = find(&found, "moof/traf/tfdt");
            prop_assert_eq!(&out[tfdt.body + 4..tfdt.end], &base.to_be_bytes());
        }

        #[test]
        fn any_config_makes_a_well_formed_init(
            avcc in prop::collection::vec(any::<u8>(), 0..400),
            asc in prop::collection::vec(any::<u8>(), 0..300),
            width in any::<u16>(),
            rate in any::<u32>(),
        ) {
            let tracks = [
                Track {
                    id: 7,
                    timescale: 90_000,
                    config: TrackConfig::Avc { avcc: Bytes::from(avcc), width, height: width },
                },
                Track {
                    id: 9,
                    timescale: rate.max(1),
                    config: TrackConfig::Aac { asc: Bytes::from(asc), sample_rate: rate, channels: 6 },
                },
            ];
            let mut out = BytesMut::new();
            write_init(&tracks, &mut out).unwrap();
            let found = boxes(&out);
            prop_assert_eq!(found.iter().filter(|f| f.path.ends_with("/trak")).count(), 2);
        }
    }
}
