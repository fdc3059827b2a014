//! Fragmented MP4 (CMAF) writer: init segments and `moof`/`mdat` fragments.
//!
//! The browser player feeds these bytes to MSE and the HLS packager serves them as CMAF
//! segments and LL-HLS parts. As in hls.js (`mp4-generator` vs `mp4-remuxer`), writing
//! boxes is kept apart from deciding timestamps:
//!
//! - [`boxes`]: box framing (size patched in after the body is written) and the generic
//!   small boxes; [`init`]: [`write_init`] (`ftyp` + `moov`); [`entry`]: the codec sample
//!   entries (`avc1`+`avcC`, `mp4a`+`esds`, `Opus`+`dOps`); [`fragment`]: [`write_fragment`]
//!   and [`write_multi_fragment`] (`moof` + `mdat`). Pure byte layout, no timing decisions.
//!   [`probe`]: [`init_mime`], the one reader: an init segment's MIME type and codecs.
//! - [`timeline`]: [`TrackTimeline`], which turns FLV-style millisecond DTS/PTS into
//!   per-sample durations and composition offsets in the track timescale, without drift.
//!
//! Samples are passed through unchanged: AVC samples are AVCC (length-prefixed NAL units,
//! exactly the body of an FLV AVC NALU packet), AAC samples raw AAC frames, Opus samples
//! raw Opus packets (48 kHz timescale).
//!
//! Every writer appends to a caller's [`bytes::BytesMut`]; on error nothing is appended.

pub mod boxes;
pub mod entry;
pub mod fragment;
pub mod init;
pub mod probe;
pub mod timeline;

use bytes::Bytes;

pub use fragment::{
    SAMPLE_FLAGS_NON_SYNC, SAMPLE_FLAGS_SYNC, TrackFragment, write_fragment, write_multi_fragment,
};
pub use init::write_init;
pub use probe::init_mime;
pub use timeline::{FragmentSamples, TrackTimeline};

/// Timescale used for video tracks (the MPEG 90 kHz clock; 1 ms = 90 ticks exactly).
pub const VIDEO_TIMESCALE: u32 = 90_000;
/// Timescale of Opus tracks: Opus always decodes at 48 kHz.
pub const OPUS_TIMESCALE: u32 = 48_000;

/// Codec configuration of one track, as raw config bytes and plain numbers.
///
/// Later: `Hevc { hvcc, .. }` (`hvc1` + `hvcC`) and `Av1 { av1c, .. }` (`av01` + `av1C`)
/// go here as new variants with a sample entry each in [`entry`]; the enum is
/// `#[non_exhaustive]` so adding them is not a breaking change.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrackConfig {
    /// H.264: the `avc1` sample entry.
    Avc {
        /// The AVCDecoderConfigurationRecord (body of an FLV AVC sequence header).
        avcc: Bytes,
        /// Coded picture width in pixels.
        width: u16,
        /// Coded picture height in pixels.
        height: u16,
    },
    /// AAC: the `mp4a` sample entry with an `esds`.
    Aac {
        /// The AudioSpecificConfig (body of an FLV AAC sequence header).
        asc: Bytes,
        /// Output sample rate in Hz (also the usual timescale).
        sample_rate: u32,
        /// Channel count.
        channels: u16,
    },
    /// Opus: the `Opus` sample entry with a `dOps` (channel mapping family 0).
    Opus {
        /// Output channel count: 1 or 2 (mapping family 0).
        channels: u8,
        /// Samples (at 48 kHz) to drop from the decoder output at the start.
        pre_skip: u16,
        /// Sample rate of the original input, informational.
        input_sample_rate: u32,
        /// Output gain in Q7.8 dB.
        output_gain: i16,
    },
}

impl TrackConfig {
    /// Whether this is a video track (`vide` handler) rather than audio (`soun`).
    pub fn is_video(&self) -> bool {
        matches!(self, TrackConfig::Avc { .. })
    }
}

/// One track of an fMP4 presentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Track {
    /// Track id, non-zero and unique within the presentation.
    pub id: u32,
    /// Ticks per second of this track's timestamps ([`VIDEO_TIMESCALE`] for video, the
    /// sample rate for AAC, [`OPUS_TIMESCALE`] for Opus).
    pub timescale: u32,
    /// The codec configuration.
    pub config: TrackConfig,
}

/// One `trun` entry: how long a sample lasts, how big it is, when it is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Decode duration in the track timescale.
    pub duration: u32,
    /// Payload size in bytes (must equal the length of the matching payload).
    pub size: u32,
    /// Presentation time minus decode time, in the track timescale (B-frames).
    pub cts_offset: i32,
    /// Whether this is a sync sample (IDR for video; every audio frame).
    pub keyframe: bool,
}

/// Why an init segment or fragment could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fmp4Error {
    /// `write_init` was given no tracks.
    #[error("an init segment needs at least one track")]
    NoTracks,
    /// A track id of 0 (reserved) or used twice.
    #[error("track id {0} is 0 or used by more than one track")]
    BadTrackId(u32),
    /// A timescale of 0.
    #[error("track {0} has a timescale of 0")]
    ZeroTimescale(u32),
    /// Opus channel mapping family 0 carries only mono or stereo.
    #[error("Opus with {0} channels needs a channel mapping family other than 0")]
    UnsupportedOpusChannels(u8),
    /// A codec config too large for its box or descriptor.
    #[error("{what} is too large: {len} bytes")]
    ConfigTooLarge {
        /// Which config.
        what: &'static str,
        /// Its length.
        len: usize,
    },
    /// `samples` and `data` differ in length.
    #[error("{samples} samples but {payloads} payloads")]
    SampleCountMismatch {
        /// Number of `Sample` entries.
        samples: usize,
        /// Number of payloads.
        payloads: usize,
    },
    /// A sample's declared size differs from its payload's length.
    #[error("sample {index} declares {declared} bytes but its payload has {actual}")]
    SampleSizeMismatch {
        /// Index of the sample in the fragment.
        index: usize,
        /// `Sample::size`.
        declared: u32,
        /// The payload's length.
        actual: usize,
    },
    /// A box, a sample or the `trun` data offset does not fit its 32-bit field.
    #[error("{0} is too large for a 32-bit size field")]
    TooLarge(&'static str),
}
