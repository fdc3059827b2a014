//! Real-client tests: ffmpeg publishes to and plays from a `ServerSession` driven over a
//! blocking `std::net` socket in the test thread. Skipped (with a note) if ffmpeg is absent.
#![cfg(not(target_arch = "wasm32"))]

mod rtmp_support;

use std::time::Duration;

use onair_shared::media::{Codec, MediaKind, Parser};
use onair_shared::rtmp::SessionEvent;
use rtmp_support::{accept, drive, flv_video_tags, have, listen, new_session, serve_flv, spawn};

fn ffmpeg_present() -> bool {
    let ok = have("ffmpeg", "-version");
    if !ok {
        eprintln!("SKIPPED: ffmpeg is not installed");
    }
    ok
}

#[derive(Default)]
struct Published {
    app: Option<String>,
    name: Option<String>,
    metadata: bool,
    video_sequence_header: bool,
    audio_sequence_header: bool,
    video: Vec<u32>,
    audio: Vec<u32>,
    unpublished: bool,
}

#[test]
fn ffmpeg_publishes() {
    if !ffmpeg_present() {
        return;
    }
    let (listener, url) = listen("/live/room1?key=abc");
    let mut ffmpeg = spawn(
        "ffmpeg",
        &[
            "-hide_banner",
            "-v",
            "error",
            "-re",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25",
            "-f",
            "lavfi",
            "-i",
            "sine",
            "-t",
            "3",
            "-c:v",
            "libx264",
            "-g",
            "25",
            "-c:a",
            "aac",
            "-f",
            "flv",
            &url,
        ],
    );
    let mut stream = accept(&listener, &mut ffmpeg);
    let mut session = new_session();
    let mut p = Published::default();
    let mut parser = Parser::new();
    drive(
        &mut stream,
        &mut session,
        |session, event, out| match event {
            SessionEvent::Connected { app, .. } => p.app = Some(app),
            SessionEvent::PublishRequested {
                stream_id, name, ..
            } => {
                p.name = Some(name);
                session.accept_publish(stream_id, out);
            }
            SessionEvent::Script { data, .. } => {
                if let Ok(script) = onair_shared::media::Script::parse(&data)
                    && let onair_shared::media::script::ScriptValue::Metadata(values) = script.value
                {
                    p.metadata = values.first().and_then(|v| v.get("width")).is_some();
                }
            }
            SessionEvent::Video {
                timestamp, data, ..
            } => {
                let unit = parser.parse(MediaKind::Video, timestamp, &data).unwrap();
                if unit.config().is_some_and(|c| c.codec == Codec::H264) {
                    p.video_sequence_header = true;
                } else {
                    p.video.push(timestamp);
                }
            }
            SessionEvent::Audio {
                timestamp, data, ..
            } => {
                let unit = parser.parse(MediaKind::Audio, timestamp, &data).unwrap();
                if unit.config().is_some_and(|c| c.codec == Codec::AAC) {
                    p.audio_sequence_header = true;
                } else {
                    p.audio.push(timestamp);
                }
            }
            SessionEvent::Unpublish { .. } => p.unpublished = true,
            _ => {}
        },
    );
    let (status, stderr) = ffmpeg.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "ffmpeg failed: {status} {stderr}");
    assert_eq!(p.app.as_deref(), Some("live"));
    assert_eq!(p.name.as_deref(), Some("room1?key=abc"));
    assert!(p.metadata, "no onMetaData with a width");
    assert!(p.video_sequence_header && p.audio_sequence_header);
    assert!(p.video.len() >= 50, "only {} video messages", p.video.len());
    assert!(
        p.video.windows(2).all(|w| w[0] <= w[1]),
        "video DTS went back"
    );
    assert!(p.audio.len() > 50, "only {} audio messages", p.audio.len());
    assert!(*p.video.last().unwrap() >= 2800, "3 s of video expected");
    assert!(p.unpublished, "no FCUnpublish / deleteStream seen");
}

#[test]
fn ffmpeg_plays() {
    if !ffmpeg_present() {
        return;
    }
    let flv = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/avc_aac_bframes.flv"
    ))
    .unwrap();
    assert!(flv_video_tags(&flv) >= 15);

    let (listener, url) = listen("/live/room1");
    // framecrc decodes every frame and prints one line per frame on stdout.
    let out_path = std::env::temp_dir().join(format!("onair-rtmp-play-{}.txt", std::process::id()));
    let out_arg = out_path.to_string_lossy().into_owned();
    let mut ffmpeg = spawn(
        "ffmpeg",
        &[
            "-hide_banner",
            "-v",
            "error",
            "-i",
            &url,
            "-t",
            "2",
            "-f",
            "framecrc",
            "-y",
            &out_arg,
        ],
    );
    let mut stream = accept(&listener, &mut ffmpeg);
    let mut session = new_session();
    let played = serve_flv(&mut stream, &mut session, &flv);
    let (status, stderr) = ffmpeg.wait_exit(Duration::from_secs(30));
    let frames = std::fs::read_to_string(&out_path).unwrap_or_default();
    let _ = std::fs::remove_file(&out_path);
    assert!(status.success(), "ffmpeg failed: {status} {stderr}");
    assert!(stderr.trim().is_empty(), "ffmpeg complained: {stderr}");
    assert_eq!(played.as_deref(), Some("room1"));
    assert!(
        session.handshake_used_digest(),
        "ffmpeg should have used the digest handshake"
    );
    let lines: Vec<&str> = frames.lines().filter(|l| !l.starts_with('#')).collect();
    let per_stream = |i: &str| lines.iter().filter(|l| l.starts_with(i)).count();
    let (s0, s1) = (per_stream("0,"), per_stream("1,"));
    assert!(
        s0.min(s1) >= 15,
        "decoded frames per stream: {s0} and {s1}\n{frames}"
    );
}
