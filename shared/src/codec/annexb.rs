//! H.264 NAL unit framing: Annex B byte streams (`00 00 01` / `00 00 00 01` start codes)
//! and AVCC samples (big-endian length prefixes, as in FLV, RTMP and MP4).
//!
//! Encoders and MPEG-TS speak Annex B; FLV and fMP4 speak AVCC. The iterators here split
//! either form into NAL units without copying; the converters append to a caller's buffer.
//! A length prefix that runs past the buffer is an error, never a panic.

use bytes::{BufMut, Bytes, BytesMut};

use super::CodecError;
use super::avc::AvcConfig;

/// Non-IDR coded slice.
pub const NAL_SLICE: u8 = 1;
/// IDR coded slice: the start of a keyframe.
pub const NAL_IDR: u8 = 5;
/// Supplemental enhancement information.
pub const NAL_SEI: u8 = 6;
/// Sequence parameter set.
pub const NAL_SPS: u8 = 7;
/// Picture parameter set.
pub const NAL_PPS: u8 = 8;
/// Access unit delimiter.
pub const NAL_AUD: u8 = 9;
/// End of sequence.
pub const NAL_END_OF_SEQUENCE: u8 = 10;
/// End of stream.
pub const NAL_END_OF_STREAM: u8 = 11;
/// Filler data.
pub const NAL_FILLER: u8 = 12;

/// The `nal_unit_type` (low 5 bits of the header byte), or `None` for an empty unit.
pub fn nal_type(nal: &[u8]) -> Option<u8> {
    nal.first().map(|b| b & 0x1f)
}

/// Whether `data` starts with an Annex B start code.
pub fn is_annexb(data: &[u8]) -> bool {
    data.starts_with(&[0, 0, 1]) || data.starts_with(&[0, 0, 0, 1])
}

/// Finds the next `00 00 01` at or after `from`: returns (index of its first byte, index
/// after it).
fn find_start_code(data: &[u8], from: usize) -> Option<(usize, usize)> {
    let i = data.get(from..)?.windows(3).position(|w| w == [0, 0, 1])?;
    Some((from + i, from + i + 3))
}

/// Iterator over the NAL units of an Annex B byte stream; see [`annexb_nals`].
#[derive(Debug, Clone)]
pub struct AnnexBNals<'a> {
    data: &'a [u8],
    /// Start of the next NAL unit (just after a start code).
    pos: usize,
}

/// Splits an Annex B stream into NAL units (without start codes or trailing zero bytes).
/// Bytes before the first start code are skipped; empty units are not yielded. For
/// zero-copy `Bytes`, use [`annexb_nal_bytes`] or `Bytes::slice_ref` on each unit.
pub fn annexb_nals(data: &[u8]) -> AnnexBNals<'_> {
    let pos = find_start_code(data, 0).map_or(data.len(), |(_, after)| after);
    AnnexBNals { data, pos }
}

impl<'a> Iterator for AnnexBNals<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        while self.pos < self.data.len() {
            let start = self.pos;
            let end = match find_start_code(self.data, start) {
                Some((sc, after)) => {
                    self.pos = after;
                    sc
                }
                None => {
                    self.pos = self.data.len();
                    self.data.len()
                }
            };
            let mut nal = self.data.get(start..end).unwrap_or_default();
            // A NAL unit never ends in 00 (rbsp_trailing_bits), so zeros here belong to a
            // 4-byte start code or are trailing_zero_8bits.
            while let [rest @ .., 0] = nal {
                nal = rest;
            }
            if !nal.is_empty() {
                return Some(nal);
            }
        }
        None
    }
}

/// Like [`annexb_nals`], yielding zero-copy slices of `data`.
pub fn annexb_nal_bytes(data: &Bytes) -> impl Iterator<Item = Bytes> + '_ {
    annexb_nals(data).map(|nal| data.slice_ref(nal))
}

/// Iterator over length-prefixed NAL units; see [`avcc_nals`].
#[derive(Debug, Clone)]
pub struct AvccNals<'a> {
    data: &'a [u8],
    length_size: usize,
    failed: bool,
}

/// Splits an AVCC sample (NAL units each preceded by a `length_size`-byte big-endian
/// length, 1..=4) into NAL units. Yields an error, then stops, if a length runs past the
/// buffer or `length_size` is invalid.
pub fn avcc_nals(data: &[u8], length_size: u8) -> AvccNals<'_> {
    AvccNals {
        data,
        length_size: usize::from(length_size),
        failed: false,
    }
}

impl<'a> Iterator for AvccNals<'a> {
    type Item = Result<&'a [u8], CodecError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.data.is_empty() {
            return None;
        }
        let result = self.split_one();
        self.failed = result.is_err();
        Some(result)
    }
}

impl<'a> AvccNals<'a> {
    fn split_one(&mut self) -> Result<&'a [u8], CodecError> {
        if !(1..=4).contains(&self.length_size) {
            return Err(CodecError::Invalid("NAL length size"));
        }
        let prefix = self
            .data
            .get(..self.length_size)
            .ok_or(CodecError::Truncated("NAL length prefix"))?;
        let length = prefix
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        let rest = self.data.get(self.length_size..).unwrap_or_default();
        let nal = rest.get(..length).ok_or(CodecError::NalLengthOverrun {
            length,
            available: rest.len(),
        })?;
        self.data = rest.get(length..).unwrap_or_default();
        Ok(nal)
    }
}

/// Converts an Annex B access unit to AVCC with 4-byte lengths, appending to `out`.
pub fn annexb_to_avcc(data: &[u8], out: &mut BytesMut) -> Result<(), CodecError> {
    for nal in annexb_nals(data) {
        let len = u32::try_from(nal.len())
            .map_err(|_| CodecError::NotEncodable("NAL unit of 4 GiB or more"))?;
        out.reserve(4 + nal.len());
        out.put_u32(len);
        out.put_slice(nal);
    }
    Ok(())
}

/// Converts an AVCC sample to Annex B with 4-byte start codes, appending to `out`.
/// On error `out` may hold the units before the bad one.
pub fn avcc_to_annexb(data: &[u8], length_size: u8, out: &mut BytesMut) -> Result<(), CodecError> {
    for nal in avcc_nals(data, length_size) {
        let nal = nal?;
        if nal.is_empty() {
            continue;
        }
        out.reserve(4 + nal.len());
        out.put_slice(&[0, 0, 0, 1]);
        out.put_slice(nal);
    }
    Ok(())
}

/// Builds a decoder configuration from the SPS and PPS found in an Annex B access unit
/// (duplicates dropped, order kept), e.g. an encoder's first keyframe.
pub fn avc_config_from_annexb(au: &Bytes) -> Result<AvcConfig, CodecError> {
    let mut sps: Vec<Bytes> = Vec::new();
    let mut pps: Vec<Bytes> = Vec::new();
    for nal in annexb_nal_bytes(au) {
        let list = match nal_type(&nal) {
            Some(NAL_SPS) => &mut sps,
            Some(NAL_PPS) => &mut pps,
            _ => continue,
        };
        if !list.contains(&nal) {
            list.push(nal);
        }
    }
    AvcConfig::from_parameter_sets(sps, pps)
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::codec::hex;

    const SPS: &str = "67640028acd940780227e5c044000003000400000300f03c60c658";
    const PPS: &str = "68ebe3cb22c0";
    // The avcC ffmpeg muxed into FLV for that SPS/PPS.
    const AVCC: &str = "01640028ffe1001b67640028acd940780227e5c044000003000400000300f03c\
                        60c65801000668ebe3cb22c0fdf8f800";

    #[test]
    fn splits_annexb_with_both_start_codes() {
        let data = [
            0xff, 0xff, // garbage before the first start code
            0, 0, 0, 1, 0x67, 1, 2, // 4-byte start code
            0, 0, 1, 0x68, 3, // 3-byte start code
            0, 0, 0, 1, 0, 0, 1, // an empty unit
            0x65, 0, 0, 3, 0, 9, 0, 0, // emulation prevention kept, trailing zeros dropped
        ];
        let nals: Vec<&[u8]> = annexb_nals(&data).collect();
        assert_eq!(
            nals,
            vec![&[0x67, 1, 2][..], &[0x68, 3], &[0x65, 0, 0, 3, 0, 9]]
        );
        assert_eq!(
            nals.iter().map(|n| nal_type(n)).collect::<Vec<_>>(),
            vec![Some(NAL_SPS), Some(NAL_PPS), Some(NAL_IDR)]
        );
        assert!(is_annexb(&data[2..]));
        assert!(!is_annexb(&data));
        assert_eq!(annexb_nals(&[1, 2, 3]).count(), 0);
        assert_eq!(annexb_nals(&[]).count(), 0);
        assert_eq!(annexb_nals(&[0, 0, 1]).count(), 0);
        assert_eq!(nal_type(&[]), None);
    }

    #[test]
    fn annexb_bytes_are_zero_copy() {
        let data = Bytes::from(vec![0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x41, 7]);
        let nals: Vec<Bytes> = annexb_nal_bytes(&data).collect();
        assert_eq!(
            nals,
            vec![
                Bytes::from_static(&[0x09, 0xf0]),
                Bytes::from_static(&[0x41, 7])
            ]
        );
        assert_eq!(nals[1].as_ptr(), data[8..].as_ptr());
    }

    #[test]
    fn converts_both_ways() {
        let annexb = [
            0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 1, 0x65, 4, 5, 6,
        ];
        let mut avcc = BytesMut::new();
        annexb_to_avcc(&annexb, &mut avcc).unwrap();
        assert_eq!(
            &avcc[..],
            &[
                0, 0, 0, 3, 0x67, 1, 2, 0, 0, 0, 2, 0x68, 3, 0, 0, 0, 4, 0x65, 4, 5, 6
            ]
        );
        let nals: Vec<&[u8]> = avcc_nals(&avcc, 4).map(Result::unwrap).collect();
        assert_eq!(nals, vec![&[0x67, 1, 2][..], &[0x68, 3], &[0x65, 4, 5, 6]]);
        let mut back = BytesMut::new();
        avcc_to_annexb(&avcc, 4, &mut back).unwrap();
        assert_eq!(
            &back[..],
            &[
                0, 0, 0, 1, 0x67, 1, 2, 0, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 4, 5, 6
            ]
        );
        // Shorter length prefixes.
        let two = [0, 2, 0x41, 9, 0, 1, 0x41];
        let nals: Vec<&[u8]> = avcc_nals(&two, 2).map(Result::unwrap).collect();
        assert_eq!(nals, vec![&[0x41, 9][..], &[0x41]]);
        let one = [1, 0x41, 0];
        let nals: Vec<&[u8]> = avcc_nals(&one, 1).map(Result::unwrap).collect();
        assert_eq!(nals, vec![&[0x41][..], &[]]);
    }

    #[test]
    fn avcc_errors_stop_the_iterator() {
        let overrun = [0, 0, 0, 2, 0x41, 9, 0, 0, 0, 9, 0x41];
        let mut it = avcc_nals(&overrun, 4);
        assert_eq!(it.next(), Some(Ok(&[0x41, 9][..])));
        assert_eq!(
            it.next(),
            Some(Err(CodecError::NalLengthOverrun {
                length: 9,
                available: 1
            }))
        );
        assert_eq!(it.next(), None);
        let mut it = avcc_nals(&[0, 0], 4);
        assert_eq!(
            it.next(),
            Some(Err(CodecError::Truncated("NAL length prefix")))
        );
        assert_eq!(it.next(), None);
        assert!(matches!(
            avcc_nals(&[0, 1, 2], 0).next(),
            Some(Err(CodecError::Invalid(_)))
        ));
        assert!(matches!(
            avcc_nals(&[0, 1, 2], 5).next(),
            Some(Err(CodecError::Invalid(_)))
        ));
        let mut out = BytesMut::new();
        assert!(avcc_to_annexb(&overrun, 4, &mut out).is_err());
        assert_eq!(avcc_nals(&[], 4).next(), None);
    }

    #[test]
    fn config_from_annexb_keyframe_matches_ffmpeg() {
        let mut au = vec![0, 0, 0, 1, 0x09, 0xf0];
        for nal in [SPS, PPS, SPS, "0605ffff", "65888400"] {
            au.extend_from_slice(&[0, 0, 0, 1]);
            au.extend(hex(nal));
        }
        let config = avc_config_from_annexb(&Bytes::from(au)).unwrap();
        assert_eq!(config.sps.len(), 1);
        assert_eq!(&config.to_bytes().unwrap()[..], &hex(AVCC)[..]);
        assert_eq!(config.codec_string(), "avc1.640028");
    }

    #[test]
    fn config_from_annexb_needs_both_parameter_sets() {
        let mut au = vec![0, 0, 0, 1];
        au.extend(hex(SPS));
        assert_eq!(
            avc_config_from_annexb(&Bytes::from(au)),
            Err(CodecError::MissingParameterSet("PPS"))
        );
        assert_eq!(
            avc_config_from_annexb(&Bytes::from_static(&[0, 0, 1, 0x65, 1])),
            Err(CodecError::MissingParameterSet("SPS"))
        );
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn avcc_annexb_round_trip(nals in proptest::collection::vec(
            // Realistic units: a non-zero header byte, and a payload free of start codes,
            // ending in a non-zero byte.
            (1u8..=0x7f, proptest::collection::vec(1u8..=255, 0..40)), 0..8)
        ) {
            let mut avcc = BytesMut::new();
            for (h, body) in &nals {
                avcc.put_u32(body.len() as u32 + 1);
                avcc.put_u8(*h);
                avcc.put_slice(body);
            }
            let mut annexb = BytesMut::new();
            avcc_to_annexb(&avcc, 4, &mut annexb).unwrap();
            let mut back = BytesMut::new();
            annexb_to_avcc(&annexb, &mut back).unwrap();
            prop_assert_eq!(back, avcc);
        }

        #[test]
        fn iterators_never_panic(data in proptest::collection::vec(any::<u8>(), 0..64), size in 0u8..6) {
            let _ = annexb_nals(&data).count();
            let _ = avcc_nals(&data, size).count();
        }
    }
}
