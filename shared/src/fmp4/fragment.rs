//! Media fragments: `moof` (`mfhd`, one `traf` per track) followed by one `mdat`.
//!
//! ```text
//! moof ─ mfhd(sequence_number)
//!      └ traf ─ tfhd(track_ID, default-base-is-moof)
//!             ├ tfdt(v1: baseMediaDecodeTime)
//!             └ trun(v1: data_offset, per sample duration/size/flags/signed cts offset)
//! mdat ─ payloads, track after track, in sample order
//! ```
//!
//! `default-base-is-moof` makes each `trun` data offset relative to the `moof` start, so
//! a fragment is self-contained and can be appended to MSE or served as a CMAF chunk alone.

use bytes::{BufMut, Bytes, BytesMut};

use super::boxes::{begin, begin_full, end};
use super::{Fmp4Error, Sample, Track};

/// Sample flags of a sync sample: `sample_depends_on` = 2 (depends on no other sample).
pub const SAMPLE_FLAGS_SYNC: u32 = 0x0200_0000;
/// Sample flags of a non-sync sample: `sample_depends_on` = 1, `sample_is_non_sync_sample`.
pub const SAMPLE_FLAGS_NON_SYNC: u32 = 0x0101_0000;

/// `tfhd` flag: data offsets are relative to the enclosing `moof`.
const TFHD_DEFAULT_BASE_IS_MOOF: u32 = 0x02_0000;
/// `trun` flags: data offset, and per-sample duration, size, flags, composition offset.
const TRUN_FLAGS: u32 = 0x0001 | 0x0100 | 0x0200 | 0x0400 | 0x0800;

/// One track's part of a fragment: its samples and their payloads.
#[derive(Debug, Clone, Copy)]
pub struct TrackFragment<'a> {
    /// The track's id (its `trex`/`tkhd` id in the init segment).
    pub track_id: u32,
    /// Decode time of the first sample, in the track timescale (`tfdt`).
    pub base_decode_time: u64,
    /// One `trun` entry per sample.
    pub samples: &'a [Sample],
    /// The sample payloads, in order; `data[i].len()` must equal `samples[i].size`.
    pub data: &'a [Bytes],
}

/// Appends one fragment (`moof` + `mdat`) of a single track to `out`.
///
/// `base_decode_time` is the first sample's decode time in the track timescale; `data`
/// holds the payloads of `samples`, in order. On error nothing is appended.
pub fn write_fragment(
    sequence_number: u32,
    track: &Track,
    base_decode_time: u64,
    samples: &[Sample],
    data: &[Bytes],
    out: &mut BytesMut,
) -> Result<(), Fmp4Error> {
    let part = TrackFragment {
        track_id: track.id,
        base_decode_time,
        samples,
        data,
    };
    write_multi_fragment(sequence_number, &[part], out)
}

/// Appends one fragment holding several tracks (one `traf` each, one shared `mdat`).
///
/// CMAF wants one track per fragment; this is for plain fMP4 consumers (e.g. an MSE
/// `SourceBuffer` fed audio and video together). On error nothing is appended.
pub fn write_multi_fragment(
    sequence_number: u32,
    parts: &[TrackFragment<'_>],
    out: &mut BytesMut,
) -> Result<(), Fmp4Error> {
    validate(parts)?;
    let mark = out.len();
    let result = write_unchecked(sequence_number, parts, out);
    if result.is_err() {
        out.truncate(mark);
    }
    result
}

fn validate(parts: &[TrackFragment<'_>]) -> Result<(), Fmp4Error> {
    for part in parts {
        if part.samples.len() != part.data.len() {
            return Err(Fmp4Error::SampleCountMismatch {
                samples: part.samples.len(),
                payloads: part.data.len(),
            });
        }
        for (index, (sample, payload)) in part.samples.iter().zip(part.data).enumerate() {
            if usize::try_from(sample.size).ok() != Some(payload.len()) {
                return Err(Fmp4Error::SampleSizeMismatch {
                    index,
                    declared: sample.size,
                    actual: payload.len(),
                });
            }
        }
    }
    Ok(())
}

fn write_unchecked(
    sequence_number: u32,
    parts: &[TrackFragment<'_>],
    out: &mut BytesMut,
) -> Result<(), Fmp4Error> {
    let payload_len: u64 = parts
        .iter()
        .flat_map(|p| p.samples)
        .map(|s| u64::from(s.size))
        .sum();
    // mdat uses the 64-bit `largesize` form only when it has to; most parsers prefer 32.
    let mdat_header_len: u64 = if payload_len + 8 > u64::from(u32::MAX) {
        16
    } else {
        8
    };

    let moof = begin(out, b"moof");
    write_mfhd(out, sequence_number)?;
    // Where each trun's data_offset field sits, and the offset of its data within mdat.
    let mut offsets = Vec::with_capacity(parts.len());
    let mut data_start: u64 = 0;
    for part in parts {
        let traf = begin(out, b"traf");
        write_tfhd(out, part.track_id)?;
        write_tfdt(out, part.base_decode_time)?;
        offsets.push((write_trun(out, part.samples)?, data_start));
        data_start += part.samples.iter().map(|s| u64::from(s.size)).sum::<u64>();
        end(out, traf)?;
    }
    end(out, moof)?;

    let moof_len = (out.len() - moof) as u64;
    for (field, data_start) in offsets {
        let offset = i32::try_from(moof_len + mdat_header_len + data_start)
            .map_err(|_| Fmp4Error::TooLarge("trun data offset"))?;
        out[field..field + 4].copy_from_slice(&offset.to_be_bytes());
    }

    if mdat_header_len == 16 {
        out.put_u32(1);
        out.put_slice(b"mdat");
        out.put_u64(payload_len + 16);
    } else {
        // Checked above: payload_len + 8 fits in u32.
        out.put_u32((payload_len + 8) as u32);
        out.put_slice(b"mdat");
    }
    for part in parts {
        for payload in part.data {
            out.put_slice(payload);
        }
    }
    Ok(())
}

/// `mfhd`: the fragment's sequence number (increasing, starting at 1 by convention).
pub fn write_mfhd(out: &mut BytesMut, sequence_number: u32) -> Result<(), Fmp4Error> {
    let start = begin_full(out, b"mfhd", 0, 0);
    out.put_u32(sequence_number);
    end(out, start)
}

/// `tfhd` with `default-base-is-moof` and no defaults (every `trun` entry is explicit).
pub fn write_tfhd(out: &mut BytesMut, track_id: u32) -> Result<(), Fmp4Error> {
    let start = begin_full(out, b"tfhd", 0, TFHD_DEFAULT_BASE_IS_MOOF);
    out.put_u32(track_id);
    end(out, start)
}

/// `tfdt` version 1: a 64-bit base media decode time, so long streams never overflow.
pub fn write_tfdt(out: &mut BytesMut, base_decode_time: u64) -> Result<(), Fmp4Error> {
    let start = begin_full(out, b"tfdt", 1, 0);
    out.put_u64(base_decode_time);
    end(out, start)
}

/// `trun` version 1 (signed composition offsets) with a zero data offset placeholder.
///
/// Returns the position of the data offset field so the caller can patch it once the
/// `moof` size is known.
pub fn write_trun(out: &mut BytesMut, samples: &[Sample]) -> Result<usize, Fmp4Error> {
    let count = u32::try_from(samples.len()).map_err(|_| Fmp4Error::TooLarge("sample count"))?;
    let start = begin_full(out, b"trun", 1, TRUN_FLAGS);
    out.put_u32(count);
    let data_offset_at = out.len();
    out.put_i32(0);
    for sample in samples {
        out.put_u32(sample.duration);
        out.put_u32(sample.size);
        out.put_u32(if sample.keyframe {
            SAMPLE_FLAGS_SYNC
        } else {
            SAMPLE_FLAGS_NON_SYNC
        });
        out.put_i32(sample.cts_offset);
    }
    end(out, start)?;
    Ok(data_offset_at)
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::fmp4::TrackConfig;

    fn sample(duration: u32, size: u32, cts_offset: i32, keyframe: bool) -> Sample {
        Sample {
            duration,
            size,
            cts_offset,
            keyframe,
        }
    }

    fn opus_track() -> Track {
        Track {
            id: 2,
            timescale: 48000,
            config: TrackConfig::Opus {
                channels: 2,
                pre_skip: 312,
                input_sample_rate: 48000,
                output_gain: 0,
            },
        }
    }

    #[test]
    fn mfhd_bytes() {
        let mut out = BytesMut::new();
        write_mfhd(&mut out, 0x0102_0304).unwrap();
        assert_eq!(
            &out[..],
            b"\x00\x00\x00\x10mfhd\x00\x00\x00\x00\x01\x02\x03\x04".as_slice()
        );
    }

    #[test]
    fn tfdt_bytes() {
        let mut out = BytesMut::new();
        write_tfdt(&mut out, 0x1_0000_0002).unwrap();
        assert_eq!(
            &out[..],
            b"\x00\x00\x00\x14tfdt\x01\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x02".as_slice()
        );
    }

    #[test]
    fn tfhd_bytes() {
        let mut out = BytesMut::new();
        write_tfhd(&mut out, 1).unwrap();
        assert_eq!(
            &out[..],
            b"\x00\x00\x00\x10tfhd\x00\x02\x00\x00\x00\x00\x00\x01".as_slice()
        );
    }

    #[test]
    fn trun_bytes() {
        let mut out = BytesMut::new();
        let at = write_trun(
            &mut out,
            &[
                sample(3000, 0x100, 6000, true),
                sample(3000, 5, -3000, false),
            ],
        )
        .unwrap();
        assert_eq!(at, 16);
        #[rustfmt::skip]
        let expected: &[u8] = &[
            0, 0, 0, 52, b't', b'r', b'u', b'n', 1, 0, 0x0f, 0x01,
            0, 0, 0, 2, // sample_count
            0, 0, 0, 0, // data_offset placeholder
            0, 0, 0x0b, 0xb8, 0, 0, 1, 0, 0x02, 0, 0, 0, 0, 0, 0x17, 0x70,
            0, 0, 0x0b, 0xb8, 0, 0, 0, 5, 0x01, 0x01, 0, 0, 0xff, 0xff, 0xf4, 0x48,
        ];
        assert_eq!(&out[..], expected);
    }

    #[test]
    fn fragment_layout_and_data_offset() {
        let data = [Bytes::from_static(b"abc"), Bytes::from_static(b"de")];
        let samples = [sample(960, 3, 0, true), sample(960, 2, 0, true)];
        let mut out = BytesMut::new();
        write_fragment(7, &opus_track(), 48000, &samples, &data, &mut out).unwrap();
        // moof = 8 + mfhd 16 + traf(8 + tfhd 16 + tfdt 20 + trun 20 + 2 * 16) = 120.
        assert_eq!(&out[..8], b"\x00\x00\x00\x78moof");
        assert_eq!(&out[120..128], b"\x00\x00\x00\x0dmdat");
        assert_eq!(&out[128..], b"abcde");
        // data_offset = moof size + mdat header: the first payload byte.
        let trun = 8 + 16 + 8 + 16 + 20;
        assert_eq!(&out[trun + 4..trun + 8], b"trun");
        assert_eq!(&out[trun + 16..trun + 20], &128i32.to_be_bytes());
        assert_eq!(&out[60..68], &48000u64.to_be_bytes());
    }

    #[test]
    fn multi_track_offsets_point_at_each_tracks_data() {
        let video = [Bytes::from_static(b"VVVV")];
        let audio = [Bytes::from_static(b"aa"), Bytes::from_static(b"b")];
        let vs = [sample(3000, 4, 0, true)];
        let as_ = [sample(1024, 2, 0, true), sample(1024, 1, 0, true)];
        let parts = [
            TrackFragment {
                track_id: 1,
                base_decode_time: 0,
                samples: &vs,
                data: &video,
            },
            TrackFragment {
                track_id: 2,
                base_decode_time: 0,
                samples: &as_,
                data: &audio,
            },
        ];
        let mut out = BytesMut::new();
        write_multi_fragment(1, &parts, &mut out).unwrap();
        let moof_len = u32::from_be_bytes([out[0], out[1], out[2], out[3]]) as usize;
        let mut offsets = Vec::new();
        for i in 0..moof_len - 4 {
            if &out[i..i + 4] == b"trun" {
                let o = &out[i + 12..i + 16];
                offsets.push(i32::from_be_bytes([o[0], o[1], o[2], o[3]]) as usize);
            }
        }
        assert_eq!(offsets.len(), 2);
        assert_eq!(&out[offsets[0]..offsets[0] + 4], b"VVVV");
        assert_eq!(&out[offsets[1]..offsets[1] + 3], b"aab");
        assert_eq!(out.len(), moof_len + 8 + 7);
    }

    #[test]
    fn mismatched_payloads_are_errors_and_append_nothing() {
        let mut out = BytesMut::from(&b"x"[..]);
        let track = opus_track();
        let data = [Bytes::from_static(b"abc")];
        assert_eq!(
            write_fragment(1, &track, 0, &[sample(960, 4, 0, true)], &data, &mut out),
            Err(Fmp4Error::SampleSizeMismatch {
                index: 0,
                declared: 4,
                actual: 3
            })
        );
        assert_eq!(
            write_fragment(1, &track, 0, &[], &data, &mut out),
            Err(Fmp4Error::SampleCountMismatch {
                samples: 0,
                payloads: 1
            })
        );
        assert_eq!(&out[..], b"x");
    }
}
