//! The sample tables of a progressive MP4's `stbl`: `stts`, `ctts`, `stss`, `stsc`, `stsz`,
//! `stco`/`co64`. Pure byte layout from per-sample numbers; run-length coding is done here
//! so the caller keeps one plain entry per sample.

use bytes::{BufMut, BytesMut};

use crate::fmp4::Fmp4Error;
use crate::fmp4::boxes::{begin_full, end};

/// Run-length encodes `values` into `(count, value)` pairs.
fn runs<T: Copy + PartialEq>(values: impl IntoIterator<Item = T>) -> Vec<(u32, T)> {
    let mut out: Vec<(u32, T)> = Vec::new();
    for v in values {
        match out.last_mut() {
            Some((count, last)) if *last == v && *count < u32::MAX => *count += 1,
            _ => out.push((1, v)),
        }
    }
    out
}

fn count(n: usize, what: &'static str) -> Result<u32, Fmp4Error> {
    u32::try_from(n).map_err(|_| Fmp4Error::TooLarge(what))
}

/// `stts`: decode durations, run-length coded.
pub fn write_stts(out: &mut BytesMut, durations: &[u32]) -> Result<(), Fmp4Error> {
    let entries = runs(durations.iter().copied());
    let start = begin_full(out, b"stts", 0, 0);
    out.put_u32(count(entries.len(), "stts")?);
    for (n, delta) in entries {
        out.put_u32(n);
        out.put_u32(delta);
    }
    end(out, start)
}

/// `ctts`: composition offsets, run-length coded; version 1 (signed) only when one is
/// negative, because version 0 is what older readers know. Nothing is written when every
/// offset is 0 (no B-frames): the box is optional then.
pub fn write_ctts(out: &mut BytesMut, offsets: &[i32]) -> Result<(), Fmp4Error> {
    if offsets.iter().all(|&o| o == 0) {
        return Ok(());
    }
    let version = u8::from(offsets.iter().any(|&o| o < 0));
    let entries = runs(offsets.iter().copied());
    let start = begin_full(out, b"ctts", version, 0);
    out.put_u32(count(entries.len(), "ctts")?);
    for (n, offset) in entries {
        out.put_u32(n);
        out.put_i32(offset);
    }
    end(out, start)
}

/// `stss`: the 1-based numbers of the sync samples. Nothing is written when every sample
/// is a sync sample (audio): a missing `stss` means exactly that.
pub fn write_stss(out: &mut BytesMut, keyframes: &[bool]) -> Result<(), Fmp4Error> {
    if keyframes.iter().all(|&k| k) {
        return Ok(());
    }
    let sync: Vec<u32> = keyframes
        .iter()
        .enumerate()
        .filter(|(_, k)| **k)
        .map(|(i, _)| count(i + 1, "stss"))
        .collect::<Result<_, _>>()?;
    let start = begin_full(out, b"stss", 0, 0);
    out.put_u32(count(sync.len(), "stss")?);
    for n in sync {
        out.put_u32(n);
    }
    end(out, start)
}

/// `stsc`: samples per chunk, one entry per run of chunks of the same length (first chunk
/// 1-based, one sample description).
pub fn write_stsc(out: &mut BytesMut, chunk_lengths: &[u32]) -> Result<(), Fmp4Error> {
    let mut entries: Vec<(u32, u32)> = Vec::new();
    for (i, &len) in chunk_lengths.iter().enumerate() {
        if entries.last().is_none_or(|&(_, last)| last != len) {
            entries.push((count(i + 1, "stsc")?, len));
        }
    }
    let start = begin_full(out, b"stsc", 0, 0);
    out.put_u32(count(entries.len(), "stsc")?);
    for (first_chunk, len) in entries {
        out.put_u32(first_chunk);
        out.put_u32(len);
        out.put_u32(1); // sample_description_index
    }
    end(out, start)
}

/// `stsz`: one size per sample, or a single shared size when they are all equal.
pub fn write_stsz(out: &mut BytesMut, sizes: &[u32]) -> Result<(), Fmp4Error> {
    let start = begin_full(out, b"stsz", 0, 0);
    let same = sizes.first().filter(|&&s| sizes.iter().all(|&x| x == s));
    match same {
        Some(&size) => {
            out.put_u32(size);
            out.put_u32(count(sizes.len(), "stsz")?);
        }
        None => {
            out.put_u32(0);
            out.put_u32(count(sizes.len(), "stsz")?);
            for &size in sizes {
                out.put_u32(size);
            }
        }
    }
    end(out, start)
}

/// `stco` (32-bit) or, when `wide`, `co64`: the file offset of every chunk.
pub fn write_chunk_offsets(
    out: &mut BytesMut,
    offsets: &[u64],
    wide: bool,
) -> Result<(), Fmp4Error> {
    let start = begin_full(out, if wide { b"co64" } else { b"stco" }, 0, 0);
    out.put_u32(count(offsets.len(), "stco")?);
    for &offset in offsets {
        if wide {
            out.put_u64(offset);
        } else {
            out.put_u32(u32::try_from(offset).map_err(|_| Fmp4Error::TooLarge("stco offset"))?);
        }
    }
    end(out, start)
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn written(f: impl FnOnce(&mut BytesMut) -> Result<(), Fmp4Error>) -> Vec<u8> {
        let mut out = BytesMut::new();
        f(&mut out).unwrap();
        out.to_vec()
    }

    #[test]
    fn stts_runs() {
        // 3 × 3600 then 1 × 3000: two entries.
        let bytes = written(|o| write_stts(o, &[3600, 3600, 3600, 3000]));
        assert_eq!(
            bytes,
            b"\x00\x00\x00\x20stts\x00\x00\x00\x00\x00\x00\x00\x02\
              \x00\x00\x00\x03\x00\x00\x0e\x10\x00\x00\x00\x01\x00\x00\x0b\xb8"
        );
    }

    #[test]
    fn ctts_version_0_for_b_frames_and_absent_without() {
        // I P B B pattern at 25 fps in 90 kHz: offsets 7200, 10800, 0, 0 (pts − dts).
        let bytes = written(|o| write_ctts(o, &[7200, 10800, 0, 0]));
        assert_eq!(
            bytes,
            b"\x00\x00\x00\x28ctts\x00\x00\x00\x00\x00\x00\x00\x03\
              \x00\x00\x00\x01\x00\x00\x1c\x20\x00\x00\x00\x01\x00\x00\x2a\x30\
              \x00\x00\x00\x02\x00\x00\x00\x00"
        );
        assert!(written(|o| write_ctts(o, &[0, 0])).is_empty());
        let signed = written(|o| write_ctts(o, &[-3600]));
        assert_eq!(&signed[8..12], &[1, 0, 0, 0]);
        assert_eq!(&signed[20..24], &(-3600i32).to_be_bytes());
    }

    #[test]
    fn stss_lists_one_based_keyframes() {
        let bytes = written(|o| write_stss(o, &[true, false, false, true, false]));
        assert_eq!(
            bytes,
            b"\x00\x00\x00\x18stss\x00\x00\x00\x00\x00\x00\x00\x02\
              \x00\x00\x00\x01\x00\x00\x00\x04"
        );
        assert!(written(|o| write_stss(o, &[true, true])).is_empty());
    }

    #[test]
    fn stsc_one_entry_per_run_of_chunk_lengths() {
        // Chunks of 2, 2, 1, 3 samples: entries at chunks 1, 3 and 4.
        let bytes = written(|o| write_stsc(o, &[2, 2, 1, 3]));
        assert_eq!(
            bytes,
            b"\x00\x00\x00\x34stsc\x00\x00\x00\x00\x00\x00\x00\x03\
              \x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x01\
              \x00\x00\x00\x03\x00\x00\x00\x01\x00\x00\x00\x01\
              \x00\x00\x00\x04\x00\x00\x00\x03\x00\x00\x00\x01"
        );
    }

    #[test]
    fn stsz_per_sample_or_shared() {
        let bytes = written(|o| write_stsz(o, &[100, 7]));
        assert_eq!(
            bytes,
            b"\x00\x00\x00\x1cstsz\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\
              \x00\x00\x00\x64\x00\x00\x00\x07"
        );
        let same = written(|o| write_stsz(o, &[6, 6, 6]));
        assert_eq!(
            same,
            b"\x00\x00\x00\x14stsz\x00\x00\x00\x00\x00\x00\x00\x06\x00\x00\x00\x03"
        );
    }

    #[test]
    fn stco_and_co64() {
        let bytes = written(|o| write_chunk_offsets(o, &[48, 0x1234], false));
        assert_eq!(
            bytes,
            b"\x00\x00\x00\x18stco\x00\x00\x00\x00\x00\x00\x00\x02\
              \x00\x00\x00\x30\x00\x00\x12\x34"
        );
        let wide = written(|o| write_chunk_offsets(o, &[1 << 32], true));
        assert_eq!(
            wide,
            b"\x00\x00\x00\x18co64\x00\x00\x00\x00\x00\x00\x00\x01\
              \x00\x00\x00\x01\x00\x00\x00\x00"
        );
        let mut out = BytesMut::new();
        assert_eq!(
            write_chunk_offsets(&mut out, &[1 << 32], false),
            Err(Fmp4Error::TooLarge("stco offset"))
        );
    }
}
