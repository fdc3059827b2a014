#![cfg(not(target_arch = "wasm32"))]
//! Real validation of the MPEG-TS muxer: ffmpeg makes an H.264 + AAC FLV clip, the test
//! muxes its tags with `TsMuxer` (tables before every keyframe, as HLS segments start),
//! and ffprobe/ffmpeg must read the result cleanly, with the source's timestamps, both
//! whole and one segment alone.

#[allow(dead_code)]
#[path = "fmp4_support/mod.rs"]
mod support;

use bytes::{Bytes, BytesMut};
use onair_shared::ts::{TsAudioConfig, TsMuxer, TsVideoConfig};
use support::{Clip, Media, save};

/// The clip as TS, split into segments that each start with PAT/PMT and a keyframe
/// (the first also holds any audio before the first keyframe).
fn mux_segments(clip: &Clip) -> Vec<Vec<u8>> {
    let (nal_length_size, sps, pps) = support::avcc_parameter_sets(&clip.avcc);
    let (object_type, sample_rate_index, channels, _) = support::asc_fields(&clip.asc);
    let video = TsVideoConfig {
        sps: sps.into_iter().map(Bytes::from).collect(),
        pps: pps.into_iter().map(Bytes::from).collect(),
        nal_length_size,
    };
    let audio = TsAudioConfig {
        object_type,
        sample_rate_index,
        channels,
    };
    let mut muxer = TsMuxer::new(Some(video), Some(audio));
    let mut segments = Vec::new();
    let mut out = BytesMut::new();
    muxer.write_tables(&mut out);
    let mut seen_keyframe = false;
    for media in &clip.frames {
        match media {
            Media::Video {
                dts,
                cts,
                keyframe,
                data,
            } => {
                if *keyframe {
                    if seen_keyframe {
                        segments.push(out.split().to_vec());
                        muxer.write_tables(&mut out);
                    }
                    seen_keyframe = true;
                }
                muxer
                    .write_video(u64::from(*dts), *cts, *keyframe, data, &mut out)
                    .unwrap();
            }
            Media::Audio { ts, data } => muxer.write_audio(u64::from(*ts), data, &mut out).unwrap(),
        }
    }
    segments.push(out.to_vec());
    segments
}

#[test]
fn h264_aac_ts_decodes_with_source_timestamps() {
    let clip = support::source_clip();
    let segments = mux_segments(&clip);
    assert_eq!(segments.len(), 4); // 4 s, a keyframe every 30 frames at 30 fps
    let ts = segments.concat();
    assert_eq!(ts.len() % 188, 0);
    let path = save("whole.ts", &ts);

    support::assert_source_streams(&path);

    assert_eq!(support::decode_errors(&path), "");
    let packets = support::packet_times("v:0", &path);
    assert_eq!(packets.len(), clip.video_count());
    assert_eq!(support::decoded_video_frames(&path), clip.video_count());

    // PTS/DTS as in the source: the TS counts 90 kHz ticks, FLV milliseconds.
    let source = support::packet_times("v:0", support::source_flv());
    let ours: Vec<(i64, i64)> = packets
        .into_iter()
        .map(|(pts, dts)| (pts / 90, dts / 90))
        .collect();
    assert_eq!(ours, source);
    let audio_frames = clip.frames.len() - clip.video_count();
    assert_eq!(support::packet_times("a:0", &path).len(), audio_frames);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_segment_alone_decodes() {
    let clip = support::source_clip();
    let segments = mux_segments(&clip);
    let path = save("segment2.ts", &segments[2]);
    let streams = support::streams(&path);
    assert_eq!(streams.len(), 2, "{streams:?}");
    // -copyts: otherwise ffmpeg rebases on the segment's start time and its null muxer
    // rounds the rebased 30 fps timestamps into collisions (its own segments do the same).
    assert_eq!(support::decode_errors_with(&["-copyts"], &path), "");
    assert_eq!(support::decoded_video_frames(&path), 30);
    std::fs::remove_file(&path).unwrap();
}
