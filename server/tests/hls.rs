//! HLS with real clients: ffmpeg pushes H.264+AAC (RTMP) and H.264+Opus (Enhanced FLV over
//! HTTP); ffmpeg and ffprobe read the CMAF (LL-HLS) and MPEG-TS playlists back, and the
//! LL-HLS blocking reload is timed against the part it waits for.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt as _;
use onair_shared::flv::audio::{AudioCodec, AudioPacket, AudioTagBody};
use onair_shared::flv::{self, FlvHeader, MediaKind, Tag};
use support::TestServer;
use support::container::{flv_tags, ogg_packets};
use support::media::{make_clip, probe, push, require_ffmpeg, wait_child};

const PART_TARGET: Duration = Duration::from_millis(333);

async fn get(url: &str) -> reqwest::Response {
    reqwest::get(url).await.expect("GET")
}

/// `ffmpeg -v error [-i url] … -f null -`: (exit ok, everything it printed).
async fn ffmpeg_null(url: String, seconds: Option<u32>) -> (bool, String) {
    let run = move || {
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-hide_banner", "-nostdin", "-v", "error", "-i", &url]);
        if let Some(s) = seconds {
            cmd.args(["-t", &s.to_string()]);
        }
        cmd.args(["-f", "null", "-"])
            .stdin(Stdio::null())
            .output()
            .expect("run ffmpeg")
    };
    let out = tokio::time::timeout(Duration::from_secs(60), tokio::task::spawn_blocking(run))
        .await
        .expect("ffmpeg did not finish within 60 s")
        .expect("ffmpeg thread");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// ffmpeg reads all of `url` without exiting badly or printing a word.
async fn assert_ffmpeg_reads(url: &str) {
    let (ok, out) = ffmpeg_null(url.to_string(), None).await;
    assert!(ok && out.is_empty(), "{url}: {out}");
}

/// The playlist at `url` once it has `#EXT-X-ENDLIST`, polled every 100 ms at most `polls`
/// times.
async fn ended_playlist(url: &str, polls: u32) -> String {
    let mut text = String::new();
    for _ in 0..polls {
        text = get(url).await.text().await.unwrap();
        if text.contains("#EXT-X-ENDLIST") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(text.contains("#EXT-X-ENDLIST"), "{text}");
    text
}

/// `partN.M.m4s` of the playlist's `EXT-X-PRELOAD-HINT`.
fn preload_hint(playlist: &str) -> (u64, usize) {
    let line = playlist
        .lines()
        .find(|l| l.starts_with("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part"))
        .unwrap_or_else(|| panic!("no preload hint in\n{playlist}"));
    let name = line.split('"').nth(1).unwrap();
    let rest = name
        .strip_prefix("part")
        .unwrap()
        .strip_suffix(".m4s")
        .unwrap();
    let (msn, part) = rest.split_once('.').unwrap();
    (msn.parse().unwrap(), part.parse().unwrap())
}

fn extinf(playlist: &str) -> Vec<f64> {
    playlist
        .lines()
        .filter_map(|l| l.strip_prefix("#EXTINF:"))
        .map(|l| l.trim_end_matches(',').parse().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h264_aac_stream_gives_ll_hls_cmaf_and_ts_that_ffmpeg_plays() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let clip = make_clip(dir.path(), "clip.flv", 30);
    let publisher = push(&clip, &server.rtmp_url("/live/hroom?key=k"));
    server.wait_live("hroom").await;
    let index = server.url("/hls/live/hroom/index.m3u8");
    // The packager's subscription is not a viewer.
    let viewers = server.streams().await[0]["viewers"].clone();
    assert!(
        viewers.as_object().unwrap().values().all(|v| v == 0),
        "{viewers}"
    );

    // The first request is held until a segment exists.
    let res = get(&index).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"],
        "application/vnd.apple.mpegurl"
    );
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    let text = res.text().await.unwrap();
    eprintln!("first playlist:\n{text}");
    for tag in [
        "#EXT-X-VERSION:9",
        "#EXT-X-TARGETDURATION:2",
        "#EXT-X-MAP:URI=\"init.mp4\"",
        "#EXT-X-PART-INF:PART-TARGET=0.33300",
        "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.000",
        "#EXT-X-PROGRAM-DATE-TIME:",
        "#EXT-X-PART:DURATION=",
        ",INDEPENDENT=YES",
        "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=",
        "#EXTINF:",
    ] {
        assert!(text.contains(tag), "{tag} missing from\n{text}");
    }

    // Blocking reload for the part after the last listed one: back as soon as it exists.
    let mut waits = Vec::new();
    for _ in 0..6 {
        let text = get(&index).await.text().await.unwrap();
        let (msn, part) = preload_hint(&text);
        let start = Instant::now();
        let res = get(&format!("{index}?_HLS_msn={msn}&_HLS_part={part}")).await;
        let waited = start.elapsed();
        assert_eq!(res.status(), 200);
        let text = res.text().await.unwrap();
        let uri = format!("URI=\"part{msn}.{part}.m4s\"");
        let line = text
            .lines()
            .find(|l| l.starts_with("#EXT-X-PART:") && l.contains(&uri))
            .unwrap_or_else(|| panic!("part {msn}.{part} missing from\n{text}"));
        let duration: f64 = line["#EXT-X-PART:DURATION=".len()..]
            .split(',')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(duration <= PART_TARGET.as_secs_f64(), "{line}");
        // Asked right after the previous part appeared: this one takes about its duration.
        assert!(
            waited <= Duration::from_secs_f64(duration) + Duration::from_millis(100),
            "blocking reload for part {msn}.{part} ({duration} s) took {waited:?}"
        );
        waits.push(waited.as_millis());
    }
    eprintln!("blocking reload waits (ms): {waits:?}");

    // The preload-hinted part itself is held until it exists, then served.
    let text = get(&index).await.text().await.unwrap();
    let (msn, part) = preload_hint(&text);
    let res = get(&server.url(&format!("/hls/live/hroom/part{msn}.{part}.m4s"))).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "video/iso.segment");
    assert!(
        res.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert!(!res.bytes().await.unwrap().is_empty());

    // A reload far beyond the live edge is a client error, not a long wait.
    let res = get(&format!("{index}?_HLS_msn={}&_HLS_part=0", msn + 10)).await;
    assert_eq!(res.status(), 400);

    // Unknown names are JSON 404s.
    let res = get(&server.url("/hls/live/hroom/nope.m4s")).await;
    assert_eq!(res.status(), 404);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    assert_eq!(
        get(&server.url("/hls/live/nobody/index.m3u8"))
            .await
            .status(),
        404
    );

    // ffmpeg reads both playlists live.
    let ts_index = server.url("/hls/live/hroom/ts/index.m3u8");
    let (cmaf_live, ts_live) = tokio::join!(
        ffmpeg_null(index.clone(), Some(6)),
        ffmpeg_null(ts_index.clone(), Some(6))
    );
    assert!(
        cmaf_live.0 && cmaf_live.1.is_empty(),
        "CMAF live: {cmaf_live:?}"
    );
    assert!(ts_live.0 && ts_live.1.is_empty(), "TS live: {ts_live:?}");

    assert!(wait_child(publisher, 40).await, "ffmpeg publisher failed");
    // The RTMP unpublish ends the stream at once: the playlists get ENDLIST and stay.
    let text = ended_playlist(&index, 50).await;
    assert!(!text.contains("PRELOAD-HINT"), "{text}");
    let durations = extinf(&text);
    eprintln!("CMAF segment durations: {durations:?}");
    assert_eq!(durations.len(), 6, "{text}");
    for d in &durations[1..durations.len() - 1] {
        assert!((d - 2.0).abs() <= 0.2, "segment of {d} s in\n{text}");
    }
    let ts_text = get(&ts_index).await.text().await.unwrap();
    assert!(ts_text.contains("#EXT-X-ENDLIST"), "{ts_text}");
    assert_eq!(extinf(&ts_text), durations, "{ts_text}");
    let first_ts = ts_text.lines().find(|l| l.ends_with(".ts")).unwrap();
    let res = get(&server.url(&format!("/hls/live/hroom/ts/{first_ts}"))).await;
    assert_eq!(res.headers()["content-type"], "video/mp2t");
    let ts = res.bytes().await.unwrap();
    assert!(ts.len() % 188 == 0 && ts[0] == 0x47);

    for url in [&index, &ts_index] {
        assert_ffmpeg_reads(url).await;
        let p = probe(url);
        assert_eq!(p.codec_names(), ["aac", "h264"], "{url}");
        assert_eq!(p.video_stream()["width"], 320);
        // The window holds 6 segments of 2 s at 25 fps.
        assert!(p.video().len() >= 250, "{url}: {} frames", p.video().len());
        assert!(p.video()[0].key, "{url}: first frame is not a keyframe");
    }
    server.stop().await;
}

/// An Enhanced FLV file with H.264 (from ffmpeg's FLV muxer) and Opus (from its Ogg muxer,
/// rewrapped as E-RTMP `Opus` audio tags), as the browser studio sends it.
fn make_opus_flv(dir: &Path, seconds: u32) -> Bytes {
    require_ffmpeg();
    let video = dir.join("video.flv");
    let audio = dir.join("audio.ogg");
    let ok = Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size=320x240:rate=25:duration={seconds}"))
        .args([
            "-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-bf", "2",
        ])
        .args(["-pix_fmt", "yuv420p", "-f", "flv"])
        .arg(&video)
        .status()
        .unwrap()
        .success();
    assert!(ok, "ffmpeg could not make the video");
    let ok = Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!(
            "sine=frequency=440:sample_rate=48000:duration={seconds}"
        ))
        .args([
            "-c:a",
            "libopus",
            "-b:a",
            "64k",
            "-frame_duration",
            "20",
            "-f",
            "ogg",
        ])
        .arg(&audio)
        .status()
        .unwrap()
        .success();
    assert!(ok, "ffmpeg could not make the Opus audio");

    let mut tags: Vec<Tag> = flv_tags(&std::fs::read(&video).unwrap())
        .into_iter()
        .filter(|tag| tag.kind == MediaKind::Video)
        .collect();
    let packets = ogg_packets(&std::fs::read(&audio).unwrap());
    assert!(packets[0].starts_with(b"OpusHead") && packets[1].starts_with(b"OpusTags"));
    let audio_tag = |timestamp: u32, packet: AudioPacket| Tag {
        kind: MediaKind::Audio,
        timestamp,
        stream_id: 0,
        data: AudioTagBody {
            codec: AudioCodec::Opus,
            enhanced: true,
            legacy_flags: 0,
            packet,
        }
        .to_bytes(),
    };
    tags.push(audio_tag(
        0,
        AudioPacket::SequenceHeader(packets[0].clone()),
    ));
    for (i, packet) in packets[2..].iter().enumerate() {
        tags.push(audio_tag(i as u32 * 20, AudioPacket::Frame(packet.clone())));
    }
    // Decode order by timestamp; sequence headers first (stable sort keeps their order).
    tags.sort_by_key(|t| (t.timestamp, !is_config(t)));
    let mut out = BytesMut::new();
    flv::write_header(&FlvHeader::new(true, true), &mut out);
    for tag in &tags {
        flv::write_tag(tag, &mut out).unwrap();
    }
    out.freeze()
}

/// A sequence header, as ingest classifies it.
fn is_config(tag: &Tag) -> bool {
    onair_shared::media::Parser::new()
        .parse(tag.kind, tag.timestamp, &tag.data)
        .is_ok_and(|unit| unit.config().is_some())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h264_opus_stream_gives_cmaf_and_a_clear_ts_error() {
    let server = TestServer::start_with(|c| c.republish_grace = Duration::from_millis(200)).await;
    let dir = tempfile::tempdir().unwrap();
    let flv = make_opus_flv(dir.path(), 10);

    // POST it paced at about twice real time, in 100 ms-of-media chunks.
    let mut chunks = Vec::new();
    let mut chunk = BytesMut::new();
    flv::write_header(&FlvHeader::new(true, true), &mut chunk);
    let mut chunk_start = 0;
    for tag in flv_tags(&flv) {
        if tag.timestamp >= chunk_start + 100 {
            chunks.push((chunk_start, chunk.split().freeze()));
            chunk_start = tag.timestamp;
        }
        flv::write_tag(&tag, &mut chunk).unwrap();
    }
    chunks.push((chunk_start, chunk.freeze()));
    let started = tokio::time::Instant::now();
    let body = futures_util::stream::iter(chunks).then(move |(ms, bytes)| async move {
        tokio::time::sleep_until(started + Duration::from_millis(u64::from(ms) / 2)).await;
        Ok::<_, std::io::Error>(bytes)
    });
    let res = reqwest::Client::new()
        .post(server.url("/live/oroom.flv?key=k"))
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "push: {}", res.status());

    let index = server.url("/hls/live/oroom/index.m3u8");
    ended_playlist(&index, 50).await;
    assert_ffmpeg_reads(&index).await;
    let p = probe(&index);
    assert_eq!(p.codec_names(), ["h264", "opus"]);
    assert!(p.audio().len() >= 300, "{} Opus packets", p.audio().len());

    let res = get(&server.url("/hls/live/oroom/ts/index.m3u8")).await;
    assert_eq!(res.status(), 415);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unsupported_codec");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("Opus") && message.contains("CMAF"),
        "{message}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_republish_within_grace_is_a_discontinuity_in_one_playlist() {
    let server = TestServer::start_with(|c| c.republish_grace = Duration::from_secs(3)).await;
    let dir = tempfile::tempdir().unwrap();
    let clip = make_clip(dir.path(), "clip.flv", 6);
    let url = server.url("/live/rproom.flv?key=k");
    assert!(wait_child(push(&clip, &url), 30).await, "first push failed");
    assert!(
        wait_child(push(&clip, &url), 30).await,
        "second push failed"
    );

    let index = server.url("/hls/live/rproom/index.m3u8");
    let text = ended_playlist(&index, 100).await;
    assert_eq!(text.matches("#EXT-X-DISCONTINUITY\n").count(), 1, "{text}");
    // Same codecs: the same init segment serves both runs.
    assert_eq!(text.matches("#EXT-X-MAP:").count(), 1, "{text}");
    assert_ffmpeg_reads(&index).await;
    let p = probe(&index);
    assert_eq!(p.codec_names(), ["aac", "h264"]);
    let video = p.video();
    assert!(video.windows(2).all(|w| w[1].dts_ms > w[0].dts_ms));
    server.stop().await;
}
