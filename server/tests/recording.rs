//! Recordings with real clients: ffmpeg pushes H.264 (B-frames) + AAC over RTMP; the FLV
//! and the MP4 (`moov` first) it leaves behind are checked with ffprobe/ffmpeg against the
//! source clip, listed by `/api/recordings` and served with Range requests under `/vod/`.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::TestServer;
use support::media::{format_duration, make_clip, probe, push, require_ffmpeg, wait_child};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Runs a command on a blocking thread; (success, stdout, stderr).
async fn run(cmd: &'static str, args: Vec<String>) -> (bool, String, String) {
    let out = tokio::task::spawn_blocking(move || {
        Command::new(cmd)
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .expect("run tool")
    })
    .await
    .expect("tool thread");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).trim().to_string(),
    )
}

fn args(list: &[&str], path: &Path) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    v.push(path.display().to_string());
    v
}

/// Decoded video frames, as ffprobe counts them.
async fn frames(path: &Path) -> u64 {
    let (ok, out, err) = run(
        "ffprobe",
        args(
            &[
                "-v",
                "error",
                "-count_frames",
                "-select_streams",
                "v:0",
                "-show_entries",
                "stream=nb_read_frames",
                "-of",
                "csv=p=0",
            ],
            path,
        ),
    )
    .await;
    assert!(ok, "ffprobe {}: {err}", path.display());
    out.parse().unwrap_or_else(|_| panic!("frames {out:?}"))
}

/// `ffmpeg -v error -i FILE -f null -` must succeed and print nothing.
async fn decodes_clean(path: &Path) {
    let mut a: Vec<String> = ["-hide_banner", "-nostdin", "-v", "error", "-i"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    a.push(path.display().to_string());
    a.extend(["-f", "null", "-"].iter().map(|s| s.to_string()));
    let (ok, out, err) = run("ffmpeg", a).await;
    assert!(
        ok && out.is_empty() && err.is_empty(),
        "{} does not decode clean: {out}{err}",
        path.display()
    );
}

/// Top-level box types of an MP4 file.
fn top_level_boxes(bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at + 8 <= bytes.len() {
        let mut size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as u64;
        if size == 1 {
            size = u64::from_be_bytes(bytes[at + 8..at + 16].try_into().unwrap());
        }
        out.push(String::from_utf8_lossy(&bytes[at + 4..at + 8]).to_string());
        assert!(size >= 8, "bad box size at {at}");
        at += size as usize;
    }
    assert_eq!(at, bytes.len(), "boxes do not end at the end of the file");
    out
}

/// The raw status line of `GET path` (no URL normalisation on the way, unlike reqwest).
async fn raw_status(server: &TestServer, path: &str) -> u16 {
    let mut tcp = tokio::net::TcpStream::connect(server.http).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut resp = Vec::new();
    tcp.read_to_end(&mut resp).await.unwrap();
    let text = String::from_utf8_lossy(&resp);
    assert!(!text.contains("root:"), "{path} served a file outside");
    text.split(' ').nth(1).unwrap().parse().unwrap()
}

async fn recordings(server: &TestServer, query: &str) -> Vec<Value> {
    let url = server.url(&format!("/api/recordings{query}"));
    let body: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    body.as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtmp_push_is_recorded_as_flv_and_moov_first_mp4() {
    require_ffmpeg();
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let clip = make_clip(dir.path(), "clip.flv", 10);

    let publisher = push(&clip, &server.rtmp_url("/live/rec"));
    assert!(wait_child(publisher, 40).await, "ffmpeg push failed");

    // The stream ends with the unpublish; the MP4 follows shortly after.
    let started = Instant::now();
    let list = loop {
        let list = recordings(&server, "").await;
        if list.iter().any(|r| r["format"] == "mp4") {
            break list;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no MP4 recording: {list:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(list.len(), 2, "{list:?}");
    let flv = list
        .iter()
        .find(|r| r["format"] == "flv")
        .expect("FLV listed");
    let mp4 = list
        .iter()
        .find(|r| r["format"] == "mp4")
        .expect("MP4 listed");
    for r in [flv, mp4] {
        assert_eq!(r["room"], "rec");
        assert!(r["started_at"].as_str().unwrap().ends_with('Z'));
        assert_eq!(
            r["url"].as_str().unwrap(),
            format!("/vod/rec/{}", r["file"].as_str().unwrap())
        );
    }
    assert_eq!(recordings(&server, "?room=rec").await.len(), 2);
    assert!(recordings(&server, "?room=other").await.is_empty());

    let rec_dir = server.data.join("recordings").join("rec");
    let mp4_path = rec_dir.join(mp4["file"].as_str().unwrap());
    let flv_path = rec_dir.join(flv["file"].as_str().unwrap());
    let mp4_bytes = std::fs::read(&mp4_path).unwrap();
    assert_eq!(mp4["bytes"].as_u64().unwrap(), mp4_bytes.len() as u64);

    // moov before mdat.
    let boxes = top_level_boxes(&mp4_bytes);
    assert_eq!(boxes, ["ftyp", "moov", "mdat"], "top-level boxes");

    // Durations within 1 % of the source, same frame count, clean decodes.
    let source_s = format_duration(&clip);
    let mp4_s = format_duration(&mp4_path);
    let flv_s = format_duration(&flv_path);
    println!("durations: source {source_s:.3} s, mp4 {mp4_s:.3} s, flv {flv_s:.3} s");
    assert!(
        (mp4_s - source_s).abs() <= source_s * 0.01,
        "mp4 lasts {mp4_s} s, source {source_s} s"
    );
    // A live FLV has no duration in its onMetaData, so ffprobe estimates it from the last
    // timestamps (the source's was written by ffmpeg after the fact): compare the media
    // itself, the decode times of the last video and audio packets.
    let (src, rec) = (
        probe(&clip.display().to_string()),
        probe(&flv_path.display().to_string()),
    );
    let last = |p: &support::media::Probe, video: bool| {
        p.packets
            .iter()
            .filter(|x| x.video == video)
            .map(|x| x.dts_ms)
            .max()
            .unwrap()
    };
    for video in [true, false] {
        assert_eq!(
            last(&rec, video),
            last(&src, video),
            "last DTS (video: {video})"
        );
    }
    assert_eq!(rec.video().len(), src.video().len());
    assert_eq!(rec.audio().len(), src.audio().len());
    let listed = mp4["duration_s"].as_f64().unwrap();
    assert!(
        (listed - mp4_s).abs() < 0.1,
        "listed {listed}, ffprobe {mp4_s}"
    );
    let (src_frames, mp4_frames, flv_frames) = (
        frames(&clip).await,
        frames(&mp4_path).await,
        frames(&flv_path).await,
    );
    println!("frames: source {src_frames}, mp4 {mp4_frames}, flv {flv_frames}");
    assert_eq!(mp4_frames, src_frames);
    assert_eq!(flv_frames, src_frames);
    decodes_clean(&mp4_path).await;
    decodes_clean(&flv_path).await;

    // Range requests.
    let client = reqwest::Client::new();
    let url = server.url(mp4["url"].as_str().unwrap());
    let res = client
        .get(&url)
        .header("Range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 206);
    let h = res.headers();
    assert_eq!(h["content-type"], "video/mp4");
    assert_eq!(
        h["content-range"],
        format!("bytes 100-199/{}", mp4_bytes.len()).as_str()
    );
    assert_eq!(h["accept-ranges"], "bytes");
    assert_eq!(&res.bytes().await.unwrap()[..], &mp4_bytes[100..200]);
    let res = client
        .get(&url)
        .header("Range", format!("bytes={}-", mp4_bytes.len() + 10))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 416);
    let res = client
        .get(server.url(flv["url"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "video/x-flv");
    assert_eq!(res.headers()["accept-ranges"], "bytes");

    // No way out of the recordings directory.
    for path in [
        "/vod/..%2F..%2Fetc/passwd",
        "/vod/rec/../../x",
        "/vod/rec/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "/vod/..%2Frec/x.mp4",
        "/vod/rec/.flv",
    ] {
        let status = raw_status(&server, path).await;
        assert!(status == 404 || status == 400, "{path}: {status}");
    }
}

/// Waits (up to 30 s) until `/api/recordings` lists an MP4.
async fn wait_for_mp4(server: &TestServer) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let list = recordings(server, "").await;
        if list.iter().any(|r| r["format"] == "mp4") {
            return list;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no MP4 recording: {list:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mp4_only_leaves_no_flv_behind() {
    require_ffmpeg();
    let server = TestServer::start_with(|c| c.record.flv = false).await;
    let dir = tempfile::tempdir().unwrap();
    let clip = make_clip(dir.path(), "clip.flv", 3);
    let publisher = push(&clip, &server.rtmp_url("/live/only"));
    assert!(wait_child(publisher, 30).await, "ffmpeg push failed");
    let list = wait_for_mp4(&server).await;
    assert_eq!(list.len(), 1, "{list:?}");
    // The temporary FLV is removed right after the conversion.
    let rec_dir = server.data.join("recordings").join("only");
    let started = Instant::now();
    loop {
        let names: Vec<String> = std::fs::read_dir(&rec_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        if names.iter().all(|n| n.ends_with(".mp4")) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{names:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    decodes_clean(&rec_dir.join(list[0]["file"].as_str().unwrap())).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_recorder_does_not_touch_the_stream() {
    require_ffmpeg();
    let server = TestServer::start().await;
    // `recordings` is a file, so the recorder cannot create its directory.
    std::fs::write(server.data.join("recordings"), b"in the way").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let clip = make_clip(dir.path(), "clip.flv", 4);
    let publisher = push(&clip, &server.rtmp_url("/live/broken"));
    server.wait_live("broken").await;

    // A viewer still gets the stream.
    let mut res = reqwest::get(server.url("/live/broken.flv")).await.unwrap();
    assert_eq!(res.status(), 200);
    let mut got = 0usize;
    let deadline = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(500), res.chunk()).await {
            Ok(Ok(Some(chunk))) => got += chunk.len(),
            Ok(_) => break,
            Err(_) => {}
        }
    }
    assert!(got > 10_000, "the viewer got only {got} bytes");
    drop(res);
    assert!(wait_child(publisher, 30).await, "ffmpeg push failed");
    assert!(recordings(&server, "").await.is_empty());
    server.stop().await;
}
