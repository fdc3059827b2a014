//! Codec sample entries for `stsd`: `avc1`+`avcC`, `mp4a`+`esds`, `Opus`+`dOps`.
//!
//! The codec records are passed through as given (the `avcC` body is the FLV AVC sequence
//! header, the `esds` carries the AAC AudioSpecificConfig), so this module never parses
//! codec bitstreams; that is `crate::codec`'s job.

use bytes::{BufMut, BytesMut};

use super::boxes::{begin, begin_full, end, write_raw};
use super::{Fmp4Error, TrackConfig};

/// Largest payload an MPEG-4 descriptor length (4 × 7 bits) can express.
const MAX_DESCRIPTOR_LEN: usize = (1 << 28) - 1;
/// MPEG-4 Audio in `esds` `objectTypeIndication`.
const OTI_MPEG4_AUDIO: u8 = 0x40;
/// AudioStream (5) << 2 | upStream 0 | reserved 1.
const STREAM_TYPE_AUDIO: u8 = 0x15;

/// Writes the sample entry of `config`.
pub fn write_sample_entry(out: &mut BytesMut, config: &TrackConfig) -> Result<(), Fmp4Error> {
    match config {
        TrackConfig::Avc {
            avcc,
            width,
            height,
        } => write_avc1(out, avcc, *width, *height),
        TrackConfig::Aac {
            asc,
            sample_rate,
            channels,
        } => write_mp4a(out, asc, *sample_rate, *channels),
        TrackConfig::Opus {
            channels,
            pre_skip,
            input_sample_rate,
            output_gain,
        } => write_opus(out, *channels, *pre_skip, *input_sample_rate, *output_gain),
    }
}

/// `avc1` (VisualSampleEntry) holding the `avcC` record unchanged.
pub fn write_avc1(
    out: &mut BytesMut,
    avcc: &[u8],
    width: u16,
    height: u16,
) -> Result<(), Fmp4Error> {
    let start = begin(out, b"avc1");
    put_sample_entry_header(out);
    out.put_u16(0); // pre_defined
    out.put_u16(0); // reserved
    out.put_bytes(0, 12); // pre_defined
    out.put_u16(width);
    out.put_u16(height);
    out.put_u32(0x0048_0000); // 72 dpi horizontal
    out.put_u32(0x0048_0000); // 72 dpi vertical
    out.put_u32(0); // reserved
    out.put_u16(1); // frame_count
    out.put_bytes(0, 32); // compressorname: empty Pascal string
    out.put_u16(0x0018); // depth: colour, no alpha
    out.put_i16(-1); // pre_defined
    write_raw(out, b"avcC", avcc)?;
    end(out, start)
}

/// `mp4a` (AudioSampleEntry) with an `esds` carrying the AudioSpecificConfig.
pub fn write_mp4a(
    out: &mut BytesMut,
    asc: &[u8],
    sample_rate: u32,
    channels: u16,
) -> Result<(), Fmp4Error> {
    let start = begin(out, b"mp4a");
    put_audio_entry_header(out, channels, sample_rate);
    write_esds(out, asc)?;
    end(out, start)
}

/// `esds`: ES_Descriptor { DecoderConfigDescriptor { DecoderSpecificInfo = ASC }, SLConfig }.
pub fn write_esds(out: &mut BytesMut, asc: &[u8]) -> Result<(), Fmp4Error> {
    // Lengths nest, so compute from the inside out; the +2 of ES_ID/flags etc. are fixed.
    let dsi_len = asc.len();
    let dcd_len = 13 + descriptor_size(dsi_len);
    let sl_len = 1;
    let es_len = 3 + descriptor_size(dcd_len) + descriptor_size(sl_len);
    if es_len > MAX_DESCRIPTOR_LEN {
        return Err(Fmp4Error::ConfigTooLarge {
            what: "AudioSpecificConfig",
            len: asc.len(),
        });
    }
    let start = begin_full(out, b"esds", 0, 0);
    put_descriptor_header(out, 0x03, es_len);
    out.put_u16(0); // ES_ID: 0 in MP4 files (the track id identifies the stream)
    out.put_u8(0); // no dependency, URL or OCR stream
    put_descriptor_header(out, 0x04, dcd_len);
    out.put_u8(OTI_MPEG4_AUDIO);
    out.put_u8(STREAM_TYPE_AUDIO);
    out.put_uint(0, 3); // bufferSizeDB: unknown
    out.put_u32(0); // maxBitrate: unknown
    out.put_u32(0); // avgBitrate: unknown (variable)
    put_descriptor_header(out, 0x05, dsi_len);
    out.put_slice(asc);
    put_descriptor_header(out, 0x06, sl_len);
    out.put_u8(0x02); // SLConfig predefined = 2: reserved for MP4 files
    end(out, start)
}

/// `Opus` (AudioSampleEntry at 48 kHz) with a `dOps` for channel mapping family 0.
pub fn write_opus(
    out: &mut BytesMut,
    channels: u8,
    pre_skip: u16,
    input_sample_rate: u32,
    output_gain: i16,
) -> Result<(), Fmp4Error> {
    // Family 0 is mono or stereo; more channels need a mapping table (family 1), later.
    if !(1..=2).contains(&channels) {
        return Err(Fmp4Error::UnsupportedOpusChannels(channels));
    }
    let start = begin(out, b"Opus");
    put_audio_entry_header(out, u16::from(channels), super::OPUS_TIMESCALE);
    let dops = begin(out, b"dOps");
    out.put_u8(0); // Version
    out.put_u8(channels); // OutputChannelCount
    out.put_u16(pre_skip);
    out.put_u32(input_sample_rate);
    out.put_i16(output_gain);
    out.put_u8(0); // ChannelMappingFamily
    end(out, dops)?;
    end(out, start)
}

/// SampleEntry: 6 reserved bytes and data_reference_index 1 (the `url ` in `dref`).
fn put_sample_entry_header(out: &mut BytesMut) {
    out.put_bytes(0, 6);
    out.put_u16(1);
}

/// AudioSampleEntry (version 0) fields up to and including `samplerate`.
fn put_audio_entry_header(out: &mut BytesMut, channels: u16, sample_rate: u32) {
    put_sample_entry_header(out);
    out.put_bytes(0, 8); // reserved
    out.put_u16(channels);
    out.put_u16(16); // samplesize
    out.put_u16(0); // pre_defined
    out.put_u16(0); // reserved
    // 16.16 fixed point; rates above 65535 Hz do not fit, and decoders take the rate from
    // the codec config anyway, so write 0 rather than a truncated value.
    out.put_u32(u16::try_from(sample_rate).map_or(0, |r| u32::from(r) << 16));
}

/// Bytes taken by a descriptor with a `len`-byte payload (tag + expandable length + body).
fn descriptor_size(len: usize) -> usize {
    1 + length_bytes(len) + len
}

fn length_bytes(len: usize) -> usize {
    match len {
        0..0x80 => 1,
        0x80..0x4000 => 2,
        0x4000..0x20_0000 => 3,
        _ => 4,
    }
}

/// Tag and expandable size: 7 bits per byte, high bit = more bytes follow.
fn put_descriptor_header(out: &mut BytesMut, tag: u8, len: usize) {
    out.put_u8(tag);
    let n = length_bytes(len);
    for i in (0..n).rev() {
        let more = if i > 0 { 0x80 } else { 0 };
        out.put_u8(more | ((len >> (7 * i)) & 0x7f) as u8);
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn esds_for_aac_lc_44100_stereo() {
        let mut out = BytesMut::new();
        write_esds(&mut out, &[0x12, 0x10]).unwrap();
        let expected: &[u8] = &[
            0, 0, 0, 0x27, b'e', b's', b'd', b's', 0, 0, 0, 0, // full box header
            0x03, 0x19, 0, 0, 0, // ES_Descriptor, len 25, ES_ID 0, flags 0
            0x04, 0x11, 0x40, 0x15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // DecoderConfig, len 17
            0x05, 0x02, 0x12, 0x10, // DecoderSpecificInfo = ASC
            0x06, 0x01, 0x02, // SLConfig
        ];
        assert_eq!(&out[..], expected);
    }

    #[test]
    fn descriptor_lengths_use_the_expandable_form() {
        let mut out = BytesMut::new();
        put_descriptor_header(&mut out, 5, 0x7f);
        put_descriptor_header(&mut out, 5, 0x80);
        put_descriptor_header(&mut out, 5, 0x1f_ffff);
        assert_eq!(&out[..], &[5, 0x7f, 5, 0x81, 0x00, 5, 0xff, 0xff, 0x7f]);
        assert_eq!(descriptor_size(200), 203);
    }

    #[test]
    fn dops_bytes() {
        let mut out = BytesMut::new();
        write_opus(&mut out, 2, 312, 48000, -256).unwrap();
        assert_eq!(out.len(), 8 + 28 + 19);
        assert_eq!(&out[4..8], b"Opus");
        assert_eq!(&out[24..26], &2u16.to_be_bytes()); // channelcount
        assert_eq!(&out[32..36], &(48000u32 << 16).to_be_bytes());
        assert_eq!(
            &out[36..],
            &[
                0, 0, 0, 19, b'd', b'O', b'p', b's', 0, 2, 0x01, 0x38, 0, 0, 0xbb, 0x80, 0xff,
                0x00, 0
            ]
        );
    }

    #[test]
    fn opus_surround_is_refused() {
        let mut out = BytesMut::new();
        assert_eq!(
            write_opus(&mut out, 6, 0, 48000, 0),
            Err(Fmp4Error::UnsupportedOpusChannels(6))
        );
        assert_eq!(
            write_opus(&mut out, 0, 0, 48000, 0),
            Err(Fmp4Error::UnsupportedOpusChannels(0))
        );
    }

    #[test]
    fn avc1_embeds_avcc_and_size() {
        let avcc = [1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 0];
        let mut out = BytesMut::new();
        write_avc1(&mut out, &avcc, 1280, 720).unwrap();
        assert_eq!(out.len(), 86 + 8 + avcc.len());
        assert_eq!(&out[32..36], &[0x05, 0x00, 0x02, 0xd0]);
        assert_eq!(&out[86..94], &[0, 0, 0, 16, b'a', b'v', b'c', b'C']);
        assert_eq!(&out[94..], &avcc);
    }

    #[test]
    fn high_sample_rates_are_written_as_zero() {
        let mut out = BytesMut::new();
        write_mp4a(&mut out, &[0x11, 0x80], 96000, 2).unwrap();
        assert_eq!(&out[32..36], &[0, 0, 0, 0]);
    }
}
