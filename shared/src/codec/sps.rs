//! H.264 sequence parameter set (SPS) parsing, as far as a streaming server needs it.
//!
//! Packagers and players need the picture size (fMP4 `tkhd`/`avc1`, `onMetaData`), the
//! profile/level (codec strings) and, when the encoder wrote VUI timing, the frame rate.
//! The SPS is exp-Golomb coded, so everything up to the cropping window and the VUI must be
//! walked, including the High-profile fields and scaling matrices (H.264 §7.3.2.1.1).

use super::CodecError;
use super::bits::{BitReader, rbsp_from_nal};

/// `nal_unit_type` of an SPS.
const NAL_TYPE_SPS: u8 = 7;

/// Sample aspect ratios for `aspect_ratio_idc` 1..=16 (H.264 Table E-1).
const SAR_TABLE: [(u16, u16); 16] = [
    (1, 1),
    (12, 11),
    (10, 11),
    (16, 11),
    (40, 33),
    (24, 11),
    (20, 11),
    (32, 11),
    (80, 33),
    (18, 11),
    (15, 11),
    (64, 33),
    (160, 99),
    (4, 3),
    (3, 2),
    (2, 1),
];

/// `aspect_ratio_idc` value meaning "explicit sar_width/sar_height follow".
const EXTENDED_SAR: u32 = 255;

/// VUI timing information (`timing_info_present_flag`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpsTiming {
    /// Ticks of the `time_scale` clock per field.
    pub num_units_in_tick: u32,
    /// Clock frequency in Hz.
    pub time_scale: u32,
    /// Whether the frame rate is constant.
    pub fixed_frame_rate: bool,
}

/// The parsed fields of an H.264 SPS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sps {
    /// `profile_idc` (66 baseline, 77 main, 100 high, …).
    pub profile_idc: u8,
    /// The byte holding `constraint_set0_flag`..`constraint_set5_flag` and the reserved bits.
    pub constraint_flags: u8,
    /// `level_idc` (31 means level 3.1).
    pub level_idc: u8,
    /// `seq_parameter_set_id`.
    pub id: u32,
    /// `chroma_format_idc`: 0 monochrome, 1 4:2:0 (the default), 2 4:2:2, 3 4:4:4.
    pub chroma_format_idc: u32,
    /// `separate_colour_plane_flag` (4:4:4 only).
    pub separate_colour_plane: bool,
    /// Luma bit depth (8 unless a High profile says otherwise).
    pub bit_depth_luma: u8,
    /// Chroma bit depth.
    pub bit_depth_chroma: u8,
    /// `frame_mbs_only_flag`: false when the stream may be interlaced.
    pub frame_mbs_only: bool,
    /// Displayed width in pixels, after cropping.
    pub width: u32,
    /// Displayed height in pixels, after cropping.
    pub height: u32,
    /// Sample aspect ratio from the VUI, if signalled.
    pub sample_aspect_ratio: Option<(u16, u16)>,
    /// VUI timing, if signalled.
    pub timing: Option<SpsTiming>,
}

/// Profiles whose SPS carries chroma format, bit depths and scaling matrices.
fn has_high_profile_fields(profile_idc: u8) -> bool {
    matches!(
        profile_idc,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    )
}

/// Skips one `scaling_list()`; only the delta values are coded, so they must be walked.
fn skip_scaling_list(r: &mut BitReader<'_>, size: usize) -> Result<(), CodecError> {
    let mut last: i32 = 8;
    let mut next: i32 = 8;
    for _ in 0..size {
        if next != 0 {
            let delta = r.read_se()?;
            if !(-128..=127).contains(&delta) {
                return Err(CodecError::Invalid("scaling list delta"));
            }
            next = (last + delta + 256) % 256;
        }
        if next != 0 {
            last = next;
        }
    }
    Ok(())
}

/// Reads a `ue(v)` that the specification bounds by `max`.
fn read_ue_max(r: &mut BitReader<'_>, max: u32, what: &'static str) -> Result<u32, CodecError> {
    let v = r.read_ue()?;
    if v > max {
        return Err(CodecError::Invalid(what));
    }
    Ok(v)
}

impl Sps {
    /// Parses an SPS NAL unit, header byte included (as stored in `avcC` or found between
    /// Annex B start codes).
    pub fn parse(nal: &[u8]) -> Result<Self, CodecError> {
        let header = *nal.first().ok_or(CodecError::Truncated("SPS"))?;
        if header & 0x1f != NAL_TYPE_SPS {
            return Err(CodecError::WrongNalType {
                expected: NAL_TYPE_SPS,
                found: header & 0x1f,
            });
        }
        let rbsp = rbsp_from_nal(nal.get(1..).unwrap_or_default());
        let mut r = BitReader::new(&rbsp);
        let profile_idc = r.read_u8()?;
        let constraint_flags = r.read_u8()?;
        let level_idc = r.read_u8()?;
        let id = read_ue_max(&mut r, 31, "seq_parameter_set_id")?;

        let mut chroma_format_idc = 1;
        let mut separate_colour_plane = false;
        let mut bit_depth_luma = 8;
        let mut bit_depth_chroma = 8;
        if has_high_profile_fields(profile_idc) {
            chroma_format_idc = read_ue_max(&mut r, 3, "chroma_format_idc")?;
            if chroma_format_idc == 3 {
                separate_colour_plane = r.read_flag()?;
            }
            // Bit depths are at most 14 (minus8 <= 6); the casts cannot truncate.
            bit_depth_luma = 8 + read_ue_max(&mut r, 6, "bit_depth_luma")? as u8;
            bit_depth_chroma = 8 + read_ue_max(&mut r, 6, "bit_depth_chroma")? as u8;
            let _qpprime_y_zero_transform_bypass = r.read_flag()?;
            if r.read_flag()? {
                let lists = if chroma_format_idc == 3 { 12 } else { 8 };
                for i in 0..lists {
                    if r.read_flag()? {
                        skip_scaling_list(&mut r, if i < 6 { 16 } else { 64 })?;
                    }
                }
            }
        }

        let _log2_max_frame_num_minus4 = read_ue_max(&mut r, 12, "log2_max_frame_num")?;
        match r.read_ue()? {
            0 => {
                read_ue_max(&mut r, 12, "log2_max_pic_order_cnt_lsb")?;
            }
            1 => {
                let _delta_pic_order_always_zero = r.read_flag()?;
                let _offset_for_non_ref_pic = r.read_se()?;
                let _offset_for_top_to_bottom_field = r.read_se()?;
                let cycle = read_ue_max(&mut r, 255, "num_ref_frames_in_pic_order_cnt_cycle")?;
                for _ in 0..cycle {
                    r.read_se()?;
                }
            }
            2 => {}
            _ => return Err(CodecError::Invalid("pic_order_cnt_type")),
        }
        let _max_num_ref_frames = r.read_ue()?;
        let _gaps_in_frame_num_allowed = r.read_flag()?;
        let width_mbs = u64::from(r.read_ue()?) + 1;
        let height_map_units = u64::from(r.read_ue()?) + 1;
        let frame_mbs_only = r.read_flag()?;
        if !frame_mbs_only {
            let _mb_adaptive_frame_field = r.read_flag()?;
        }
        let _direct_8x8_inference = r.read_flag()?;
        let mut crop = [0u64; 4]; // left, right, top, bottom
        if r.read_flag()? {
            for c in &mut crop {
                *c = u64::from(r.read_ue()?);
            }
        }

        // Cropping is in chroma sample units, doubled vertically for field coding (§7.4.2.1.1).
        let field_factor = if frame_mbs_only { 1 } else { 2 };
        let chroma_array_type = if separate_colour_plane {
            0
        } else {
            chroma_format_idc
        };
        let (crop_x, crop_y) = match chroma_array_type {
            1 => (2, 2 * field_factor),
            2 => (2, field_factor),
            3 => (1, field_factor),
            _ => (1, field_factor),
        };
        let full_width = width_mbs * 16;
        let full_height = height_map_units * 16 * field_factor;
        let crop_w = (crop[0] + crop[1]) * crop_x;
        let crop_h = (crop[2] + crop[3]) * crop_y;
        let width = full_width
            .checked_sub(crop_w)
            .filter(|w| *w > 0)
            .and_then(|w| u32::try_from(w).ok())
            .ok_or(CodecError::Invalid("frame cropping wider than the picture"))?;
        let height = full_height
            .checked_sub(crop_h)
            .filter(|h| *h > 0)
            .and_then(|h| u32::try_from(h).ok())
            .ok_or(CodecError::Invalid(
                "frame cropping taller than the picture",
            ))?;

        let mut sps = Sps {
            profile_idc,
            constraint_flags,
            level_idc,
            id,
            chroma_format_idc,
            separate_colour_plane,
            bit_depth_luma,
            bit_depth_chroma,
            frame_mbs_only,
            width,
            height,
            sample_aspect_ratio: None,
            timing: None,
        };
        if r.read_flag()? {
            sps.parse_vui(&mut r)?;
        }
        Ok(sps)
    }

    /// Reads the VUI up to and including `timing_info` (the rest is not needed here).
    fn parse_vui(&mut self, r: &mut BitReader<'_>) -> Result<(), CodecError> {
        if r.read_flag()? {
            let idc = r.read_bits(8)?;
            self.sample_aspect_ratio = if idc == EXTENDED_SAR {
                let w = r.read_bits(16)? as u16;
                let h = r.read_bits(16)? as u16;
                Some((w, h)).filter(|(w, h)| *w != 0 && *h != 0)
            } else {
                (idc as usize)
                    .checked_sub(1)
                    .and_then(|i| SAR_TABLE.get(i))
                    .copied()
            };
        }
        if r.read_flag()? {
            let _overscan_appropriate = r.read_flag()?;
        }
        if r.read_flag()? {
            let _video_format = r.read_bits(3)?;
            let _video_full_range = r.read_flag()?;
            if r.read_flag()? {
                // colour_primaries, transfer_characteristics, matrix_coefficients
                r.skip_bits(24)?;
            }
        }
        if r.read_flag()? {
            let _top = r.read_ue()?;
            let _bottom = r.read_ue()?;
        }
        if r.read_flag()? {
            let num_units_in_tick = r.read_bits(32)?;
            let time_scale = r.read_bits(32)?;
            let fixed_frame_rate = r.read_flag()?;
            if num_units_in_tick != 0 && time_scale != 0 {
                self.timing = Some(SpsTiming {
                    num_units_in_tick,
                    time_scale,
                    fixed_frame_rate,
                });
            }
        }
        Ok(())
    }

    /// The frame rate as a fraction `(numerator, denominator)`: `time_scale / (2 ·
    /// num_units_in_tick)`, since a tick is one field. `None` without VUI timing.
    pub fn frame_rate(&self) -> Option<(u64, u64)> {
        self.timing
            .map(|t| (u64::from(t.time_scale), 2 * u64::from(t.num_units_in_tick)))
    }

    /// The frame rate in frames per second, if signalled.
    pub fn fps(&self) -> Option<f64> {
        self.frame_rate().map(|(num, den)| num as f64 / den as f64)
    }

    /// The RFC 6381 codec string, e.g. `avc1.64001f`.
    pub fn codec_string(&self) -> String {
        format!(
            "avc1.{:02x}{:02x}{:02x}",
            self.profile_idc, self.constraint_flags, self.level_idc
        )
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::codec::bits::BitWriter;
    use crate::codec::hex;

    // SPS NAL units written by x264 (ffmpeg -f lavfi -i testsrc2=… -c:v libx264 -f h264).
    const X264_720P30_HIGH: &str = "6764001facd9405005bb0110000003001000000303c0f1831960";
    const X264_1080P30_HIGH: &str = "67640028acd940780227e5c044000003000400000300f03c60c658";
    const X264_360P30_BASELINE: &str = "6742c01ed900a02ff970110000030001000003003c0f162e48";
    const X264_1080P30_HIGH444: &str = "67f40028919b280f0044fc4e0220000003002000000781e30632c0";
    const X264_720P25_HIGH: &str = "6764001facd9405005bb011000000300100000030320f1831960";

    #[test]
    fn x264_720p_high() {
        let sps = Sps::parse(&hex(X264_720P30_HIGH)).unwrap();
        assert_eq!((sps.profile_idc, sps.level_idc), (100, 31));
        assert_eq!((sps.width, sps.height), (1280, 720));
        assert_eq!(sps.chroma_format_idc, 1);
        assert_eq!((sps.bit_depth_luma, sps.bit_depth_chroma), (8, 8));
        assert!(sps.frame_mbs_only);
        assert_eq!(sps.sample_aspect_ratio, Some((1, 1)));
        assert_eq!(sps.frame_rate(), Some((60, 2)));
        assert_eq!(sps.fps(), Some(30.0));
        assert_eq!(sps.codec_string(), "avc1.64001f");
    }

    #[test]
    fn x264_1080p_high_is_cropped_from_1088() {
        let sps = Sps::parse(&hex(X264_1080P30_HIGH)).unwrap();
        assert_eq!((sps.width, sps.height), (1920, 1080));
        assert_eq!(sps.codec_string(), "avc1.640028");
        assert_eq!(sps.fps(), Some(30.0));
    }

    #[test]
    fn x264_baseline() {
        let sps = Sps::parse(&hex(X264_360P30_BASELINE)).unwrap();
        assert_eq!(sps.profile_idc, 66);
        assert_eq!(sps.constraint_flags, 0xc0);
        assert_eq!((sps.width, sps.height), (640, 360));
        assert_eq!(sps.codec_string(), "avc1.42c01e");
        // WebCodecs' constrained baseline sets constraint_set2 too (42e01f): same syntax.
        let mut nal = hex(X264_360P30_BASELINE);
        nal[2] = 0xe0;
        nal[3] = 0x1f;
        let sps = Sps::parse(&nal).unwrap();
        assert_eq!(sps.codec_string(), "avc1.42e01f");
        assert_eq!((sps.width, sps.height), (640, 360));
    }

    #[test]
    fn x264_high444_uses_4_4_4_crop_units() {
        let sps = Sps::parse(&hex(X264_1080P30_HIGH444)).unwrap();
        assert_eq!(sps.profile_idc, 244);
        assert_eq!(sps.chroma_format_idc, 3);
        assert!(!sps.separate_colour_plane);
        assert_eq!((sps.width, sps.height), (1920, 1080));
        assert_eq!(sps.fps(), Some(30.0));
    }

    #[test]
    fn x264_25fps() {
        let sps = Sps::parse(&hex(X264_720P25_HIGH)).unwrap();
        assert_eq!(sps.frame_rate(), Some((50, 2)));
        assert_eq!(sps.fps(), Some(25.0));
    }

    /// Builds a High-profile 4:2:0 SPS with scaling matrices, the bits x264 never writes.
    fn high_sps_with_scaling_lists(interlaced: bool) -> Vec<u8> {
        let mut w = BitWriter::new();
        w.write_bits(100, 8); // profile_idc
        w.write_bits(0, 8); // constraint flags
        w.write_bits(40, 8); // level_idc
        w.write_ue(0); // sps id
        w.write_ue(1); // chroma_format_idc
        w.write_ue(0); // bit_depth_luma_minus8
        w.write_ue(2); // bit_depth_chroma_minus8
        w.write_bit(false); // qpprime
        w.write_bit(true); // seq_scaling_matrix_present
        for i in 0..8 {
            match i {
                // A full 4x4 list of non-zero deltas.
                0 => {
                    w.write_bit(true);
                    for d in 0..16 {
                        w.write_se(if d % 2 == 0 { 3 } else { -2 });
                    }
                }
                // A list that ends early: next_scale 0 (delta -8 from 8) stops the deltas.
                1 => {
                    w.write_bit(true);
                    w.write_se(-8);
                }
                // A full 8x8 list with wrap-around deltas (8, 135, 8, …: never 0).
                6 => {
                    w.write_bit(true);
                    for j in 0..64 {
                        w.write_se(if j % 2 == 0 { 127 } else { -127 });
                    }
                }
                _ => w.write_bit(false),
            }
        }
        w.write_ue(0); // log2_max_frame_num_minus4
        w.write_ue(1); // pic_order_cnt_type 1
        w.write_bit(false);
        w.write_se(-3);
        w.write_se(5);
        w.write_ue(2);
        w.write_se(1);
        w.write_se(-1);
        w.write_ue(4); // max_num_ref_frames
        w.write_bit(false);
        w.write_ue(119); // 1920 / 16 - 1
        if interlaced {
            w.write_ue(33); // 34 map units of 32 lines: 1088
            w.write_bit(false); // frame_mbs_only
            w.write_bit(true); // mb_adaptive_frame_field
        } else {
            w.write_ue(67); // 68 * 16 = 1088
            w.write_bit(true);
        }
        w.write_bit(true); // direct_8x8
        w.write_bit(true); // frame_cropping
        w.write_ue(0);
        w.write_ue(0);
        w.write_ue(0);
        w.write_ue(if interlaced { 2 } else { 4 }); // 8 lines either way
        w.write_bit(true); // vui
        w.write_bit(true); // aspect_ratio_info
        w.write_bits(255, 8);
        w.write_bits(4, 16);
        w.write_bits(3, 16);
        w.write_bit(false); // overscan
        w.write_bit(true); // video_signal_type
        w.write_bits(5, 3);
        w.write_bit(false);
        w.write_bit(true);
        w.write_bits(0x010101, 24);
        w.write_bit(true); // chroma_loc
        w.write_ue(0);
        w.write_ue(0);
        w.write_bit(true); // timing
        w.write_bits(1001, 32);
        w.write_bits(60000, 32);
        w.write_bit(true);
        w.write_bit(true); // rbsp stop bit
        let mut nal = vec![0x67];
        // Insert emulation prevention the way an encoder must.
        let mut zeros = 0;
        for b in w.finish() {
            if zeros >= 2 && b <= 3 {
                nal.push(3);
                zeros = 0;
            }
            zeros = if b == 0 { zeros + 1 } else { 0 };
            nal.push(b);
        }
        nal
    }

    #[test]
    fn skips_scaling_matrices() {
        for interlaced in [false, true] {
            let sps = Sps::parse(&high_sps_with_scaling_lists(interlaced)).unwrap();
            assert_eq!((sps.width, sps.height), (1920, 1080), "{interlaced}");
            assert_eq!(sps.frame_mbs_only, !interlaced);
            assert_eq!(sps.bit_depth_chroma, 10);
            assert_eq!(sps.sample_aspect_ratio, Some((4, 3)));
            let t = sps.timing.unwrap();
            assert_eq!((t.num_units_in_tick, t.time_scale), (1001, 60000));
            assert!((sps.fps().unwrap() - 29.97).abs() < 0.01);
        }
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(Sps::parse(&[]), Err(CodecError::Truncated("SPS")));
        assert!(matches!(
            Sps::parse(&hex("68ebe3cb22c0")),
            Err(CodecError::WrongNalType {
                expected: 7,
                found: 8
            })
        ));
        let full = hex(X264_720P30_HIGH);
        for len in 1..12 {
            assert!(Sps::parse(&full[..len]).is_err(), "len {len}");
        }
        // Cropping more than the picture.
        let mut w = BitWriter::new();
        w.write_bits(66, 8);
        w.write_bits(0, 8);
        w.write_bits(30, 8);
        w.write_ue(0);
        w.write_ue(0);
        w.write_ue(2);
        w.write_ue(1);
        w.write_bit(false);
        w.write_ue(0);
        w.write_ue(0);
        w.write_bit(true);
        w.write_bit(true);
        w.write_bit(true);
        for c in [5, 5, 0, 0] {
            w.write_ue(c);
        }
        w.write_bit(false);
        let mut nal = vec![0x67];
        nal.extend(w.finish());
        assert!(matches!(Sps::parse(&nal), Err(CodecError::Invalid(_))));
    }
}
