//! AVCDecoderConfigurationRecord (`avcC`, ISO/IEC 14496-15 §5.3.3): the H.264 decoder
//! configuration carried by an FLV/RTMP AVC sequence header and by MP4's `avcC` box.
//!
//! Parsing keeps the SPS/PPS as zero-copy slices of the input, and keeps the High-profile
//! trailer (chroma format, bit depths, SPS extensions) when present, so that rebuilding a
//! parsed record gives the same bytes that came in.

use bytes::{BufMut, Bytes, BytesMut};

use super::CodecError;
use super::sps::Sps;

/// The High-profile trailer of an `avcC`: ISO/IEC 14496-15 defines it for profiles 100, 110,
/// 122 and 144; ffmpeg writes it for every profile but Baseline/Main/Extended (so 244 too),
/// and some encoders leave it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvcConfigExt {
    /// `chroma_format` (0..=3).
    pub chroma_format: u8,
    /// `bit_depth_luma_minus8` (0..=7).
    pub bit_depth_luma_minus8: u8,
    /// `bit_depth_chroma_minus8` (0..=7).
    pub bit_depth_chroma_minus8: u8,
    /// SPS extension NAL units.
    pub sps_ext: Vec<Bytes>,
}

/// An AVCDecoderConfigurationRecord.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvcConfig {
    /// `AVCProfileIndication` (the SPS `profile_idc`).
    pub profile: u8,
    /// `profile_compatibility` (the SPS constraint flags byte).
    pub compatibility: u8,
    /// `AVCLevelIndication` (the SPS `level_idc`).
    pub level: u8,
    /// Size in bytes of the NAL unit length prefixes in samples: 1, 2 or 4 (3 is accepted).
    pub nal_length_size: u8,
    /// Sequence parameter sets, each a whole NAL unit with its header byte.
    pub sps: Vec<Bytes>,
    /// Picture parameter sets, each a whole NAL unit with its header byte.
    pub pps: Vec<Bytes>,
    /// The High-profile trailer, if the record has one.
    pub ext: Option<AvcConfigExt>,
}

/// Profiles that may carry the trailer: all but Baseline, Main and Extended, as ffmpeg
/// writes it (a superset of the 100/110/122/144 the standard lists).
fn profile_has_ext(profile: u8) -> bool {
    !matches!(profile, 66 | 77 | 88)
}

/// A cursor over the record with bounds-checked reads.
struct Reader<'a> {
    data: &'a Bytes,
    pos: usize,
}

impl Reader<'_> {
    fn u8(&mut self) -> Result<u8, CodecError> {
        let b = *self
            .data
            .get(self.pos)
            .ok_or(CodecError::Truncated("AVCDecoderConfigurationRecord"))?;
        self.pos += 1;
        Ok(b)
    }

    fn nal_units(&mut self, count: usize) -> Result<Vec<Bytes>, CodecError> {
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            let len = usize::from(u16::from_be_bytes([self.u8()?, self.u8()?]));
            let end = self
                .pos
                .checked_add(len)
                .filter(|end| *end <= self.data.len())
                .ok_or(CodecError::Truncated("parameter set in avcC"))?;
            out.push(self.data.slice(self.pos..end));
            self.pos = end;
        }
        Ok(out)
    }
}

impl Reader<'_> {
    fn ext(&mut self) -> Result<AvcConfigExt, CodecError> {
        Ok(AvcConfigExt {
            chroma_format: self.u8()? & 0x03,
            bit_depth_luma_minus8: self.u8()? & 0x07,
            bit_depth_chroma_minus8: self.u8()? & 0x07,
            sps_ext: {
                let count = usize::from(self.u8()?);
                self.nal_units(count)?
            },
        })
    }
}

impl AvcConfig {
    /// Parses a record; SPS/PPS are slices of `data`.
    pub fn parse(data: &Bytes) -> Result<Self, CodecError> {
        let mut r = Reader { data, pos: 0 };
        let version = r.u8()?;
        if version != 1 {
            return Err(CodecError::UnsupportedVersion {
                what: "AVCDecoderConfigurationRecord",
                version,
            });
        }
        let profile = r.u8()?;
        let compatibility = r.u8()?;
        let level = r.u8()?;
        // 3-byte lengths are not allowed by the standard but harmless: accept them.
        let nal_length_size = (r.u8()? & 0x03) + 1;
        let sps_count = usize::from(r.u8()? & 0x1f);
        let sps = r.nal_units(sps_count)?;
        let pps_count = usize::from(r.u8()?);
        let pps = r.nal_units(pps_count)?;

        // The trailer is optional in practice even for High profiles: parse it only when
        // it is there, and ignore a partial one as ffmpeg does.
        let mut ext = None;
        if profile_has_ext(profile) && data.len().saturating_sub(r.pos) >= 4 {
            ext = r.ext().ok();
        }
        Ok(Self {
            profile,
            compatibility,
            level,
            nal_length_size,
            sps,
            pps,
            ext,
        })
    }

    /// Builds a record from parameter sets: profile, compatibility and level come from the
    /// first SPS, and for High profiles the trailer is filled from the parsed SPS.
    pub fn from_parameter_sets(sps: Vec<Bytes>, pps: Vec<Bytes>) -> Result<Self, CodecError> {
        let first = sps.first().ok_or(CodecError::MissingParameterSet("SPS"))?;
        if pps.is_empty() {
            return Err(CodecError::MissingParameterSet("PPS"));
        }
        let parsed = Sps::parse(first)?;
        let ext = profile_has_ext(parsed.profile_idc).then(|| AvcConfigExt {
            chroma_format: (parsed.chroma_format_idc & 0x03) as u8,
            bit_depth_luma_minus8: parsed.bit_depth_luma.saturating_sub(8),
            bit_depth_chroma_minus8: parsed.bit_depth_chroma.saturating_sub(8),
            sps_ext: Vec::new(),
        });
        Ok(Self {
            profile: parsed.profile_idc,
            compatibility: parsed.constraint_flags,
            level: parsed.level_idc,
            nal_length_size: 4,
            sps,
            pps,
            ext,
        })
    }

    /// Appends the record to `out`. Checks everything first, so on error nothing is written.
    pub fn build(&self, out: &mut BytesMut) -> Result<(), CodecError> {
        if !(1..=4).contains(&self.nal_length_size) {
            return Err(CodecError::NotEncodable("NAL length size outside 1..=4"));
        }
        if self.sps.len() > 31 {
            return Err(CodecError::NotEncodable("more than 31 SPS"));
        }
        let ext_count = self.ext.as_ref().map_or(0, |e| e.sps_ext.len());
        if self.pps.len() > 255 || ext_count > 255 {
            return Err(CodecError::NotEncodable(
                "more than 255 PPS or SPS extensions",
            ));
        }
        let all_sets = self
            .sps
            .iter()
            .chain(&self.pps)
            .chain(self.ext.iter().flat_map(|e| &e.sps_ext));
        let mut size = 7;
        for set in all_sets {
            if set.len() > usize::from(u16::MAX) {
                return Err(CodecError::NotEncodable("parameter set over 65535 bytes"));
            }
            size += 2 + set.len();
        }
        out.reserve(size + 4);
        out.put_u8(1);
        out.put_u8(self.profile);
        out.put_u8(self.compatibility);
        out.put_u8(self.level);
        out.put_u8(0xfc | (self.nal_length_size - 1));
        // Counts were checked above; the casts cannot truncate.
        out.put_u8(0xe0 | self.sps.len() as u8);
        put_sets(out, &self.sps);
        out.put_u8(self.pps.len() as u8);
        put_sets(out, &self.pps);
        if let Some(e) = &self.ext {
            out.put_u8(0xfc | (e.chroma_format & 0x03));
            out.put_u8(0xf8 | (e.bit_depth_luma_minus8 & 0x07));
            out.put_u8(0xf8 | (e.bit_depth_chroma_minus8 & 0x07));
            out.put_u8(e.sps_ext.len() as u8);
            put_sets(out, &e.sps_ext);
        }
        Ok(())
    }

    /// The record as a new buffer.
    pub fn to_bytes(&self) -> Result<Bytes, CodecError> {
        let mut out = BytesMut::new();
        self.build(&mut out)?;
        Ok(out.freeze())
    }

    /// The RFC 6381 codec string, e.g. `avc1.64001f`.
    pub fn codec_string(&self) -> String {
        format!(
            "avc1.{:02x}{:02x}{:02x}",
            self.profile, self.compatibility, self.level
        )
    }

    /// Parses the first SPS (picture size, frame rate).
    pub fn parse_sps(&self) -> Result<Sps, CodecError> {
        Sps::parse(
            self.sps
                .first()
                .ok_or(CodecError::MissingParameterSet("SPS"))?,
        )
    }
}

/// Writes 16-bit-length-prefixed parameter sets (lengths checked by the caller).
fn put_sets(out: &mut BytesMut, sets: &[Bytes]) {
    for set in sets {
        out.put_u16(set.len() as u16);
        out.put_slice(set);
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn hex(s: &str) -> Bytes {
        crate::codec::hex(s).into()
    }

    // The avcC ffmpeg wrote into FLV for x264 1080p High (with the trailer fd f8 f8 00)
    // and 320x240 Baseline (no trailer).
    const FFMPEG_HIGH: &str = "01640028ffe1001b67640028acd940780227e5c044000003000400000300f03c\
                               60c65801000668ebe3cb22c0fdf8f800";
    const FFMPEG_BASELINE: &str =
        "0142c00dffe100186742c00dd90141fb0110000003001000000303c0f142a48001000568cb83cb20";

    #[test]
    fn parses_ffmpeg_high_with_trailer() {
        let data = hex(FFMPEG_HIGH);
        let c = AvcConfig::parse(&data).unwrap();
        assert_eq!((c.profile, c.compatibility, c.level), (100, 0, 40));
        assert_eq!(c.nal_length_size, 4);
        assert_eq!(c.sps.len(), 1);
        assert_eq!(c.sps[0].len(), 27);
        assert_eq!(c.pps, vec![hex("68ebe3cb22c0")]);
        let ext = c.ext.clone().unwrap();
        assert_eq!(ext.chroma_format, 1);
        assert_eq!(
            (ext.bit_depth_luma_minus8, ext.bit_depth_chroma_minus8),
            (0, 0)
        );
        assert!(ext.sps_ext.is_empty());
        assert_eq!(c.codec_string(), "avc1.640028");
        let sps = c.parse_sps().unwrap();
        assert_eq!((sps.width, sps.height), (1920, 1080));
        assert_eq!(c.to_bytes().unwrap(), data);
    }

    #[test]
    fn parses_baseline_without_trailer() {
        let data = hex(FFMPEG_BASELINE);
        let c = AvcConfig::parse(&data).unwrap();
        assert_eq!(c.codec_string(), "avc1.42c00d");
        assert!(c.ext.is_none());
        assert_eq!(c.parse_sps().unwrap().width, 320);
        assert_eq!(c.to_bytes().unwrap(), data);
    }

    #[test]
    fn parses_ffmpeg_high444_and_main() {
        // Profile 244: ffmpeg writes the trailer with chroma_format 3.
        let data = hex(
            "01f40028ffe1001b67f40028919b280f0044fc4e0220000003002000000781e30632c0\
                        01000668ebe3c44844fff8f800",
        );
        let c = AvcConfig::parse(&data).unwrap();
        assert_eq!(c.ext.as_ref().unwrap().chroma_format, 3);
        assert_eq!(c.codec_string(), "avc1.f40028");
        assert_eq!(c.to_bytes().unwrap(), data);
        let built = AvcConfig::from_parameter_sets(c.sps.clone(), c.pps.clone()).unwrap();
        assert_eq!(built.to_bytes().unwrap(), data);
        // Main profile: no trailer.
        let data = hex(
            "014d401fffe10019674d401feca02802dd8088000003000800000301e078c18cb0\
                        01000568ebe3cb20",
        );
        let c = AvcConfig::parse(&data).unwrap();
        assert!(c.ext.is_none());
        assert_eq!(c.codec_string(), "avc1.4d401f");
        assert_eq!(
            (c.parse_sps().unwrap().width, c.parse_sps().unwrap().height),
            (1280, 720)
        );
        assert_eq!(c.to_bytes().unwrap(), data);
    }

    #[test]
    fn high_profile_without_trailer_round_trips() {
        // Drop the 4 trailer bytes: older encoders write High-profile records like this.
        let full = hex(FFMPEG_HIGH);
        let data = full.slice(..full.len() - 4);
        let c = AvcConfig::parse(&data).unwrap();
        assert!(c.ext.is_none());
        assert_eq!(c.to_bytes().unwrap(), data);
    }

    #[test]
    fn trailer_with_sps_ext_round_trips() {
        let mut data = BytesMut::from(&hex(FFMPEG_HIGH)[..]);
        data.truncate(data.len() - 4);
        data.extend_from_slice(&[0xfd, 0xfa, 0xf9, 0x01, 0x00, 0x02, 0x6d, 0x10]);
        let data = data.freeze();
        let c = AvcConfig::parse(&data).unwrap();
        let ext = c.ext.clone().unwrap();
        assert_eq!(
            (ext.bit_depth_luma_minus8, ext.bit_depth_chroma_minus8),
            (2, 1)
        );
        assert_eq!(ext.sps_ext, vec![Bytes::from_static(&[0x6d, 0x10])]);
        assert_eq!(c.to_bytes().unwrap(), data);
    }

    #[test]
    fn from_parameter_sets_matches_ffmpeg() {
        let ffmpeg = AvcConfig::parse(&hex(FFMPEG_HIGH)).unwrap();
        let built = AvcConfig::from_parameter_sets(ffmpeg.sps.clone(), ffmpeg.pps.clone()).unwrap();
        assert_eq!(built, ffmpeg);
        assert_eq!(built.to_bytes().unwrap(), hex(FFMPEG_HIGH));
        let baseline = AvcConfig::parse(&hex(FFMPEG_BASELINE)).unwrap();
        let built =
            AvcConfig::from_parameter_sets(baseline.sps.clone(), baseline.pps.clone()).unwrap();
        assert_eq!(built.to_bytes().unwrap(), hex(FFMPEG_BASELINE));
        assert_eq!(
            AvcConfig::from_parameter_sets(vec![], baseline.pps.clone()),
            Err(CodecError::MissingParameterSet("SPS"))
        );
        assert_eq!(
            AvcConfig::from_parameter_sets(baseline.sps, vec![]),
            Err(CodecError::MissingParameterSet("PPS"))
        );
    }

    #[test]
    fn rejects_bad_records() {
        assert!(matches!(
            AvcConfig::parse(&Bytes::new()),
            Err(CodecError::Truncated(_))
        ));
        assert!(matches!(
            AvcConfig::parse(&hex("0264001fff")),
            Err(CodecError::UnsupportedVersion { version: 2, .. })
        ));
        let full = hex(FFMPEG_BASELINE);
        for len in 0..full.len() {
            assert!(AvcConfig::parse(&full.slice(..len)).is_err(), "len {len}");
        }
        // An SPS length running past the end.
        assert!(matches!(
            AvcConfig::parse(&hex("0142c00dffe1ffff6742")),
            Err(CodecError::Truncated(_))
        ));
    }

    #[test]
    fn build_rejects_unencodable() {
        let mut c = AvcConfig::parse(&hex(FFMPEG_BASELINE)).unwrap();
        c.nal_length_size = 5;
        let mut out = BytesMut::new();
        assert!(c.build(&mut out).is_err());
        assert!(out.is_empty());
        c.nal_length_size = 2;
        c.sps = vec![Bytes::from(vec![0x67; 70_000])];
        assert!(c.build(&mut out).is_err());
        assert!(out.is_empty());
    }
}
