//! ISO BMFF box framing and the small generic boxes.
//!
//! A box is `size:u32 type:[u8;4] body`, a "full box" adds `version:u8 flags:u24`. The size
//! covers the whole box, so [`begin`] writes a placeholder and [`end`] patches it once the
//! body is known; that keeps nested writers linear instead of pre-computing every size.

use bytes::{BufMut, BytesMut};

use super::Fmp4Error;

/// The identity matrix of `mvhd`/`tkhd` (16.16 and 2.30 fixed point).
const UNITY_MATRIX: [u32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];

/// Starts a box: writes a placeholder size and the type; returns where it starts.
pub fn begin(out: &mut BytesMut, kind: &[u8; 4]) -> usize {
    let start = out.len();
    out.put_u32(0);
    out.put_slice(kind);
    start
}

/// Starts a full box (a box with version and 24-bit flags).
pub fn begin_full(out: &mut BytesMut, kind: &[u8; 4], version: u8, flags: u32) -> usize {
    let start = begin(out, kind);
    out.put_u32((u32::from(version) << 24) | (flags & 0x00ff_ffff));
    start
}

/// Ends the box started at `start` by patching its size.
pub fn end(out: &mut BytesMut, start: usize) -> Result<(), Fmp4Error> {
    let size = u32::try_from(out.len() - start).map_err(|_| Fmp4Error::TooLarge("box"))?;
    out[start..start + 4].copy_from_slice(&size.to_be_bytes());
    Ok(())
}

/// Writes a box whose body is `body`, unchanged (e.g. `avcC` from an FLV sequence header).
pub fn write_raw(out: &mut BytesMut, kind: &[u8; 4], body: &[u8]) -> Result<(), Fmp4Error> {
    let start = begin(out, kind);
    out.put_slice(body);
    end(out, start)
}

/// `ftyp`: major brand, minor version 0 and the compatible brands.
pub fn write_ftyp(
    out: &mut BytesMut,
    major: &[u8; 4],
    compatible: &[&[u8; 4]],
) -> Result<(), Fmp4Error> {
    let start = begin(out, b"ftyp");
    out.put_slice(major);
    out.put_u32(0);
    for brand in compatible {
        out.put_slice(*brand);
    }
    end(out, start)
}

/// `mvhd` (version 0): movie timescale, zero duration (fragmented), next free track id.
pub fn write_mvhd(out: &mut BytesMut, timescale: u32, next_track_id: u32) -> Result<(), Fmp4Error> {
    let start = begin_full(out, b"mvhd", 0, 0);
    out.put_u32(0); // creation_time: no clock in sans-IO code, and players ignore it
    out.put_u32(0); // modification_time
    out.put_u32(timescale);
    out.put_u32(0); // duration: unknown for a live fragmented file
    out.put_u32(0x0001_0000); // rate 1.0
    out.put_u16(0x0100); // volume 1.0
    out.put_bytes(0, 10); // reserved
    put_matrix(out);
    out.put_bytes(0, 24); // pre_defined
    out.put_u32(next_track_id);
    end(out, start)
}

/// `tkhd` (version 0, enabled + in movie): audio gets volume 1.0, video its size.
pub fn write_tkhd(
    out: &mut BytesMut,
    track_id: u32,
    audio: bool,
    width: u16,
    height: u16,
) -> Result<(), Fmp4Error> {
    let start = begin_full(out, b"tkhd", 0, 0x3);
    out.put_u32(0); // creation_time
    out.put_u32(0); // modification_time
    out.put_u32(track_id);
    out.put_u32(0); // reserved
    out.put_u32(0); // duration
    out.put_bytes(0, 8); // reserved
    out.put_u16(0); // layer
    out.put_u16(0); // alternate_group
    out.put_u16(if audio { 0x0100 } else { 0 });
    out.put_u16(0); // reserved
    put_matrix(out);
    out.put_u32(u32::from(width) << 16); // 16.16 fixed point
    out.put_u32(u32::from(height) << 16);
    end(out, start)
}

/// `mdhd` (version 0): media timescale, zero duration, language "und".
pub fn write_mdhd(out: &mut BytesMut, timescale: u32) -> Result<(), Fmp4Error> {
    let start = begin_full(out, b"mdhd", 0, 0);
    out.put_u32(0); // creation_time
    out.put_u32(0); // modification_time
    out.put_u32(timescale);
    out.put_u32(0); // duration
    out.put_u16(0x55c4); // "und" as three 5-bit letters minus 0x60
    out.put_u16(0); // pre_defined
    end(out, start)
}

/// `hdlr`: the handler type (`vide`/`soun`) and a NUL-terminated name.
pub fn write_hdlr(out: &mut BytesMut, handler: &[u8; 4], name: &str) -> Result<(), Fmp4Error> {
    let start = begin_full(out, b"hdlr", 0, 0);
    out.put_u32(0); // pre_defined
    out.put_slice(handler);
    out.put_bytes(0, 12); // reserved
    out.put_slice(name.as_bytes());
    out.put_u8(0);
    end(out, start)
}

/// `vmhd` (flags 1, as the spec requires): copy graphics mode.
pub fn write_vmhd(out: &mut BytesMut) -> Result<(), Fmp4Error> {
    let start = begin_full(out, b"vmhd", 0, 1);
    out.put_bytes(0, 8); // graphicsmode + opcolor[3]
    end(out, start)
}

/// `smhd`: centred balance.
pub fn write_smhd(out: &mut BytesMut) -> Result<(), Fmp4Error> {
    let start = begin_full(out, b"smhd", 0, 0);
    out.put_u32(0); // balance + reserved
    end(out, start)
}

/// `dinf` with a `dref` holding one self-contained `url ` entry (media is in this file).
pub fn write_dinf(out: &mut BytesMut) -> Result<(), Fmp4Error> {
    let dinf = begin(out, b"dinf");
    let dref = begin_full(out, b"dref", 0, 0);
    out.put_u32(1); // entry_count
    let url = begin_full(out, b"url ", 0, 1);
    end(out, url)?;
    end(out, dref)?;
    end(out, dinf)
}

/// The empty sample tables of a fragmented file: `stts`, `stsc`, `stsz`, `stco`.
pub fn write_empty_sample_tables(out: &mut BytesMut) -> Result<(), Fmp4Error> {
    for kind in [b"stts", b"stsc", b"stsz", b"stco"] {
        let start = begin_full(out, kind, 0, 0);
        if kind == b"stsz" {
            out.put_u32(0); // sample_size: given per sample
        }
        out.put_u32(0); // entry_count / sample_count
        end(out, start)?;
    }
    Ok(())
}

/// `trex`: per-track fragment defaults; every fragment overrides them in `trun`.
pub fn write_trex(out: &mut BytesMut, track_id: u32) -> Result<(), Fmp4Error> {
    let start = begin_full(out, b"trex", 0, 0);
    out.put_u32(track_id);
    out.put_u32(1); // default_sample_description_index
    out.put_u32(0); // default_sample_duration
    out.put_u32(0); // default_sample_size
    out.put_u32(0); // default_sample_flags
    end(out, start)
}

fn put_matrix(out: &mut BytesMut) {
    for v in UNITY_MATRIX {
        out.put_u32(v);
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn ftyp_bytes() {
        let mut out = BytesMut::new();
        write_ftyp(&mut out, b"iso6", &[b"iso6", b"cmfc"]).unwrap();
        assert_eq!(
            &out[..],
            b"\x00\x00\x00\x18ftypiso6\x00\x00\x00\x00iso6cmfc".as_slice()
        );
    }

    #[test]
    fn nested_sizes_are_patched() {
        let mut out = BytesMut::from(&b"xx"[..]);
        write_dinf(&mut out).unwrap();
        assert_eq!(
            &out[..],
            b"xx\x00\x00\x00\x24dinf\x00\x00\x00\x1cdref\x00\x00\x00\x00\x00\x00\x00\x01\
              \x00\x00\x00\x0curl \x00\x00\x00\x01"
                .as_slice()
        );
    }

    #[test]
    fn fixed_size_boxes_have_spec_sizes() {
        // Sizes from ISO/IEC 14496-12 for version 0 boxes.
        type Writer = fn(&mut BytesMut) -> Result<(), Fmp4Error>;
        let cases: [(Writer, usize); 6] = [
            (|o| write_mvhd(o, 1000, 3), 108),
            (|o| write_tkhd(o, 1, false, 320, 240), 92),
            (|o| write_mdhd(o, 90000), 32),
            (write_vmhd, 20),
            (write_smhd, 16),
            (|o| write_trex(o, 1), 32),
        ];
        for (write, size) in cases {
            let mut out = BytesMut::new();
            write(&mut out).unwrap();
            assert_eq!(out.len(), size);
            assert_eq!(&out[..4], &(size as u32).to_be_bytes());
        }
    }

    #[test]
    fn tkhd_carries_size_in_16_16() {
        let mut out = BytesMut::new();
        write_tkhd(&mut out, 7, false, 320, 240).unwrap();
        assert_eq!(&out[20..24], &7u32.to_be_bytes());
        assert_eq!(&out[84..92], &[0x01, 0x40, 0, 0, 0, 0xf0, 0, 0]);
    }

    #[test]
    fn hdlr_name_is_nul_terminated() {
        let mut out = BytesMut::new();
        write_hdlr(&mut out, b"soun", "SoundHandler").unwrap();
        assert_eq!(out.len(), 32 + 13);
        assert_eq!(&out[16..20], b"soun");
        assert_eq!(out[out.len() - 1], 0);
    }
}
