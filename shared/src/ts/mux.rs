//! [`TsMuxer`]: H.264 (AVCC) and raw AAC frames in, 188-byte TS packets out.
//!
//! State kept between calls: the per-PID continuity counters (a demuxer drops packets
//! whose counter skips), the last PCR (sent at most every [`PCR_INTERVAL_MS`] on video
//! frames, and forced through a payload-less packet when video is sparse so the gap stays
//! under 100 ms), and a scratch buffer reused for building each PES.

use bytes::BytesMut;

use super::es::{AdtsHeader, annexb_len, split_avcc, write_adts_header, write_annexb_access_unit};
use super::pes::{
    FirstPacket, STREAM_ID_AUDIO, STREAM_ID_VIDEO, put_pes_header, write_pcr_packet,
    write_pes_packets,
};
use super::psi::{NO_PCR_PID, pat_section, pmt_section, write_section_packet};
use super::{
    AUDIO_PID, PMT_PID, STREAM_TYPE_AAC_ADTS, STREAM_TYPE_H264, TsAudioConfig, TsError,
    TsVideoConfig, VIDEO_PID,
};

/// Minimum spacing of PCRs carried on video frames.
pub const PCR_INTERVAL_MS: u64 = 40;
/// Longest PCR gap tolerated before audio forces a PCR-only packet on the video PID.
const PCR_MAX_GAP_MS: u64 = 80;
/// A PCR further than this behind the last one is a timestamp reset, not jitter.
const PCR_RESET_MS: u64 = 1000;
const TICKS_PER_MS: u64 = 90;

/// Muxes one program (H.264 and/or AAC) into an MPEG transport stream.
///
/// Call [`write_tables`](Self::write_tables) at the start of every HLS segment (segments
/// start on keyframes, so each is decodable alone), then frames in decode order.
#[derive(Debug, Clone)]
pub struct TsMuxer {
    video: Option<TsVideoConfig>,
    audio: Option<TsAudioConfig>,
    pat_cc: u8,
    pmt_cc: u8,
    video_cc: u8,
    audio_cc: u8,
    /// Last PCR sent, 90 kHz, not wrapped.
    last_pcr: Option<u64>,
    scratch: Vec<u8>,
}

impl TsMuxer {
    /// A muxer for the given streams; a missing one is left out of the PMT.
    pub fn new(video: Option<TsVideoConfig>, audio: Option<TsAudioConfig>) -> Self {
        Self {
            video,
            audio,
            pat_cc: 0,
            pmt_cc: 0,
            video_cc: 0,
            audio_cc: 0,
            last_pcr: None,
            scratch: Vec::new(),
        }
    }

    /// Replaces the H.264 parameter sets (a new sequence header mid-stream); they are
    /// sent before the next keyframe. Has no effect on a muxer without video.
    pub fn set_video_config(&mut self, config: TsVideoConfig) {
        if self.video.is_some() {
            self.video = Some(config);
        }
    }

    /// The PID carrying the PCR: video if present, else audio.
    pub fn pcr_pid(&self) -> u16 {
        match (&self.video, &self.audio) {
            (Some(_), _) => VIDEO_PID,
            (None, Some(_)) => AUDIO_PID,
            (None, None) => NO_PCR_PID,
        }
    }

    /// Appends the PAT and the PMT (two packets).
    pub fn write_tables(&mut self, out: &mut BytesMut) {
        write_section_packet(out, 0, &mut self.pat_cc, &pat_section());
        let mut streams = Vec::with_capacity(2);
        if self.video.is_some() {
            streams.push((STREAM_TYPE_H264, VIDEO_PID));
        }
        if self.audio.is_some() {
            streams.push((STREAM_TYPE_AAC_ADTS, AUDIO_PID));
        }
        let pmt = pmt_section(self.pcr_pid(), &streams);
        write_section_packet(out, PMT_PID, &mut self.pmt_cc, &pmt);
    }

    /// Appends one H.264 access unit given as AVCC (length-prefixed NAL units, e.g. the
    /// body of an FLV AVC NALU packet). Times in ms; `cts_ms` is PTS − DTS.
    ///
    /// Malformed length prefixes and negative composition offsets are errors; on error
    /// nothing is appended.
    pub fn write_video(
        &mut self,
        dts_ms: u64,
        cts_ms: i32,
        keyframe: bool,
        avcc: &[u8],
        out: &mut BytesMut,
    ) -> Result<(), TsError> {
        let config = self.video.as_ref().ok_or(TsError::NoVideoStream)?;
        let cts = u64::try_from(cts_ms).map_err(|_| TsError::PtsBeforeDts { dts_ms, cts_ms })?;
        let nals = split_avcc(avcc, config.nal_length_size)?;
        let dts = dts_ms.wrapping_mul(TICKS_PER_MS);
        let pts = dts_ms.wrapping_add(cts).wrapping_mul(TICKS_PER_MS);

        let es_len = annexb_len(config, keyframe, &nals);
        self.scratch.clear();
        self.scratch.reserve(19 + es_len);
        put_pes_header(
            &mut self.scratch,
            STREAM_ID_VIDEO,
            pts,
            Some(dts),
            es_len,
            true,
        );
        write_annexb_access_unit(config, keyframe, &nals, &mut self.scratch);

        let first = FirstPacket {
            pcr: self.take_pcr(dts, keyframe, PCR_INTERVAL_MS),
            random_access: keyframe,
        };
        write_pes_packets(out, VIDEO_PID, &mut self.video_cc, first, &self.scratch);
        Ok(())
    }

    /// Appends one raw AAC frame (no ADTS header: it is added here) presented at `pts_ms`.
    /// On error nothing is appended.
    pub fn write_audio(
        &mut self,
        pts_ms: u64,
        aac_frame: &[u8],
        out: &mut BytesMut,
    ) -> Result<(), TsError> {
        let config = self.audio.ok_or(TsError::NoAudioStream)?;
        let header = AdtsHeader::new(config)?;
        let pts = pts_ms.wrapping_mul(TICKS_PER_MS);

        self.scratch.clear();
        let es_len = super::es::ADTS_HEADER_LEN + aac_frame.len();
        put_pes_header(&mut self.scratch, STREAM_ID_AUDIO, pts, None, es_len, false);
        write_adts_header(header, aac_frame.len(), &mut self.scratch)?;
        self.scratch.extend_from_slice(aac_frame);

        let first = if self.pcr_pid() == AUDIO_PID {
            // Audio-only: every AAC frame is a place to start decoding.
            FirstPacket {
                pcr: self.take_pcr(pts, false, PCR_INTERVAL_MS),
                random_access: true,
            }
        } else {
            if let Some(pcr) = self.take_pcr(pts, false, PCR_MAX_GAP_MS) {
                // Same counter as the last video packet: no payload, no increment.
                let cc = self.video_cc.wrapping_sub(1) & 0x0f;
                write_pcr_packet(out, VIDEO_PID, cc, pcr);
            }
            FirstPacket::default()
        };
        write_pes_packets(out, AUDIO_PID, &mut self.audio_cc, first, &self.scratch);
        Ok(())
    }

    /// The PCR to send now at media time `now` (90 kHz), if one is due: never going
    /// backwards except across a reset (republished stream), at most every `interval_ms`
    /// unless `force`d.
    fn take_pcr(&mut self, now: u64, force: bool, interval_ms: u64) -> Option<u64> {
        let pcr = match self.last_pcr {
            None => now,
            Some(last) if now.saturating_add(PCR_RESET_MS * TICKS_PER_MS) < last => now,
            Some(last) if force || now >= last.saturating_add(interval_ms * TICKS_PER_MS) => {
                now.max(last)
            }
            Some(_) => return None,
        };
        self.last_pcr = Some(pcr);
        Some(pcr)
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use bytes::Bytes;

    use super::*;
    use crate::ts::TS_PACKET_SIZE;

    fn muxer() -> TsMuxer {
        TsMuxer::new(
            Some(TsVideoConfig::new(
                vec![Bytes::from_static(&[0x67, 0x42, 0, 0x1e])],
                vec![Bytes::from_static(&[0x68, 0xce])],
            )),
            Some(TsAudioConfig {
                object_type: 2,
                sample_rate_index: 4,
                channels: 2,
            }),
        )
    }

    fn pid(packet: &[u8]) -> u16 {
        u16::from_be_bytes([packet[1], packet[2]]) & 0x1fff
    }

    fn has_pcr(packet: &[u8]) -> bool {
        packet[3] & 0x20 != 0 && packet[4] > 0 && packet[5] & 0x10 != 0
    }

    #[test]
    fn tables_are_two_packets() {
        let mut out = BytesMut::new();
        muxer().write_tables(&mut out);
        assert_eq!(out.len(), 2 * TS_PACKET_SIZE);
        assert_eq!(pid(&out[..188]), 0);
        assert_eq!(pid(&out[188..]), PMT_PID);
    }

    #[test]
    fn errors_append_nothing() {
        let mut m = muxer();
        let mut out = BytesMut::new();
        assert_eq!(
            m.write_video(0, 0, true, &[0, 0, 0, 5, 0x65], &mut out),
            Err(TsError::BadNalLength {
                offset: 0,
                len: 5,
                remaining: 1
            })
        );
        assert_eq!(
            m.write_video(0, -1, true, &[], &mut out),
            Err(TsError::PtsBeforeDts {
                dts_ms: 0,
                cts_ms: -1
            })
        );
        assert_eq!(
            m.write_audio(0, &[0; 9000], &mut out),
            Err(TsError::AudioFrameTooLarge(9000))
        );
        let mut none = TsMuxer::new(None, None);
        assert_eq!(
            none.write_video(0, 0, true, &[], &mut out),
            Err(TsError::NoVideoStream)
        );
        assert_eq!(
            none.write_audio(0, &[], &mut out),
            Err(TsError::NoAudioStream)
        );
        assert!(out.is_empty());
    }

    #[test]
    fn pcr_on_keyframes_and_every_interval_and_for_sparse_video() {
        let mut m = muxer();
        let mut out = BytesMut::new();
        let idr = [0, 0, 0, 2, 0x65, 0x88];
        let p = [0, 0, 0, 2, 0x41, 0x9a];
        m.write_video(0, 0, true, &idr, &mut out).unwrap();
        m.write_video(33, 0, false, &p, &mut out).unwrap();
        m.write_video(67, 0, false, &p, &mut out).unwrap();
        let packets: Vec<&[u8]> = out.chunks(188).collect();
        assert_eq!(packets.len(), 3);
        assert!(has_pcr(packets[0]) && packets[0][5] & 0x40 != 0);
        assert!(!has_pcr(packets[1]) && packets[1][5] & 0x40 == 0);
        assert!(has_pcr(packets[2]));

        // Video stops; audio keeps going: a PCR-only packet with the video counter reused.
        out.clear();
        for i in 0..10 {
            m.write_audio(67 + i * 23, &[0x21; 10], &mut out).unwrap();
        }
        let pcr_only: Vec<&[u8]> = out.chunks(188).filter(|p| pid(p) == VIDEO_PID).collect();
        assert_eq!(pcr_only.len(), 2);
        assert!(pcr_only.iter().all(|p| p[3] == 0x22 && has_pcr(p)));
    }

    #[test]
    fn audio_only_stream_carries_pcr_and_random_access_on_audio() {
        let mut m = TsMuxer::new(None, muxer().audio);
        assert_eq!(m.pcr_pid(), AUDIO_PID);
        let mut out = BytesMut::new();
        m.write_audio(1000, &[1, 2, 3], &mut out).unwrap();
        assert_eq!(out.len(), 188);
        assert!(has_pcr(&out) && out[5] & 0x40 != 0);
        // ADTS sync word right after the 14-byte PES header at the end of the packet.
        assert_eq!(&out[188 - 10..188 - 8], &[0xff, 0xf1]);
    }

    #[test]
    fn set_video_config_changes_the_parameter_sets() {
        let mut m = muxer();
        m.set_video_config(TsVideoConfig::new(
            vec![Bytes::from_static(&[0x67, 0x77])],
            vec![Bytes::from_static(&[0x68, 0x66])],
        ));
        let mut out = BytesMut::new();
        m.write_video(0, 0, true, &[0, 0, 0, 1, 0x65], &mut out)
            .unwrap();
        let payload = &out[188 - 23..];
        assert_eq!(
            payload,
            &[
                0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1, 0x67, 0x77, 0, 0, 0, 1, 0x68, 0x66, 0, 0, 0, 1,
                0x65
            ]
        );
    }
}
