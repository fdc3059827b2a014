#![cfg(not(target_arch = "wasm32"))]
//! Real validation of the fMP4 writer: ffmpeg makes an H.264 + AAC FLV clip (and an Ogg
//! Opus one), the test feeds the tags through `TrackTimeline` and the box writers, and
//! ffprobe/ffmpeg must read the result without a complaint, with the source's timestamps.

#[allow(dead_code)]
#[path = "fmp4_support/mod.rs"]
mod support;

use bytes::{Bytes, BytesMut};
use onair_shared::fmp4::{
    FragmentSamples, OPUS_TIMESCALE, Track, TrackConfig, TrackFragment, TrackTimeline,
    VIDEO_TIMESCALE, write_fragment, write_init, write_multi_fragment,
};
use support::container_support::ogg_packets;
use support::{Clip, Media, save};

fn tracks(clip: &Clip) -> (Track, Track) {
    let (_, _, channels, sample_rate) = support::asc_fields(&clip.asc);
    let video = Track {
        id: 1,
        timescale: VIDEO_TIMESCALE,
        config: TrackConfig::Avc {
            avcc: Bytes::from(clip.avcc.clone()),
            width: 320,
            height: 240,
        },
    };
    let audio = Track {
        id: 2,
        timescale: sample_rate,
        config: TrackConfig::Aac {
            asc: Bytes::from(clip.asc.clone()),
            sample_rate,
            channels: u16::from(channels),
        },
    };
    (video, audio)
}

/// Init + fragments cut at every video keyframe: one `moof` per track (CMAF) or one
/// `moof` with both tracks.
fn mux(clip: &Clip, multi_track: bool) -> Vec<u8> {
    let (video, audio) = tracks(clip);
    let mut out = BytesMut::new();
    write_init(&[video.clone(), audio.clone()], &mut out).unwrap();
    let mut video_tl = TrackTimeline::new(VIDEO_TIMESCALE, 3000);
    let mut audio_tl = TrackTimeline::new(audio.timescale, 1024);
    let mut seq = 1;
    let mut emit = |v: Option<FragmentSamples>, a: Option<FragmentSamples>, out: &mut BytesMut| {
        let parts: Vec<(&Track, FragmentSamples)> = [(&video, v), (&audio, a)]
            .into_iter()
            .filter_map(|(t, f)| Some((t, f?)))
            .collect();
        if multi_track {
            let fragments: Vec<TrackFragment<'_>> = parts
                .iter()
                .map(|(t, f)| TrackFragment {
                    track_id: t.id,
                    base_decode_time: f.base_decode_time,
                    samples: &f.samples,
                    data: &f.data,
                })
                .collect();
            write_multi_fragment(seq, &fragments, out).unwrap();
            seq += 1;
        } else {
            for (t, f) in &parts {
                write_fragment(seq, t, f.base_decode_time, &f.samples, &f.data, out).unwrap();
                seq += 1;
            }
        }
    };
    for media in &clip.frames {
        match media {
            Media::Video {
                dts,
                cts,
                keyframe,
                data,
            } => {
                let payload = Bytes::from(data.clone());
                video_tl
                    .push(u64::from(*dts), *cts, *keyframe, payload)
                    .unwrap();
                if *keyframe {
                    emit(
                        video_tl.take_completed(),
                        audio_tl.take_completed(),
                        &mut out,
                    );
                }
            }
            Media::Audio { ts, data } => {
                let payload = Bytes::from(data.clone());
                audio_tl.push(u64::from(*ts), 0, true, payload).unwrap();
            }
        }
    }
    emit(video_tl.take_fragment(), audio_tl.take_fragment(), &mut out);
    out.to_vec()
}

fn assert_h264_aac_file_is_valid(name: &str, multi_track: bool) {
    let clip = support::source_clip();
    assert_eq!(clip.video_count(), 120);
    let path = save(name, &mux(&clip, multi_track));

    support::assert_source_streams(&path);

    assert_eq!(support::decode_errors(&path), "");
    assert_eq!(support::decoded_video_frames(&path), clip.video_count());

    // B-frames: same PTS/DTS as the source (FLV counts in ms, the MP4 track in 1/90000).
    let source = support::packet_times("v:0", support::source_flv());
    let ours: Vec<(i64, i64)> = support::packet_times("v:0", &path)
        .into_iter()
        .map(|(pts, dts)| (pts / 90, dts / 90))
        .collect();
    assert_eq!(ours, source);
    let audio_source = support::packet_times("a:0", support::source_flv());
    let audio_ours = support::packet_times("a:0", &path);
    assert_eq!(audio_ours.len(), audio_source.len());
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn h264_aac_cmaf_fragments_decode_with_source_timestamps() {
    assert_h264_aac_file_is_valid("cmaf.mp4", false);
}

#[test]
fn h264_aac_multi_track_fragments_decode_with_source_timestamps() {
    assert_h264_aac_file_is_valid("multi.mp4", true);
}

/// Samples (at 48 kHz) in an Opus packet, from its TOC byte (RFC 6716 §3.1).
fn opus_packet_samples(packet: &[u8]) -> u32 {
    let config = packet[0] >> 3;
    let frame = match config {
        0..=11 => [480, 960, 1920, 2880][usize::from(config % 4)],
        12..=15 => [480, 960][usize::from(config % 2)],
        _ => [120, 240, 480, 960][usize::from(config % 4)],
    };
    let frames = match packet[0] & 3 {
        0 => 1,
        1 | 2 => 2,
        _ => u32::from(packet[1] & 0x3f),
    };
    frame * frames
}

#[test]
fn opus_from_ogg_is_read_as_opus() {
    let dir = support::work_dir();
    let ogg = dir.join("opus.ogg");
    let status = std::process::Command::new("ffmpeg")
        .args(
            "-v error -y -f lavfi -i sine=frequency=440 -t 2 -ac 2 -c:a libopus -f ogg".split(' '),
        )
        .arg(&ogg)
        .status()
        .unwrap();
    assert!(status.success());
    let packets = ogg_packets(&std::fs::read(&ogg).unwrap());
    let head = &packets[0];
    assert_eq!(&head[..8], b"OpusHead");
    let track = Track {
        id: 1,
        timescale: OPUS_TIMESCALE,
        config: TrackConfig::Opus {
            channels: head[9],
            pre_skip: u16::from_le_bytes([head[10], head[11]]),
            input_sample_rate: u32::from_le_bytes([head[12], head[13], head[14], head[15]]),
            output_gain: i16::from_le_bytes([head[16], head[17]]),
        },
    };
    let mut out = BytesMut::new();
    write_init(std::slice::from_ref(&track), &mut out).unwrap();

    // packets[1] is OpusTags; audio follows. Timestamps in ms, as FLV would carry them.
    let mut timeline = TrackTimeline::new(OPUS_TIMESCALE, 960);
    let mut position = 0u64;
    let audio = &packets[2..];
    let mut seq = 1;
    for (i, packet) in audio.iter().enumerate() {
        let ms = position * 1000 / u64::from(OPUS_TIMESCALE);
        timeline.push(ms, 0, true, packet.clone()).unwrap();
        position += u64::from(opus_packet_samples(packet));
        let last = i + 1 == audio.len();
        let cut = if last {
            timeline.take_fragment()
        } else if i % 25 == 24 {
            timeline.take_completed()
        } else {
            None
        };
        if let Some(f) = cut {
            write_fragment(
                seq,
                &track,
                f.base_decode_time,
                &f.samples,
                &f.data,
                &mut out,
            )
            .unwrap();
            seq += 1;
        }
    }
    let path = save("opus.mp4", &out);
    let streams = support::streams(&path);
    assert_eq!(streams.len(), 1);
    assert_eq!(streams[0]["codec_name"], "opus");
    assert_eq!(streams[0]["sample_rate"], "48000");
    assert_eq!(streams[0]["channels"], "2");
    assert_eq!(support::decode_errors(&path), "");
    assert_eq!(support::packet_times("a:0", &path).len(), audio.len());
    std::fs::remove_file(&path).unwrap();
}
