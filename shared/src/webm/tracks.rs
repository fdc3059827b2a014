//! The small master elements the demuxer buffers whole and parses: the EBML header (only
//! the `DocType` matters), Info (only `TimestampScale` matters) and Tracks, described by
//! [`TrackInfo`].
//!
//! Elements this code does not use are skipped, so a newer muxer's additions do not break
//! parsing. Mandatory elements that are missing (track number, type, codec ID) are errors:
//! without them frames cannot be routed to a decoder.

use bytes::Bytes;

use super::WebmError;
use super::ebml::{self, ID_DOC_TYPE, ID_TIMECODE_SCALE, children};

const ID_TRACK_ENTRY: u32 = 0xAE;
const ID_TRACK_NUMBER: u32 = 0xD7;
const ID_TRACK_TYPE: u32 = 0x83;
const ID_CODEC_ID: u32 = 0x86;
const ID_CODEC_PRIVATE: u32 = 0x63A2;
const ID_DEFAULT_DURATION: u32 = 0x23_E383;
const ID_CODEC_DELAY: u32 = 0x56AA;
const ID_VIDEO: u32 = 0xE0;
const ID_PIXEL_WIDTH: u32 = 0xB0;
const ID_PIXEL_HEIGHT: u32 = 0xBA;
const ID_AUDIO: u32 = 0xE1;
const ID_SAMPLING_FREQUENCY: u32 = 0xB5;
const ID_CHANNELS: u32 = 0x9F;
const ID_BIT_DEPTH: u32 = 0x6264;

/// The Matroska default `TimestampScale`: 1 ms per tick.
pub const DEFAULT_TIMECODE_SCALE: u64 = 1_000_000;

/// What a track carries (Matroska `TrackType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackKind {
    /// `TrackType` 1.
    Video,
    /// `TrackType` 2.
    Audio,
    /// Anything else (subtitles 17, buttons, metadata…), with the raw value.
    Other(u64),
}

/// Picture size of a video track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoInfo {
    /// `PixelWidth`.
    pub pixel_width: u64,
    /// `PixelHeight`.
    pub pixel_height: u64,
}

/// Sampling parameters of an audio track.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AudioInfo {
    /// `SamplingFrequency` in Hz (Matroska default 8000).
    pub sampling_frequency: f64,
    /// `Channels` (Matroska default 1).
    pub channels: u64,
    /// `BitDepth`, if given.
    pub bit_depth: Option<u64>,
}

/// One `TrackEntry`.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackInfo {
    /// `TrackNumber`, the number blocks refer to (not the UID).
    pub number: u64,
    /// `TrackType`.
    pub kind: TrackKind,
    /// `CodecID`, e.g. `V_MPEG4/ISO/AVC`, `A_OPUS`, `V_VP8`.
    pub codec_id: String,
    /// `CodecPrivate` (avcC, OpusHead, …), a slice of the demuxer's buffer.
    pub codec_private: Option<Bytes>,
    /// `DefaultDuration` of a frame in ns, if given (used to spread laced frames).
    pub default_duration_ns: Option<u64>,
    /// `CodecDelay` in ns (Opus pre-skip), 0 if absent.
    pub codec_delay_ns: u64,
    /// The `Video` element, if present.
    pub video: Option<VideoInfo>,
    /// The `Audio` element, if present.
    pub audio: Option<AudioInfo>,
}

impl TrackInfo {
    /// Whether this is an H.264 track (`V_MPEG4/ISO/AVC`).
    pub fn is_avc(&self) -> bool {
        self.codec_id == "V_MPEG4/ISO/AVC"
    }

    /// Whether this is an Opus track (`A_OPUS`).
    pub fn is_opus(&self) -> bool {
        self.codec_id == "A_OPUS"
    }
}

/// Parses the EBML header's data and returns its `DocType`; only `webm` and `matroska`
/// are accepted (Chromium writes `matroska` when recording H.264).
pub fn parse_ebml_header(data: &[u8], offset: u64) -> Result<String, WebmError> {
    let mut doc_type = None;
    for child in children(data, offset) {
        let (id, body) = child?;
        if id == ID_DOC_TYPE {
            doc_type = Some(ebml::read_string(body));
        }
    }
    // The EBML default DocType is "matroska".
    let doc_type = doc_type.unwrap_or_else(|| "matroska".to_owned());
    if doc_type != "webm" && doc_type != "matroska" {
        return Err(WebmError::UnsupportedDocType(doc_type));
    }
    Ok(doc_type)
}

/// Parses Info's data and returns its `TimestampScale` in ns per tick.
pub fn parse_info(data: &[u8], offset: u64) -> Result<u64, WebmError> {
    let mut scale = DEFAULT_TIMECODE_SCALE;
    for child in children(data, offset) {
        let (id, body) = child?;
        if id == ID_TIMECODE_SCALE {
            scale = ebml::read_uint(body, id)?;
        }
    }
    // A zero scale would collapse every timestamp to 0.
    if scale == 0 {
        return Err(WebmError::BadValue {
            id: ID_TIMECODE_SCALE,
        });
    }
    Ok(scale)
}

/// Parses Tracks' data (`data` is a slice of the demuxer's buffer, so `CodecPrivate` is
/// handed out without copying).
pub fn parse_tracks(data: &Bytes, offset: u64) -> Result<Vec<TrackInfo>, WebmError> {
    let mut tracks = Vec::new();
    for child in children(data, offset) {
        let (id, body) = child?;
        if id == ID_TRACK_ENTRY {
            tracks.push(parse_track_entry(data, body, offset)?);
        }
    }
    Ok(tracks)
}

fn parse_track_entry(all: &Bytes, data: &[u8], offset: u64) -> Result<TrackInfo, WebmError> {
    let mut number = None;
    let mut kind = None;
    let mut codec_id = None;
    let mut track = TrackInfo {
        number: 0,
        kind: TrackKind::Other(0),
        codec_id: String::new(),
        codec_private: None,
        default_duration_ns: None,
        codec_delay_ns: 0,
        video: None,
        audio: None,
    };
    for child in children(data, offset) {
        let (id, body) = child?;
        match id {
            ID_TRACK_NUMBER => number = Some(ebml::read_uint(body, id)?),
            ID_TRACK_TYPE => {
                kind = Some(match ebml::read_uint(body, id)? {
                    1 => TrackKind::Video,
                    2 => TrackKind::Audio,
                    other => TrackKind::Other(other),
                });
            }
            ID_CODEC_ID => codec_id = Some(ebml::read_string(body)),
            ID_CODEC_PRIVATE => track.codec_private = Some(all.slice_ref(body)),
            ID_DEFAULT_DURATION => track.default_duration_ns = Some(ebml::read_uint(body, id)?),
            ID_CODEC_DELAY => track.codec_delay_ns = ebml::read_uint(body, id)?,
            ID_VIDEO => track.video = Some(parse_video(body, offset)?),
            ID_AUDIO => track.audio = Some(parse_audio(body, offset)?),
            _ => {}
        }
    }
    track.number = number
        .filter(|&n| n != 0)
        .ok_or(WebmError::BadTrack("missing or zero TrackNumber"))?;
    track.kind = kind.ok_or(WebmError::BadTrack("missing TrackType"))?;
    track.codec_id = codec_id.ok_or(WebmError::BadTrack("missing CodecID"))?;
    Ok(track)
}

fn parse_video(data: &[u8], offset: u64) -> Result<VideoInfo, WebmError> {
    let mut v = VideoInfo {
        pixel_width: 0,
        pixel_height: 0,
    };
    for child in children(data, offset) {
        let (id, body) = child?;
        match id {
            ID_PIXEL_WIDTH => v.pixel_width = ebml::read_uint(body, id)?,
            ID_PIXEL_HEIGHT => v.pixel_height = ebml::read_uint(body, id)?,
            _ => {}
        }
    }
    Ok(v)
}

fn parse_audio(data: &[u8], offset: u64) -> Result<AudioInfo, WebmError> {
    let mut a = AudioInfo {
        sampling_frequency: 8000.0,
        channels: 1,
        bit_depth: None,
    };
    for child in children(data, offset) {
        let (id, body) = child?;
        match id {
            ID_SAMPLING_FREQUENCY => {
                let rate = ebml::read_float(body, id)?;
                // NaN, infinite or non-positive rates are nonsense, and a NaN would also make
                // events compare unequal to themselves.
                if !(rate.is_finite() && rate > 0.0) {
                    return Err(WebmError::BadValue { id });
                }
                a.sampling_frequency = rate;
            }
            ID_CHANNELS => a.channels = ebml::read_uint(body, id)?,
            ID_BIT_DEPTH => a.bit_depth = Some(ebml::read_uint(body, id)?),
            _ => {}
        }
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    /// The Tracks data Chromium 156 wrote in `tests/data/chrome_h264_opus.webm`.
    const CHROME_TRACKS: &[u8] = &[
        0xae, 0xbd, 0xd7, 0x81, 0x01, 0x73, 0xc5, 0x87, 0x0c, 0x6f, 0xe1, 0x6c, 0x39, 0x05, 0xad,
        0x83, 0x81, 0x02, 0x86, 0x86, 0x41, 0x5f, 0x4f, 0x50, 0x55, 0x53, 0x63, 0xa2, 0x93, 0x4f,
        0x70, 0x75, 0x73, 0x48, 0x65, 0x61, 0x64, 0x01, 0x01, 0x00, 0x00, 0x80, 0xbb, 0x00, 0x00,
        0x00, 0x00, 0x00, 0xe1, 0x8d, 0xb5, 0x84, 0x47, 0x3b, 0x80, 0x00, 0x9f, 0x81, 0x01, 0x62,
        0x64, 0x81, 0x20, 0xae, 0xaa, 0xd7, 0x81, 0x02, 0x73, 0xc5, 0x87, 0x4c, 0x3e, 0x1d, 0x4e,
        0xa1, 0x40, 0xae, 0x83, 0x81, 0x01, 0x86, 0x8f, 0x56, 0x5f, 0x4d, 0x50, 0x45, 0x47, 0x34,
        0x2f, 0x49, 0x53, 0x4f, 0x2f, 0x41, 0x56, 0x43, 0xe0, 0x87, 0xb0, 0x82, 0x01, 0x40, 0xba,
        0x81, 0xf0,
    ];

    #[test]
    fn parses_chromium_tracks() {
        let tracks = parse_tracks(&Bytes::from_static(CHROME_TRACKS), 0).unwrap();
        assert_eq!(tracks.len(), 2);
        let (a, v) = (&tracks[0], &tracks[1]);
        assert_eq!(
            (a.number, a.kind, a.codec_id.as_str()),
            (1, TrackKind::Audio, "A_OPUS")
        );
        assert!(a.is_opus() && !a.is_avc());
        assert_eq!(&a.codec_private.as_ref().unwrap()[..8], b"OpusHead");
        assert_eq!(
            a.audio,
            Some(AudioInfo {
                sampling_frequency: 48000.0,
                channels: 1,
                bit_depth: Some(32)
            })
        );
        assert_eq!(v.number, 2);
        assert!(v.is_avc());
        assert_eq!(v.codec_private, None);
        assert_eq!(
            v.video,
            Some(VideoInfo {
                pixel_width: 320,
                pixel_height: 240
            })
        );
    }

    #[test]
    fn missing_mandatory_fields() {
        // TrackEntry with only a TrackType.
        let no_number = Bytes::from_static(&[0xAE, 0x83, 0x83, 0x81, 0x01]);
        assert!(matches!(
            parse_tracks(&no_number, 0),
            Err(WebmError::BadTrack(_))
        ));
        let no_codec = Bytes::from_static(&[0xAE, 0x86, 0x83, 0x81, 0x01, 0xD7, 0x81, 0x01]);
        assert_eq!(
            parse_tracks(&no_codec, 0),
            Err(WebmError::BadTrack("missing CodecID"))
        );
    }

    #[test]
    fn doc_type_and_scale() {
        assert_eq!(
            parse_ebml_header(b"\x42\x82\x84webm", 0).as_deref(),
            Ok("webm")
        );
        assert_eq!(parse_ebml_header(b"", 0).as_deref(), Ok("matroska"));
        assert_eq!(
            parse_ebml_header(b"\x42\x82\x83mkx", 0),
            Err(WebmError::UnsupportedDocType("mkx".into()))
        );
        assert_eq!(
            parse_info(b"\x2A\xD7\xB1\x83\x0F\x42\x40", 0),
            Ok(1_000_000)
        );
        assert_eq!(parse_info(b"\x2A\xD7\xB1\x81\x00", 0).ok(), None);
        assert_eq!(parse_info(b"", 0), Ok(DEFAULT_TIMECODE_SCALE));
    }

    #[test]
    fn sampling_frequency_must_be_a_positive_number() {
        // Found by the webm_demux fuzz target: a NaN rate made events unequal to themselves.
        for bad in [f32::NAN, f32::INFINITY, 0.0, -8000.0] {
            let mut audio = vec![0xE1, 0x86, 0xB5, 0x84];
            audio.extend(bad.to_be_bytes());
            assert_eq!(
                parse_audio(&audio[2..], 0),
                Err(WebmError::BadValue {
                    id: ID_SAMPLING_FREQUENCY
                })
            );
        }
        assert_eq!(
            parse_audio(&[0xB5, 0x84, 0x47, 0x3B, 0x80, 0x00], 0).map(|a| a.sampling_frequency),
            Ok(48000.0)
        );
    }
}
