#![cfg(not(target_arch = "wasm32"))]
//! The studio's MediaRecorder fallback end to end, without a browser: the golden Chromium
//! recording is demuxed, its H.264 converted to an avcC + AVCC samples and its Opus given
//! its OpusHead, then muxed with `shared::flv` the way the studio pushes it. The H.264 FLV
//! must decode in ffmpeg without a complaint, with all 60 frames at the WebM timestamps;
//! the A/V FLV (Opus as Enhanced FLV, which the installed ffmpeg 5.1 predates) is checked
//! by demuxing it back with `shared::flv`.

use std::path::PathBuf;
use std::process::Command;

use bytes::{Bytes, BytesMut};
use onair_shared::flv::audio::{AudioCodec, AudioPacket, AudioTagBody};
use onair_shared::flv::video::{VideoCodec, VideoFrameType, VideoPacket, VideoTagBody};
use onair_shared::flv::{DemuxEvent, FlvHeader, MediaKind, Tag, write_header, write_tag};
use onair_shared::webm::{AvcConverter, Demuxer, Limits, WebmEvent, opus_head};

const CHROME: &[u8] = include_bytes!("data/chrome_h264_opus.webm");

fn tag(kind: MediaKind, timestamp_ms: i64, data: Bytes) -> Tag {
    Tag {
        kind,
        timestamp: u32::try_from(timestamp_ms).unwrap(),
        stream_id: 0,
        data,
    }
}

fn video(frame_type: VideoFrameType, packet: VideoPacket) -> Bytes {
    VideoTagBody {
        frame_type,
        codec: VideoCodec::Avc,
        enhanced: false,
        packet,
    }
    .to_bytes()
}

fn audio(packet: AudioPacket) -> Bytes {
    AudioTagBody {
        codec: AudioCodec::Opus,
        enhanced: true,
        legacy_flags: 0,
        packet,
    }
    .to_bytes()
}

/// The FLV tags the studio would send for the recording; `with_audio` adds the Opus track.
fn flv_tags(with_audio: bool) -> Vec<Tag> {
    let mut d = Demuxer::new(Limits::default());
    d.push(CHROME);
    let mut tags = Vec::new();
    let mut avc = None;
    while let Some(event) = d.next_event().unwrap() {
        match event {
            WebmEvent::Tracks(tracks) => {
                for t in &tracks {
                    if t.is_avc() {
                        avc = Some((t.number, AvcConverter::new(t).unwrap()));
                    } else if t.is_opus() && with_audio {
                        let head = opus_head(t).unwrap().to_bytes().unwrap();
                        let body = audio(AudioPacket::SequenceHeader(head));
                        tags.push(tag(MediaKind::Audio, 0, body));
                    }
                }
            }
            WebmEvent::Frame {
                track,
                timestamp_ms,
                keyframe,
                data,
            } => match &mut avc {
                Some((n, conv)) if *n == track => {
                    let Some(sample) = conv.convert(&data).unwrap() else {
                        continue;
                    };
                    if let Some(config) = sample.new_config {
                        let header = VideoPacket::SequenceHeader(config.to_bytes().unwrap());
                        let body = video(VideoFrameType::Key, header);
                        tags.push(tag(MediaKind::Video, timestamp_ms, body));
                    }
                    let frame_type = if keyframe {
                        VideoFrameType::Key
                    } else {
                        VideoFrameType::Inter
                    };
                    let packet = VideoPacket::Frame {
                        cts: 0,
                        data: sample.data,
                    };
                    tags.push(tag(
                        MediaKind::Video,
                        timestamp_ms,
                        video(frame_type, packet),
                    ));
                }
                _ if with_audio => {
                    let body = audio(AudioPacket::Frame(data));
                    tags.push(tag(MediaKind::Audio, timestamp_ms, body));
                }
                _ => {}
            },
        }
    }
    tags
}

fn mux(tags: &[Tag], with_audio: bool) -> BytesMut {
    let mut out = BytesMut::new();
    write_header(&FlvHeader::new(with_audio, true), &mut out);
    for t in tags {
        write_tag(t, &mut out).unwrap();
    }
    out
}

fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("onair-webm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn h264_flv_decodes_in_ffmpeg() {
    let flv = mux(&flv_tags(false), false);
    let path = temp_file("video.flv", &flv);
    let decode = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&path)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(decode.status.success());
    assert_eq!(String::from_utf8_lossy(&decode.stderr), "");

    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "packet=pts",
            "-of",
            "csv=p=0",
        ])
        .arg(&path)
        .output()
        .expect("ffprobe runs");
    let pts: Vec<i64> = String::from_utf8(probe.stdout)
        .unwrap()
        .lines()
        .map(|l| l.trim_end_matches(',').parse().unwrap())
        .collect();
    // Same numbers as `H264_PACKETS` in webm_golden.rs (ffprobe on the WebM itself).
    assert_eq!(pts.len(), 60);
    assert_eq!((pts[0], pts[1], pts[59]), (12, 54, 2954));
}

#[test]
fn av_flv_demuxes_back() {
    let tags = flv_tags(true);
    let flv = mux(&tags, true).freeze();
    let mut d = onair_shared::flv::Demuxer::new(1 << 20);
    d.push(&flv);
    let mut audio_frames = 0;
    let mut video_frames = 0;
    let mut opus_head_seen = None;
    while let Some(event) = d.next_event().unwrap() {
        let DemuxEvent::Tag(t) = event else { continue };
        match t.kind {
            MediaKind::Audio => match AudioTagBody::parse(&t.data).unwrap().packet {
                AudioPacket::SequenceHeader(h) => opus_head_seen = Some(h),
                AudioPacket::Frame(_) => audio_frames += 1,
                AudioPacket::SequenceEnd => {}
            },
            MediaKind::Video => {
                if !VideoTagBody::parse(&t.data).unwrap().is_sequence_header() {
                    video_frames += 1;
                }
            }
            MediaKind::Script => {}
        }
    }
    assert_eq!((audio_frames, video_frames), (50, 60));
    let head = onair_shared::codec::OpusHead::parse(&opus_head_seen.unwrap()).unwrap();
    assert_eq!(head.channels, 1);
}
