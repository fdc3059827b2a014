//! Elementary stream framing for TS: H.264 AVCC → Annex B, and ADTS headers for AAC.
//!
//! FLV/MP4 carry H.264 as AVCC (length-prefixed NAL units, parameter sets out of band) and
//! AAC as raw frames (config out of band). A TS demuxer has no out-of-band channel, so the
//! muxer puts the config in band: start codes, an access unit delimiter (HLS and many
//! hardware decoders want one per access unit), SPS/PPS before each keyframe so a player
//! can start at any segment, and a self-describing ADTS header on every AAC frame.

use bytes::{BufMut, BytesMut};

use super::{TsAudioConfig, TsError, TsVideoConfig};

const START_CODE: [u8; 4] = [0, 0, 0, 1];
/// Access unit delimiter NAL: type 9, primary_pic_type 7 (any slice type), stop bit.
const AUD: [u8; 2] = [0x09, 0xf0];
const NAL_SPS: u8 = 7;
const NAL_AUD: u8 = 9;
/// ADTS header length without CRC.
pub const ADTS_HEADER_LEN: usize = 7;
/// Largest `frame_length` ADTS can carry (13 bits), header included.
pub const MAX_ADTS_FRAME_LEN: usize = (1 << 13) - 1;

/// The NAL units of an AVCC access unit, checked: every length prefix fits.
pub fn split_avcc(avcc: &[u8], nal_length_size: u8) -> Result<Vec<&[u8]>, TsError> {
    let size = usize::from(nal_length_size);
    if !(1..=4).contains(&size) {
        return Err(TsError::BadNalLengthSize(nal_length_size));
    }
    let mut nals = Vec::new();
    let mut pos = 0;
    while pos < avcc.len() {
        let prefix = avcc.get(pos..pos + size).ok_or(TsError::BadNalLength {
            offset: pos,
            len: size,
            remaining: avcc.len() - pos,
        })?;
        let len = prefix
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        let body = pos + size;
        let remaining = avcc.len() - body;
        // Compare before adding: on 32-bit targets `body + len` could overflow.
        if len > remaining {
            return Err(TsError::BadNalLength {
                offset: pos,
                len,
                remaining,
            });
        }
        let nal = &avcc[body..body + len];
        if !nal.is_empty() {
            nals.push(nal);
        }
        pos = body + len;
    }
    Ok(nals)
}

/// Appends one access unit in Annex B form: AUD, then (on keyframes, unless the access
/// unit carries its own) SPS and PPS, then the access unit's NAL units minus any AUD.
pub fn write_annexb_access_unit(
    config: &TsVideoConfig,
    keyframe: bool,
    nals: &[&[u8]],
    out: &mut impl BufMut,
) {
    put_nal(out, &AUD);
    let has_sps = nals.iter().any(|n| nal_type(n) == NAL_SPS);
    if keyframe && !has_sps {
        for sps in &config.sps {
            put_nal(out, sps);
        }
        for pps in &config.pps {
            put_nal(out, pps);
        }
    }
    for nal in nals.iter().filter(|n| nal_type(n) != NAL_AUD) {
        put_nal(out, nal);
    }
}

/// Bytes [`write_annexb_access_unit`] will append, to reserve once.
pub fn annexb_len(config: &TsVideoConfig, keyframe: bool, nals: &[&[u8]]) -> usize {
    let params: usize = if keyframe {
        config
            .sps
            .iter()
            .chain(&config.pps)
            .map(|n| 4 + n.len())
            .sum()
    } else {
        0
    };
    6 + params + nals.iter().map(|n| 4 + n.len()).sum::<usize>()
}

fn put_nal(out: &mut impl BufMut, nal: &[u8]) {
    out.put_slice(&START_CODE);
    out.put_slice(nal);
}

fn nal_type(nal: &[u8]) -> u8 {
    nal.first().map_or(0, |b| b & 0x1f)
}

/// The fixed fields of an ADTS header, validated from a [`TsAudioConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdtsHeader {
    /// ADTS `profile` (object type − 1): 0 Main, 1 LC, 2 SSR, 3 LTP.
    pub profile: u8,
    /// Sampling frequency index, 0..=12.
    pub sample_rate_index: u8,
    /// Channel configuration, 0..=7.
    pub channels: u8,
}

impl AdtsHeader {
    /// Checks that ADTS can carry `config`; HE-AAC (5, 29) maps to LC (implicit SBR).
    pub fn new(config: TsAudioConfig) -> Result<Self, TsError> {
        let profile = match config.object_type {
            1..=4 => config.object_type - 1,
            5 | 29 => 1,
            _ => 0xff,
        };
        if profile > 3 || config.sample_rate_index > 12 || config.channels > 7 {
            return Err(TsError::UnsupportedAudioConfig {
                object_type: config.object_type,
                sample_rate_index: config.sample_rate_index,
                channels: config.channels,
            });
        }
        Ok(Self {
            profile,
            sample_rate_index: config.sample_rate_index,
            channels: config.channels,
        })
    }
}

/// Appends the 7-byte ADTS header (MPEG-4, no CRC) of a `payload_len`-byte raw AAC frame.
pub fn write_adts_header(
    header: AdtsHeader,
    payload_len: usize,
    out: &mut impl BufMut,
) -> Result<(), TsError> {
    let frame_len = payload_len + ADTS_HEADER_LEN;
    if frame_len > MAX_ADTS_FRAME_LEN {
        return Err(TsError::AudioFrameTooLarge(payload_len));
    }
    // Checked above: 13 bits.
    let len = frame_len as u16;
    out.put_slice(&[
        0xff,
        0xf1, // syncword, MPEG-4, layer 0, protection_absent
        (header.profile << 6) | (header.sample_rate_index << 2) | (header.channels >> 2),
        ((header.channels & 3) << 6) | (len >> 11) as u8,
        (len >> 3) as u8,
        ((len & 7) as u8) << 5 | 0x1f, // buffer fullness 0x7ff: variable bit rate
        0xfc,                          // …fullness, one raw data block
    ]);
    Ok(())
}

/// Appends ADTS header + frame.
pub fn write_adts_frame(
    header: AdtsHeader,
    frame: &[u8],
    out: &mut BytesMut,
) -> Result<(), TsError> {
    write_adts_header(header, frame.len(), out)?;
    out.put_slice(frame);
    Ok(())
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use bytes::Bytes;

    use super::*;

    fn config() -> TsVideoConfig {
        TsVideoConfig::new(
            vec![Bytes::from_static(&[0x67, 0x64, 0x00, 0x1f])],
            vec![Bytes::from_static(&[0x68, 0xeb])],
        )
    }

    #[test]
    fn avcc_keyframe_becomes_annexb_with_aud_and_parameter_sets() {
        let avcc = [0, 0, 0, 2, 0x09, 0x10, 0, 0, 0, 3, 0x65, 0x88, 0x84];
        let nals = split_avcc(&avcc, 4).unwrap();
        let mut out = Vec::new();
        write_annexb_access_unit(&config(), true, &nals, &mut out);
        let expected: &[u8] = &[
            0, 0, 0, 1, 0x09, 0xf0, // our AUD (the input's is dropped)
            0, 0, 0, 1, 0x67, 0x64, 0x00, 0x1f, // SPS
            0, 0, 0, 1, 0x68, 0xeb, // PPS
            0, 0, 0, 1, 0x65, 0x88, 0x84, // IDR slice
        ];
        assert_eq!(out, expected);
        assert_eq!(annexb_len(&config(), true, &nals), expected.len() + 6);
    }

    #[test]
    fn in_band_parameter_sets_are_not_duplicated() {
        let avcc = [0, 2, 0x67, 0x42, 0, 1, 0x68, 0, 2, 0x65, 0x88];
        let nals = split_avcc(&avcc, 2).unwrap();
        let mut out = Vec::new();
        write_annexb_access_unit(&config(), true, &nals, &mut out);
        assert_eq!(out.len(), 6 + 6 + 5 + 6);
        let mut delta = Vec::new();
        write_annexb_access_unit(&config(), false, &nals[2..], &mut delta);
        assert_eq!(delta, [0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1, 0x65, 0x88]);
    }

    #[test]
    fn malformed_avcc_is_an_error() {
        assert_eq!(
            split_avcc(&[0, 0, 0, 9, 0x65, 1], 4),
            Err(TsError::BadNalLength {
                offset: 0,
                len: 9,
                remaining: 2
            })
        );
        assert_eq!(
            split_avcc(&[0, 0, 0, 1, 0x65, 0, 0], 4),
            Err(TsError::BadNalLength {
                offset: 5,
                len: 4,
                remaining: 2
            })
        );
        assert_eq!(split_avcc(&[], 0), Err(TsError::BadNalLengthSize(0)));
        assert_eq!(split_avcc(&[], 4), Ok(vec![]));
    }

    #[test]
    fn adts_header_for_aac_lc_44100_stereo() {
        let header = AdtsHeader::new(TsAudioConfig {
            object_type: 2,
            sample_rate_index: 4,
            channels: 2,
        })
        .unwrap();
        let mut out = Vec::new();
        write_adts_header(header, 371, &mut out).unwrap();
        // frame_length 378 = 0b0_0001_0111_1010.
        assert_eq!(out, [0xff, 0xf1, 0x50, 0x80, 0x2f, 0x5f, 0xfc]);
    }

    #[test]
    fn adts_limits() {
        let bad = TsAudioConfig {
            object_type: 42,
            sample_rate_index: 3,
            channels: 2,
        };
        assert!(matches!(
            AdtsHeader::new(bad),
            Err(TsError::UnsupportedAudioConfig { .. })
        ));
        let he = AdtsHeader::new(TsAudioConfig {
            object_type: 5,
            sample_rate_index: 6,
            channels: 1,
        })
        .unwrap();
        assert_eq!(he.profile, 1);
        let mut out = BytesMut::new();
        assert_eq!(
            write_adts_frame(he, &[0; 8185], &mut out),
            Err(TsError::AudioFrameTooLarge(8185))
        );
        write_adts_frame(he, &[0; 8184], &mut out).unwrap();
        assert_eq!(out.len(), 8191);
    }
}
