//! AAC AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1) and ADTS headers.
//!
//! The AudioSpecificConfig is the body of an FLV AAC sequence header and of MP4's `esds`;
//! packagers need its object type (codec string `mp4a.40.N`), sample rate and channels.
//! The fields after the channel configuration (GASpecificConfig, sync extensions such as
//! the `56 e5 00` ffmpeg appends) are kept as raw bits so that a parsed config rebuilds to
//! the same bytes. ADTS headers are built for MPEG-TS, which carries AAC as ADTS frames.

use bytes::{BufMut, BytesMut};

use super::CodecError;
use super::bits::{BitReader, BitWriter};

/// Sampling frequencies for `samplingFrequencyIndex` 0..=12; 13 and 14 are reserved and
/// 15 means an explicit 24-bit frequency follows.
pub const SAMPLE_RATES: [u32; 13] = [
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

/// `samplingFrequencyIndex` meaning "explicit frequency follows".
const EXPLICIT_FREQUENCY: u8 = 15;

/// AAC LC, the object type nearly every encoder produces.
pub const AOT_AAC_LC: u8 = 2;
/// HE-AAC (AAC LC + SBR).
pub const AOT_SBR: u8 = 5;
/// HE-AAC v2 (AAC LC + SBR + parametric stereo).
pub const AOT_PS: u8 = 29;

/// Explicit (hierarchical) SBR/PS signalling: present when the object type is 5 or 29.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SbrExtension {
    /// `extensionSamplingFrequencyIndex`.
    pub frequency_index: u8,
    /// The output (SBR) sample rate in Hz.
    pub sample_rate: u32,
    /// The core object type (usually 2, AAC LC).
    pub core_object_type: u8,
}

/// An AudioSpecificConfig.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AacConfig {
    /// `audioObjectType` (1..=95): 2 AAC LC, 5 HE-AAC, 29 HE-AAC v2, …
    pub object_type: u8,
    /// `samplingFrequencyIndex` (0..=12, or 15 for an explicit frequency).
    pub frequency_index: u8,
    /// The (core) sample rate in Hz: from [`SAMPLE_RATES`], or the explicit value.
    pub sample_rate: u32,
    /// `channelConfiguration` (0 = defined in a program config element, 1..=7 standard).
    pub channel_config: u8,
    /// SBR/PS extension, for object types 5 and 29.
    pub sbr: Option<SbrExtension>,
    /// The bits after the fields above (GASpecificConfig and extensions), left-aligned.
    pub rest: Vec<u8>,
    /// How many bits of `rest` are meaningful.
    pub rest_bits: usize,
}

/// Reads an `audioObjectType`, including the escape value 31 (→ 32 + 6 bits).
fn read_object_type(r: &mut BitReader<'_>) -> Result<u8, CodecError> {
    let aot = r.read_bits(5)? as u8;
    let aot = if aot == 31 {
        32 + r.read_bits(6)? as u8
    } else {
        aot
    };
    if aot == 0 {
        return Err(CodecError::Invalid("AAC audio object type 0"));
    }
    Ok(aot)
}

/// Writes an `audioObjectType` (validated by the caller: 1..=30 or 32..=95).
fn write_object_type(w: &mut BitWriter, aot: u8) {
    if aot >= 32 {
        w.write_bits(31, 5);
        w.write_bits(u32::from(aot - 32), 6);
    } else {
        w.write_bits(u32::from(aot), 5);
    }
}

/// Reads a `samplingFrequencyIndex` and its frequency.
fn read_frequency(r: &mut BitReader<'_>) -> Result<(u8, u32), CodecError> {
    let index = r.read_bits(4)? as u8;
    if index == EXPLICIT_FREQUENCY {
        let hz = r.read_bits(24)?;
        if hz == 0 {
            return Err(CodecError::Invalid("AAC sampling frequency 0"));
        }
        return Ok((index, hz));
    }
    let hz = SAMPLE_RATES
        .get(usize::from(index))
        .copied()
        .ok_or(CodecError::Invalid("AAC sampling frequency index"))?;
    Ok((index, hz))
}

fn write_frequency(w: &mut BitWriter, index: u8, hz: u32) {
    w.write_bits(u32::from(index), 4);
    if index == EXPLICIT_FREQUENCY {
        w.write_bits(hz, 24);
    }
}

/// The index for `hz`, or 15 (explicit) when it is not in the table.
fn frequency_index(hz: u32) -> u8 {
    SAMPLE_RATES
        .iter()
        .position(|r| *r == hz)
        .map_or(EXPLICIT_FREQUENCY, |i| i as u8)
}

/// Object types that can be coded: 31 is the escape value itself, 95 the largest escape.
fn valid_object_type(aot: u8) -> bool {
    matches!(aot, 1..=30 | 32..=95)
}

/// Object types whose config continues with a GASpecificConfig.
fn has_ga_specific_config(aot: u8) -> bool {
    matches!(aot, 1..=4 | 6 | 7 | 17 | 19..=23)
}

impl AacConfig {
    /// A config for `object_type` at `sample_rate` Hz with `channel_config`, with a default
    /// GASpecificConfig (1024-sample frames, no core coder, no extension) where one applies.
    /// AAC LC 44.1 kHz stereo gives the familiar `12 10`.
    pub fn new(object_type: u8, sample_rate: u32, channel_config: u8) -> Self {
        let ga = has_ga_specific_config(object_type);
        Self {
            object_type,
            frequency_index: frequency_index(sample_rate),
            sample_rate,
            channel_config,
            sbr: None,
            rest: if ga { vec![0] } else { Vec::new() },
            rest_bits: if ga { 3 } else { 0 },
        }
    }

    /// Parses an AudioSpecificConfig.
    pub fn parse(data: &[u8]) -> Result<Self, CodecError> {
        if data.is_empty() {
            return Err(CodecError::Truncated("AudioSpecificConfig"));
        }
        let mut r = BitReader::new(data);
        let object_type = read_object_type(&mut r)?;
        let (frequency_index, sample_rate) = read_frequency(&mut r)?;
        let channel_config = r.read_bits(4)? as u8;
        let sbr = if matches!(object_type, AOT_SBR | AOT_PS) {
            let (index, hz) = read_frequency(&mut r)?;
            Some(SbrExtension {
                frequency_index: index,
                sample_rate: hz,
                core_object_type: read_object_type(&mut r)?,
            })
        } else {
            None
        };
        let (rest, rest_bits) = r.remaining();
        Ok(Self {
            object_type,
            frequency_index,
            sample_rate,
            channel_config,
            sbr,
            rest,
            rest_bits,
        })
    }

    /// Appends the config to `out` (zero-padded to a whole byte).
    pub fn build(&self, out: &mut BytesMut) -> Result<(), CodecError> {
        if !valid_object_type(self.object_type) {
            return Err(CodecError::NotEncodable("AAC audio object type"));
        }
        if self.channel_config > 15 {
            return Err(CodecError::NotEncodable(
                "AAC channel configuration over 15",
            ));
        }
        let check_frequency = |index: u8, hz: u32| match index {
            EXPLICIT_FREQUENCY if hz > 0 && hz < 1 << 24 => Ok(()),
            i if SAMPLE_RATES.get(usize::from(i)) == Some(&hz) => Ok(()),
            _ => Err(CodecError::NotEncodable(
                "AAC sampling frequency index and rate differ",
            )),
        };
        check_frequency(self.frequency_index, self.sample_rate)?;
        let mut w = BitWriter::new();
        write_object_type(&mut w, self.object_type);
        write_frequency(&mut w, self.frequency_index, self.sample_rate);
        w.write_bits(u32::from(self.channel_config), 4);
        if let Some(sbr) = &self.sbr {
            check_frequency(sbr.frequency_index, sbr.sample_rate)?;
            if !valid_object_type(sbr.core_object_type) {
                return Err(CodecError::NotEncodable("AAC core object type"));
            }
            write_frequency(&mut w, sbr.frequency_index, sbr.sample_rate);
            write_object_type(&mut w, sbr.core_object_type);
        }
        w.write_slice_bits(&self.rest, self.rest_bits);
        out.put_slice(&w.finish());
        Ok(())
    }

    /// The config as a new buffer.
    pub fn to_bytes(&self) -> Result<bytes::Bytes, CodecError> {
        let mut out = BytesMut::new();
        self.build(&mut out)?;
        Ok(out.freeze())
    }

    /// The RFC 6381 codec string, e.g. `mp4a.40.2`.
    pub fn codec_string(&self) -> String {
        format!("mp4a.40.{}", self.object_type)
    }

    /// The decoder output sample rate: the SBR rate for HE-AAC, else the core rate.
    pub fn output_sample_rate(&self) -> u32 {
        self.sbr
            .as_ref()
            .map_or(self.sample_rate, |s| s.sample_rate)
    }

    /// Channel count for `channel_config` 1..=7 (config 7 is 7.1, 8 channels); `None` for 0
    /// (program config element) and reserved values.
    pub fn channel_count(&self) -> Option<u8> {
        match self.channel_config {
            1..=6 => Some(self.channel_config),
            7 => Some(8),
            _ => None,
        }
    }

    /// The 7-byte ADTS header (MPEG-4, no CRC) for a raw AAC frame of `payload_len` bytes.
    /// ADTS can only describe object types 1..=4 (the core type for HE-AAC), table sample
    /// rates and channel configurations up to 7.
    pub fn adts_header(&self, payload_len: usize) -> Result<[u8; 7], CodecError> {
        let (aot, index) = match &self.sbr {
            // HE-AAC in ADTS is the core AAC stream; SBR is implicit.
            Some(sbr) => (sbr.core_object_type, self.frequency_index),
            None => (self.object_type, self.frequency_index),
        };
        if !(1..=4).contains(&aot) {
            return Err(CodecError::NotEncodable(
                "ADTS profile for this object type",
            ));
        }
        if usize::from(index) >= SAMPLE_RATES.len() {
            return Err(CodecError::NotEncodable("ADTS explicit sampling frequency"));
        }
        if self.channel_config > 7 {
            return Err(CodecError::NotEncodable(
                "ADTS channel configuration over 7",
            ));
        }
        let frame_len = payload_len
            .checked_add(7)
            .filter(|l| *l < 1 << 13)
            .ok_or(CodecError::NotEncodable("ADTS frame over 8191 bytes"))?;
        let mut w = BitWriter::new();
        w.write_bits(0xfff, 12); // syncword
        w.write_bits(0, 1); // ID: MPEG-4
        w.write_bits(0, 2); // layer
        w.write_bits(1, 1); // protection_absent: no CRC
        w.write_bits(u32::from(aot - 1), 2); // profile
        w.write_bits(u32::from(index), 4);
        w.write_bits(0, 1); // private_bit
        w.write_bits(u32::from(self.channel_config), 3);
        w.write_bits(0, 4); // original, home, copyright bits
        w.write_bits(frame_len as u32, 13);
        w.write_bits(0x7ff, 11); // buffer fullness: variable bit rate
        w.write_bits(0, 2); // one raw data block
        let bytes = w.finish();
        let mut header = [0u8; 7];
        header.copy_from_slice(bytes.get(..7).unwrap_or(&[0; 7]));
        Ok(header)
    }

    /// Appends an ADTS header for a `payload_len`-byte frame to `out`.
    pub fn write_adts_header(
        &self,
        payload_len: usize,
        out: &mut BytesMut,
    ) -> Result<(), CodecError> {
        out.put_slice(&self.adts_header(payload_len)?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn round_trip(data: &[u8]) -> AacConfig {
        let c = AacConfig::parse(data).unwrap();
        assert_eq!(&c.to_bytes().unwrap()[..], data);
        c
    }

    #[test]
    fn ffmpeg_configs_with_sync_extension() {
        // ffmpeg's native AAC encoder, FLV sequence headers: LC 44.1 kHz mono and
        // LC 48 kHz stereo, each followed by a 0x2b7 sync extension.
        let c = round_trip(&[0x12, 0x08, 0x56, 0xe5, 0x00]);
        assert_eq!(
            (c.object_type, c.sample_rate, c.channel_config),
            (2, 44100, 1)
        );
        assert_eq!(c.codec_string(), "mp4a.40.2");
        assert_eq!(c.rest_bits, 27);
        let c = round_trip(&[0x11, 0x90, 0x56, 0xe5, 0x00]);
        assert_eq!(
            (c.object_type, c.frequency_index, c.sample_rate),
            (2, 3, 48000)
        );
        assert_eq!(c.channel_count(), Some(2));
    }

    #[test]
    fn new_builds_the_usual_two_bytes() {
        let c = AacConfig::new(AOT_AAC_LC, 44100, 2);
        assert_eq!(&c.to_bytes().unwrap()[..], &[0x12, 0x10]);
        assert_eq!(AacConfig::parse(&[0x12, 0x10]).unwrap(), c);
        assert_eq!(
            &AacConfig::new(AOT_AAC_LC, 48000, 2).to_bytes().unwrap()[..],
            &[0x11, 0x90]
        );
    }

    #[test]
    fn explicit_frequency() {
        let c = AacConfig::new(AOT_AAC_LC, 44056, 2);
        assert_eq!(c.frequency_index, 15);
        let bytes = c.to_bytes().unwrap();
        // 00010 1111 <24 bits 44056> 0010 000 + 1 pad bit = 5 bytes.
        assert_eq!(&bytes[..], &[0x17, 0x80, 0x56, 0x0c, 0x10]);
        let parsed = round_trip(&bytes);
        assert_eq!(parsed.sample_rate, 44056);
        assert!(c.adts_header(10).is_err());
    }

    #[test]
    fn escaped_object_type() {
        // Object type 42 (USAC) = 31 escape + 6 bits of 10; 48 kHz, stereo.
        let mut w = BitWriter::new();
        w.write_bits(31, 5);
        w.write_bits(10, 6);
        w.write_bits(3, 4);
        w.write_bits(2, 4);
        w.write_bits(0b1011, 4);
        let data = w.finish();
        let c = round_trip(&data);
        assert_eq!(c.object_type, 42);
        assert_eq!(c.codec_string(), "mp4a.40.42");
        assert_eq!(c.sample_rate, 48000);
        assert!(c.adts_header(10).is_err());
    }

    #[test]
    fn explicit_sbr_signalling() {
        // HE-AAC: AOT 5, core 24 kHz, stereo, extension 48 kHz, core AOT 2.
        let mut w = BitWriter::new();
        w.write_bits(5, 5);
        w.write_bits(6, 4);
        w.write_bits(2, 4);
        w.write_bits(3, 4);
        w.write_bits(2, 5);
        w.write_bits(0, 3);
        let data = w.finish();
        let c = round_trip(&data);
        assert_eq!(c.codec_string(), "mp4a.40.5");
        assert_eq!((c.sample_rate, c.output_sample_rate()), (24000, 48000));
        let sbr = c.sbr.clone().unwrap();
        assert_eq!(sbr.core_object_type, 2);
        // ADTS carries the core LC stream at the core rate.
        let h = c.adts_header(100).unwrap();
        assert_eq!(h[2] >> 6, 1);
        assert_eq!((h[2] >> 2) & 0x0f, 6);
    }

    #[test]
    fn adts_header_matches_ffmpeg() {
        // ffmpeg -c:a aac -ac 2 (48 kHz) -f adts: first frame, 295 bytes with the header.
        let c = AacConfig::parse(&[0x11, 0x90, 0x56, 0xe5, 0x00]).unwrap();
        assert_eq!(
            c.adts_header(288).unwrap(),
            [0xff, 0xf1, 0x4c, 0x80, 0x24, 0xff, 0xfc]
        );
        let mut out = BytesMut::new();
        c.write_adts_header(8184, &mut out).unwrap();
        assert_eq!(out.len(), 7);
        assert!(c.adts_header(8185).is_err());
        assert!(c.adts_header(usize::MAX).is_err());
    }

    #[test]
    fn rejects_bad_configs() {
        assert_eq!(
            AacConfig::parse(&[]),
            Err(CodecError::Truncated("AudioSpecificConfig"))
        );
        assert!(AacConfig::parse(&[0x12]).is_err());
        // Object type 0.
        assert!(matches!(
            AacConfig::parse(&[0x02, 0x10]),
            Err(CodecError::Invalid(_))
        ));
        // Reserved frequency index 13.
        assert!(matches!(
            AacConfig::parse(&[0x16, 0x90]),
            Err(CodecError::Invalid(_))
        ));
        // Explicit frequency cut short.
        assert!(AacConfig::parse(&[0x17, 0x80, 0x56]).is_err());
        // Escape cut short.
        assert!(AacConfig::parse(&[0xf8]).is_err());
        let mut c = AacConfig::new(AOT_AAC_LC, 44100, 2);
        c.sample_rate = 48000;
        assert!(c.to_bytes().is_err());
        c.sample_rate = 44100;
        for aot in [0, 31, 96] {
            c.object_type = aot;
            assert!(c.to_bytes().is_err());
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn parse_build_round_trip(data in proptest::collection::vec(any::<u8>(), 0..12)) {
            if let Ok(c) = AacConfig::parse(&data) {
                prop_assert_eq!(&c.to_bytes().unwrap()[..], &data[..]);
            }
        }

        #[test]
        fn new_parse_round_trip(aot in 1u8..=95, rate_index in 0usize..14, ch in 0u8..=15) {
            prop_assume!(aot != 31);
            let hz = SAMPLE_RATES.get(rate_index).copied().unwrap_or(22222);
            let mut c = AacConfig::new(aot, hz, ch);
            if matches!(aot, AOT_SBR | AOT_PS) {
                c.sbr = Some(SbrExtension { frequency_index: 3, sample_rate: 48000, core_object_type: 2 });
            }
            let bytes = c.to_bytes().unwrap();
            let parsed = AacConfig::parse(&bytes).unwrap();
            prop_assert_eq!(parsed.object_type, aot);
            prop_assert_eq!(parsed.sample_rate, hz);
            prop_assert_eq!(parsed.channel_config, ch);
            prop_assert_eq!(parsed.sbr, c.sbr);
        }
    }
}
