//! MPEG-TS segments for the "old players" playlist: H.264 + AAC only.
//!
//! The packager cuts TS segments at exactly the same keyframes as the CMAF segments, so
//! both playlists share media sequence numbers and durations. Each segment starts with
//! PAT/PMT and a keyframe (SPS/PPS are repeated before every keyframe by the muxer).

use bytes::{Bytes, BytesMut};
use onair_shared::ts::{TsAudioConfig, TsMuxer, TsVideoConfig};

/// Builds TS segments for one run of codec configs.
#[derive(Debug)]
pub struct TsSegmenter {
    muxer: TsMuxer,
    current: BytesMut,
    /// A frame failed to mux (malformed input): the segment is still served, minus it.
    pub errors: u64,
}

impl TsSegmenter {
    pub fn new(video: Option<TsVideoConfig>, audio: Option<TsAudioConfig>) -> Self {
        Self {
            muxer: TsMuxer::new(video, audio),
            current: BytesMut::new(),
            errors: 0,
        }
    }

    /// Starts a segment: the tables first, so it decodes alone.
    pub fn begin(&mut self) {
        self.current.clear();
        self.muxer.write_tables(&mut self.current);
    }

    /// The finished segment's bytes (empty if nothing was begun).
    pub fn finish(&mut self) -> Bytes {
        self.current.split().freeze()
    }

    pub fn video(&mut self, dts_ms: u64, cts_ms: i32, keyframe: bool, avcc: &[u8]) {
        // B-frames: a negative offset cannot be expressed (PTS < DTS); clamp rather than drop.
        let cts = cts_ms.max(0);
        if self
            .muxer
            .write_video(dts_ms, cts, keyframe, avcc, &mut self.current)
            .is_err()
        {
            self.errors += 1;
        }
    }

    pub fn audio(&mut self, pts_ms: u64, frame: &[u8]) {
        if self
            .muxer
            .write_audio(pts_ms, frame, &mut self.current)
            .is_err()
        {
            self.errors += 1;
        }
    }
}
