//! From WebM tracks and frames to what the FLV muxer carries: an AVC decoder configuration
//! record plus AVCC (4-byte length) samples for H.264, and the `OpusHead` for Opus.
//!
//! Matroska's `V_MPEG4/ISO/AVC` is meant to have an avcC in `CodecPrivate` and AVCC
//! samples, but Chromium's MediaRecorder (156, checked with `tests/data/chrome_h264_opus.webm`)
//! writes **no `CodecPrivate` and Annex B frames** (start codes, with SPS and PPS in front
//! of every IDR). So the framing is decided per track: with a `CodecPrivate`, samples are
//! AVCC with its length size; without, they are Annex B and the configuration comes from
//! the parameter sets in the stream. Parameter sets stay in the samples (decoders accept
//! them in-band, and a mid-stream change then also reaches a decoder that missed the new
//! sequence header).

use bytes::{BufMut, Bytes, BytesMut};

use super::{TrackInfo, WebmError};
use crate::codec::annexb::{
    NAL_PPS, NAL_SPS, annexb_nals, annexb_to_avcc, avc_config_from_annexb, avcc_nals, nal_type,
};
use crate::codec::opus::OPUS_OUTPUT_SAMPLE_RATE;
use crate::codec::{AvcConfig, OpusHead};

/// How the samples of an H.264 track are framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// Start codes (no `CodecPrivate`: Chromium).
    AnnexB,
    /// Length prefixes of this many bytes (from the avcC in `CodecPrivate`).
    Avcc(u8),
}

/// One H.264 frame ready for FLV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvcSample {
    /// A configuration to send (as an FLV AVC sequence header) before this frame: set on
    /// the first sample, and again when an in-band SPS/PPS changes it (resolution change).
    pub new_config: Option<AvcConfig>,
    /// The frame as AVCC with 4-byte lengths (zero-copy when it already was).
    pub data: Bytes,
}

/// Converts the frames of one H.264 track to AVCC and tracks its decoder configuration.
#[derive(Debug, Clone)]
pub struct AvcConverter {
    framing: Framing,
    config: Option<AvcConfig>,
    /// Whether `config` was handed out in an [`AvcSample::new_config`] yet.
    announced: bool,
}

impl AvcConverter {
    /// A converter for `track`: an error if it is not H.264 or its `CodecPrivate` is not a
    /// valid avcC.
    pub fn new(track: &TrackInfo) -> Result<Self, WebmError> {
        if !track.is_avc() {
            return Err(WebmError::WrongCodec {
                expected: "V_MPEG4/ISO/AVC",
                found: track.codec_id.clone(),
            });
        }
        let (framing, config) = match &track.codec_private {
            Some(private) => {
                let config = AvcConfig::parse(private)?;
                (Framing::Avcc(config.nal_length_size), Some(config))
            }
            None => (Framing::AnnexB, None),
        };
        Ok(Self {
            framing,
            config,
            announced: false,
        })
    }

    /// Whether the track's samples are Annex B (no `CodecPrivate`).
    pub fn is_annexb(&self) -> bool {
        self.framing == Framing::AnnexB
    }

    /// The current decoder configuration, once known.
    pub fn config(&self) -> Option<&AvcConfig> {
        self.config.as_ref()
    }

    /// Converts one frame's data. `Ok(None)` while no configuration is known (Annex B
    /// frames before the first SPS/PPS): a decoder could not start there, so they are
    /// dropped.
    pub fn convert(&mut self, data: &Bytes) -> Result<Option<AvcSample>, WebmError> {
        let data = match self.framing {
            Framing::AnnexB => {
                if has_parameter_set(data) {
                    // A frame with only an SPS or only a PPS keeps the current config.
                    if let Ok(config) = avc_config_from_annexb(data)
                        && self.config.as_ref() != Some(&config)
                    {
                        self.config = Some(config);
                        self.announced = false;
                    }
                }
                if self.config.is_none() {
                    return Ok(None);
                }
                let mut out = BytesMut::with_capacity(data.len() + 16);
                annexb_to_avcc(data, &mut out)?;
                out.freeze()
            }
            Framing::Avcc(4) => data.clone(),
            Framing::Avcc(length_size) => {
                let mut out = BytesMut::with_capacity(data.len() + 16);
                for nal in avcc_nals(data, length_size) {
                    let nal = nal?;
                    let len = u32::try_from(nal.len())
                        .map_err(|_| crate::codec::CodecError::NotEncodable("NAL unit length"))?;
                    out.put_u32(len);
                    out.put_slice(nal);
                }
                out.freeze()
            }
        };
        let new_config = if self.announced {
            None
        } else {
            self.announced = true;
            self.config.clone()
        };
        Ok(Some(AvcSample { new_config, data }))
    }
}

/// Whether an Annex B access unit holds an SPS or a PPS.
fn has_parameter_set(data: &[u8]) -> bool {
    annexb_nals(data).any(|nal| matches!(nal_type(nal), Some(NAL_SPS | NAL_PPS)))
}

/// The `OpusHead` of an Opus track: its `CodecPrivate` (Matroska requires it, and
/// Chromium writes it). Without one, a mono/stereo header is built from the Audio channel
/// count and `CodecDelay`, as ffmpeg does.
pub fn opus_head(track: &TrackInfo) -> Result<OpusHead, WebmError> {
    if !track.is_opus() {
        return Err(WebmError::WrongCodec {
            expected: "A_OPUS",
            found: track.codec_id.clone(),
        });
    }
    if let Some(private) = &track.codec_private {
        return Ok(OpusHead::parse(private)?);
    }
    let audio = track.audio.ok_or(WebmError::MissingCodecPrivate)?;
    let channels = u8::try_from(audio.channels)
        .ok()
        .filter(|c| (1..=2).contains(c))
        .ok_or(WebmError::MissingCodecPrivate)?;
    // CodecDelay is in ns; pre-skip counts 48 kHz samples.
    let pre_skip = track
        .codec_delay_ns
        .saturating_mul(u64::from(OPUS_OUTPUT_SAMPLE_RATE))
        / 1_000_000_000;
    let pre_skip = u16::try_from(pre_skip).map_err(|_| WebmError::MissingCodecPrivate)?;
    // An absurd or fractional rate is only informational: fall back to 48 kHz.
    let rate = audio.sampling_frequency;
    let rate = if rate >= 1.0 && rate <= f64::from(u32::MAX) {
        rate as u32
    } else {
        OPUS_OUTPUT_SAMPLE_RATE
    };
    Ok(OpusHead::new(channels, pre_skip, rate))
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::webm::{AudioInfo, TrackKind};

    // The SPS and PPS from the first keyframe of `tests/data/chrome_h264_opus.webm`.
    const SPS: &[u8] = &[
        0x67, 0x42, 0xc0, 0x15, 0x8c, 0x8d, 0x40, 0xa0, 0xf9, 0x35, 0x06, 0x06, 0x06, 0x07, 0x84,
        0x42, 0x35,
    ];
    const PPS: &[u8] = &[0x68, 0xce, 0x3c, 0x80];

    fn track(codec_id: &str, private: Option<Bytes>) -> TrackInfo {
        TrackInfo {
            number: 1,
            kind: TrackKind::Video,
            codec_id: codec_id.into(),
            codec_private: private,
            default_duration_ns: None,
            codec_delay_ns: 0,
            video: None,
            audio: None,
        }
    }

    fn annexb(nals: &[&[u8]]) -> Bytes {
        let mut out = Vec::new();
        for nal in nals {
            out.extend_from_slice(&[0, 0, 0, 1]);
            out.extend_from_slice(nal);
        }
        Bytes::from(out)
    }

    #[test]
    fn annexb_track_config_from_first_keyframe() {
        let mut c = AvcConverter::new(&track("V_MPEG4/ISO/AVC", None)).unwrap();
        assert!(c.is_annexb());
        // A P-frame before any SPS/PPS is dropped.
        assert_eq!(c.convert(&annexb(&[&[0x41, 1]])), Ok(None));
        let key = annexb(&[SPS, PPS, &[0x65, 0xb8, 4]]);
        let s = c.convert(&key).unwrap().unwrap();
        let config = s.new_config.unwrap();
        assert_eq!(
            (config.profile, config.level, config.nal_length_size),
            (66, 21, 4)
        );
        assert_eq!(config.codec_string(), "avc1.42c015");
        assert_eq!(&s.data[..4], &[0, 0, 0, SPS.len() as u8]);
        assert_eq!(s.data.len(), key.len());
        // The same parameter sets again: no new config.
        assert_eq!(c.convert(&key).unwrap().unwrap().new_config, None);
        let p = c.convert(&annexb(&[&[0x41, 9]])).unwrap().unwrap();
        assert_eq!(&p.data[..], &[0, 0, 0, 2, 0x41, 9]);
        // A changed SPS is announced again.
        let mut sps2 = SPS.to_vec();
        sps2[3] = 0x1e; // level 3.0
        let s = c
            .convert(&annexb(&[&sps2, PPS, &[0x65, 1]]))
            .unwrap()
            .unwrap();
        assert_eq!(s.new_config.unwrap().level, 30);
    }

    #[test]
    fn avcc_track_from_codec_private() {
        let config = AvcConfig::from_parameter_sets(
            vec![Bytes::from_static(SPS)],
            vec![Bytes::from_static(PPS)],
        )
        .unwrap();
        let mut c =
            AvcConverter::new(&track("V_MPEG4/ISO/AVC", Some(config.to_bytes().unwrap()))).unwrap();
        assert!(!c.is_annexb());
        assert_eq!(c.config(), Some(&config));
        let frame = Bytes::from_static(&[0, 0, 0, 2, 0x65, 7]);
        let s = c.convert(&frame).unwrap().unwrap();
        assert_eq!(s.new_config, Some(config.clone()));
        assert_eq!(s.data.as_ptr(), frame.as_ptr());
        assert_eq!(c.convert(&frame).unwrap().unwrap().new_config, None);
        // 2-byte lengths are rewritten to 4.
        let mut short = config.clone();
        short.nal_length_size = 2;
        let mut c =
            AvcConverter::new(&track("V_MPEG4/ISO/AVC", Some(short.to_bytes().unwrap()))).unwrap();
        let s = c
            .convert(&Bytes::from_static(&[0, 1, 0x41]))
            .unwrap()
            .unwrap();
        assert_eq!(&s.data[..], &[0, 0, 0, 1, 0x41]);
        assert!(c.convert(&Bytes::from_static(&[0, 9, 0x41])).is_err());
    }

    #[test]
    fn wrong_codecs_and_bad_private() {
        assert!(matches!(
            AvcConverter::new(&track("V_VP8", None)),
            Err(WebmError::WrongCodec { .. })
        ));
        assert!(matches!(
            AvcConverter::new(&track("V_MPEG4/ISO/AVC", Some(Bytes::from_static(&[2])))),
            Err(WebmError::Codec(_))
        ));
        assert!(matches!(
            opus_head(&track("V_MPEG4/ISO/AVC", None)),
            Err(WebmError::WrongCodec { .. })
        ));
    }

    #[test]
    fn opus_head_from_private_or_audio_info() {
        let head = OpusHead::new(1, 312, 48000).to_bytes().unwrap();
        let t = track("A_OPUS", Some(head));
        assert_eq!(opus_head(&t), Ok(OpusHead::new(1, 312, 48000)));
        let mut t = track("A_OPUS", None);
        assert_eq!(opus_head(&t), Err(WebmError::MissingCodecPrivate));
        t.audio = Some(AudioInfo {
            sampling_frequency: 48000.0,
            channels: 2,
            bit_depth: None,
        });
        t.codec_delay_ns = 6_500_000;
        assert_eq!(opus_head(&t), Ok(OpusHead::new(2, 312, 48000)));
    }
}
